/** The request log: a request id for every request, and one line per request. */
import { randomUUID } from 'node:crypto';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GatewayContext } from '../context.ts';
import { currentRequest, type Logger, withRequestScope } from '../log.ts';

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * A caller's id is kept when it looks like one (a proxy's or a client's, so their logs and ours meet);
 * anything else could forge or break log lines, and gets a fresh id instead.
 */
const ACCEPTED_ID = /^[\w.:-]{1,128}$/;

function requestIdOf(request: Request): string {
  const given = request.headers.get(REQUEST_ID_HEADER);
  return given && ACCEPTED_ID.test(given) ? given : randomUUID();
}

/**
 * Every request runs in a request scope (see log.ts), so every line logged while it is served carries
 * its id, which the response echoes in `x-request-id`. When the response goes, one line: method, path,
 * status, duration, operation and caller.
 */
export function useRequestLog(logger: Logger): Plugin<GatewayContext> {
  const log = logger.child({ component: 'http' });
  return {
    // Instrumentation wraps every plugin, so GraphiQL and /health are in a scope and timed as well.
    instrumentation: {
      request: ({ request }, serve) =>
        withRequestScope({ requestId: requestIdOf(request), started: performance.now() }, serve),
    },
    onExecute({ args }) {
      const scope = currentRequest();
      if (!scope) return;
      const name = getOperationAST(args.document, args.operationName)?.name?.value;
      if (name) scope.operation = name;
      scope.tenant = args.contextValue.principal.tenantId;
      scope.subject = args.contextValue.principal.subject;
    },
    onResponse({ request, response }) {
      const scope = currentRequest();
      if (scope) response.headers.set(REQUEST_ID_HEADER, scope.requestId);
      const url = new URL(request.url);
      // Probes and scrapes come every few seconds: their lines would bury the requests.
      const probe = ['/health', '/ready', '/metrics'].includes(url.pathname);
      log[probe ? 'debug' : 'info'](
        {
          method: request.method,
          path: url.pathname,
          status: response.status,
          ...(scope ? { durationMs: Math.round((performance.now() - scope.started) * 10) / 10 } : {}),
          ...(scope?.operation ? { operation: scope.operation } : {}),
          ...(scope?.tenant ? { tenant: scope.tenant, subject: scope.subject } : {}),
        },
        'request',
      );
    },
  };
}
