/** The prepared-statement cache of DuckDB connections; the same statements on PostgreSQL must agree. */
import {
  DuckDBExtractedStatements,
  DuckDBInstance,
  DuckDBPreparedStatement,
  type DuckDBValue,
} from '@duckdb/node-api';
import { type Kysely, sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isQueryTimeout, openStore, SerialDuckDbConnection, type Store } from '../../src/db/database.ts';
import { CommitGate } from '../../src/db/serial-queue.ts';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/engines.ts';

// biome-ignore lint/suspicious/noExplicitAny: scratch tables outside the store's schema.
type Any = Kysely<any>;

/** The same text every time, so the reader reuses one prepared statement. */
const idsFrom = (db: Any, min: number) =>
  sql<{
    id: number;
    label: string;
  }>`select id, label from cache_probe where id >= ${min} order by id`.execute(db);

for (const engine of ENGINES) {
  describe(`statement cache on ${engine}`, () => {
    let database: TestDatabase;
    let store: Store;
    beforeAll(async () => {
      database = await createTestDatabase(engine);
      // One reader: every read goes through the same connection and so the same cache.
      store = await openStore({ ...database.config, queryTimeoutMs: 1000 }, { readers: 1 });
    });
    afterAll(async () => {
      await store.close();
      await database.drop();
    });
    afterEach(async () => {
      await store.exclusive((db) => sql`drop table if exists cache_probe`.execute(db));
    });

    const createProbe = () =>
      store.exclusive(async (db) => {
        await sql`create table cache_probe (id integer, label varchar(20))`.execute(db);
        await sql`insert into cache_probe values (1, 'one'), (2, 'two'), (3, 'three')`.execute(db);
      });

    it('gives each run the rows of its own parameters', async () => {
      await createProbe();
      for (const min of [1, 3, 2, 4, 1]) {
        const { rows } = await idsFrom(store.db, min);
        expect(rows.map((r) => r.id)).toEqual([1, 2, 3].filter((id) => id >= min));
      }
      // No parameters at all.
      for (let i = 0; i < 2; i++) {
        const { rows } = await sql<{
          n: number;
        }>`select cast(count(*) as integer) as n from cache_probe`.execute(store.db);
        expect(rows).toEqual([{ n: 3 }]);
      }
    });

    it('sees a table as it is after a migration changed it', async () => {
      await createProbe();
      const all = () => sql`select * from cache_probe where id = ${2}`.execute(store.db);
      expect((await all()).rows).toEqual([{ id: 2, label: 'two' }]);
      expect((await idsFrom(store.db, 3)).rows).toEqual([{ id: 3, label: 'three' }]);

      await store.exclusive(async (db) => {
        await sql`alter table cache_probe add column note varchar(20) default 'new'`.execute(db);
        await sql`alter table cache_probe alter column label type varchar(40)`.execute(db);
        await sql`insert into cache_probe (id, label, note) values (4, 'four', 'late')`.execute(db);
      });
      expect((await all()).rows).toEqual([{ id: 2, label: 'two', note: 'new' }]);
      expect((await idsFrom(store.db, 3)).rows).toEqual([
        { id: 3, label: 'three' },
        { id: 4, label: 'four' },
      ]);

      // Dropped and made again with other rows: the statement reads the new table.
      await store.exclusive(async (db) => {
        await sql`drop table cache_probe`.execute(db);
        await sql`create table cache_probe (label varchar(20), id integer)`.execute(db);
        await sql`insert into cache_probe values ('nine', 9)`.execute(db);
      });
      expect((await idsFrom(store.db, 3)).rows).toEqual([{ id: 9, label: 'nine' }]);
    });

    it('fails while the table is missing and works again once it exists', async () => {
      await createProbe();
      expect((await idsFrom(store.db, 3)).rows).toHaveLength(1);
      await store.exclusive((db) => sql`drop table cache_probe`.execute(db));
      await expect(idsFrom(store.db, 3)).rejects.toThrow(/cache_probe/);
      await createProbe();
      expect((await idsFrom(store.db, 3)).rows).toEqual([{ id: 3, label: 'three' }]);
    });

    it('runs a cached statement again after the query timeout interrupted it', async () => {
      const slow = (n: number) =>
        engine === 'duckdb'
          ? sql<{ total: unknown }>`select sum(a.range * b.range) as total from range(${n}) a, range(${n}) b`
          : sql<{ total: unknown }>`select cast(${n} as integer) as total, pg_sleep(${n / 10_000}) as slept`;
      const error = await slow(100_000)
        .execute(store.db)
        .catch((e: unknown) => e);
      expect(isQueryTimeout(error)).toBe(true);
      const { rows } = await slow(3).execute(store.db);
      expect(rows).toHaveLength(1);
    });

    it('answers from the data as it is after a write, not as it was planned on', async () => {
      await store.exclusive((db) =>
        sql`create table cache_probe (id integer, label varchar(40))`.execute(db),
      );
      // Planned on an empty table: DuckDB's statistics say no row has id > 3 and every label is empty.
      const above = () =>
        sql<{ n: number }>`select cast(count(*) as integer) as n from cache_probe where id > 3`.execute(
          store.db,
        );
      const labels = () =>
        sql<{ label: string; n: number }>`select label, cast(count(*) as integer) as n from cache_probe
          group by label order by label`.execute(store.db);
      expect((await above()).rows).toEqual([{ n: 0 }]);
      expect((await labels()).rows).toEqual([]);
      await store.write((trx) =>
        sql`insert into cache_probe values (4, 'four'), (5, 'five')`.execute(trx.db),
      );
      expect((await above()).rows).toEqual([{ n: 2 }]);
      expect((await labels()).rows).toEqual([
        { label: 'five', n: 1 },
        { label: 'four', n: 1 },
      ]);
      await store.write((trx) =>
        sql`insert into cache_probe values (60, 'a label longer than all')`.execute(trx.db),
      );
      expect((await above()).rows).toEqual([{ n: 3 }]);
      expect((await labels()).rows).toHaveLength(3);
    });
  });
}

