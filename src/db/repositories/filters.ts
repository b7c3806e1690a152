/** Filters of exposures and events as SQL conditions, always inside the caller's scope. */
import { type Expression, type ExpressionBuilder, type SqlBool, sql } from 'kysely';
import type { Scope } from '../../domain.ts';
import { type ExposureStatus, SEVERITIES, type Severity } from '../../domain.ts';
import type { IpKeyRange } from '../../ip.ts';
import { scopedOffices } from './scope.ts';

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

class Conditions {
  readonly list: Expression<SqlBool>[] = [];
  constructor(
    private readonly eb: AnyBuilder,
    private readonly alias: string,
  ) {}

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

/** The condition for exposures_current rows under `alias`. */
export function exposureConditions(
  eb: AnyBuilder,
  scope: Scope,
  filter: ExposureFilter | null | undefined,
  alias: string,
): Expression<SqlBool> {
  const where = new Conditions(eb, alias);
  where.add(scopedOffices(eb, scope, alias));
  if (!filter) return where.all();
  where.anyOf('office_id', filter.officeIds);
  where.anyOf('exposure_id', filter.exposureIds);
  where.anyOf('exposure_class', filter.exposureClasses);
  where.anyOf('status', filter.statuses);
  where.anyOf('severity', filter.severities);
  if (filter.minSeverity) where.compare('severity_rank', '>=', SEVERITIES.indexOf(filter.minSeverity));
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

/** The condition for exposure_events rows under `alias`. */
export function eventConditions(
  eb: AnyBuilder,
  scope: Scope,
  filter: EventFilter | null | undefined,
  alias: string,
): Expression<SqlBool> {
  const where = new Conditions(eb, alias);
  where.add(scopedOffices(eb, scope, alias));
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
