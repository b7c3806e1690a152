/**
 * A DuckDB commit that fails for want of memory. DuckDB 1.5 may then hold a table in memory that no longer
 * matches its file, and cannot replay the WAL when it opens the file again, though the WAL is sound: the
 * store must say why it failed, stop serving, keep every committed write and open again with all of them.
 * DuckDB only: PostgreSQL rolls a failed commit back whole and keeps serving, which every other storage
 * test relies on.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScannerFeed } from '../../bench/scale-data.ts';
import { signToken } from '../../src/auth/tokens.ts';
import { loadConfig } from '../../src/config.ts';
import { openStore, type Store, StoreFailedError } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import type { Scope } from '../../src/domain.ts';
import { ChangeFeed } from '../../src/ingest/changes.ts';
import { ingest } from '../../src/ingest/ingest.ts';
import { createGateway } from '../../src/yoga.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/engines.ts';
import { TEST_SECRET } from '../helpers/gateway.ts';

/**
 * Small enough that a commit of the third chunk below runs out of memory (measured with DuckDB 1.5.6, one
 * thread): the first two commit, the third fails in its COMMIT rather than in a statement before it.
 */
const MEMORY_LIMIT = '60MB';
const CHUNK = 10_000;
/** The feed the chunks come from (bench/scale-data.ts): its size sets how its events spread. */
const FEED = 200_000;
const SCOPE: Scope = { tenantId: 'acme', officeIds: 'all' };
const LIMITS = { maxEventsPerCall: CHUNK, maxFutureSkewSeconds: 300 };

const eventCount = async (store: Store) =>
  Number((await sql<{ n: bigint }>`select count(*) as n from exposure_events`.execute(store.db)).rows[0]?.n);

describe('a DuckDB commit that runs out of memory', () => {
  let database: TestDatabase;
  let store: Store;
  let committed = 0;
  let failure: unknown;

  beforeAll(async () => {
    database = await createTestDatabase('duckdb');
    store = await openStore({ ...database.config, duckdbMemoryLimit: MEMORY_LIMIT });
    await migrateToLatest(store);
    const feed = new ScannerFeed({ tenantId: SCOPE.tenantId, events: FEED, offices: 10, seed: 1 });
    try {
      for (const chunk of feed.chunks(0, FEED, CHUNK)) {
        committed += (await ingest({ store, config: LIMITS }, SCOPE, { events: chunk })).eventsInserted;
      }
    } catch (error) {
      failure = error;
    }
  });
  afterAll(async () => {
    await store.close();
    await database.drop();
  });

  it('fails with STORE_FAILED, naming DuckDB’s reason, not the ROLLBACK that followed', () => {
    expect(committed).toBe(2 * CHUNK);
    expect(failure).toBeInstanceOf(StoreFailedError);
    const error = failure as StoreFailedError;
    expect(error.code).toBe('STORE_FAILED');
    expect(error.message).toContain('Failed to commit');
    expect(error.message).not.toContain('no transaction is active');
  });

  it('refuses every later read and write with the same error', async () => {
    await expect(eventCount(store)).rejects.toBe(failure);
    await expect(
      ingest({ store, config: LIMITS }, SCOPE, {
        events: new ScannerFeed({ tenantId: 'globex', events: 1_000, offices: 1, seed: 2 })
          .chunks(0, 10, 10)
          .next().value!,
      }),
    ).rejects.toBe(failure);
  });

  it('answers STORE_FAILED with HTTP 503 through the gateway, and /ready says unavailable', async () => {
    const config = loadConfig({ AUTH_JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent' });
    const yoga = createGateway({ config, store, changes: new ChangeFeed() });
    const token = await signToken(TEST_SECRET, { tenantId: 'acme', officeIds: ['*'], roles: ['viewer'] });
    const response = await yoga.fetch('http://gateway/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ offices { id } }' }),
    });
    const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
    expect(body.errors?.[0]?.extensions?.code).toBe('STORE_FAILED');
    expect(response.status).toBe(503);
    expect((await yoga.fetch('http://gateway/ready')).status).toBe(503);
  });

  it('closes without writing the broken table, and opens again with every committed event', async () => {
    await store.close();
    const recovered: string[] = [];
    store = await openStore(database.config, { onWalRecovered: (reason) => recovered.push(reason) });
    expect(recovered).toEqual([expect.stringContaining('Failure while replaying WAL')]);
    expect(await eventCount(store)).toBe(committed);
    // The file is whole again: a write and a checkpoint go through, and the next open needs no recovery.
    const more = new ScannerFeed({ tenantId: 'globex', events: 1_000, offices: 2, seed: 3 });
    const written = await ingest(
      { store, config: LIMITS },
      { tenantId: 'globex', officeIds: 'all' },
      {
        events: more.chunks(0, 100, 100).next().value!,
      },
    );
    expect(written.eventsInserted).toBe(100);
    await store.close();
    store = await openStore(database.config, { onWalRecovered: (reason) => recovered.push(reason) });
    expect(recovered).toHaveLength(1);
    expect(await eventCount(store)).toBe(committed + 100);
  });
});
