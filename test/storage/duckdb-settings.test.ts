/** DUCKDB_THREADS and DUCKDB_MEMORY_LIMIT: parsed from the environment and applied when the store opens. */

import { DuckDBInstance } from '@duckdb/node-api';
import { type Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, type DatabaseConfig, loadConfig } from '../../src/config.ts';
import { CheckpointThreshold, DUCKDB_DEFAULT_THREADS, openStore, type Store } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { MAX_PAGE_SIZE } from '../../src/db/repositories/pagination.ts';
import type { Database } from '../../src/db/tables.ts';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/engines.ts';

describe('DuckDB settings in the environment', () => {
  it('are read into the database configuration', () => {
    const config = loadConfig({ DUCKDB_THREADS: '2', DUCKDB_MEMORY_LIMIT: '512MB' });
    expect(config.database).toMatchObject({ duckdbThreads: 2, duckdbMemoryLimit: '512MB' });
  });

  it('read STATEMENT_CACHE_SIZE for either engine, 0 included, and leave it out when unset', () => {
    expect(loadConfig({ STATEMENT_CACHE_SIZE: '0' }).database.statementCacheSize).toBe(0);
    expect(loadConfig({ STATEMENT_CACHE_SIZE: '32' }).database.statementCacheSize).toBe(32);
    expect(loadConfig({}).database).not.toHaveProperty('statementCacheSize');
    for (const bad of ['-1', '2.5', 'many']) {
      expect(() => loadConfig({ STATEMENT_CACHE_SIZE: bad })).toThrow('STATEMENT_CACHE_SIZE');
    }
  });

  it('are left out when unset', () => {
    const { database } = loadConfig({});
    expect(database).not.toHaveProperty('duckdbThreads');
    expect(database).not.toHaveProperty('duckdbMemoryLimit');
  });

  it.each([
    ['DUCKDB_THREADS', '0'],
    ['DUCKDB_THREADS', '1.5'],
    ['DUCKDB_THREADS', 'many'],
    ['DUCKDB_MEMORY_LIMIT', '80%'],
    ['DUCKDB_MEMORY_LIMIT', '2'],
    ['DUCKDB_MEMORY_LIMIT', "1GB'; drop table offices; --"],
  ])('refuse %s=%s, naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });
});

for (const engine of ENGINES) {
  describe(`DuckDB settings on ${engine}`, () => {
    let database: TestDatabase | undefined;
    let store: Store | undefined;
    afterEach(async () => {
      await store?.close();
      await database?.drop();
      store = undefined;
      database = undefined;
    });

    const open = async (settings: Partial<DatabaseConfig>) => {
      database = await createTestDatabase(engine);
      store = await openStore({ ...database.config, ...settings });
      return store;
    };

    /** What the instance runs with, read back through a reader connection. */
    const current = async (s: Store) => {
      const { rows } = await sql<{ threads: unknown; memory_limit: string }>`
        select current_setting('threads') as threads, current_setting('memory_limit') as memory_limit`.execute(
        s.db,
      );
      return { threads: Number(rows[0]?.threads), memoryLimit: rows[0]?.memory_limit };
    };

    if (engine === 'duckdb') {
      it('applies the configured threads and memory limit to every connection', async () => {
        const s = await open({ duckdbThreads: 2, duckdbMemoryLimit: '512MB' });
        // DuckDB reports 512 MB in binary units.
        expect(await current(s)).toEqual({ threads: 2, memoryLimit: '488.2 MiB' });
        const written = await s.write(
          async (trx) =>
            (
              await sql<{ threads: unknown }>`
          select current_setting('threads') as threads`.execute(trx.db)
            ).rows[0]?.threads,
        );
        expect(Number(written)).toBe(2);
      });

      it('runs with the default threads and DuckDB’s own memory limit when unset', async () => {
        const s = await open({});
        const { threads, memoryLimit } = await current(s);
        expect(threads).toBe(DUCKDB_DEFAULT_THREADS);
        expect(memoryLimit).toMatch(/iB$/);
      });

      it('keeps FSST off and the checkpoint threshold at a share of the file, set again as it grows', async () => {
        const s = await open({});
        const setting = async (name: string) =>
          (await sql<{ value: string }>`select current_setting(${name}) as value`.execute(s.db)).rows[0]
            ?.value;
        expect(await setting('disabled_compression_methods')).toMatch(/fsst/i);
        // A new file is far below the floor: the threshold is DuckDB's 16 MB.
        expect(await setting('checkpoint_threshold')).toBe('16.0 MiB');

        expect(CheckpointThreshold.ofFile(database!.config.duckdbPath).target()).toBe(
          CheckpointThreshold.MIN_BYTES,
        );

        // A database that grows to 1 GiB, then 1.1 GiB, then 2 GiB, on an instance of its own.
        let size = 2 ** 30;
        const threshold = new CheckpointThreshold(() => size);
        const instance = await DuckDBInstance.create(':memory:');
        const connection = await instance.connect();
        const applied = async () =>
          (
            await connection.runAndReadAll(`select current_setting('checkpoint_threshold')`)
          ).getRows()[0]?.[0];
        try {
          await threshold.apply(connection);
          expect(await applied()).toBe('128.0 MiB');
          // Within a quarter of the last value: left as it is.
          size = 1.1 * 2 ** 30;
          await threshold.apply(connection);
          expect(await applied()).toBe('128.0 MiB');
          size = 2 ** 31;
          // Looked at again only every EVERY writes.
          for (let i = 1; i < CheckpointThreshold.EVERY; i++) await threshold.afterWrite(connection);
          expect(await applied()).toBe('128.0 MiB');
          await threshold.afterWrite(connection);
          expect(await applied()).toBe('256.0 MiB');
        } finally {
          connection.closeSync();
          instance.closeSync();
        }
      });

      it('lets readers sort a page of up to MAX_PAGE_SIZE exposures by its sort columns alone', async () => {
        const s = await open({});
        await migrateToLatest(s);
        const settings = async (db: Kysely<Database>) =>
          (
            await sql<{ rows: unknown; filters: unknown }>`select
              current_setting('late_materialization_max_rows') as rows,
              current_setting('dynamic_or_filter_threshold') as filters`.execute(db)
          ).rows.map((row) => [Number(row.rows), Number(row.filters)]);
        expect(await settings(s.db)).toEqual([[MAX_PAGE_SIZE + 1, MAX_PAGE_SIZE + 1]]);
        // The writer keeps DuckDB's defaults: its joins are the merge's, not pages.
        expect(await s.write((trx) => settings(trx.db))).toEqual([[50, 50]]);
        // Late materialization: the top-N sorts row ids and sort columns, then joins the page's rows back.
        const { rows } = await sql<{ explain_value: string }>`explain select * from exposures_current
          where tenant_id = 'acme' order by last_seen desc limit ${sql.lit(MAX_PAGE_SIZE + 1)}`.execute(s.db);
        expect(rows.map((row) => row.explain_value).join('\n')).toMatch(/rowid/);
      });

      it('refuses a memory limit DuckDB cannot read', async () => {
        await expect(open({ duckdbMemoryLimit: "lots'" })).rejects.toThrow(/memory/i);
      });
    } else {
      it('ignores them: PostgreSQL has its own', async () => {
        const s = await open({ duckdbThreads: 1, duckdbMemoryLimit: '512MB' });
        const { rows } = await sql<{ one: number }>`select 1 as one`.execute(s.db);
        expect(rows).toEqual([{ one: 1 }]);
      });
    }
  });
}
