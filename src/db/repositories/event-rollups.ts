/**
 * Event counts per tenant and 15-minute period, at three levels of detail: the tenant's total, per
 * office, and per office, class, severity, status and action. Kept in the ingest transaction, so they
 * always sum to the log; timelines read the coarsest level that holds every column they filter or group
 * by, instead of grouping the log. The full level has about one row per event on a busy feed (most
 * events differ in some dimension within 15 minutes); the totals have one row per period.
 *
 * PostgreSQL keeps one row per key (an upsert through the primary key). DuckDB runs an upsert as a MERGE
 * that joins the whole table, so there each transaction appends its own counts, the tables have no key,
 * and readers sum them: cost per batch, at the price of a few more rows where batches share a period.
 * A rebuild (rebuildRollups) folds them back to one row per key.
 */
import { type RawBuilder, sql } from 'kysely';
import type { WriteTransaction } from '../database.ts';
import type { Database } from '../tables.ts';
import { attributed } from '../telemetry.ts';

/** The length of a rollup period: every UTC offset in use since 1980 is a multiple of it (tzdata). */
export const ROLLUP_PERIOD_SECONDS = 900;

/** The columns a rollup level can keep besides the tenant and the period. */
export type RollupDimension = 'office_id' | 'exposure_class' | 'severity' | 'status' | 'event_action';

export interface RollupLevel {
  table: keyof Database & ('tenant_event_rollups' | 'office_event_rollups' | 'event_rollups');
  dimensions: readonly RollupDimension[];
}

/** Coarsest first. */
export const ROLLUP_LEVELS: readonly RollupLevel[] = [
  { table: 'tenant_event_rollups', dimensions: [] },
  { table: 'office_event_rollups', dimensions: ['office_id'] },
  {
    table: 'event_rollups',
    dimensions: ['office_id', 'exposure_class', 'severity', 'status', 'event_action'],
  },
];

/** The coarsest level that keeps every dimension named; none when no level keeps them all. */
export function rollupLevelFor(dimensions: ReadonlySet<RollupDimension>): RollupLevel | undefined {
  return ROLLUP_LEVELS.find((level) => [...dimensions].every((d) => level.dimensions.includes(d)));
}

/** The rollup period of a timestamptz expression: whole periods since the Unix epoch. */
function quarterHourSql(timestamp: RawBuilder<unknown>): RawBuilder<number> {
  return sql<number>`cast(floor(date_part('epoch', ${timestamp}) / ${sql.lit(ROLLUP_PERIOD_SECONDS)}) as integer)`;
}

/** The value an event gives a dimension: '' for no action, as a key cannot hold a null. */
const dimensionSql = (dimension: RollupDimension) =>
  dimension === 'event_action' ? sql`coalesce(event_action, '')` : sql.ref(dimension);

const keyOf = (level: RollupLevel) => ['tenant_id', 'quarter_hour', ...level.dimensions];

/** The rollup rows of one level for the events in `source` (`where` applied), one per key. */
function countedRows(
  level: RollupLevel,
  tenant: RawBuilder<unknown>,
  source: RawBuilder<unknown>,
  where = sql``,
) {
  const values = [tenant, quarterHourSql(sql.ref('timestamp')), ...level.dimensions.map(dimensionSql)];
  const positions = sql.join(values.map((_, i) => sql.lit(i + 1)));
  // One row per key: DuckDB's upsert keeps only the first of two rows with one key. In time order, so
  // that a range of periods spans few DuckDB row groups (zone maps skip the others).
  return sql`select ${sql.join(values)}, count(*) from ${source} ${where}
    group by ${positions}
    order by 1, 2`;
}

const columnList = (level: RollupLevel) => sql.join([...keyOf(level), 'events'].map((c) => sql.ref(c)));

/**
 * Adds the events of the temp table `stage` to the tenant's rollups. The stage must hold only events new
 * to the log (after dropping duplicates), and the caller's transaction must be the one that appends them.
 */
export async function countNewEvents(trx: WriteTransaction, tenantId: string, stage: string): Promise<void> {
  trx = attributed(trx, countNewEvents);
  for (const level of ROLLUP_LEVELS) {
    const rows = countedRows(level, sql`${tenantId}`, sql.table(stage));
    const table = sql.table(level.table);
    const key = sql.join(keyOf(level).map((c) => sql.ref(c)));
    await (trx.engine === 'postgres'
      ? sql`insert into ${table} (${columnList(level)}) ${rows}
            on conflict (${key}) do update set events = ${sql.ref(`${level.table}.events`)} + excluded.events`
      : sql`insert into ${table} (${columnList(level)}) ${rows}`
    ).execute(trx.db);
  }
}

/** Recomputes the rollups from the log, for every tenant or one; returns the rows of the full level. */
export async function rebuildRollups(trx: WriteTransaction, tenantId?: string): Promise<number> {
  trx = attributed(trx, rebuildRollups);
  const tenantFilter = tenantId === undefined ? sql`` : sql`where tenant_id = ${tenantId}`;
  let rows = 0;
  for (const level of ROLLUP_LEVELS) {
    await sql`delete from ${sql.table(level.table)} ${tenantFilter}`.execute(trx.db);
    const result = await sql`insert into ${sql.table(level.table)} (${columnList(level)})
      ${countedRows(level, sql.ref('tenant_id'), sql.table('exposure_events'), tenantFilter)}`.execute(
      trx.db,
    );
    rows = Number(result.numAffectedRows ?? 0);
  }
  return rows;
}
