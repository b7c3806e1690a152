/**
 * Two gateway processes on one PostgreSQL schema, as behind a load balancer: a subscription on one sees
 * what is ingested through the other, through LISTEN/NOTIFY or, with REDIS_URL, Redis pub/sub; and when
 * the feed's connection is cut by the server, the subscription ends with CHANGE_FEED_INTERRUPTED.
 * (DuckDB's feed never leaves its one process: test/gateway/subscription.test.ts.) Redis at
 * 127.0.0.1:6379 must be running: without it these tests fail.
 */
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/tokens.ts';
import { openStore, type Store } from '../../src/db/database.ts';
import { changeChannel } from '../../src/db/repositories/change-notices.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';
import { openSubscription } from '../helpers/sse.ts';
import { runCli, type ServerProcess, startServer } from './process.ts';

const SECRET = 'change-feed-test-secret-long-enough';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const SUBSCRIPTION = `subscription ($filter: ExposureFilter) {
  exposureChanged(filter: $filter) { officeId exposureId severity status }
}`;
const INGEST = `mutation ($input: IngestExposureEventsInput!) {
  ingestExposureEvents(input: $input) { eventsInserted }
}`;

const token = (roles: ('viewer' | 'ingestor')[]) =>
  signToken(SECRET, { tenantId: 'acme', officeIds: ['*'], roles });

async function ingestThrough(server: ServerProcess, events: Record<string, unknown>[]): Promise<void> {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(['ingestor'])}` },
    body: JSON.stringify({ query: INGEST, variables: { input: { events } } }),
  });
  expect(await response.json()).toEqual({
    data: { ingestExposureEvents: { eventsInserted: events.length } },
  });
}

async function subscribeTo(server: ServerProcess, filter: Record<string, unknown> = {}) {
  return openSubscription(fetch, `${server.url}/graphql`, await token(['viewer']), SUBSCRIPTION, { filter });
}

async function readiness(server: ServerProcess) {
  return (await (await fetch(`${server.url}/ready`)).json()) as {
    changeFeed: { transport: string; connected: boolean };
  };
}

/** Waits until the gateway's change feed is connected again; the test's own timeout bounds it. */
async function reconnected(server: ServerProcess): Promise<void> {
  while (!(await readiness(server)).changeFeed.connected) await new Promise((r) => setTimeout(r, 50));
}

const change = (exposureId: string, severity: string, status = 'OPEN') => ({
  data: { exposureChanged: { officeId: 'berlin', exposureId, severity, status } },
});

const TRANSPORTS = {
  postgres: {
    env: {} as Record<string, string>,
    /** Ends every listening session of the schema's channel, as an administrator would. */
    async cut(store: Store, channel: string): Promise<number> {
      const { rows } = await sql<{ terminated: boolean }>`
        select pg_terminate_backend(pid) as terminated from pg_stat_activity
        where query = ${`listen "${channel}"`} and application_name like 'exposure-gateway changes %'`.execute(
        store.db,
      );
      return rows.filter((row) => row.terminated).length;
    },
  },
  redis: {
    env: { REDIS_URL },
    /** CLIENT KILL of every connection of the schema's channel. */
    async cut(_store: Store, channel: string): Promise<number> {
      const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0 });
      await redis.connect();
      try {
        const list = (await redis.call('CLIENT', 'LIST')) as string;
        const ids = list
          .split('\n')
          .filter((line) => line.includes(` name=${channel}:`))
          .map((line) => /\bid=(\d+)/.exec(line)?.[1] ?? '');
        for (const id of ids) await redis.call('CLIENT', 'KILL', 'ID', id);
        return ids.length;
      } finally {
        await redis.quit();
      }
    },
  },
};

for (const [transport, { env, cut }] of Object.entries(TRANSPORTS)) {
  describe(`two gateways on one PostgreSQL schema, changes through ${transport}`, () => {
    let database: TestDatabase;
    let store: Store;
    let channel: string;
    let a: ServerProcess;
    let b: ServerProcess;
    beforeAll(async () => {
      database = await createTestDatabase('postgres');
      const settings = { AUTH_JWT_SECRET: SECRET, ...env };
      // One after the other: the first one migrates the schema.
      a = await startServer(['serve'], database.config, settings);
      b = await startServer(['serve'], database.config, settings);
      store = await openStore(database.config);
      channel = await changeChannel(store.db);
    });
    afterAll(async () => {
      for (const server of [a, b]) {
        if (!server) continue;
        server.child.kill('SIGTERM');
        expect(await server.exited).toBe(0);
      }
      await store?.close();
      await database.drop();
    });

    it("a subscription on one gateway sees the other's ingests, and its own once", async () => {
      expect((await readiness(b)).changeFeed).toEqual({ transport, connected: true });
      const onA = await subscribeTo(a);
      const onB = await subscribeTo(b);
      await ingestThrough(a, [eventInput({ exposureId: 'rdp', severity: 'CRITICAL' })]);
      expect(await onB.next(1)).toEqual([change('rdp', 'CRITICAL')]);
      await ingestThrough(b, [eventInput({ exposureId: 'ssh', severity: 'LOW' })]);
      // Had A's own change come back to it through the feed, it would be here before B's.
      expect(await onA.next(2)).toEqual([change('rdp', 'CRITICAL'), change('ssh', 'LOW')]);
      expect(await onB.next(1)).toEqual([change('ssh', 'LOW')]);
      onA.close();
      onB.close();
    });

    it('an ingest of hundreds of exposures reaches the other gateway whole', async () => {
      const onB = await subscribeTo(b, { exposureClasses: ['weak_tls'] });
      // About 28 bytes of keys each: far over what one NOTIFY carries.
      const ids = Array.from({ length: 700 }, (_, i) => `weak_tls/10.0.${i >> 8}.${i & 255}/443`);
      await ingestThrough(
        a,
        ids.map((exposureId) => eventInput({ exposureId, exposureClass: 'weak_tls', dstPort: 443 })),
      );
      const received = (await onB.next(ids.length)) as ReturnType<typeof change>[];
      expect(received.map((p) => p.data.exposureChanged.exposureId).sort()).toEqual([...ids].sort());
      onB.close();
    });

    it('a cut connection ends the subscription with CHANGE_FEED_INTERRUPTED; once back, a new one is fed', async () => {
      const onB = await subscribeTo(b);
      expect(await cut(store, channel)).toBeGreaterThan(0);
      const { payloads, completed } = await onB.rest();
      expect(payloads).toEqual([
        {
          data: null,
          errors: [
            expect.objectContaining({
              message: expect.stringContaining('read the current state again and resubscribe'),
              path: ['exposureChanged'],
              extensions: { code: 'CHANGE_FEED_INTERRUPTED' },
            }),
          ],
        },
      ]);
      expect(completed).toBe(true);

      await reconnected(a);
      await reconnected(b);
      const again = await subscribeTo(b);
      await ingestThrough(a, [
        eventInput({ exposureId: 'rdp', severity: 'HIGH', timestamp: '2026-01-11T00:00:00Z' }),
      ]);
      expect(await again.next(1)).toEqual([change('rdp', 'HIGH')]);
      again.close();
    });
  });
}

describe('a gateway that cannot reach its change feed', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(async () => database.drop());

  it('does not start, and says which setting to check', async () => {
    // Port 1 on the loopback: nothing listens there, so the connection is refused at once.
    const result = await runCli(['serve'], database.config, {
      AUTH_JWT_SECRET: SECRET,
      REDIS_URL: 'redis://127.0.0.1:1',
      PORT: '0',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('cannot listen for changes on Redis at REDIS_URL');
  });
});
