/** /ready: whether the database answers. */
import { type Plugin, useReadinessCheck } from 'graphql-yoga';
import { sql } from 'kysely';
import type { GatewayServices } from '../context.ts';
import type { Logger } from '../log.ts';
import { jsonResponse as json } from './json-response.ts';

/** /ready answers 200 only while the database answers a query. */
export function useReady(services: GatewayServices, logger: Logger): Plugin {
  return useReadinessCheck({
    endpoint: '/ready',
    check: async () => {
      try {
        await sql`select 1 as ready`.execute(services.store.db);
        return json({ status: 'ready', database: services.store.engine });
      } catch (error) {
        logger.warn({ err: error }, 'readiness check failed');
        return json({ status: 'unavailable', database: services.store.engine }, 503);
      }
    },
  });
}
