/** createGateway: the yoga server over the schema, with authentication, limits and operational endpoints. */
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { GraphQLError } from 'graphql';
import { createYoga, maskError } from 'graphql-yoga';
import { type Authenticator, createAuthenticator } from './auth/authenticate.ts';
import { readJwksFile } from './auth/jwks.ts';
import { createContext, type GatewayContext, type GatewayServices } from './context.ts';
import { isQueryTimeout, queryTimeoutMessage } from './db/database.ts';
import { clientError, toClientError } from './errors.ts';
import { createLogger, type Logger } from './log.ts';
import { Metrics } from './metrics.ts';
import { useCompiledExecution } from './plugins/compiled-execution.ts';
import { useCsrfPrevention } from './plugins/csrf-prevention.ts';
import { useLimits } from './plugins/document-limits.ts';
import { useMetrics } from './plugins/metrics.ts';
import { usePersistedOperationsOnly } from './plugins/persisted-operations.ts';
import { useRateLimit } from './plugins/rate-limit.ts';
import { useReady } from './plugins/ready.ts';
import { useRequestLog } from './plugins/request-log.ts';
import { useRequestSizeLimit } from './plugins/request-size-limit.ts';
import { useStorableText } from './plugins/storable-text.ts';
import { useTracing } from './plugins/tracing.ts';
import { schema } from './schema/index.ts';

export interface GatewayOptions {
  /** Replaces the authenticator built from the configuration. */
  authenticate?: Authenticator;
  /** Request and error logs; by default JSON lines on stderr at config.logLevel. */
  logger?: Logger;
  /** In demo mode, the token GraphiQL opens with in its headers, so the first query runs as it is. */
  demoToken?: string;
}

export function createGateway(services: GatewayServices, options: GatewayOptions = {}) {
  const { config } = services;
  // Every gateway counts into a registry of its own; resolvers reach it through the context.
  const metrics = services.metrics ?? new Metrics(services.store);
  const measured: GatewayServices = { ...services, metrics };
  const logger = options.logger ?? createLogger(config.logLevel);
  const authenticate =
    options.authenticate ??
    createAuthenticator({
      ...(config.auth.jwtSecret ? { jwtSecret: config.auth.jwtSecret } : {}),
      ...(config.auth.jwksFile ? { jwks: readJwksFile(config.auth.jwksFile) } : {}),
      apiKeys: services.store.db,
    });
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
    logging: logger.child({ component: 'graphql' }),
    graphiql: config.persistedOperationsOnly
      ? false
      : {
          title: 'exposure-gateway',
          headers: JSON.stringify({
            Authorization: `Bearer ${(config.auth.demoMode && options.demoToken) || '<token>'}`,
          }),
          defaultQuery: '{\n  offices {\n    id\n    name\n    openExposures\n  }\n}\n',
        },
    renderGraphiQL: (graphiqlOptions) => {
      graphiqlPage ??= renderGraphiQL(graphiqlOptions);
      return graphiqlPage;
    },
    plugins: [
      // First, so that the request's span holds everything the other plugins do.
      ...(services.tracing ? [useTracing(services.tracing, services.store)] : []),
      useRequestLog(logger),
      useReady(services, logger.child({ component: 'ready' })),
      useMetrics(metrics, services.store, config.metricsToken),
      useRequestSizeLimit(config),
      useCsrfPrevention(),
      ...(config.persistedOperationsOnly ? [usePersistedOperationsOnly()] : []),
      ...useLimits(config.limits),
      useRateLimit(config),
      useStorableText(),
      useCompiledExecution(),
    ],
    context: async ({ request }) => createContext(measured, await authenticate(request)),
  });
}

export type Gateway = ReturnType<typeof createGateway>;
