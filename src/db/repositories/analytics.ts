/**
 * Dashboard aggregates: the event timeline, the exposure summary and exposure groups. Each is one
 * query, always inside the caller's scope.
 */
import { sql } from 'kysely';
import { DateTime, IANAZone } from 'luxon';
import type { ExposureStatus, Scope, Severity } from '../../domain.ts';
import type { Store } from '../database.ts';
import type { ExposureRow } from '../tables.ts';
import { type EventFilter, type ExposureFilter, eventConditions, exposureConditions } from './filters.ts';

export const TIME_BUCKETS = ['FIVE_MINUTES', 'HOUR', 'DAY', 'WEEK', 'MONTH'] as const;
export type TimeBucket = (typeof TIME_BUCKETS)[number];
export const EVENT_GROUP_BYS = ['SEVERITY', 'STATUS', 'EXPOSURE_CLASS', 'EVENT_ACTION', 'OFFICE'] as const;
export type EventGroupBy = (typeof EVENT_GROUP_BYS)[number];
export const EXPOSURE_GROUP_BYS = [
  'OFFICE',
  'SEVERITY',
  'STATUS',
  'EXPOSURE_CLASS',
  'PROTOCOL',
  'DST_PORT',
] as const;
export type ExposureGroupBy = (typeof EXPOSURE_GROUP_BYS)[number];

/** An aggregate request the caller got wrong; `code` is the client error code. */
export class AggregateRequestError extends Error {
  override name = 'AggregateRequestError';
  constructor(
    readonly code: 'BAD_USER_INPUT' | 'TOO_MANY_BUCKETS',
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
  }
}

export interface TimelineSpec {
  bucket: TimeBucket;
  groupBy: EventGroupBy | null;
  /** IANA zone deciding where DAY, WEEK and MONTH buckets start. */
  timeZone: string;
  maxBuckets: number;
}

export interface TimelineBucket {
  start: Date;
  /** The group's value (null when not grouped, or for events without a value for the grouped field). */
  group: string | null;
  count: number;
}

/** Fixed-length buckets, aligned to the Unix epoch (so to UTC) in every zone. */
const FIXED_SECONDS: Partial<Record<TimeBucket, number>> = { FIVE_MINUTES: 300, HOUR: 3600 };
/** Calendar buckets: they start at local midnight of the zone (ISO weeks start on Monday). */
const CALENDAR_UNIT = { DAY: 'day', WEEK: 'week', MONTH: 'month' } as const;

const EVENT_GROUP_COLUMN: Record<EventGroupBy, string> = {
  SEVERITY: 'severity',
  STATUS: 'status',
  EXPOSURE_CLASS: 'exposure_class',
  EVENT_ACTION: 'event_action',
  OFFICE: 'office_id',
};

/**
 * The start of every bucket that overlaps [from, to), in order. The first one starts at or before
 * `from`. Computed here rather than by the engine so empty buckets exist; the same boundaries as
 * bucketStartSql, checked on both engines.
 */
export function bucketStarts(
  range: { from: Date; to: Date },
  spec: Pick<TimelineSpec, 'bucket' | 'timeZone' | 'maxBuckets'>,
): Date[] {
  const { from, to } = range;
  if (to.getTime() <= from.getTime()) {
    throw new AggregateRequestError('BAD_USER_INPUT', 'filter.to must be later than filter.from', {
      field: 'filter.to',
    });
  }
  // Intl (through luxon) and both engines know the IANA names; offsets such as "+02:00" are refused,
  // as PostgreSQL would read them with the POSIX sign, the other way round.
  if (!IANAZone.isValidZone(spec.timeZone) || !/^[A-Za-z]/.test(spec.timeZone)) {
    throw new AggregateRequestError(
      'BAD_USER_INPUT',
      `timeZone: "${spec.timeZone}" is not an IANA time zone such as Europe/Berlin or UTC`,
      { field: 'timeZone' },
    );
  }
  const seconds = FIXED_SECONDS[spec.bucket];
  if (seconds !== undefined) {
    const step = seconds * 1000;
    const first = Math.floor(from.getTime() / step) * step;
    const needed = Math.ceil((to.getTime() - first) / step);
    checkBucketCount(needed, spec);
    return Array.from({ length: needed }, (_, i) => new Date(first + i * step));
  }
  const unit = CALENDAR_UNIT[spec.bucket as keyof typeof CALENDAR_UNIT];
  const first = DateTime.fromJSDate(from, { zone: spec.timeZone }).startOf(unit);
  const last = DateTime.fromJSDate(new Date(to.getTime() - 1), { zone: spec.timeZone }).startOf(unit);
  checkBucketCount(Math.round(last.diff(first, unit).as(unit)) + 1, spec);
  const starts: Date[] = [];
  // startOf again after each step: where local midnight does not exist (a DST change at 00:00), a
  // bucket starts at the first local instant of its day, as it does in SQL.
  for (let start = first; start.toMillis() < to.getTime(); start = start.plus({ [unit]: 1 }).startOf(unit)) {
    starts.push(start.toJSDate());
  }
  return starts;
}

