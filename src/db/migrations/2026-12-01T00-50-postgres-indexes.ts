/**
 * PostgreSQL indexes measured at scale (bench/results/scale.txt, scale-explain.txt).
 *
 * exposures_current: every merge changes last_seen. While an index holds it, no update is HOT: each
 * writes a new entry in every index of the table (at 1.5M events, 1,400 ms to upsert 1,500 stored
 * rows, against 45 ms when no indexed column changes), so ingest slowed with the size of the table.
 * Without that index, and with room left on each page for the new versions (fillfactor), an update
 * rewrites the row within its page and touches no index unless status, severity, class or asset
 * really change. Ordering by last_seen sorts the tenant's matching rows instead.
 *
 * exposure_events: the events page is the latest events of a filter (offices, severities) in time
 * order. With only (tenant_id, office_id, timestamp), a list of offices is a bitmap scan of every event
 * of those offices and a sort; walking (tenant_id, timestamp, event_id) backwards stops at the page.
 */
import { type Kysely, PostgresAdapter, sql } from 'kysely';

const isPostgres = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter;

export async function up(db: Kysely<any>): Promise<void> {
  if (!isPostgres(db)) return;
  await sql`drop index if exists exposures_current_last_seen`.execute(db);
  await sql`alter table exposures_current set (fillfactor = 70)`.execute(db);
  await sql`create index if not exists exposure_events_tenant_time on exposure_events (tenant_id, timestamp, event_id)`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  if (!isPostgres(db)) return;
  await sql`drop index if exists exposure_events_tenant_time`.execute(db);
  await sql`alter table exposures_current reset (fillfactor)`.execute(db);
  await sql`create index if not exists exposures_current_last_seen on exposures_current (tenant_id, last_seen)`.execute(
    db,
  );
}
