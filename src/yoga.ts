/** createGateway: the yoga server over the schema, with authentication, limits and operational endpoints. */
import fs from 'node:fs';
import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { GraphQLError, getOperationAST } from 'graphql';
import { createYoga, maskError, type Plugin, useReadinessCheck } from 'graphql-yoga';
import { sql } from 'kysely';
import { type Authenticator, createAuthenticator } from './auth/authenticate.ts';
import { readJwksFile } from './auth/jwks.ts';
import type { Principal } from './auth/principal.ts';
import { useCompiledExecution } from './compiled-execution.ts';
import { type Config, ConfigError } from './config.ts';
import { createContext, type GatewayContext, type GatewayServices } from './context.ts';
import { isQueryTimeout, queryTimeoutMessage } from './db/database.ts';
import { type ClientErrorCode, clientError, toClientError } from './errors.ts';
import { createLogger, type Logger } from './log.ts';
import { schema } from './schema/index.ts';

/** Written by `npm run codegen`: sha256 hash -> document of every operation the project's clients send. */
const PERSISTED_DOCUMENTS_FILE = new URL('./gql/persisted-documents.json', import.meta.url);

export interface GatewayOptions {
  /** Replaces the authenticator built from the configuration. */
  authenticate?: Authenticator;
  /** Request and error logs; by default JSON lines on stderr at config.logLevel. */
  logger?: Logger;
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** /ready answers 200 only while the database answers a query. */
function useReady(services: GatewayServices, logger: Logger): Plugin {
  return useReadinessCheck({
    endpoint: '/ready',
    check: async () => {
      try {
        await sql`select 1 as ready`.execute(services.store.db);
        return json({ status: 'ready', database: services.store.engine });
      } catch (error) {
        logger.warn('readiness check failed', error);
        return json({ status: 'unavailable', database: services.store.engine }, 503);
      }
    },
  });
}

/**
 * Refuses bodies over the limit before they are read: JSON requests by REQUEST_MAX_BYTES, multipart
 * uploads (scan files) by UPLOAD_MAX_BYTES. A body without a length is cut off once it passes the limit.
 */
function useRequestSizeLimit(config: Config, log: RequestLog): Plugin {
  return {
    onRequest({ request, setRequest, endResponse, fetchAPI }) {
      if (!request.body) return;
      const multipart = request.headers.get('content-type')?.startsWith('multipart/') ?? false;
      // The multipart envelope (boundaries, the operations part) needs a little room beside the file.
      const limit = multipart ? config.ingest.uploadMaxBytes + 1024 * 1024 : config.limits.requestMaxBytes;
      const tooLarge = () =>
        clientError('REQUEST_TOO_LARGE', `the request body is larger than ${limit} bytes`, { limit });
      const length = request.headers.get('content-length');
      if (length !== null) {
        if (Number(length) > limit) {
          // Answered here, before yoga reads the body; `http` is yoga's status hint, not for clients.
          const { message, extensions } = tooLarge();
          const { http: _status, ...visible } = extensions;
          endResponse(json({ errors: [{ message, extensions: visible }] }, 413));
        }
        return;
      }
      let seen = 0;
      const counted = request.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            seen += chunk.byteLength;
            if (seen > limit) controller.error(tooLarge());
            else controller.enqueue(chunk);
          },
        }),
      );
      const replaced = new fetchAPI.Request(request.url, {
        method: request.method,
        headers: request.headers,
        signal: request.signal,
        body: counted,
        duplex: 'half',
      } as RequestInit);
      log.carry(request, replaced);
      setRequest(replaced);
    },
  };
}

/** yoga's CSRF prevention, with a coded error that names the header to send. */
function useCsrfPrevention(): Plugin {
  const header = 'x-graphql-yoga-csrf';
  const csrf = useCSRFPrevention({ requestHeaders: [header] });
  return {
    onRequestParse(payload) {
      try {
        return csrf.onRequestParse?.(payload);
      } catch {
        throw clientError(
          'CSRF_HEADER_REQUIRED',
          `a GET, form or multipart request must carry the header "${header}" (any value), or be a JSON POST`,
        );
      }
    },
  };
}

/** graphql-armor reports limits as syntax errors without a code; clients get one here. */
function rejectWith(code: ClientErrorCode) {
  return [
    (_context: unknown, error: GraphQLError) => {
      throw clientError(code, error.message.replace(/^Syntax Error: /, ''));
    },
  ];
}

function useLimits(limits: Config['limits']): Plugin[] {
  return [
    // Typed for envelop's bare context; it reads none of it.
    ...(limits.fieldSuggestions ? [] : [blockFieldSuggestionsPlugin() as Plugin]),
    maxTokensPlugin({ n: limits.maxTokens, onReject: rejectWith('QUERY_TOO_LARGE') }),
    maxDepthPlugin({ n: limits.maxDepth, onReject: rejectWith('QUERY_TOO_DEEP') }),
    maxAliasesPlugin({ n: limits.maxAliases, onReject: rejectWith('TOO_MANY_ALIASES') }),
  ];
}