function checkBucketCount(needed: number, spec: Pick<TimelineSpec, 'bucket' | 'maxBuckets'>) {
  if (needed <= spec.maxBuckets) return;
  throw new AggregateRequestError(
    'TOO_MANY_BUCKETS',
    `the range needs ${needed} ${spec.bucket} buckets, more than the limit of ${spec.maxBuckets}: narrow the range or use a larger bucket`,
    { needed, limit: spec.maxBuckets },
  );
}

/** The start of the bucket of `alias.timestamp`, as a timestamptz, on both engines. */
function bucketStartSql(alias: string, spec: Pick<TimelineSpec, 'bucket' | 'timeZone'>) {
  const timestamp = sql.ref(`${alias}.timestamp`);
  const seconds = FIXED_SECONDS[spec.bucket];
  if (seconds !== undefined) {
    return sql<Date>`to_timestamp(floor(extract(epoch from ${timestamp}) / ${sql.lit(seconds)}) * ${sql.lit(seconds)})`;
  }
  const unit = CALENDAR_UNIT[spec.bucket as keyof typeof CALENDAR_UNIT];
  // To local wall time, truncate, and back: local midnight in the zone, whatever the DST offset.
  return sql<Date>`(date_trunc(${sql.lit(unit)}, ${timestamp} at time zone ${spec.timeZone})) at time zone ${spec.timeZone}`;
}

/**
 * Event counts per bucket over [filter.from, filter.to). Every bucket appears. Grouped, every group
 * seen anywhere in the range appears in every bucket (zero where it has no events); rows are ordered
 * by bucket start, then group (null last).
 */
export async function findEventTimeline(
  db: Store['db'],
  scope: Scope,
  filter: EventFilter,
  spec: TimelineSpec,
): Promise<TimelineBucket[]> {
  const starts = bucketStarts({ from: rangeEnd(filter, 'from'), to: rangeEnd(filter, 'to') }, spec);
  const group = spec.groupBy
    ? sql<string | null>`${sql.ref(`e.${EVENT_GROUP_COLUMN[spec.groupBy]}`)}`
    : sql<string | null>`cast(null as varchar)`;
  // Bucketed in a subquery and grouped outside, by column: the zone parameter appears twice, and
  // PostgreSQL would not match two parameters in SELECT and GROUP BY as one expression.
  const bucketed = db
    .selectFrom('exposure_events as e')
    .select([bucketStartSql('e', spec).as('bucket_start'), group.as('bucket_group')])
    .where((eb) => eventConditions(eb, scope, filter, 'e'));
  const rows = await db
    .selectFrom(bucketed.as('b'))
    .select(['b.bucket_start', 'b.bucket_group', sql<number>`cast(count(*) as integer)`.as('events')])
    .groupBy(['b.bucket_start', 'b.bucket_group'])
    .execute();

  const counts = new Map(starts.map((start) => [start.getTime(), new Map<string | null, number>()]));
  const groups = new Set<string | null>(spec.groupBy ? [] : [null]);
  for (const row of rows) {
    const bucket = counts.get(new Date(row.bucket_start).getTime());
    if (!bucket) throw new Error(`the engine put events in a bucket at ${String(row.bucket_start)}`);
    groups.add(row.bucket_group);
    bucket.set(row.bucket_group, Number(row.events));
  }
  const ordered = [...groups].sort(compareGroups);
  return starts.flatMap((start) =>
    ordered.map((group) => ({ start, group, count: counts.get(start.getTime())?.get(group) ?? 0 })),
  );
}

/** A timeline needs both ends of its range. */
function rangeEnd(filter: EventFilter, field: 'from' | 'to'): Date {
  const value = filter[field];
  if (value) return value;
  throw new AggregateRequestError('BAD_USER_INPUT', `filter.${field} is required for a timeline`, {
    field: `filter.${field}`,
  });
}

