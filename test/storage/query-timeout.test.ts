import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isQueryTimeout, openStore, type Store } from '../../src/db/database.ts';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/engines.ts';

// Slow on purpose: a sleep on PostgreSQL, a large aggregation on DuckDB (which has no sleep).
const SLOW_READ = {
  duckdb: sql`select sum(a.range * b.range) as total from range(100000) a, range(100000) b`,
  postgres: sql`select pg_sleep(5) as slept`,
};

for (const engine of ENGINES) {
  describe(`query timeout on ${engine}`, () => {
    let database: TestDatabase;
    let store: Store;
    beforeAll(async () => {
      database = await createTestDatabase(engine);
      store = await openStore({ ...database.config, queryTimeoutMs: 200 });
    });
    afterAll(async () => {
      await store.close();
      await database.drop();
    });

    it('cancels a read that runs longer than the timeout, and the connection serves the next read', async () => {
      const error = await SLOW_READ[engine].execute(store.db).catch((e: unknown) => e);
      expect(isQueryTimeout(error)).toBe(true);
      // Cancelled, not abandoned: the server runs it no more (DuckDB's would outlast the test's timeout).
      if (engine === 'postgres') {
        const running = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
          where state = 'active' and query like '%pg_sleep(5)%' and pid <> pg_backend_pid()`.execute(
          store.db,
        );
        expect(running.rows).toEqual([{ n: 0 }]);
      }
      const after = await sql<{ one: number }>`select 1 as one`.execute(store.db);
      expect(after.rows).toEqual([{ one: 1 }]);
    });

    it('lets a write transaction run past the timeout', async () => {
      const slowWrite =
        engine === 'postgres' ? sql`select pg_sleep(0.5)` : sql`select count(*) as n from range(1000)`;
      await expect(store.write((trx) => slowWrite.execute(trx.db))).resolves.toBeDefined();
    });
  });
}
