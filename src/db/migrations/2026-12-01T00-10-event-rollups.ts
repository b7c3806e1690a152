/**
 * event_rollups: event counts per tenant, 15-minute period and timeline dimension, so timelines sum
 * small rows instead of grouping the log. Backfilled from the log here; ingest keeps it up to date.
 */
import { type Kysely, PostgresAdapter, sql } from 'kysely';

// Frozen once landed, like every migration: it repeats the period arithmetic rather than import it.
export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const text = sql.raw(postgres ? 'text collate "C"' : 'varchar');
  // event_action is part of the key, which cannot hold a null: '' stands for "no action" (validation
  // refuses an empty action). quarter_hour = floor(epoch seconds / 900).
  await sql`create table if not exists event_rollups (
    tenant_id ${text} not null,
    quarter_hour integer not null,
    office_id ${text} not null,
    exposure_class ${text} not null,
    severity ${text} not null,
    status ${text} not null,
    event_action ${text} not null,
    events integer not null,
    primary key (tenant_id, quarter_hour, office_id, exposure_class, severity, status, event_action)
  )`.execute(db);
  // Recomputed whole, so a second run after a failed one counts nothing twice.
  await sql`delete from event_rollups`.execute(db);
  await sql`insert into event_rollups
      (tenant_id, quarter_hour, office_id, exposure_class, severity, status, event_action, events)
    select tenant_id, cast(floor(date_part('epoch', timestamp) / 900) as integer), office_id, exposure_class,
      severity, status, coalesce(event_action, ''), count(*)
    from exposure_events
    group by 1, 2, 3, 4, 5, 6, 7
    order by 1, 2`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table if exists event_rollups`.execute(db);
}
