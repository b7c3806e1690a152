/** RATE_LIMIT_*: requests per caller, on a real port, with each store, on both engines. */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.ts';
import { signToken } from '../../src/auth/tokens.ts';
import { loadConfig } from '../../src/config.ts';
import { openStore } from '../../src/db/database.ts';
import { createLogger } from '../../src/log.ts';
import { listen, type RunningServer } from '../../src/server.ts';
import { databaseEnv } from '../helpers/cli.ts';
import { ENGINES, openTestStore, type TestStore } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';
import { TEST_SECRET } from '../helpers/gateway.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const LIMIT = 3;

const INGEST = `mutation Ingest($input: IngestExposureEventsInput!) {
  ingestExposureEvents(input: $input) { eventsInserted }
}`;

interface Answer {
  status: number;
  retryAfter: string | null;
  body: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

async function post(url: string, bearer: string, query: string, variables?: unknown): Promise<Answer> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ query, variables }),
  });
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as Answer['body'],
  };
}

/** A token of its own subject: each test counts from zero, whatever ran before it, in any store. */
const freshToken = (roles: ('viewer' | 'ingestor')[] = ['viewer']) =>
  signToken(TEST_SECRET, { tenantId: 'acme', officeIds: ['*'], roles, subject: `caller-${randomUUID()}` });

const STORES = [
  { store: 'memory', engines: ENGINES },
  { store: 'postgres', engines: ['postgres'] },
  { store: 'redis', engines: ENGINES },
] as const;

for (const { store, engines } of STORES) {
  for (const engine of engines) {
    describe(`rate limits in ${store} on ${engine}`, () => {
      let t: TestStore;
      const servers: RunningServer[] = [];
      /** The first instance serves the test store; another opens a store of its own, as a process would. */
      const start = async () => {
        const config = loadConfig({
          ...databaseEnv(t.database.config),
          AUTH_JWT_SECRET: TEST_SECRET,
          PORT: '0',
          RATE_LIMIT_REQUESTS: String(LIMIT),
          RATE_LIMIT_WINDOW_SECONDS: '30',
          RATE_LIMIT_STORE: store,
          REDIS_URL,
        });
        const own = servers.length === 0 ? t.store : await openStore(t.database.config);
        const server = await listen(config, own, createLogger('silent'));
        servers.push(server);
        return server;
      };
      beforeAll(async () => {
        t = await openTestStore(engine);
        if (store === 'redis') {
          // Fail here, loudly, when Redis is down: the test must not pass on the fallback counts.
          const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0 });
          await redis.connect();
          expect(await redis.ping()).toBe('PONG');
          redis.disconnect();
        }
      });
      afterAll(async () => {
        // Each shutdown closes its instance's store.
        for (const server of servers) await server.shutdown();
        await t.database.drop();
      });

      it('answers the request after the limit with 429 RATE_LIMITED and Retry-After', async () => {
        const { url } = await start();
        const token = await freshToken();
        for (let i = 0; i < LIMIT; i += 1)
          expect((await post(url, token, '{ offices { id } }')).status).toBe(200);
        const refused = await post(url, token, '{ offices { id } }');
        expect(refused.status).toBe(429);
        const seconds = Number(refused.retryAfter);
        expect(Number.isInteger(seconds) && seconds >= 1 && seconds <= 30).toBe(true);
        expect(refused.body.data).toBeUndefined();
        expect(refused.body.errors?.[0]?.extensions).toEqual({
          code: 'RATE_LIMITED',
          retryAfterSeconds: seconds,
          limit: LIMIT,
          windowSeconds: 30,
        });
        // Another caller of the same tenant has counts of its own.
        expect((await post(url, await freshToken(), '{ offices { id } }')).status).toBe(200);
      });

      it('counts an API key by its id, and a refused ingest writes nothing', async () => {
        const { url } = servers[0] ?? (await start());
        const { key } = await createApiKey(t.store, {
          tenantId: 'acme',
          name: `worker-${randomUUID()}`,
          roles: ['ingestor', 'viewer'],
          officeIds: 'all',
        });
        const exposureId = `exp-${randomUUID()}`;
        for (let i = 0; i < LIMIT; i += 1) {
          const answer = await post(url, key, INGEST, { input: { events: [eventInput({ exposureId })] } });
          expect(answer.body.errors).toBeUndefined();
        }
        const refused = await post(url, key, INGEST, {
          input: { events: [eventInput({ exposureId: 'exp-refused' })] },
        });
        expect(refused.status).toBe(429);
        expect(refused.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
        const count = await post(
          url,
          await freshToken(),
          '{ exposures(filter: { search: "exp-refused" }) { totalCount } }',
        );
        expect(count.body).toEqual({ data: { exposures: { totalCount: 0 } } });
      });

      // Instances share a database on PostgreSQL only: a DuckDB file is open in one process.
      if (store !== 'memory' && engine === 'postgres') {
        it('shares the counts between instances', async () => {
          const [a, b] = [servers[0] ?? (await start()), await start()];
          const token = await freshToken();
          expect((await post(a.url, token, '{ offices { id } }')).status).toBe(200);
          expect((await post(b.url, token, '{ offices { id } }')).status).toBe(200);
          expect((await post(a.url, token, '{ offices { id } }')).status).toBe(200);
          expect((await post(b.url, token, '{ offices { id } }')).status).toBe(429);
        });
      }
    });
  }
}

describe('rate limit configuration', () => {
  it('names what is missing for a shared store', () => {
    expect(() => loadConfig({ RATE_LIMIT_STORE: 'postgres' })).toThrow(
      /RATE_LIMIT_STORE: .*DB_TYPE=postgres/,
    );
    expect(() => loadConfig({ RATE_LIMIT_STORE: 'redis' })).toThrow(/REDIS_URL: is required/);
  });
});
