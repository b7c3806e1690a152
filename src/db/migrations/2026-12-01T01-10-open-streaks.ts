/**
 * Open streaks, triage decisions and SLA policies. exposures_current keeps the open streak as part of the
 * fold (open_since, the position of the event that started it, and the position of the latest CLOSED
 * event, which a late event needs to merge); the log and the current state carry a decision's expiry
 * (disposition_expires_at), which moves with the disposition status like the reason does, so the reason
 * no longer keeps a position of its own. sla_policies holds each tenant's days per severity. Existing
 * rows get their streaks and decisions by rebuilding the current state from the log after this migration
 * (see migrate.ts). On PostgreSQL no index covers the new columns: every merge may change them, and an
 * indexed one would end HOT updates (see 2026-12-01T00-50-postgres-indexes.ts).
 */
import { type Kysely, PostgresAdapter, sql } from 'kysely';

// Frozen once landed: the DuckDB indexes as they stand at this migration.
const DUCKDB_INDEXES: Record<string, Record<string, string>> = {
  exposure_events: {
    exposure_events_exposure_hash: 'exposure_events (exposure_hash)',
    exposure_events_dedupe_hash: 'exposure_events (dedupe_hash)',
    exposure_events_event_hash: 'exposure_events (event_hash)',
  },
  exposures_current: { exposures_current_exposure_hash: 'exposures_current (exposure_hash)' },
};

/** DuckDB refuses to alter a table that has indexes: they are dropped around the change and made again. */
async function alterTable(
  db: Kysely<any>,
  table: 'exposure_events' | 'exposures_current',
  change: (postgres: boolean) => Promise<unknown>,
) {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  if (postgres) return change(postgres);
  const indexes = DUCKDB_INDEXES[table] ?? {};
  for (const name of Object.keys(indexes)) await sql`drop index if exists ${sql.ref(name)}`.execute(db);
  await change(postgres);
  for (const [name, on] of Object.entries(indexes)) {
    await sql`create index if not exists ${sql.ref(name)} on ${sql.raw(on)}`.execute(db);
  }
}

const text = (postgres: boolean) => sql.raw(postgres ? 'text collate "C"' : 'varchar');

export async function up(db: Kysely<any>): Promise<void> {
  await alterTable(db, 'exposure_events', () =>
    sql`alter table exposure_events add column if not exists disposition_expires_at timestamptz`.execute(db),
  );
  await alterTable(db, 'exposures_current', async (postgres) => {
    for (const definition of [
      sql`disposition_expires_at timestamptz`,
      sql`open_since timestamptz`,
      sql`open_since_position ${text(postgres)}`,
      sql`closed_position ${text(postgres)}`,
    ]) {
      await sql`alter table exposures_current add column if not exists ${definition}`.execute(db);
    }
    await sql`alter table exposures_current drop column if exists disposition_reason_position`.execute(db);
  });
  await sql`create table if not exists sla_policies (
    tenant_id ${text(db.getExecutor().adapter instanceof PostgresAdapter)} primary key,
    critical integer, high integer, medium integer, low integer, info integer,
    updated_at timestamptz not null
  )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table if exists sla_policies`.execute(db);
  await alterTable(db, 'exposures_current', async (postgres) => {
    for (const column of ['disposition_expires_at', 'open_since', 'open_since_position', 'closed_position']) {
      await sql`alter table exposures_current drop column if exists ${sql.ref(column)}`.execute(db);
    }
    await sql`alter table exposures_current add column if not exists disposition_reason_position ${text(postgres)}`.execute(
      db,
    );
  });
  await alterTable(db, 'exposure_events', () =>
    sql`alter table exposure_events drop column if exists disposition_expires_at`.execute(db),
  );
}
