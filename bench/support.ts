/** What every benchmark shares: the PostgreSQL server it measures and scratch databases on either engine. */
import pg from 'pg';
import type { Engine } from '../src/config.ts';
import { createTestDatabase, type TestDatabase } from '../test/helpers/engines.ts';

export const POSTGRES_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';

/** A new, empty database: a DuckDB file in a temp dir, or a fresh schema on POSTGRES_URL. */
export function scratchDatabase(engine: Engine): Promise<TestDatabase> {
  return createTestDatabase(engine, POSTGRES_URL);
}

/** The engines to measure: PostgreSQL only when its server answers. */
export async function reachableEngines(): Promise<Engine[]> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return ['duckdb', 'postgres'];
  } catch {
    console.error(`PostgreSQL at ${POSTGRES_URL} is not reachable: measuring DuckDB only`);
    return ['duckdb'];
  }
}

/** Events per second, as a whole number with thousands separators. */
export const rate = (n: number) => Math.round(n).toLocaleString('en-US');
