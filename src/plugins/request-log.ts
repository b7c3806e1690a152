/** The request log: one line per request. */
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Principal } from '../auth/principal.ts';
import type { Logger } from '../log.ts';

interface RequestInfo {
  started: number;
  operation?: string;
  caller?: Principal;
}

/** One log line per request: method, path, status, duration, operation and caller. */
export class RequestLog {
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
