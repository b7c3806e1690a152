/**
 * The change feeds: in-process (DuckDB), and shared between gateways through PostgreSQL LISTEN/NOTIFY or
 * Redis pub/sub. Two feeds on one PostgreSQL schema stand for two gateways; their connections are cut by
 * the servers themselves (pg_terminate_backend, CLIENT KILL). Redis at 127.0.0.1:6379 must be running:
 * without it these tests fail.
 */
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { LISTENER_APPLICATION_NAME } from '../../src/db/change-listener.ts';
import type { ExposureKey } from '../../src/domain.ts';
import {
  ChangeFeed,
  ChangeFeedInterruptedError,
  decodeChangeMessage,
  type ExposureChanges,
  encodeChangeMessage,
  mergeChanges,
  type RelayedChangeFeed,
} from '../../src/ingest/changes.ts';
import { PostgresChangeFeed } from '../../src/ingest/changes-postgres.ts';
import { RedisChangeFeed } from '../../src/ingest/changes-redis.ts';
import { createLogger } from '../../src/log.ts';
import { openTestStore, type TestStore } from '../helpers/engines.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const logger = createLogger('silent');

/** What a subscriber of the feed has been told, and a way to wait until it has been told enough. */
function subscriber(feed: ChangeFeed) {
  const changes: ExposureChanges[] = [];
  const interruptions: { error: ChangeFeedInterruptedError; connected: boolean }[] = [];
  let wake: () => void = () => {};
  const unsubscribe = feed.subscribe(
    (change) => {
      changes.push(change);
      wake();
    },
    (error) => {
      interruptions.push({ error, connected: feed.health().connected });
      wake();
    },
  );
  return {
    changes,
    interruptions,
    unsubscribe,
    async until(done: () => boolean): Promise<void> {
      while (!done()) await new Promise<void>((resolve) => (wake = resolve));
    },
  };
}

/** Waits until the feed is connected again; the test's own timeout bounds it. */
async function reconnected(feed: ChangeFeed): Promise<void> {
  while (!feed.health().connected) await new Promise((resolve) => setTimeout(resolve, 20));
}

const keys = (tenant: string, ...ids: string[]): ExposureChanges => ({
  tenantId: tenant,
  exposures: ids.map((exposureId): ExposureKey => ({ officeId: 'berlin', exposureId })),
});

describe('the in-process change feed (DuckDB)', () => {
  it('delivers each change set once to every subscriber until it unsubscribes, and never an empty one', async () => {
    const feed = new ChangeFeed();
    const first = subscriber(feed);
    const second = subscriber(feed);
    feed.publish(keys('acme'));
    feed.publish(keys('acme', 'rdp'));
    second.unsubscribe();
    feed.publish(keys('globex', 'ssh'));
    expect(first.changes).toEqual([keys('acme', 'rdp'), keys('globex', 'ssh')]);
    expect(second.changes).toEqual([keys('acme', 'rdp')]);
    expect(feed.health()).toEqual({ transport: 'in-process', connected: true });
    await feed.close();
    expect(first.interruptions).toEqual([]);
  });
});

describe('change feed configuration', () => {
  const postgres = { DB_TYPE: 'postgres', DATABASE_URL: 'postgres://root@127.0.0.1:5432/test' };

  it('takes REDIS_URL on PostgreSQL; without it the feed goes through the database', () => {
    expect(loadConfig({ ...postgres, REDIS_URL: 'redis://cache.internal:6379/0' }).changeFeed).toEqual({
      redisUrl: 'redis://cache.internal:6379/0',
    });
    expect(loadConfig({ ...postgres, REDIS_URL: 'rediss://:secret@cache.internal' }).changeFeed).toEqual({
      redisUrl: 'rediss://:secret@cache.internal',
    });
    expect(loadConfig(postgres).changeFeed).toEqual({});
  });

  it.each([
    [{ ...postgres, REDIS_URL: 'http://cache.internal:6379' }, 'must be a redis:// or rediss:// URL'],
    [{ ...postgres, REDIS_URL: 'cache.internal:6379' }, 'must be a redis:// or rediss:// URL'],
  ])('refuses %o, naming REDIS_URL', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(`REDIS_URL: ${message}`);
  });
});

describe('merged change sets', () => {
  it('keep each tenant apart and each exposure once, in the order they first came', () => {
    const paris = { officeId: 'paris', exposureId: 'x1' };
    expect(
      mergeChanges([
        keys('acme', 'x1', 'x2'),
        keys('globex', 'x1'),
        { tenantId: 'acme', exposures: [paris, { officeId: 'berlin', exposureId: 'x1' }] },
      ]),
    ).toEqual([
      { tenantId: 'acme', exposures: [...keys('acme', 'x1', 'x2').exposures, paris] },
      keys('globex', 'x1'),
    ]);
    expect(mergeChanges([])).toEqual([]);
  });
});