describe('prepared reads on PostgreSQL', () => {
  let database: TestDatabase;
  let store: Store;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    store = await openStore(database.config, { statementCacheSize: 2 });
    await store.exclusive(async (db) => {
      await sql`create table cache_probe (id integer, label varchar(20))`.execute(db);
      await sql`insert into cache_probe values (1, 'one'), (2, 'two'), (3, 'three')`.execute(db);
    });
  });
  afterAll(async () => {
    await store.close();
    await database.drop();
  });

  /** The statements prepared on the connection that runs it: one at a time, the pool hands out the same. */
  const prepared = async () =>
    (
      await sql<{
        statement: string;
      }>`select statement from pg_prepared_statements order by prepare_time`.execute(store.db)
    ).rows.map((row) => row.statement);

  it('prepares reads with parameters, keeps the most recently used, and leaves writes unprepared', async () => {
    const byLabel = (label: string) =>
      sql<{ id: number }>`select id from cache_probe where label = ${label}`.execute(store.db);
    for (const min of [1, 2, 3]) expect((await idsFrom(store.db, min)).rows).toHaveLength(4 - min);
    expect((await byLabel('two')).rows).toEqual([{ id: 2 }]);
    expect(await prepared()).toEqual([
      expect.stringContaining('where id >= $1'),
      expect.stringContaining('where label = $1'),
    ]);
    const third = await sql<{
      n: number;
    }>`select cast(count(*) as integer) as n from cache_probe where id < ${3}`.execute(store.db);
    expect(third.rows).toEqual([{ n: 2 }]);
    // The least recently used went; the statement it was runs again, prepared afresh.
    expect(await prepared()).toEqual([
      expect.stringContaining('where label = $1'),
      expect.stringContaining('id < $1'),
    ]);
    expect((await idsFrom(store.db, 2)).rows).toHaveLength(2);
    await store.write((trx) => sql`update cache_probe set label = ${'deux'} where id = ${2}`.execute(trx.db));
    await store.write((trx) => sql`select id from cache_probe where id > ${0}`.execute(trx.db));
    expect(await prepared()).toEqual([
      expect.stringContaining('id < $1'),
      expect.stringContaining('where id >= $1'),
    ]);
    expect((await byLabel('deux')).rows).toEqual([{ id: 2 }]);
  });
});

