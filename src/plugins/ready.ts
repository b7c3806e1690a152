/** /ready: whether the database answers, and how the change feed stands. */
import { type Plugin, useReadinessCheck } from 'graphql-yoga';
import { sql } from 'kysely';
import type { GatewayServices } from '../context.ts';
import type { Logger } from '../log.ts';
import { jsonResponse as json } from './json-response.ts';

/**
 * /ready answers 200 only while the database answers a query. The change feed is reported, not judged:
 * while it reconnects, queries and ingests still work, and new subscriptions are refused with
 * CHANGE_FEED_INTERRUPTED, which tells their clients to retry.
 */
export function useReady(services: GatewayServices, logger: Logger): Plugin {
  return useReadinessCheck({
    endpoint: '/ready',
    check: async () => {
      const changeFeed = services.changes.health();
      try {
        await sql`select 1 as ready`.execute(services.store.db);
        return json({ status: 'ready', database: services.store.engine, changeFeed });
      } catch (error) {
        logger.warn({ err: error }, 'readiness check failed');
        return json({ status: 'unavailable', database: services.store.engine, changeFeed }, 503);
      }
    },
  });
}