describe('change messages', () => {
  it('round-trip, and anything else is not a change message', () => {
    for (const message of [
      { origin: 'a', tenantId: 'acme', exposures: [['berlin', 'rdp'] as [string, string]] },
      { origin: 'a', tenantId: 'acme', notice: '0f5a' },
      { origin: 'a', lost: true as const },
    ]) {
      expect(decodeChangeMessage(encodeChangeMessage(message))).toEqual(message);
    }
    for (const text of [
      'not json',
      'null',
      '{"tenantId":"acme","exposures":[]}',
      '{"origin":"a","exposures":[]}',
      '{"origin":"a","tenantId":"acme","exposures":[["berlin"]]}',
      '{"origin":"a","tenantId":"acme","exposures":[["berlin",7]]}',
    ]) {
      expect(decodeChangeMessage(text)).toBeUndefined();
    }
  });
});

/** The behaviour both shared transports must have, run on each with the way to cut one feed's connection. */
function sharedFeedTests(
  open: (t: TestStore) => Promise<RelayedChangeFeed>,
  cut: (t: TestStore, feed: RelayedChangeFeed) => Promise<number>,
) {
  let t: TestStore;
  let a: RelayedChangeFeed;
  let b: RelayedChangeFeed;
  beforeAll(async () => {
    t = await openTestStore('postgres');
  });
  afterAll(async () => t.close());
  afterEach(async () => {
    await a?.close();
    await b?.close();
  });

  it("delivers every gateway's changes once to the subscribers of each, its own included", async () => {
    a = await open(t);
    b = await open(t);
    const onA = subscriber(a);
    const onB = subscriber(b);
    a.publish(keys('acme', 'rdp'));
    await onB.until(() => onB.changes.length === 1);
    b.publish(keys('globex', 'ssh'));
    // Each listener hears messages in the order they were sent: had its own first one come back to A,
    // it would be there before B's.
    await onA.until(() => onA.changes.length === 2);
    expect(onA.changes).toEqual([keys('acme', 'rdp'), keys('globex', 'ssh')]);
    expect(onB.changes).toEqual([keys('acme', 'rdp'), keys('globex', 'ssh')]);
    expect(a.health()).toEqual({ transport: a.transport, connected: true });
  });

  it('sends what is published during a send as one message per tenant, each exposure once', async () => {
    a = await open(t);
    b = await open(t);
    const onA = subscriber(a);
    const onB = subscriber(b);
    // The first goes out at once; the rest wait for it.
    a.publish(keys('acme', 'x1'));
    a.publish(keys('acme', 'x2'));
    a.publish(keys('globex', 'g1'));
    a.publish(keys('acme', 'x2', 'x3'));
    await onB.until(() => onB.changes.length === 3);
    expect(onB.changes).toEqual([keys('acme', 'x1'), keys('acme', 'x2', 'x3'), keys('globex', 'g1')]);
    expect(onA.changes).toEqual([
      keys('acme', 'x1'),
      keys('acme', 'x2'),
      keys('globex', 'g1'),
      keys('acme', 'x2', 'x3'),
    ]);
  });

  it('delivers a change set of thousands of exposures whole', async () => {
    a = await open(t);
    b = await open(t);
    const onB = subscriber(b);
    const large = keys(
      'acme',
      ...Array.from({ length: 3000 }, (_, i) => `weak_tls/10.0.${Math.floor(i / 250)}.${i % 250}/443`),
    );
    a.publish(large);
    await onB.until(() => onB.changes.length === 1);
    expect(onB.changes).toEqual([large]);
  });

  it('tells subscribers when its connection is cut, refuses new ones until it is back, then delivers again', async () => {
    a = await open(t);
    b = await open(t);
    const onB = subscriber(b);
    // A subscriber that comes while B is down is told at once.
    let latecomer: ReturnType<typeof subscriber> | undefined;
    b.subscribe(
      () => {},
      () => {
        latecomer ??= subscriber(b);
      },
    );
    expect(await cut(t, b)).toBeGreaterThan(0);
    await onB.until(() => onB.interruptions.length === 1);
    const [told] = onB.interruptions;
    expect(told?.connected).toBe(false);
    expect(told?.error).toBeInstanceOf(ChangeFeedInterruptedError);
    expect(told?.error.code).toBe('CHANGE_FEED_INTERRUPTED');
    await latecomer?.until(() => latecomer?.interruptions.length === 1);
    expect(latecomer?.interruptions).toHaveLength(1);

    await reconnected(b);
    const again = subscriber(b);
    a.publish(keys('acme', 'rdp'));
    await again.until(() => again.changes.length === 1);
    expect(again.changes).toEqual([keys('acme', 'rdp')]);
    expect(again.interruptions).toEqual([]);
  });
}