function readPersistedDocuments(): Map<string, string> {
  try {
    return new Map(Object.entries(JSON.parse(fs.readFileSync(PERSISTED_DOCUMENTS_FILE, 'utf8'))));
  } catch (error) {
    throw new ConfigError(
      `PERSISTED_OPERATIONS_ONLY: cannot read ${PERSISTED_DOCUMENTS_FILE.pathname} (run npm run codegen): ${(error as Error).message}`,
    );
  }
}

/** Runs only the operations of the codegen manifest, sent as extensions.persistedQuery.sha256Hash. */
function usePersistedOperationsOnly(): Plugin {
  const documents = readPersistedDocuments();
  const only = () =>
    clientError(
      'PERSISTED_QUERY_ONLY',
      'this gateway runs only persisted operations: send extensions.persistedQuery { version: 1, sha256Hash } instead of a query',
    );
  return usePersistedOperations({
    getPersistedOperation: (hash) => documents.get(hash) ?? null,
    allowArbitraryOperations: false,
    customErrors: {
      persistedQueryOnly: only,
      keyNotFound: only,
      notFound: () => clientError('PERSISTED_QUERY_NOT_FOUND', 'no persisted operation has this hash'),
    },
  });
}

interface RequestInfo {
  started: number;
  operation?: string;
  caller?: Principal;
}

/** One log line per request: method, path, status, duration, operation and caller. */
class RequestLog {
  readonly #requests = new WeakMap<Request, RequestInfo>();
  constructor(readonly logger: Logger) {}

  /** Keeps a request's record when a plugin replaces the request object. */
  carry(from: Request, to: Request) {
    const info = this.#requests.get(from);
    if (info) this.#requests.set(to, info);
  }

  caller(request: Request, principal: Principal) {
    const info = this.#requests.get(request);
    if (info) info.caller = principal;
  }

  plugin(): Plugin {
    const requests = this.#requests;
    const logger = this.logger;
    return {
      // Instrumentation wraps every plugin, so GraphiQL and /health are timed as well.
      instrumentation: {
        request: ({ request }, wrapped) => {
          requests.set(request, { started: performance.now() });
          return wrapped();
        },
      },
      onExecute({ args }) {
        const info = requests.get(args.contextValue.request);
        const name = getOperationAST(args.document, args.operationName)?.name?.value;
        if (info && name) info.operation = name;
      },
      onResponse({ request, response }) {
        const info = requests.get(request);
        const url = new URL(request.url);
        const probe = url.pathname === '/health' || url.pathname === '/ready';
        logger[probe ? 'debug' : 'info']({
          msg: 'request',
          method: request.method,
          path: url.pathname,
          status: response.status,
          ...(info ? { durationMs: Math.round((performance.now() - info.started) * 10) / 10 } : {}),
          ...(info?.operation ? { operation: info.operation } : {}),
          ...(info?.caller ? { tenant: info.caller.tenantId, subject: info.caller.subject } : {}),
        });
      },
    };
  }
}

export function createGateway(services: GatewayServices, options: GatewayOptions = {}) {
  const { config } = services;
  const logger = options.logger ?? createLogger(config.logLevel);
  const authenticate =
    options.authenticate ??
    createAuthenticator({
      ...(config.auth.jwtSecret ? { jwtSecret: config.auth.jwtSecret } : {}),
      ...(config.auth.jwksFile ? { jwks: readJwksFile(config.auth.jwksFile) } : {}),
      apiKeys: services.store.db,
    });
  const log = new RequestLog(logger);
  // The page inlines GraphiQL's assets (about 9 MB, no CDN): render it once.
  let graphiqlPage: string | undefined;
  return createYoga<Record<string, unknown>, GatewayContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    maskedErrors: {
      // Domain errors reach the client with their code; PostgreSQL's cancelled reads (statement_timeout)
      // as QUERY_TIMEOUT, the client's to narrow; every other unexpected error stays masked.
      maskError: (error, message, isDev) =>
        toClientError(error) ??
        (isQueryTimeout(error instanceof GraphQLError ? error.originalError : error)
          ? clientError('QUERY_TIMEOUT', queryTimeoutMessage(config.database.queryTimeoutMs))
          : maskError(error, message, isDev)),
    },
    logging: logger,
    graphiql: config.persistedOperationsOnly
      ? false
      : {
          title: 'exposure-gateway',
          headers: JSON.stringify({ Authorization: 'Bearer <token>' }),
          defaultQuery: '{\n  offices {\n    id\n    name\n    openExposures\n  }\n}\n',
        },
    renderGraphiQL: (graphiqlOptions) => {
      graphiqlPage ??= renderGraphiQL(graphiqlOptions);
      return graphiqlPage;
    },
    plugins: [
      log.plugin(),
      useReady(services, logger),
      useRequestSizeLimit(config, log),
      useCsrfPrevention(),
      ...(config.persistedOperationsOnly ? [usePersistedOperationsOnly()] : []),
      ...useLimits(config.limits),
      useCompiledExecution(),
    ],
    context: async ({ request }) => {
      const principal = await authenticate(request);
      log.caller(request, principal);
      return createContext(services, principal);
    },
  });
}

export type Gateway = ReturnType<typeof createGateway>;
