/** createGateway: the yoga server over the schema, with authentication and operational endpoints. */
import { createYoga, type Plugin } from 'graphql-yoga';
import { type Authenticator, createAuthenticator } from './auth/authenticate.ts';
import { createContext, type GatewayContext, type GatewayServices } from './context.ts';
import { schema } from './schema/index.ts';

export interface GatewayOptions {
  /** Replaces the authenticator built from the configuration. */
  authenticate?: Authenticator;
}

/** /health answers as long as the process serves requests. */
function useHealth(): Plugin {
  return {
    onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname === '/health') {
        endResponse(
          new fetchAPI.Response(JSON.stringify({ status: 'ok' }), {
            headers: { 'content-type': 'application/json' },
          }),
        );
      }
    },
  };
}

export function createGateway(services: GatewayServices, options: GatewayOptions = {}) {
  const authenticate = options.authenticate ?? createAuthenticator(services.config.auth);
  return createYoga<Record<string, unknown>, GatewayContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    maskedErrors: true,
    plugins: [useHealth()],
    context: async ({ request }) => createContext(services, await authenticate(request)),
  });
}

export type Gateway = ReturnType<typeof createGateway>;