describe('the change feed over PostgreSQL LISTEN/NOTIFY', () => {
  sharedFeedTests(
    (t) => PostgresChangeFeed.open(t.store, t.database.config.postgresUrl ?? '', logger),
    async (t, feed) => {
      const { rows } = await sql<{ pid: number }>`
        select pg_terminate_backend(pid) as pid from pg_stat_activity
        where application_name = ${`${LISTENER_APPLICATION_NAME} ${feed.origin}`}`.execute(t.store.db);
      return rows.length;
    },
  );

  describe('stored notices', () => {
    let t: TestStore;
    beforeAll(async () => {
      t = await openTestStore('postgres');
    });
    afterAll(async () => t.close());

    it('stores a change set too large to notify, which the others read back, and deletes old ones', async () => {
      const a = await PostgresChangeFeed.open(t.store, t.database.config.postgresUrl ?? '', logger);
      const b = await PostgresChangeFeed.open(t.store, t.database.config.postgresUrl ?? '', logger);
      try {
        await sql`insert into change_notices (tenant_id, notice_id, payload, created_at)
          values ('acme', gen_random_uuid(), '[]', now() - interval '1 hour')`.execute(t.store.db);
        const onB = subscriber(b);
        const small = keys('acme', 'rdp');
        const large = keys(
          'acme',
          ...Array.from({ length: 500 }, (_, i) => `open_port/10.0.0.${i}/3389/tcp`),
        );
        a.publish(small);
        a.publish(large);
        await onB.until(() => onB.changes.length === 2);
        expect(onB.changes).toEqual([small, large]);
        await a.close();
        // Only the large one was stored; the hour-old one is gone.
        const stored = await t.store.db
          .selectFrom('change_notices')
          .select(['tenant_id', 'payload'])
          .execute();
        expect(stored).toEqual([
          { tenant_id: 'acme', payload: large.exposures.map((k) => [k.officeId, k.exposureId]) },
        ]);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
});

describe('the change feed over Redis pub/sub', () => {
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await redis.connect();
  });
  afterAll(async () => redis.quit());

  /**
   * CLIENT KILL of each connection of the feed, found by name in CLIENT LIST: the publishing one first,
   * so that the feed cannot send once it knows it is cut.
   */
  async function killConnections(feed: RedisChangeFeed): Promise<number> {
    const list = (await redis.call('CLIENT', 'LIST')) as string;
    const connections = list
      .split('\n')
      .filter((line) => line.includes(` name=${feed.channel}:${feed.origin} `))
      .map((line) => ({
        id: /\bid=(\d+)/.exec(line)?.[1] ?? '',
        subscriptions: Number(/\bsub=(\d+)/.exec(line)?.[1]),
      }))
      .sort((x, y) => x.subscriptions - y.subscriptions);
    for (const { id } of connections) await redis.call('CLIENT', 'KILL', 'ID', id);
    return connections.length;
  }

  sharedFeedTests(
    (t) => RedisChangeFeed.open(REDIS_URL, t.store, logger),
    (_t, feed) => killConnections(feed as RedisChangeFeed),
  );

  describe('changes a gateway could not send', () => {
    let t: TestStore;
    beforeAll(async () => {
      t = await openTestStore('postgres');
    });
    afterAll(async () => t.close());

    it('end the subscriptions of the other gateways once the sender is back', async () => {
      const a = await RedisChangeFeed.open(REDIS_URL, t.store, logger);
      const b = await RedisChangeFeed.open(REDIS_URL, t.store, logger);
      try {
        const onA = subscriber(a);
        const onB = subscriber(b);
        // Published while A is down: delivered on A, lost for B.
        a.subscribe(
          () => {},
          () => a.publish(keys('acme', 'rdp')),
        );
        expect(await killConnections(a)).toBe(2);
        await onB.until(() => onB.interruptions.length === 1);
        expect(onB.interruptions[0]?.error.code).toBe('CHANGE_FEED_INTERRUPTED');
        expect(onB.changes).toEqual([]);
        expect(onA.changes).toEqual([keys('acme', 'rdp')]);
        expect(onA.interruptions).toHaveLength(1);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
});
