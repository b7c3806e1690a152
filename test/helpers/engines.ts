/** Real engines for tests: a DuckDB file in a temp dir, and a fresh schema on the PostgreSQL server. */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { DatabaseConfig, Engine } from '../../src/config.ts';
import { openStore, type Store } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';

export const ENGINES: readonly Engine[] = ['duckdb', 'postgres'];

export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';

export interface TestDatabase {
  config: DatabaseConfig;
  /** Removes the DuckDB folder or drops the PostgreSQL schema. */
  drop(): Promise<void>;
}

/** A new, empty database on the engine; PostgreSQL gets its own schema so test files run in parallel. */
export async function createTestDatabase(engine: Engine, postgresUrl = POSTGRES_URL): Promise<TestDatabase> {
  if (engine === 'duckdb') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exposure-gateway-'));
    return {
      config: { engine, duckdbPath: path.join(dir, 'exposures.duckdb') },
      drop: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  }
  const schema = `test_${randomUUID().replaceAll('-', '')}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const url = new URL(postgresUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    config: { engine, duckdbPath: '', postgresUrl: url.toString() },
    drop: async () => {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`drop schema ${schema} cascade`);
      await client.end();
    },
  };
}

export interface TestStore {
  store: Store;
  database: TestDatabase;
  close(): Promise<void>;
}

/** An open, migrated store on a new database. */
export async function openTestStore(
  engine: Engine,
  options: { queryTimeoutMs?: number } = {},
): Promise<TestStore> {
  const database = await createTestDatabase(engine);
  const store = await openStore({ ...database.config, ...options });
  await migrateToLatest(store);
  return {
    store,
    database,
    close: async () => {
      await store.close();
      await database.drop();
    },
  };
}
