/**
 * Coarser rollups beside event_rollups: counts per tenant and period, and per office and period, so an
 * unfiltered timeline sums one row per period instead of about one per event. On DuckDB the rollup tables
 * lose their keys: ingest appends its counts there (an upsert is a MERGE over the whole table), and
 * event_rollups is made again without one. All are backfilled from the log.
 */
import { type Kysely, PostgresAdapter, sql } from 'kysely';

// Frozen once landed, like every migration: it repeats the period arithmetic rather than import it.
const PERIOD = sql`cast(floor(date_part('epoch', timestamp) / 900) as integer)`;

export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const text = sql.raw(postgres ? 'text collate "C"' : 'varchar');
  const key = (columns: string) => (postgres ? sql.raw(`, primary key (${columns})`) : sql``);

  await sql`create table if not exists tenant_event_rollups (
    tenant_id ${text} not null,
    quarter_hour integer not null,
    events integer not null
    ${key('tenant_id, quarter_hour')}
  )`.execute(db);
  await sql`create table if not exists office_event_rollups (
    tenant_id ${text} not null,
    quarter_hour integer not null,
    office_id ${text} not null,
    events integer not null
    ${key('tenant_id, quarter_hour, office_id')}
  )`.execute(db);
  // Recomputed whole, so a second run after a failed one counts nothing twice.
  await sql`delete from tenant_event_rollups`.execute(db);
  await sql`insert into tenant_event_rollups (tenant_id, quarter_hour, events)
    select tenant_id, ${PERIOD}, count(*) from exposure_events group by 1, 2 order by 1, 2`.execute(db);
  await sql`delete from office_event_rollups`.execute(db);
  await sql`insert into office_event_rollups (tenant_id, quarter_hour, office_id, events)
    select tenant_id, ${PERIOD}, office_id, count(*) from exposure_events group by 1, 2, 3 order by 1, 2`.execute(
    db,
  );
  if (!postgres) await recreateEventRollups(db, false);
}

/** event_rollups as the earlier migration made it, with its key or (DuckDB, from here on) without. */
async function recreateEventRollups(db: Kysely<any>, keyed: boolean): Promise<void> {
  await sql`drop table if exists event_rollups`.execute(db);
  const primaryKey = keyed
    ? sql`, primary key (tenant_id, quarter_hour, office_id, exposure_class, severity, status, event_action)`
    : sql``;
  await sql`create table event_rollups (
    tenant_id varchar not null,
    quarter_hour integer not null,
    office_id varchar not null,
    exposure_class varchar not null,
    severity varchar not null,
    status varchar not null,
    event_action varchar not null,
    events integer not null
    ${primaryKey}
  )`.execute(db);
  await sql`insert into event_rollups
      (tenant_id, quarter_hour, office_id, exposure_class, severity, status, event_action, events)
    select tenant_id, ${PERIOD}, office_id, exposure_class, severity, status, coalesce(event_action, ''),
      count(*)
    from exposure_events
    group by 1, 2, 3, 4, 5, 6, 7
    order by 1, 2`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await sql`drop table if exists office_event_rollups`.execute(db);
  await sql`drop table if exists tenant_event_rollups`.execute(db);
  if (!postgres) await recreateEventRollups(db, true);
}
