/** /metrics in Prometheus text, and the request and phase metrics of every GraphQL operation. */
import { createHash, timingSafeEqual } from 'node:crypto';
import { type DocumentNode, type ExecutionResult, getOperationAST } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Store } from '../db/database.ts';
import { type GraphQLPhase, type Metrics, UNKNOWN_OPERATION } from '../metrics.ts';

/** What a request did, counted once it has a result, when its operation label is settled. */
interface RequestRecord {
  /** The operation's name, null when unnamed; undefined until a document is parsed. */
  name?: string | null;
  /** It reached execution: authenticated and valid. */
  ran: boolean;
  phases: [GraphQLPhase, number][];
}

/**
 * Not @graphql-yoga/plugin-prometheus: it labels operations with any name a client sends (unbounded
 * series), its HTTP histogram with the full URL (a GET carries the query text), and its error counter
 * with error paths, list indexes included; it times phases to the millisecond (parse and validate mostly
 * read 0), knows no error codes, and serves /metrics to anyone.
 */
export function useMetrics(metrics: Metrics, store: Store, token: string | undefined): Plugin {
  // Hashes have one length, so comparing them takes the same time whatever the header holds.
  const expected = token === undefined ? undefined : digest(`Bearer ${token}`);
  const requests = new WeakMap<Request, RequestRecord>();
  const recordOf = (request: Request) => {
    let record = requests.get(request);
    if (!record) {
      record = { ran: false, phases: [] };
      requests.set(request, record);
    }
    return record;
  };
  const stop = store.observe(metrics);

  const timed =
    (phase: GraphQLPhase) =>
    ({ context }: { context: { request: Request } }, wrapped: () => void) => {
      const started = performance.now();
      try {
        wrapped();
      } finally {
        recordOf(context.request).phases.push([phase, (performance.now() - started) / 1000]);
      }
    };
  const timedAsync =
    (phase: GraphQLPhase) =>
    async ({ context }: { context: { request: Request } }, wrapped: () => unknown) => {
      const started = performance.now();
      try {
        await wrapped();
      } finally {
        recordOf(context.request).phases.push([phase, (performance.now() - started) / 1000]);
      }
    };

  return {
    onRequest({ url, request, endResponse, fetchAPI }) {
      if (url.pathname !== '/metrics') return;
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        endResponse(new fetchAPI.Response(null, { status: 405, headers: { allow: 'GET, HEAD' } }));
        return;
      }
      if (expected && !timingSafeEqual(digest(request.headers.get('authorization') ?? ''), expected)) {
        endResponse(
          new fetchAPI.Response('a bearer token is required (METRICS_TOKEN)\n', {
            status: 401,
            headers: { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="metrics"' },
          }),
        );
        return;
      }
      return metrics.scrape().then((text) => {
        endResponse(new fetchAPI.Response(text, { headers: { 'content-type': metrics.contentType } }));
      });
    },
    instrumentation: {
      parse: timed('parse'),
      validate: timed('validate'),
      execute: timedAsync('execute'),
      subscribe: timedAsync('subscribe'),
    },
    onParse() {
      return ({ result, context }) => {
        if (!result || result instanceof Error) return;
        const operation = getOperationAST(result as DocumentNode, context.params?.operationName);
        recordOf(context.request).name = operation?.name?.value ?? null;
      };
    },
    onExecute({ args }) {
      recordOf(args.contextValue.request).ran = true;
    },
    onSubscribe({ args }) {
      recordOf(args.contextValue.request).ran = true;
    },
    onResultProcess({ request, result }) {
      const record = requests.get(request);
      const operation =
        record?.name === undefined ? UNKNOWN_OPERATION : metrics.operation(record.name, record.ran);
      for (const [phase, seconds] of record?.phases ?? []) metrics.phase(phase, operation, seconds);
      metrics.request(operation, outcomeOf(result));
    },
    onDispose() {
      stop();
    },
  };
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Server-made codes only, bounded like them; anything else is counted as "error". */
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

/** ok, or the code of the first error; a subscription's stream counts as ok when it opens. */
function outcomeOf(result: unknown): string {
  const first = Array.isArray(result) ? result[0] : result;
  if (!first || isAsyncIterable(first)) return 'ok';
  const error = (first as ExecutionResult).errors?.[0];
  if (!error) return 'ok';
  const code = error.extensions?.code;
  return typeof code === 'string' && CODE.test(code) ? code : 'error';
}
