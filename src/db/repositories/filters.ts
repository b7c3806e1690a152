/** Filters of exposures and events as SQL conditions, always inside the caller's scope. */
import { type Expression, type ExpressionBuilder, type SqlBool, sql } from 'kysely';
import type { Scope } from '../../domain.ts';
import { type ExposureStatus, NO_DISPOSITION, SEVERITIES, type Severity } from '../../domain.ts';
import type { IpKeyRange } from '../../ip.ts';
import { scopedOffices } from './scope.ts';
import { slaDaysSql } from './sla-policies.ts';

/** Lists are "any of"; an empty list matches nothing. Time ranges are [from, to). */
export interface ExposureFilter {
  officeIds?: readonly string[] | null;
  exposureIds?: readonly string[] | null;
  exposureClasses?: readonly string[] | null;
  statuses?: readonly ExposureStatus[] | null;
  severities?: readonly Severity[] | null;
  minSeverity?: Severity | null;
  assetIds?: readonly string[] | null;
  protocols?: readonly string[] | null;
  dstPorts?: readonly number[] | null;
  dstIpRange?: IpKeyRange | null;
  minRiskScore?: number | null;
  firstSeenFrom?: Date | null;
  firstSeenTo?: Date | null;
  lastSeenFrom?: Date | null;
  lastSeenTo?: Date | null;
  /** Case-insensitive substring of exposure id, asset id, asset hostname or destination IP. */
  search?: string | null;
  /** OPEN and past the SLA due time of its severity under the tenant's policy (true), or not (false). */
  overdue?: boolean | null;
  /** Active decisions with one of these statuses; "none" matches exposures without an active decision. */
  dispositionStatuses?: readonly string[] | null;
  openSinceFrom?: Date | null;
  openSinceTo?: Date | null;
  /** The clock overdue and dispositionStatuses are judged by, read when the condition is built. */
  clock?: (() => Date) | null;
}

export interface EventFilter {
  officeIds?: readonly string[] | null;
  exposureIds?: readonly string[] | null;
  assetIds?: readonly string[] | null;
  exposureClasses?: readonly string[] | null;
  severities?: readonly Severity[] | null;
  statuses?: readonly ExposureStatus[] | null;
  eventActions?: readonly string[] | null;
  scanRunIds?: readonly string[] | null;
  from?: Date | null;
  to?: Date | null;
}

// biome-ignore lint/suspicious/noExplicitAny: conditions apply to any table alias with the named columns.
type AnyBuilder = ExpressionBuilder<any, any>;

/** A timestamp parameter: DuckDB cannot bind a Date, so it travels as ISO text. */
export function timestampParam(value: Date) {
  return sql`cast(${value.toISOString()} as timestamptz)`;
}

/**
 * The conditions of one read on the rows under `alias`, starting with the caller's scope; each filter
 * field adds its own when it is set.
 */
export class ScopedConditions {
  readonly list: Expression<SqlBool>[] = [];
  constructor(
    private readonly eb: AnyBuilder,
    scope: Scope,
    private readonly alias: string,
  ) {
    this.list.push(scopedOffices(eb, scope, alias));
  }

  private ref(column: string) {
    return sql.ref(`${this.alias}.${column}`);
  }

  anyOf(column: string, values: readonly (string | number)[] | null | undefined) {
    if (values === null || values === undefined) return;
    this.list.push(values.length === 0 ? sql<boolean>`1 = 0` : this.eb(this.ref(column), 'in', values));
  }

  compare(column: string, op: '>=' | '<', value: Date | number | null | undefined) {
    if (value === null || value === undefined) return;
    const operand = value instanceof Date ? timestampParam(value) : sql`${value}`;
    this.list.push(sql<boolean>`${this.ref(column)} ${sql.raw(op)} ${operand}`);
  }

  add(condition: Expression<SqlBool>) {
    this.list.push(condition);
  }

  all() {
    return this.eb.and(this.list);
  }
}

/**
 * OPEN, and its open streak began more than the SLA days of its severity before `now`. Each severity's
 * days are a subquery that does not depend on the row, so both engines run it once per statement; a
 * subquery matched on the row's severity ran once per row (142,651 times in one summary at 2M events).
 */
export function overdueCondition(scope: Scope, alias: string, now: Date): Expression<SqlBool> {
  const ref = (column: string) => sql.ref(`${alias}.${column}`);
  const days = sql.join(
    SEVERITIES.map(
      (severity) =>
        sql`when ${sql.lit(severity)} then (select sla.days from ${slaDaysSql(scope.tenantId)} as sla
          where sla.severity = ${sql.lit(severity)})`,
    ),
    sql` `,
  );
  // No SLA for the severity (null days) is never overdue, also under NOT.
  return sql<boolean>`coalesce(${ref('status')} = 'OPEN'
    and ${ref('open_since')} < ${timestampParam(now)} - (case ${ref('severity')} ${days} end) * interval '24 hours', false)`;
}

/** A decision other than "none" is set and has not lapsed at `now`: isDispositionActive() in SQL. */
export function dispositionActiveCondition(alias: string, now: Date): Expression<SqlBool> {
  const ref = (column: string) => sql.ref(`${alias}.${column}`);
  return sql<boolean>`(${ref('disposition_status')} is not null and ${ref('disposition_status')} <> ${NO_DISPOSITION}
    and (${ref('disposition_expires_at')} is null or ${ref('disposition_expires_at')} > ${timestampParam(now)}))`;
}

