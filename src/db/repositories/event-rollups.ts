/**
 * Event counts per tenant, 15-minute period and the dimensions timelines filter and group by (office,
 * class, severity, status, action). Kept in the ingest transaction, so they always sum to the log;
 * timelines read them instead of grouping the log.
 */
import { type RawBuilder, sql } from 'kysely';
import type { WriteTransaction } from '../database.ts';

/** The length of a rollup period: every UTC offset in use since 1980 is a multiple of it (tzdata). */
export const ROLLUP_PERIOD_SECONDS = 900;

/** The rollup period of a timestamptz expression: whole periods since the Unix epoch. */
function quarterHourSql(timestamp: RawBuilder<unknown>): RawBuilder<number> {
  return sql<number>`cast(floor(date_part('epoch', ${timestamp}) / ${sql.lit(ROLLUP_PERIOD_SECONDS)}) as integer)`;
}

/** The rollup table's key: event_action holds '' for events without one, as a key cannot hold a null. */
const KEY = sql`tenant_id, quarter_hour, office_id, exposure_class, severity, status, event_action`;

/** The rollup rows of the events in `source` (`where` applied), one per key. */
function countedRows(tenant: RawBuilder<unknown>, source: RawBuilder<unknown>, where = sql``) {
  // Grouped by every key column: DuckDB's upsert keeps only the first of two rows with one key. In time
  // order, so that a range of periods spans few DuckDB row groups (zone maps skip the others).
  return sql`select ${tenant}, ${quarterHourSql(sql.ref('timestamp'))}, office_id, exposure_class, severity,
      status, coalesce(event_action, ''), count(*)
    from ${source} ${where}
    group by 1, 2, 3, 4, 5, 6, 7
    order by 1, 2`;
}

/**
 * Adds the events of the temp table `stage` to the tenant's rollups. The stage must hold only events new
 * to the log (after dropping duplicates), and the caller's transaction must be the one that appends them.
 */
export async function countNewEvents(trx: WriteTransaction, tenantId: string, stage: string): Promise<void> {
  await sql`insert into event_rollups (${KEY}, events) ${countedRows(sql`${tenantId}`, sql.table(stage))}
    on conflict (${KEY}) do update set events = event_rollups.events + excluded.events`.execute(trx.db);
}

/** Recomputes the rollups from the log, for every tenant or one; returns the number of rows. */
export async function rebuildRollups(trx: WriteTransaction, tenantId?: string): Promise<number> {
  const tenantFilter = tenantId === undefined ? sql`` : sql`where tenant_id = ${tenantId}`;
  await sql`delete from event_rollups ${tenantFilter}`.execute(trx.db);
  const result = await sql`insert into event_rollups (${KEY}, events)
    ${countedRows(sql.ref('tenant_id'), sql.table('exposure_events'), tenantFilter)}`.execute(trx.db);
  return Number(result.numAffectedRows ?? 0);
}
