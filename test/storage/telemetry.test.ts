/** Query telemetry: what the store reports of each statement, and to which repository function. */
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store, WriteTransaction } from '../../src/db/database.ts';
import type { Database } from '../../src/db/tables.ts';
import { attributed, type StatementRecord } from '../../src/db/telemetry.ts';
import { ENGINES, openTestStore, type TestStore } from '../helpers/engines.ts';

/** Stand-ins for repository functions: what matters is their names. */
async function countScratch(db: Kysely<Database>): Promise<number> {
  db = attributed(db, countScratch);
  const { rows } = await sql<{ total: number }>`with scratch as (select 1 as n union all select 2)
    select cast(sum(n) as integer) as total from scratch`.execute(db);
  return rows[0]!.total;
}

async function fillScratch(trx: WriteTransaction): Promise<void> {
  trx = attributed(trx, fillScratch);
  await sql`create temp table scratch_rows (n integer)`.execute(trx.db);
  await trx.bulkInsert('scratch_rows', [{ name: 'n', type: 'integer' }], [[1], [2], [3]]);
  await sql`with extra as (select 4 as n) insert into scratch_rows select n from extra`.execute(trx.db);
  // A repository called inside another names its own statements.
  await countScratch(trx.db);
  await sql`update scratch_rows set n = n + 1 where n > 1`.execute(trx.db);
}

async function readMissing(db: Kysely<Database>): Promise<void> {
  db = attributed(db, readMissing);
  await sql`select n from no_such_table`.execute(db);
}

/** A read that runs far longer than the query timeout (as in statement-cache.test.ts). */
async function readForever(db: Kysely<Database>, engine: string): Promise<void> {
  db = attributed(db, readForever);
  const n = 100_000;
  await (engine === 'duckdb'
    ? sql`select sum(a.range * b.range) as total from range(${n}) a, range(${n}) b`
    : sql`select pg_sleep(${n / 10_000}) as slept`
  ).execute(db);
}

for (const engine of ENGINES) {
  describe(`query telemetry on ${engine}`, () => {
    let t: TestStore;
    let store: Store;
    const seen: StatementRecord[] = [];
    let stop: () => void;
    const summary = () => seen.map((r) => [r.repository, r.kind, r.outcome, r.rows]);

    beforeAll(async () => {
      t = await openTestStore(engine, { queryTimeoutMs: 300 });
      store = t.store;
      stop = store.observe({ statement: (record) => seen.push(record) });
    });
    afterAll(async () => {
      stop();
      await t.close();
    });

    it('reports each statement with its repository function, kind, outcome, time and rows', async () => {
      seen.length = 0;
      expect(await countScratch(store.db)).toBe(3);
      expect(summary()).toEqual([['countScratch', 'select', 'ok', 1]]);
      const [record] = seen;
      expect(record!.engine).toBe(engine);
      expect(record!.ended).toBeGreaterThanOrEqual(record!.started);

      seen.length = 0;
      await sql`select 1 as one`.execute(store.db);
      expect(summary()).toEqual([['none', 'select', 'ok', 1]]);
    });

    it('names the statements of a write transaction, transaction control apart', async () => {
      seen.length = 0;
      await store.write((trx) => fillScratch(trx));
      const statements = summary().filter(([repository]) => repository !== 'none');
      expect(statements).toEqual([
        ['fillScratch', 'ddl', 'ok', 0],
        // DuckDB appends through its appender, which is no statement; PostgreSQL sends one.
        ...(engine === 'postgres' ? [['fillScratch', 'insert', 'ok', 3]] : []),
        ['fillScratch', 'insert', 'ok', 1],
        ['countScratch', 'select', 'ok', 1],
        ['fillScratch', 'update', 'ok', 3],
      ]);
      const control = summary().filter(([repository]) => repository === 'none');
      // PostgreSQL lifts the query timeout for the transaction: writes are not limited.
      expect(control.map(([, kind]) => kind)).toEqual(
        engine === 'postgres' ? ['begin', 'set', 'commit'] : ['begin', 'commit'],
      );
    });

    it('reports a failed statement as an error, and a read the query timeout cancelled as a timeout', async () => {
      seen.length = 0;
      await expect(readMissing(store.db)).rejects.toThrow();
      await expect(readForever(store.db, engine)).rejects.toThrow();
      expect(summary()).toEqual([
        ['readMissing', 'select', 'error', 0],
        ['readForever', 'select', 'timeout', 0],
      ]);
    });

    it('reports nothing to an observer once it stopped', async () => {
      const late: StatementRecord[] = [];
      const unobserve = store.observe({ statement: (record) => late.push(record) });
      await countScratch(store.db);
      unobserve();
      await countScratch(store.db);
      expect(late.map((r) => r.repository)).toEqual(['countScratch']);
    });
  });
}
