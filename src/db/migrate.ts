/** Kysely's Migrator over the dated migration files; run before anything else at start. */
import { type Kysely, type MigrationResultSet, Migrator, sql } from 'kysely';
import type { Store } from './database.ts';
import * as core from './migrations/2026-11-22T00-00-core.ts';
import type { Database } from './tables.ts';

const migrations = { '2026-11-22T00-00-core': core };

async function migrator(store: Store, db: Kysely<Database>): Promise<Migrator> {
  // Kysely looks for its own tables in every schema but creates them in the current one: name it.
  const schema =
    store.engine === 'postgres'
      ? (await sql<{ name: string }>`select current_schema() as name`.execute(db)).rows[0]?.name
      : undefined;
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
}

function unwrap(result: MigrationResultSet): MigrationResultSet {
  if (result.error) throw result.error;
  return result;
}

/** Migrations are writes: on DuckDB they go through the writer like every other write. */
export async function migrateToLatest(store: Store): Promise<MigrationResultSet> {
  return store.exclusive(async (db) => unwrap(await (await migrator(store, db)).migrateToLatest()));
}

export async function migrateDown(store: Store): Promise<MigrationResultSet> {
  return store.exclusive(async (db) => unwrap(await (await migrator(store, db)).migrateDown()));
}

export async function migrationStatus(store: Store) {
  return store.exclusive(async (db) => (await migrator(store, db)).getMigrations());
}
