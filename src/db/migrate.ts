/** Kysely's Migrator over the dated migration files; run before anything else at start. */
import { type Kysely, type MigrationResultSet, Migrator } from 'kysely';
import type { Store } from './database.ts';
import type { Database } from './tables.ts';
import * as core from './migrations/2026-11-22T00-00-core.ts';

const migrations = { '2026-11-22T00-00-core': core };

function migrator(db: Kysely<Database>): Migrator {
  return new Migrator({ db, provider: { getMigrations: async () => migrations } });
}

function unwrap(result: MigrationResultSet): MigrationResultSet {
  if (result.error) throw result.error;
  return result;
}

/** Migrations are writes: on DuckDB they go through the writer like every other write. */
export async function migrateToLatest(store: Store): Promise<MigrationResultSet> {
  return store.exclusive(async (db) => unwrap(await migrator(db).migrateToLatest()));
}

export async function migrateDown(store: Store): Promise<MigrationResultSet> {
  return store.exclusive(async (db) => unwrap(await migrator(db).migrateDown()));
}

export async function migrationStatus(store: Store) {
  return store.exclusive((db) => migrator(db).getMigrations());
}
