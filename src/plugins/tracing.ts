/** Spans for every HTTP request and GraphQL operation (parse, validate, execute), statements inside. */
import { type DocumentNode, type ExecutionResult, getOperationAST } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Store } from '../db/database.ts';
import type { Tracing } from '../tracing.ts';

/** Paths that name a request span; any other path would give span names without bound. */
const ROUTES = new Set(['/graphql', '/health', '/ready', '/metrics']);

export function useTracing(tracing: Tracing, store: Store): Plugin {
  const stop = store.observe(tracing);
  const inSpan =
    (name: string) =>
    <T>(_payload: unknown, wrapped: () => T): T =>
      tracing.inSpan(name, {}, wrapped);
  return {
    instrumentation: {
      request: ({ request }, wrapped) => {
        const url = new URL(request.url);
        const route = ROUTES.has(url.pathname) ? url.pathname : undefined;
        return tracing.inSpan(
          route ? `${request.method} ${route}` : request.method,
          {
            kind: 'server',
            role: 'request',
            headers: request.headers,
            // The path only: a GET's query string carries the query text.
            attributes: {
              'http.request.method': request.method,
              'url.path': url.pathname,
              'url.scheme': url.protocol.replace(/:$/, ''),
              ...(route ? { 'http.route': route } : {}),
            },
          },
          wrapped,
        );
      },
      operation: (_payload, wrapped) => tracing.inSpan('graphql.operation', { role: 'operation' }, wrapped),
      parse: inSpan('graphql.parse'),
      validate: inSpan('graphql.validate'),
      execute: inSpan('graphql.execute'),
      subscribe: inSpan('graphql.subscribe'),
    },
    onParse() {
      return ({ result, context }) => {
        const span = tracing.current('operation');
        if (!span || !result || result instanceof Error) return;
        const operation = getOperationAST(result as DocumentNode, context.params?.operationName);
        if (!operation) return;
        const name = operation.name?.value;
        span.updateName(name ? `${operation.operation} ${name}` : operation.operation);
        span.setAttribute('graphql.operation.type', operation.operation);
        if (name) span.setAttribute('graphql.operation.name', name);
      };
    },
    onExecutionResult({ result }) {
      const span = tracing.current('operation');
      if (!span || isAsyncIterable(result)) return;
      const error = (Array.isArray(result) ? result[0] : (result as ExecutionResult))?.errors?.[0];
      if (!error) return;
      const code = error.extensions?.code;
      tracing.fail(span, typeof code === 'string' ? code : 'error');
    },
    onResponse({ response }) {
      const span = tracing.current('request');
      if (!span) return;
      span.setAttribute('http.response.status_code', response.status);
      if (response.status >= 500) tracing.fail(span, String(response.status));
    },
    onDispose() {
      stop();
    },
  };
}
