/**
 * Dashboard aggregates: the event timeline, the exposure summary and exposure groups, always inside
 * the caller's scope.
 */
import { type Expression, type RawBuilder, sql } from 'kysely';
import { DateTime, IANAZone } from 'luxon';
import { DomainError, type ExposureStatus, type Scope, type Severity } from '../../domain.ts';
import type { Store } from '../database.ts';
import type { ExposureRow } from '../tables.ts';
import { attributed } from '../telemetry.ts';
import {
  ROLLUP_PERIOD_SECONDS,
  type RollupDimension,
  type RollupLevel,
  rollupLevelFor,
} from './event-rollups.ts';
import {
  addStatusSeverityCount,
  countExposuresByStatusAndSeverity,
  emptyStatusSeverityCounts,
  isCountable,
  type StatusSeverityCounts,
} from './exposure-counts.ts';
import {
  dispositionActiveCondition,
  type EventFilter,
  type ExposureFilter,
  eventConditions,
  exposureConditions,
  overdueCondition,
} from './filters.ts';

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

/** An aggregate request the caller got wrong. */
export class AggregateRequestError extends DomainError {
  override name = 'AggregateRequestError';
  constructor(
    code: 'BAD_USER_INPUT' | 'TOO_MANY_BUCKETS',
    message: string,
    details: Record<string, unknown>,
  ) {
    super(code, message, details);
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

const EVENT_GROUP_COLUMN: Record<EventGroupBy, RollupDimension> = {
  SEVERITY: 'severity',
  STATUS: 'status',
  EXPOSURE_CLASS: 'exposure_class',
  EVENT_ACTION: 'event_action',
  OFFICE: 'office_id',
};

/**
 * The start of every bucket that overlaps [from, to), in order, then the end of the last one. The first
 * bucket starts at or before `from`. Computed here, not by the engine, so empty buckets exist and no
 * query converts times to the zone.
 */
export function bucketBoundaries(
  range: { from: Date; to: Date },
  spec: Pick<TimelineSpec, 'bucket' | 'timeZone' | 'maxBuckets'>,
): Date[] {
  const { from, to } = range;
  if (to.getTime() <= from.getTime()) {
    throw new AggregateRequestError('BAD_USER_INPUT', 'filter.to must be later than filter.from', {
      field: 'filter.to',
    });
  }
  // IANA names only, as the API documents: Intl would also take an offset such as "+02:00".
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
    return Array.from({ length: needed + 1 }, (_, i) => new Date(first + i * step));
  }
  const unit = CALENDAR_UNIT[spec.bucket as keyof typeof CALENDAR_UNIT];
  const first = DateTime.fromJSDate(from, { zone: spec.timeZone }).startOf(unit);
  const last = DateTime.fromJSDate(new Date(to.getTime() - 1), { zone: spec.timeZone }).startOf(unit);
  checkBucketCount(Math.round(last.diff(first, unit).as(unit)) + 1, spec);
  const bounds: Date[] = [];
  let start = first;
  // startOf again after each step: where local midnight does not exist (a DST change at 00:00), a
  // bucket starts at the first local instant of its day.
  for (; start.toMillis() < to.getTime(); start = start.plus({ [unit]: 1 }).startOf(unit)) {
    bounds.push(start.toJSDate());
  }
  bounds.push(start.toJSDate());
  return bounds;
}

function checkBucketCount(needed: number, spec: Pick<TimelineSpec, 'bucket' | 'maxBuckets'>) {
  if (needed <= spec.maxBuckets) return;
  throw new AggregateRequestError(
    'TOO_MANY_BUCKETS',
    `the range needs ${needed} ${spec.bucket} buckets, more than the limit of ${spec.maxBuckets}: narrow the range or use a larger bucket`,
    { needed, limit: spec.maxBuckets },
  );
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * The period events are counted in before they are put in buckets, in seconds: the largest divisor of
 * the rollup period on which every boundary falls, so each period lies inside one bucket. The rollup
 * period itself for HOUR, and for DAY, WEEK and MONTH in every zone since 1980 (every UTC offset in use
 * since is a multiple of 15 minutes); 300 for FIVE_MINUTES; less for older offsets such as Liberia's.
 */
function countingPeriod(bounds: readonly Date[]): number {
  let period = ROLLUP_PERIOD_SECONDS;
  for (const bound of bounds) {
    const ms = Math.abs(bound.getTime());
    // Zone offsets are whole seconds, so are the boundaries luxon computes.
    if (ms % 1000 !== 0) throw new Error(`bucket boundary ${bound.toISOString()} is not a whole second`);
    period = gcd(period, ms / 1000);
  }
  return period;
}

/** Consecutive buckets of one length: bucket `index + k` holds periods [start + k * length, + length). */
interface BucketRun {
  start: number;
  index: number;
  length: number;
}

function bucketRuns(bounds: readonly Date[], periodSeconds: number): BucketRun[] {
  const inPeriods = bounds.map((bound) => bound.getTime() / 1000 / periodSeconds);
  const runs: BucketRun[] = [];
  for (let index = 0; index + 1 < inPeriods.length; index++) {
    const start = inPeriods[index]!;
    const length = inPeriods[index + 1]! - start;
    if (runs.at(-1)?.length !== length) runs.push({ start, index, length });
  }
  return runs;
}

/**
 * The index of the bucket holding `period`, by integer arithmetic: a binary search over the runs of
 * equal-length buckets (a handful for days and weeks: the DST changes split them).
 */
function bucketIndexSql(period: RawBuilder<number>, runs: readonly BucketRun[]): RawBuilder<number> {
  if (runs.length === 1) {
    const { start, index, length } = runs[0]!;
    // Never negative: the first bucket starts at or before the first counted period.
    return sql<number>`${sql.lit(index)} + cast(floor((${period} - ${sql.lit(start)}) / ${sql.lit(length)}) as integer)`;
  }
  const middle = runs.length >> 1;
  return sql<number>`case when ${period} < ${sql.lit(runs[middle]!.start)}
    then ${bucketIndexSql(period, runs.slice(0, middle))} else ${bucketIndexSql(period, runs.slice(middle))} end`;
}

export interface TimelineOptions {
  /** false: count from the log even where the rollups could (to compare the two). Default true. */
  rollups?: boolean;
}

/** Event counts per counting period and group, from the rollups or the log. */
interface CountRow {
  period_index: number;
  bucket_group: string | null;
  events: number;
}

/**
 * Event counts per bucket over [filter.from, filter.to). Every bucket appears. Grouped, every group
 * seen anywhere in the range appears in every bucket (zero where it has no events); rows are ordered
 * by bucket start, then group (null last).
 *
 * Events are counted per period by epoch arithmetic, and the periods summed into buckets by index:
 * nothing is converted to the zone per event. The whole 15-minute periods of the range come from
 * event_rollups when the filter only names rollup dimensions; the log gives the rest (the partial
 * periods at both ends, and every other filter or bucket).
 */
export async function findEventTimeline(
  db: Store['db'],
  scope: Scope,
  filter: EventFilter,
  spec: TimelineSpec,
  options: TimelineOptions = {},
): Promise<TimelineBucket[]> {
  db = attributed(db, findEventTimeline);
  const from = rangeEnd(filter, 'from');
  const to = rangeEnd(filter, 'to');
  const bounds = bucketBoundaries({ from, to }, spec);
  const period = countingPeriod(bounds);
  const counts: Expression<CountRow>[] = [];
  const rollupMs = ROLLUP_PERIOD_SECONDS * 1000;
  const first = Math.ceil(from.getTime() / rollupMs);
  const end = Math.floor(to.getTime() / rollupMs);
  const level = options.rollups === false ? undefined : rollupLevelOf(scope, filter, spec);
  if (level && period === ROLLUP_PERIOD_SECONDS && first < end) {
    counts.push(rollupCounts(db, scope, filter, spec, level, first, end));
    const whole = { from: new Date(first * rollupMs), to: new Date(end * rollupMs) };
    if (from < whole.from)
      counts.push(logCounts(db, scope, { ...filter, to: whole.from }, spec, period, first - 1));
    if (whole.to < to) counts.push(logCounts(db, scope, { ...filter, from: whole.to }, spec, period, end));
  } else {
    counts.push(logCounts(db, scope, filter, spec, period));
  }
  const counted = sql<CountRow>`(${sql.join(counts, sql` union all `)})`;
  const indexed = db
    .selectFrom(counted.as('c'))
    .select([
      bucketIndexSql(sql.ref('c.period_index'), bucketRuns(bounds, period)).as('bucket_index'),
      'c.bucket_group',
      'c.events',
    ]);
  const rows = await db
    .selectFrom(indexed.as('b'))
    .select(['b.bucket_index', 'b.bucket_group', sql<number>`cast(sum(b.events) as integer)`.as('events')])
    .groupBy(['b.bucket_index', 'b.bucket_group'])
    .execute();

  const starts = bounds.slice(0, -1);
  const buckets = starts.map(() => new Map<string | null, number>());
  const groups = new Set<string | null>(spec.groupBy ? [] : [null]);
  for (const row of rows) {
    const bucket = buckets[row.bucket_index];
    if (!bucket) throw new Error(`events were counted in bucket ${row.bucket_index} of ${starts.length}`);
    groups.add(row.bucket_group);
    bucket.set(row.bucket_group, Number(row.events));
  }
  const ordered = [...groups].sort(compareGroups);
  return starts.flatMap((start, i) =>
    ordered.map((group) => ({ start, group, count: buckets[i]?.get(group) ?? 0 })),
  );
}

/**
 * The rollup level a timeline can read: the coarsest that keeps every column its scope, filter and group
 * name. None keeps exposures, assets or scan runs.
 */
function rollupLevelOf(scope: Scope, filter: EventFilter, spec: TimelineSpec): RollupLevel | undefined {
  if (
    ![filter.exposureIds, filter.assetIds, filter.scanRunIds].every(
      (list) => list === null || list === undefined,
    )
  ) {
    return undefined;
  }
  const named: [RollupDimension, unknown][] = [
    ['office_id', scope.officeIds === 'all' ? filter.officeIds : scope.officeIds],
    ['exposure_class', filter.exposureClasses],
    ['severity', filter.severities],
    ['status', filter.statuses],
    ['event_action', filter.eventActions],
  ];
  const dimensions = new Set(named.filter(([, list]) => list !== null && list !== undefined).map(([d]) => d));
  if (spec.groupBy) dimensions.add(EVENT_GROUP_COLUMN[spec.groupBy]);
  return rollupLevelFor(dimensions);
}

/** Counts per rollup period and group of the whole periods [first, end), from one rollup level. */
function rollupCounts(
  db: Store['db'],
  scope: Scope,
  filter: EventFilter,
  spec: TimelineSpec,
  level: RollupLevel,
  first: number,
  end: number,
): Expression<CountRow> {
  const column = spec.groupBy ? sql.ref(`r.${EVENT_GROUP_COLUMN[spec.groupBy]}`) : null;
  // The rollups keep '' for "no action"; no event has an empty action (validation refuses it).
  const group =
    column === null
      ? sql<string | null>`cast(null as varchar)`
      : spec.groupBy === 'EVENT_ACTION'
        ? sql<string | null>`nullif(${column}, '')`
        : sql<string | null>`${column}`;
  const dimensions: EventFilter = {
    officeIds: filter.officeIds,
    exposureClasses: filter.exposureClasses,
    severities: filter.severities,
    statuses: filter.statuses,
    eventActions: filter.eventActions?.filter((action) => action !== ''),
  };
  // Typed as the full level: the level was chosen for having every column the query names.
  const table = level.table as 'event_rollups';
  return db
    .selectFrom(`${table} as r`)
    .select([
      sql<number>`r.quarter_hour`.as('period_index'),
      group.as('bucket_group'),
      sql<number>`sum(r.events)`.as('events'),
    ])
    .where((eb) =>
      eb.and([
        eventConditions(eb, scope, dimensions, 'r'),
        sql<boolean>`r.quarter_hour >= ${sql.lit(first)}`,
        sql<boolean>`r.quarter_hour < ${sql.lit(end)}`,
      ]),
    )
    .groupBy(['period_index', 'bucket_group']);
}

/**
 * Counts per period and group of the events in the filter's range, from the log. `insideRollup`: the
 * range lies inside that rollup period, whose rows name the offices with events in it. PostgreSQL then
 * reads the log by (tenant, office, timestamp) index ranges instead of scanning it: the log has no index
 * that starts with the timestamp.
 */
function logCounts(
  db: Store['db'],
  scope: Scope,
  filter: EventFilter,
  spec: TimelineSpec,
  periodSeconds: number,
  insideRollup?: number,
): Expression<CountRow> {
  const group = spec.groupBy
    ? sql<string | null>`${sql.ref(`e.${EVENT_GROUP_COLUMN[spec.groupBy]}`)}`
    : sql<string | null>`cast(null as varchar)`;
  return db
    .selectFrom('exposure_events as e')
    .select([
      sql<number>`cast(floor(date_part('epoch', e.timestamp) / ${sql.lit(periodSeconds)}) as bigint)`.as(
        'period_index',
      ),
      group.as('bucket_group'),
      sql<number>`count(*)`.as('events'),
    ])
    .where((eb) => {
      const conditions = eventConditions(eb, scope, filter, 'e');
      if (insideRollup === undefined) return conditions;
      const offices = db
        .selectFrom('office_event_rollups as r')
        .select('r.office_id')
        .where('r.tenant_id', '=', scope.tenantId)
        .where('r.quarter_hour', '=', sql.lit(insideRollup));
      return eb.and([conditions, eb(sql.ref('e.office_id'), 'in', offices)]);
    })
    .groupBy(['period_index', 'bucket_group']);
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

/**
 * Exposure counts by status and severity: from exposure_counts when the filter allows (isCountable()),
 * else from the matching exposures.
 */
export async function countByStatusAndSeverity(
  db: Store['db'],
  scope: Scope,
  filter: ExposureFilter | null,
): Promise<StatusSeverityCounts> {
  if (isCountable(filter)) return countExposuresByStatusAndSeverity(db, scope, filter);
  db = attributed(db, countByStatusAndSeverity);
  const rows = await db
    .selectFrom('exposures_current as c')
    .select(['c.status', 'c.severity', sql<number>`cast(count(*) as integer)`.as('exposures')])
    .where((eb) => exposureConditions(eb, scope, filter, 'c'))
    .groupBy(['c.status', 'c.severity'])
    .execute();
  const counts = emptyStatusSeverityCounts();
  for (const row of rows) addStatusSeverityCount(counts, row.status, row.severity, Number(row.exposures));
  return counts;
}

export interface TriageCounts {
  /** OPEN and past their SLA due time at `now`. */
  overdue: number;
  /** With an active (set, not "none", not lapsed) triage decision at `now`. */
  dispositioned: number;
}

/** How many matching exposures are overdue and dispositioned at `now`: judged by the clock, so counted. */
export async function countOverdueAndDispositioned(
  db: Store['db'],
  scope: Scope,
  filter: ExposureFilter | null,
  now: Date,
): Promise<TriageCounts> {
  db = attributed(db, countOverdueAndDispositioned);
  const row = await db
    .selectFrom('exposures_current as c')
    .select([
      sql<number>`cast(count(*) filter (where ${overdueCondition(scope, 'c', now)}) as integer)`.as(
        'overdue_exposures',
      ),
      sql<number>`cast(count(*) filter (where ${dispositionActiveCondition('c', now)}) as integer)`.as(
        'dispositioned_exposures',
      ),
    ])
    .where((eb) => exposureConditions(eb, scope, filter, 'c'))
    .executeTakeFirstOrThrow();
  return { overdue: Number(row.overdue_exposures), dispositioned: Number(row.dispositioned_exposures) };
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
  db = attributed(db, findExposureGroups);
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