/** The instant a filter on the clock is judged at. */
function nowOf(filter: ExposureFilter, field: string): Date {
  if (filter.clock) return filter.clock();
  throw new Error(`filter.${field} is judged by a clock, but the filter carries none`);
}

/** The condition for exposures_current rows under `alias`. */
export function exposureConditions(
  eb: AnyBuilder,
  scope: Scope,
  filter: ExposureFilter | null | undefined,
  alias: string,
): Expression<SqlBool> {
  const where = new ScopedConditions(eb, scope, alias);
  if (!filter) return where.all();
  addSortKeyFields(where, filter);
  where.anyOf('exposure_id', filter.exposureIds);
  where.anyOf('exposure_class', filter.exposureClasses);
  where.anyOf('asset_id', filter.assetIds);
  where.anyOf('protocol', filter.protocols);
  where.anyOf('dst_port', filter.dstPorts);
  if (filter.dstIpRange) {
    const key = sql.ref(`${alias}.dst_ip_key`);
    where.add(sql<boolean>`${key} between ${filter.dstIpRange.low} and ${filter.dstIpRange.high}`);
  }
  where.compare('risk_score', '>=', filter.minRiskScore);
  where.compare('first_seen', '>=', filter.firstSeenFrom);
  where.compare('first_seen', '<', filter.firstSeenTo);
  where.compare('last_seen', '>=', filter.lastSeenFrom);
  where.compare('last_seen', '<', filter.lastSeenTo);
  where.compare('open_since', '>=', filter.openSinceFrom);
  where.compare('open_since', '<', filter.openSinceTo);
  if (filter.overdue !== null && filter.overdue !== undefined) {
    const overdue = overdueCondition(scope, alias, nowOf(filter, 'overdue'));
    where.add(filter.overdue ? overdue : eb.not(overdue));
  }
  if (filter.dispositionStatuses !== null && filter.dispositionStatuses !== undefined) {
    const active = dispositionActiveCondition(alias, nowOf(filter, 'dispositionStatuses'));
    const decided = filter.dispositionStatuses.filter((status) => status !== NO_DISPOSITION);
    where.add(
      eb.or([
        ...(decided.length > 0
          ? [eb.and([active, eb(sql.ref(`${alias}.disposition_status`), 'in', decided)])]
          : []),
        ...(filter.dispositionStatuses.includes(NO_DISPOSITION) ? [eb.not(active)] : []),
      ]),
    );
  }
  if (filter.search) {
    const needle = filter.search.toLowerCase();
    const columns = ['exposure_id', 'asset_id', 'asset_hostname', 'dst_ip'];
    // strpos, not LIKE: the search text may contain % and _.
    where.add(
      eb.or(columns.map((c) => sql<boolean>`strpos(lower(${sql.ref(`${alias}.${c}`)}), ${needle}) > 0`)),
    );
  }
  return where.all();
}

/** The filter fields that exposure_sort_keys can check too (PostgreSQL). */
const SORT_KEY_FIELDS = ['officeIds', 'statuses', 'severities', 'minSeverity'] as const;

/** The conditions of the SORT_KEY_FIELDS, on columns that exposures_current and its sort keys share. */
function addSortKeyFields(where: ScopedConditions, filter: ExposureFilter) {
  where.anyOf('office_id', filter.officeIds);
  where.anyOf('status', filter.statuses);
  where.anyOf(
    'severity_rank',
    filter.severities?.map((severity) => SEVERITIES.indexOf(severity)),
  );
  if (filter.minSeverity) where.compare('severity_rank', '>=', SEVERITIES.indexOf(filter.minSeverity));
}

/**
 * The part of exposureConditions() that the sort keys of exposures (exposure_sort_keys, under `alias`)
 * can check on their own: the scope and the SORT_KEY_FIELDS. A page applies it before reading the
 * exposures that pass.
 */
export function sortKeyConditions(
  eb: AnyBuilder,
  scope: Scope,
  filter: ExposureFilter | null | undefined,
  alias: string,
): Expression<SqlBool> {
  const where = new ScopedConditions(eb, scope, alias);
  if (filter) addSortKeyFields(where, filter);
  return where.all();
}

/**
 * `filter` without the SORT_KEY_FIELDS, for the exposures a page then reads (the same condition twice
 * would make PostgreSQL count its selectivity twice); null when no condition is left.
 */
export function beyondSortKeys(filter: ExposureFilter | null | undefined): ExposureFilter | null {
  if (!filter) return null;
  const rest = Object.fromEntries(
    Object.entries(filter).filter(([field]) => !(SORT_KEY_FIELDS as readonly string[]).includes(field)),
  ) as ExposureFilter;
  const conditions = Object.entries(rest).some(([field, value]) => field !== 'clock' && value != null);
  return conditions ? rest : null;
}

/** The condition for exposure_events rows under `alias`. */
export function eventConditions(
  eb: AnyBuilder,
  scope: Scope,
  filter: EventFilter | null | undefined,
  alias: string,
): Expression<SqlBool> {
  const where = new ScopedConditions(eb, scope, alias);
  if (!filter) return where.all();
  where.anyOf('office_id', filter.officeIds);
  where.anyOf('exposure_id', filter.exposureIds);
  where.anyOf('asset_id', filter.assetIds);
  where.anyOf('exposure_class', filter.exposureClasses);
  where.anyOf('severity', filter.severities);
  where.anyOf('status', filter.statuses);
  where.anyOf('event_action', filter.eventActions);
  where.anyOf('scan_run_id', filter.scanRunIds);
  where.compare('timestamp', '>=', filter.from);
  where.compare('timestamp', '<', filter.to);
  return where.all();
}