function compareGroups(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

export interface ExposureSummary {
  total: number;
  open: number;
  closed: number;
  info: number;
  low: number;
  medium: number;
  high: number;
  critical: number;
}

/** Exposure counts by status and by severity, in one pass. */
export async function findExposureSummary(
  db: Store['db'],
  scope: Scope,
  filter: ExposureFilter | null,
): Promise<ExposureSummary> {
  const countWhere = (column: 'status' | 'severity', value: ExposureStatus | Severity) =>
    sql<number>`cast(count(*) filter (where ${sql.ref(`c.${column}`)} = ${value}) as integer)`;
  const row = await db
    .selectFrom('exposures_current as c')
    .select([
      sql<number>`cast(count(*) as integer)`.as('total_exposures'),
      countWhere('status', 'OPEN').as('open_exposures'),
      countWhere('status', 'CLOSED').as('closed_exposures'),
      countWhere('severity', 'INFO').as('info_exposures'),
      countWhere('severity', 'LOW').as('low_exposures'),
      countWhere('severity', 'MEDIUM').as('medium_exposures'),
      countWhere('severity', 'HIGH').as('high_exposures'),
      countWhere('severity', 'CRITICAL').as('critical_exposures'),
    ])
    .where((eb) => exposureConditions(eb, scope, filter, 'c'))
    .executeTakeFirstOrThrow();
  return {
    total: Number(row.total_exposures),
    open: Number(row.open_exposures),
    closed: Number(row.closed_exposures),
    info: Number(row.info_exposures),
    low: Number(row.low_exposures),
    medium: Number(row.medium_exposures),
    high: Number(row.high_exposures),
    critical: Number(row.critical_exposures),
  };
}

/** One group of exposures: only the grouped-by fields are set. */
export interface ExposureGroup {
  officeId: string | null;
  severity: Severity | null;
  status: ExposureStatus | null;
  exposureClass: string | null;
  protocol: string | null;
  dstPort: number | null;
  count: number;
  maxRiskScore: number | null;
}

const EXPOSURE_GROUP_COLUMN = {
  OFFICE: 'office_id',
  SEVERITY: 'severity',
  STATUS: 'status',
  EXPOSURE_CLASS: 'exposure_class',
  PROTOCOL: 'protocol',
  DST_PORT: 'dst_port',
} as const satisfies Record<ExposureGroupBy, string>;

/**
 * Exposure counts and highest risk score per combination of the grouped-by fields. Ordered by count
 * (largest first), then by the group values in the order of `groupBy`: severity from CRITICAL down,
 * the others ascending, nulls last.
 */
export async function findExposureGroups(
  db: Store['db'],
  scope: Scope,
  filter: ExposureFilter | null,
  groupBy: readonly ExposureGroupBy[],
): Promise<ExposureGroup[]> {
  const fields = [...new Set(groupBy)];
  if (fields.length === 0) {
    throw new AggregateRequestError('BAD_USER_INPUT', 'groupBy must name at least one field', {
      field: 'groupBy',
    });
  }
  const columns = fields.map((field) => `c.${EXPOSURE_GROUP_COLUMN[field]}` as const);
  // severity_rank rides along with severity (it follows from it) so severity sorts by rank.
  const groupColumns = fields.includes('SEVERITY') ? [...columns, 'c.severity_rank' as const] : columns;
  let query = db
    .selectFrom('exposures_current as c')
    .select(groupColumns)
    .select([
      sql<number>`cast(count(*) as integer)`.as('exposures'),
      sql<number | null>`max(${sql.ref('c.risk_score')})`.as('max_risk_score'),
    ])
    .where((eb) => exposureConditions(eb, scope, filter, 'c'))
    .groupBy(groupColumns)
    .orderBy(sql`count(*)`, 'desc');
  for (const field of fields) {
    query =
      field === 'SEVERITY'
        ? query.orderBy('c.severity_rank', 'desc')
        : query.orderBy(sql`${sql.ref(`c.${EXPOSURE_GROUP_COLUMN[field]}`)} asc nulls last`);
  }
  const rows = await query.execute();
  return rows.map((row) => {
    // Columns not grouped by are not selected, so they read as undefined here.
    const values = row as Partial<Pick<ExposureRow, (typeof EXPOSURE_GROUP_COLUMN)[ExposureGroupBy]>>;
    return {
      officeId: values.office_id ?? null,
      severity: values.severity ?? null,
      status: values.status ?? null,
      exposureClass: values.exposure_class ?? null,
      protocol: values.protocol ?? null,
      dstPort: values.dst_port === null || values.dst_port === undefined ? null : Number(values.dst_port),
      count: Number(row.exposures),
      maxRiskScore: row.max_risk_score === null ? null : Number(row.max_risk_score),
    };
  });
}