describe('SerialDuckDbConnection', () => {
  let instance: DuckDBInstance;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
  });
  afterAll(() => instance.closeSync());

  const open = async (cacheSize: number, gate = new CommitGate()) =>
    new SerialDuckDbConnection(await instance.connect(), { gate, role: 'reader', cacheSize });
  const rows = async (connection: SerialDuckDbConnection, text: string, values: DuckDBValue[] = []) =>
    (await connection.run(text, values)).getRowObjectsJS();

  it('keeps the most recently used statements and destroys the ones it evicts', async () => {
    const connection = await open(2);
    const prepared = vi.spyOn(DuckDBExtractedStatements.prototype, 'prepare');
    const destroyed = vi.spyOn(DuckDBPreparedStatement.prototype, 'destroySync');
    const statements = () => Promise.all(prepared.mock.results.map((result) => result.value));
    try {
      const [a, b, c] = [
        'select $1::integer + 1 as v',
        'select $1::integer + 2 as v',
        'select $1::integer + 3 as v',
      ];
      expect(await rows(connection, a, [1])).toEqual([{ v: 2 }]);
      expect(await rows(connection, b, [1])).toEqual([{ v: 3 }]);
      expect(await rows(connection, a, [2])).toEqual([{ v: 3 }]);
      expect(await rows(connection, c, [1])).toEqual([{ v: 4 }]);
      expect(connection.cachedStatements()).toEqual([a, c]);
      const [, statementB] = await statements();
      expect(destroyed.mock.contexts).toEqual([statementB]);
      // An evicted statement is prepared again when it comes back.
      expect(await rows(connection, b, [5])).toEqual([{ v: 7 }]);
      expect(connection.cachedStatements()).toEqual([c, b]);
      expect(prepared).toHaveBeenCalledTimes(4);

      destroyed.mockClear();
      connection.close();
      const [, , statementC, statementB2] = await statements();
      expect(destroyed.mock.contexts).toEqual(expect.arrayContaining([statementC, statementB2]));
    } finally {
      prepared.mockRestore();
      destroyed.mockRestore();
    }
  });

  it('prepares a statement again once a commit happened since it was prepared', async () => {
    const gate = new CommitGate();
    const connection = await open(8, gate);
    const prepared = vi.spyOn(DuckDBExtractedStatements.prototype, 'prepare');
    try {
      const text = 'select $1::integer as v';
      expect(await rows(connection, text, [1])).toEqual([{ v: 1 }]);
      expect(await rows(connection, text, [2])).toEqual([{ v: 2 }]);
      expect(prepared).toHaveBeenCalledTimes(1);
      await gate.commit(async () => undefined);
      expect(await rows(connection, text, [3])).toEqual([{ v: 3 }]);
      expect(prepared).toHaveBeenCalledTimes(2);
      expect(connection.cachedStatements()).toEqual([text]);
    } finally {
      prepared.mockRestore();
      connection.close();
    }
  });

  it('runs every statement of a multi-statement string and caches none of them', async () => {
    const connection = await open(8);
    const result = await rows(
      connection,
      'create temp table multi (a integer); insert into multi values (7); select a from multi',
    );
    expect(result).toEqual([{ a: 7 }]);
    expect(connection.cachedStatements()).toEqual([]);
    connection.close();
  });

  it('forgets a statement that failed', async () => {
    const connection = await open(8);
    const text = 'select cast($1 as integer) as v';
    expect(await rows(connection, text, ['5'])).toEqual([{ v: 5 }]);
    await expect(rows(connection, text, ['five'])).rejects.toThrow(/Conversion/);
    expect(connection.cachedStatements()).toEqual([]);
    expect(await rows(connection, text, ['2'])).toEqual([{ v: 2 }]);
    connection.close();
  });

  it('prepares every statement afresh with a cache size of 0', async () => {
    const connection = await open(0);
    expect(await rows(connection, 'select $1::integer as v', [1])).toEqual([{ v: 1 }]);
    expect(connection.cachedStatements()).toEqual([]);
    connection.close();
  });
});

describe('CommitGate', () => {
  /** A promise and the function that resolves it. */
  const latch = () => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    return { open, opened };
  };

  it('lets a commit wait for the reads under way and holds back the reads that arrive meanwhile', async () => {
    const gate = new CommitGate();
    const events: string[] = [];
    const slowRead = latch();
    const firstRead = gate.read(async () => {
      events.push('read 1 starts');
      await slowRead.opened;
      events.push('read 1 ends');
    });
    const commit = gate.commit(async () => {
      events.push('commit');
    });
    const secondRead = gate.read(async () => {
      events.push(`read 2 sees version ${gate.version}`);
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events).toEqual(['read 1 starts']);
    slowRead.open();
    await Promise.all([firstRead, commit, secondRead]);
    expect(events).toEqual(['read 1 starts', 'read 1 ends', 'commit', 'read 2 sees version 1']);
  });

  it('counts a failed commit too, and lets reads go on after it', async () => {
    const gate = new CommitGate();
    await expect(gate.commit(() => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    expect(gate.version).toBe(1);
    await expect(gate.read(async () => gate.version)).resolves.toBe(1);
  });
});
