/** Kysely's Migrator over the dated migration files; run before anything else at start. */
import { type Kysely, type MigrationResultSet, Migrator, sql } from 'kysely';
import type { Store } from './database.ts';
import * as core from './migrations/2026-11-22T00-00-core.ts';
import * as mergeableState from './migrations/2026-12-01T00-00-mergeable-state.ts';
import * as eventRollups from './migrations/2026-12-01T00-10-event-rollups.ts';
import * as rollupLevels from './migrations/2026-12-01T00-20-rollup-levels.ts';
import * as eventActor from './migrations/2026-12-01T00-30-event-actor.ts';
import * as eventHash from './migrations/2026-12-01T00-40-event-hash.ts';
import * as postgresIndexes from './migrations/2026-12-01T00-50-postgres-indexes.ts';
import * as scanRuns from './migrations/2026-12-01T01-00-scan-runs.ts';
import * as openStreaks from './migrations/2026-12-01T01-10-open-streaks.ts';
import * as changeNotices from './migrations/2026-12-01T01-20-change-notices.ts';
import * as exposureCounts from './migrations/2026-12-01T01-30-exposure-counts.ts';
import * as exposureSortKeys from './migrations/2026-12-01T01-40-exposure-sort-keys.ts';
import { rebuildCurrent } from './repositories/event-log.ts';
import type { Database } from './tables.ts';

const migrations = {
  '2026-11-22T00-00-core': core,
  '2026-12-01T00-00-mergeable-state': mergeableState,
  '2026-12-01T00-10-event-rollups': eventRollups,
  '2026-12-01T00-20-rollup-levels': rollupLevels,
  '2026-12-01T00-30-event-actor': eventActor,
  '2026-12-01T00-40-event-hash': eventHash,
  '2026-12-01T00-50-postgres-indexes': postgresIndexes,
  '2026-12-01T01-00-scan-runs': scanRuns,
  '2026-12-01T01-10-open-streaks': openStreaks,
  '2026-12-01T01-20-change-notices': changeNotices,
  '2026-12-01T01-30-exposure-counts': exposureCounts,
  '2026-12-01T01-40-exposure-sort-keys': exposureSortKeys,
};

/** Every migration, in the order they apply. */
export const MIGRATION_NAMES = Object.keys(migrations).sort();

/**
 * Migrations after which the current state is rebuilt from the log: they add what the stored rows cannot
 * know, such as the fold positions of their values. Migrations never import application code, so the
 * rebuild runs here, once, right after them.
 */
const REBUILDS_CURRENT = new Set([
  '2026-12-01T00-00-mergeable-state',
  '2026-12-01T01-00-scan-runs',
  '2026-12-01T01-10-open-streaks',
]);

async function migrator(store: Store, db: Kysely<Database>): Promise<Migrator> {
  // Its tables live in the gateway's schema, the current one, where the introspector looks for them
  // (postgres-introspector.ts): named, so that Kysely qualifies them with it.
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
  const result = await store.exclusive(async (db) =>
    unwrap(await (await migrator(store, db)).migrateToLatest()),
  );
  const applied = (result.results ?? []).filter((r) => r.direction === 'Up' && r.status === 'Success');
  if (applied.some((r) => REBUILDS_CURRENT.has(r.migrationName))) {
    await store.write((trx) => rebuildCurrent(trx));
  }
  return result;
}

export async function migrateDown(store: Store): Promise<MigrationResultSet> {
  return store.exclusive(async (db) => unwrap(await (await migrator(store, db)).migrateDown()));
}

export async function migrationStatus(store: Store) {
  return store.exclusive(async (db) => (await migrator(store, db)).getMigrations());
}
