/**
 * Scan runs: the counts ingest keeps per run, what a completion closes, and the runs and their diffs as
 * the API reads them. Every step costs in proportion to the batch, the run or the office, never to the
 * log: a run's exposures are found through scan_run_exposures (by key on PostgreSQL, by run_hash and
 * observation_hash on DuckDB, whose ART indexes serve one-column equality only; see exposure-keys.ts).
 */
import {
  type Expression,
  type ExpressionBuilder,
  type Kysely,
  type RawBuilder,
  type SqlBool,
  sql,
} from 'kysely';
import { DomainError, type ExposureEvent, type Scope, type Severity } from '../../domain.ts';
import type { BulkColumn, WriteTransaction } from '../database.ts';
import type { Database, ScanRunRow } from '../tables.ts';
import { attributed } from '../telemetry.ts';
import { hashIn, isPostgres, keyHash, keyHashSql } from './exposure-keys.ts';
import { ScopedConditions, timestampParam } from './filters.ts';
import { encodeCursor, type Page, type PageArgs, pageOf, planPage, type SortKey } from './pagination.ts';
import { scopedOffices } from './scope.ts';
import { createStage } from './stage.ts';

/** A scan run as the API shows it. */
export interface ScanRun {
  officeId: string;
  scanRunId: string;
  scannerType: string | null;
  startedAt: Date | null;
  completedAt: Date | null;
  eventsObserved: number;
  exposuresObserved: number;
  exposuresNew: number;
  exposuresReopened: number;
  exposuresClosed: number;
}

export interface ScanRunKey {
  officeId: string;
  scanRunId: string;
}

/** eventKind of the events a completion writes: the run's conclusion, not something it observed. */
export const INFERRED_KIND = 'inferred';

/** A new event names a run that was completed: the whole batch is refused. */
export class ScanRunCompletedError extends DomainError {
  override name = 'ScanRunCompletedError';
  constructor(
    readonly eventId: string,
    readonly officeId: string,
    readonly scanRunId: string,
  ) {
    super(
      'SCAN_RUN_COMPLETED',
      `scanRunId: run "${scanRunId}" of office "${officeId}" is completed and takes no new events`,
      { field: 'scanRunId', eventId, officeId, scanRunId },
    );
  }
}

type Db = Kysely<Database>;
const isObserved = sql`coalesce(event_kind, '') <> ${INFERRED_KIND}`;
const runKeyOf = (officeId: string, scanRunId: string) => JSON.stringify([officeId, scanRunId]);

/**
 * Records what the new events of a batch (in the stage, `runEvents` the ones with a run) tell about
 * their runs: each run's exposures once (observed, or closed when only its completion's inferred events
 * name them), whether the run saw each first or reopened it, and the counts. `prior` holds the stored
 * states of the batch's exposures before the merge. `unseen`: no pair of run and exposure of the batch
 * is stored yet (see AppendOptions). Refuses the batch when one of its new events names
 * a completed run: a resent event never gets here (dedupe runs first), so it stays a duplicate.
 */
export async function observeScanRuns(
  trx: WriteTransaction,
  tenantId: string,
  stage: string,
  prior: string,
  runEvents: readonly ExposureEvent[],
  options: { unseen?: boolean } = {},
): Promise<void> {
  trx = attributed(trx, observeScanRuns);
  if (runEvents.length === 0) return;
  const postgres = trx.engine === 'postgres';
  const pairs = sql`select office_id, scan_run_id, exposure_id, bool_or(${isObserved}) as observed,
      min(timestamp) as first_at,
      min(timestamp) filter (where status = 'OPEN' and ${isObserved}) as first_open
    from ${sql.table(stage)} where scan_run_id is not null
    group by office_id, scan_run_id, exposure_id`;
  // PostgreSQL reads the stored states by primary key, one lateral lookup per pair; on DuckDB `prior`
  // is the merge's small copy of them.
  const priorJoin = postgres
    ? sql`left join lateral (select status, first_seen, last_seen from ${sql.table(prior)} c
        where c.tenant_id = ${tenantId} and c.office_id = s.office_id and c.exposure_id = s.exposure_id) p on true`
    : sql`left join ${sql.table(prior)} p
        on p.tenant_id = ${tenantId} and p.office_id = s.office_id and p.exposure_id = s.exposure_id`;
  const hashes = sql`${keyHashSql(trx.engine, sql`${tenantId}`, sql.ref('s.office_id'), sql.ref('s.scan_run_id'))},
      ${keyHashSql(trx.engine, sql`${tenantId}`, sql.ref('s.office_id'), sql.ref('s.scan_run_id'), sql.ref('s.exposure_id'))}`;
  // DuckDB's single writer drops the pairs already stored, found by observation_hash (an anti-join on
  // the table would scan it); PostgreSQL's unique key drops them as they go in, exact with concurrent writers.
  let known = sql``;
  if (!postgres && !options.unseen) {
    const observationHashes = runEvents.map((e) => keyHash(tenantId, e.officeId, e.scanRunId!, e.exposureId));
    await sql`create or replace temp table stage_run_known as
      select tenant_id, office_id, scan_run_id, exposure_id from scan_run_exposures
      where ${hashIn(sql.ref('observation_hash'), observationHashes)}`.execute(trx.db);
    known = sql`where not exists (select 1 from stage_run_known k where k.tenant_id = ${tenantId}
      and k.office_id = s.office_id and k.scan_run_id = s.scan_run_id and k.exposure_id = s.exposure_id)`;
  }
  const inserted = await sql<{
    office_id: string;
    scan_run_id: string;
    observed: boolean;
    is_new: boolean;
    reopened: boolean;
  }>`
    insert into scan_run_exposures (tenant_id, office_id, scan_run_id, exposure_id, observed, is_new, reopened,
      run_hash, observation_hash)
    select ${tenantId}, s.office_id, s.scan_run_id, s.exposure_id, s.observed,
      s.observed and (p.first_seen is null or p.first_seen > s.first_at),
      s.observed and s.first_open is not null and coalesce(p.status = 'CLOSED' and p.last_seen <= s.first_open, false),
      ${hashes}
    from (${pairs}) s ${priorJoin} ${known}
    ${postgres ? sql`on conflict (tenant_id, office_id, scan_run_id, exposure_id) do nothing` : sql``}
    returning office_id, scan_run_id, observed, is_new, reopened`.execute(trx.db);

  const runs = new Map<string, RunCounts>();
  for (const e of runEvents) {
    const key = runKeyOf(e.officeId, e.scanRunId!);
    const run = runs.get(key) ?? {
      officeId: e.officeId,
      scanRunId: e.scanRunId!,
      scannerType: null,
      startedAt: e.timestamp,
      counts: Object.fromEntries(RUN_COUNTS.map((c) => [c, 0])) as Record<RunCount, number>,
    };
    run.scannerType ??= e.scannerType;
    if (e.timestamp < run.startedAt) run.startedAt = e.timestamp;
    if (e.eventKind !== INFERRED_KIND) run.counts.events_observed++;
    runs.set(key, run);
  }
  for (const row of inserted.rows) {
    const run = runs.get(runKeyOf(row.office_id, row.scan_run_id))!;
    if (!row.observed) run.counts.exposures_closed++;
    else {
      run.counts.exposures_observed++;
      if (row.is_new) run.counts.exposures_new++;
      if (row.reopened) run.counts.exposures_reopened++;
    }
  }
  const counts = [...runs.values()];
  if (postgres) await addRunCountsPostgres(trx, tenantId, runEvents, counts);
  else await addRunCountsDuckDb(trx, tenantId, runEvents, counts);
}

/** The counts of a run that ingest adds to, as scan_runs names them. */
const RUN_COUNTS = [
  'events_observed',
  'exposures_observed',
  'exposures_new',
  'exposures_reopened',
  'exposures_closed',
] as const;
type RunCount = (typeof RUN_COUNTS)[number];

interface RunCounts {
  officeId: string;
  scanRunId: string;
  scannerType: string | null;
  startedAt: string;
  counts: Record<RunCount, number>;
}

/**
 * Adds a batch's counts to its runs on PostgreSQL: one upsert, exact with concurrent writers. It waits for
 * a completion that holds a run's row and then sees its completed_at.
 */
async function addRunCountsPostgres(
  trx: WriteTransaction,
  tenantId: string,
  runEvents: readonly ExposureEvent[],
  runs: readonly RunCounts[],
): Promise<void> {
  const stored = await trx.db
    .insertInto('scan_runs')
    .values(
      runs.map((run) => ({
        tenant_id: tenantId,
        office_id: run.officeId,
        scan_run_id: run.scanRunId,
        scanner_type: run.scannerType,
        started_at: run.startedAt,
        completed_at: null,
        ...run.counts,
      })),
    )
    .onConflict((oc) =>
      oc.columns(['tenant_id', 'office_id', 'scan_run_id']).doUpdateSet((eb) => ({
        scanner_type: sql`coalesce(scan_runs.scanner_type, excluded.scanner_type)`,
        started_at: sql`case when scan_runs.started_at is null or excluded.started_at < scan_runs.started_at
          then excluded.started_at else scan_runs.started_at end`,
        ...Object.fromEntries(
          RUN_COUNTS.map((column) => [
            column,
            sql<number>`${eb.ref(`scan_runs.${column}`)} + ${eb.ref(`excluded.${column}`)}`,
          ]),
        ),
      })),
    )
    .returning(['office_id', 'scan_run_id', 'completed_at'])
    .execute();
  refuseCompleted(
    runEvents,
    stored.filter((row) => row.completed_at !== null),
  );
}

const RUN_COUNT_COLUMNS: readonly BulkColumn[] = [
  { name: 'office_id', type: 'text' },
  { name: 'scan_run_id', type: 'text' },
  { name: 'scanner_type', type: 'text' },
  { name: 'started_at', type: 'timestamptz' },
  ...RUN_COUNTS.map((name) => ({ name, type: 'integer' as const })),
];
const RUN_COUNTS_STAGE = 'stage_run_counts';

/**
 * Adds a batch's counts to its runs on DuckDB, from a stage: an update of the stored runs and an insert of
 * the new ones. DuckDB's upsert costs per conflicting row about what a whole statement does (406 ms for
 * the ~2,000 runs of a chunk of late events at 200k events, against 26 ms for these four statements), and
 * its single writer needs no upsert.
 */
async function addRunCountsDuckDb(
  trx: WriteTransaction,
  tenantId: string,
  runEvents: readonly ExposureEvent[],
  runs: readonly RunCounts[],
): Promise<void> {
  const stage = sql.table(RUN_COUNTS_STAGE);
  await createStage(trx, RUN_COUNTS_STAGE, RUN_COUNT_COLUMNS);
  await trx.bulkInsert(
    RUN_COUNTS_STAGE,
    RUN_COUNT_COLUMNS,
    runs.map((r) => [
      r.officeId,
      r.scanRunId,
      r.scannerType,
      r.startedAt,
      ...RUN_COUNTS.map((c) => r.counts[c]),
    ]),
  );
  const sameRun = sql`t.tenant_id = ${tenantId} and t.office_id = s.office_id and t.scan_run_id = s.scan_run_id`;
  const done = await sql<{ office_id: string; scan_run_id: string }>`select t.office_id, t.scan_run_id
    from scan_runs t join ${stage} s on ${sameRun} where t.completed_at is not null`.execute(trx.db);
  refuseCompleted(runEvents, done.rows);
  const counts = (prefix: string) => sql.join(RUN_COUNTS.map((c) => sql.ref(`${prefix}${c}`)));
  await sql`update scan_runs as t set
      scanner_type = coalesce(t.scanner_type, s.scanner_type),
      started_at = least(coalesce(t.started_at, s.started_at), s.started_at),
      ${sql.join(RUN_COUNTS.map((c) => sql`${sql.ref(c)} = ${sql.ref(`t.${c}`)} + ${sql.ref(`s.${c}`)}`))}
    from ${stage} s where ${sameRun}`.execute(trx.db);
  await sql`insert into scan_runs (tenant_id, office_id, scan_run_id, scanner_type, started_at, ${counts('')})
    select ${tenantId}, s.office_id, s.scan_run_id, s.scanner_type, s.started_at, ${counts('s.')}
    from ${stage} s where not exists (select 1 from scan_runs t where ${sameRun})`.execute(trx.db);
}

function refuseCompleted(
  runEvents: readonly ExposureEvent[],
  completedRuns: readonly { office_id: string; scan_run_id: string }[],
): void {
  if (completedRuns.length === 0) return;
  const completed = new Set(completedRuns.map((row) => runKeyOf(row.office_id, row.scan_run_id)));
  const refused = runEvents.find((e) => completed.has(runKeyOf(e.officeId, e.scanRunId!)))!;
  throw new ScanRunCompletedError(refused.eventId, refused.officeId, refused.scanRunId!);
}

const RUN_COLUMNS = [
  'r.office_id',
  'r.scan_run_id',
  'r.scanner_type',
  'r.started_at',
  'r.completed_at',
  'r.events_observed',
  'r.exposures_observed',
  'r.exposures_new',
  'r.exposures_reopened',
  'r.exposures_closed',
] as const;

function toScanRun(row: Omit<ScanRunRow, 'tenant_id'>): ScanRun {
  return {
    officeId: row.office_id,
    scanRunId: row.scan_run_id,
    scannerType: row.scanner_type,
    startedAt: row.started_at,
    completedAt: row.completed_at,
    eventsObserved: Number(row.events_observed),
    exposuresObserved: Number(row.exposures_observed),
    exposuresNew: Number(row.exposures_new),
    exposuresReopened: Number(row.exposures_reopened),
    exposuresClosed: Number(row.exposures_closed),
  };
}

/**
 * Makes sure the run has its row and holds it for the rest of the transaction (PostgreSQL: FOR UPDATE,
 * so an ingest of the run waits for the completion; DuckDB has one writer). Returns the row as stored.
 */
export async function lockScanRun(
  trx: WriteTransaction,
  tenantId: string,
  run: ScanRunKey & { scannerType: string; startedAt: string | null },
): Promise<ScanRun> {
  trx = attributed(trx, lockScanRun);
  await trx.db
    .insertInto('scan_runs')
    .values({
      tenant_id: tenantId,
      office_id: run.officeId,
      scan_run_id: run.scanRunId,
      scanner_type: run.scannerType,
      started_at: run.startedAt,
      completed_at: null,
      events_observed: 0,
      exposures_observed: 0,
      exposures_new: 0,
      exposures_reopened: 0,
      exposures_closed: 0,
    })
    .onConflict((oc) => oc.columns(['tenant_id', 'office_id', 'scan_run_id']).doNothing())
    .execute();
  let query = trx.db
    .selectFrom('scan_runs as r')
    .select(RUN_COLUMNS)
    .where('r.tenant_id', '=', tenantId)
    .where('r.office_id', '=', run.officeId)
    .where('r.scan_run_id', '=', run.scanRunId);
  if (trx.engine === 'postgres') query = query.forUpdate();
  return toScanRun(await query.executeTakeFirstOrThrow());
}

/** Marks a locked run completed; its start is the earliest of its events' and the one given. */
export async function markScanRunCompleted(
  trx: WriteTransaction,
  tenantId: string,
  run: ScanRunKey & { startedAt: string | null; completedAt: string },
): Promise<ScanRun> {
  trx = attributed(trx, markScanRunCompleted);
  const started = run.startedAt ?? run.completedAt;
  await trx.db
    .updateTable('scan_runs')
    .set({
      completed_at: run.completedAt,
      started_at: sql`case when started_at is null or started_at > ${timestampParam(new Date(started))}
        then ${timestampParam(new Date(started))} else started_at end`,
    })
    .where('tenant_id', '=', tenantId)
    .where('office_id', '=', run.officeId)
    .where('scan_run_id', '=', run.scanRunId)
    .execute();
  const [stored] = await findScanRunsByKeys(trx.db, { tenantId, officeIds: [run.officeId] }, [run]);
  return stored!;
}

/** An OPEN exposure a completion may close: the latest values an inferred event repeats, and where it is. */
export interface OpenExposure {
  exposureId: string;
  exposureClass: string;
  severity: Severity;
  /** ipKey() of dst_ip, to compare with the run's CIDRs. */
  dstIpKey: string | null;
  dstPort: number | null;
}

/**
 * The exposures of the office that a completion of the run may close: OPEN, last reported by this
 * scanner type, of one of `exposureClasses` when given, last seen before completedAt (one seen at or
 * after it was seen since), and with no event of the run. The caller checks hosts and ports. Reads the
 * office's current rows and the run's own rows, never the log.
 */
export async function findUnobservedExposures(
  db: Db,
  tenantId: string,
  run: ScanRunKey & { scannerType: string; completedAt: string },
  exposureClasses: readonly string[] | null,
): Promise<OpenExposure[]> {
  db = attributed(db, findUnobservedExposures);
  const candidates = await db
    .selectFrom('exposures_current as c')
    .select(['c.exposure_id', 'c.exposure_class', 'c.severity', 'c.dst_ip_key', 'c.dst_port'])
    .where((eb) =>
      eb.and([
        eb('c.tenant_id', '=', tenantId),
        eb('c.office_id', '=', run.officeId),
        eb('c.status', '=', 'OPEN'),
        eb('c.scanner_type', '=', run.scannerType),
        sql<boolean>`c.last_seen < ${timestampParam(new Date(run.completedAt))}`,
        ...(exposureClasses ? [anyOf(eb, 'c.exposure_class', exposureClasses)] : []),
      ]),
    )
    .orderBy('c.exposure_id')
    .execute();
  if (candidates.length === 0) return [];
  const named = await sql<{ exposure_id: string }>`${runExposures(db, tenantId, run)}`.execute(db);
  const seen = new Set(named.rows.map((row) => row.exposure_id));
  return candidates
    .filter((c) => !seen.has(c.exposure_id))
    .map((c) => ({
      exposureId: c.exposure_id,
      exposureClass: c.exposure_class,
      severity: c.severity,
      dstIpKey: c.dst_ip_key,
      dstPort: c.dst_port === null ? null : Number(c.dst_port),
    }));
}

// biome-ignore lint/suspicious/noExplicitAny: applies to any table alias with the column.
function anyOf(eb: ExpressionBuilder<any, any>, column: string, values: readonly string[]) {
  return values.length === 0 ? sql<boolean>`1 = 0` : eb(sql.ref(column), 'in', values);
}

/**
 * exposure_id and observed of every exposure a run named, as a query. DuckDB reaches the run's rows
 * through run_hash, as the sole condition of a materialized CTE (see withRowsOfHashes()); the exact key
 * drops rows of other runs that share the hash.
 */
function runExposures(db: Db, tenantId: string, run: ScanRunKey): RawBuilder<unknown> {
  const exact = sql`tenant_id = ${tenantId} and office_id = ${run.officeId} and scan_run_id = ${run.scanRunId}`;
  if (isPostgres(db)) return sql`select exposure_id, observed from scan_run_exposures where ${exact}`;
  const hash = keyHash(tenantId, run.officeId, run.scanRunId);
  return sql`with run_rows as materialized (
      select tenant_id, office_id, scan_run_id, exposure_id, observed from scan_run_exposures
      where ${hashIn(sql.ref('run_hash'), [hash])})
    select exposure_id, observed from run_rows where ${exact}`;
}

/** The runs with these keys that the scope may see, in no particular order. */
export async function findScanRunsByKeys(
  db: Db,
  scope: Scope,
  keys: readonly ScanRunKey[],
): Promise<ScanRun[]> {
  db = attributed(db, findScanRunsByKeys);
  if (keys.length === 0) return [];
  const rows = await db
    .selectFrom('scan_runs as r')
    .select(RUN_COLUMNS)
    .where((eb) =>
      eb.and([
        scopedOffices(eb, scope, 'r'),
        eb.or(
          keys.map((k) =>
            eb.and([eb('r.office_id', '=', k.officeId), eb('r.scan_run_id', '=', k.scanRunId)]),
          ),
        ),
      ]),
    )
    .execute();
  return rows.map(toScanRun);
}

/** Lists are "any of"; an empty list matches nothing. [from, to) bounds the run's time (see RUN_TIME). */
export interface ScanRunFilter {
  officeIds?: readonly string[] | null;
  scannerTypes?: readonly string[] | null;
  completed?: boolean | null;
  from?: Date | null;
  to?: Date | null;
}

/** When a run happened for its order and its time filter: its completion, or its start while it is open. */
const RUN_TIME = sql`coalesce(r.completed_at, r.started_at, cast('1970-01-01T00:00:00Z' as timestamptz))`;

/** Newest first; office and run id break ties. */
const SORT_KEY: SortKey = {
  columns: [
    { expression: RUN_TIME, type: 'timestamp' },
    { expression: sql.ref('r.office_id'), type: 'text' },
    { expression: sql.ref('r.scan_run_id'), type: 'text' },
  ],
  direction: 'desc',
};

/** The cursor of a run in scanRuns. */
export function scanRunCursor(run: ScanRun): string {
  return encodeCursor([run.completedAt ?? run.startedAt ?? new Date(0), run.officeId, run.scanRunId]);
}

function runConditions(
  eb: ExpressionBuilder<Database & { r: Database['scan_runs'] }, 'r'>,
  scope: Scope,
  filter: ScanRunFilter | null,
): Expression<SqlBool> {
  const where = new ScopedConditions(eb, scope, 'r');
  where.anyOf('office_id', filter?.officeIds);
  where.anyOf('scanner_type', filter?.scannerTypes);
  if (filter?.completed === true) where.add(sql<boolean>`r.completed_at is not null`);
  if (filter?.completed === false) where.add(sql<boolean>`r.completed_at is null`);
  if (filter?.from) where.add(sql<boolean>`${RUN_TIME} >= ${timestampParam(filter.from)}`);
  if (filter?.to) where.add(sql<boolean>`${RUN_TIME} < ${timestampParam(filter.to)}`);
  return where.all();
}

/** One keyset page of the scope's runs that match the filter, newest first. */
export async function findScanRuns(
  db: Db,
  scope: Scope,
  filter: ScanRunFilter | null,
  page: PageArgs,
): Promise<Page<ScanRun>> {
  db = attributed(db, findScanRuns);
  const plan = planPage(SORT_KEY, page, isPostgres(db));
  const rows = await db
    .selectFrom('scan_runs as r')
    .select(RUN_COLUMNS)
    .where((eb) => eb.and([runConditions(eb, scope, filter), ...plan.conditions]))
    .orderBy(plan.order)
    .limit(plan.limit)
    .execute();
  return pageOf(plan, rows.map(toScanRun), page);
}

export async function countScanRuns(db: Db, scope: Scope, filter: ScanRunFilter | null): Promise<number> {
  db = attributed(db, countScanRuns);
  const row = await db
    .selectFrom('scan_runs as r')
    .select(sql<number>`cast(count(*) as integer)`.as('total'))
    .where((eb) => runConditions(eb, scope, filter))
    .executeTakeFirstOrThrow();
  return Number(row.total);
}

/** The latest completed run of the same office and scanner type that completed before this one. */
export async function findPreviousRun(db: Db, scope: Scope, run: ScanRun): Promise<ScanRun | null> {
  db = attributed(db, findPreviousRun);
  let query = db
    .selectFrom('scan_runs as r')
    .select(RUN_COLUMNS)
    .where((eb) => scopedOffices(eb, scope, 'r'))
    .where('r.office_id', '=', run.officeId)
    .where('r.scan_run_id', '<>', run.scanRunId)
    .where('r.completed_at', 'is not', null);
  query =
    run.scannerType === null
      ? query.where('r.scanner_type', 'is', null)
      : query.where('r.scanner_type', '=', run.scannerType);
  // An open run comes after every completed one.
  if (run.completedAt) query = query.where(sql<boolean>`r.completed_at < ${timestampParam(run.completedAt)}`);
  const row = await query
    .orderBy('r.completed_at', 'desc')
    .orderBy('r.scan_run_id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? toScanRun(row) : null;
}

/**
 * The exposures (as alias c of exposures_current) of one side of a run diff: "new", observed by the run
 * and not by `against`; "resolved", observed by `against` and closed by the run's completion.
 */
export function diffCondition(
  db: Db,
  tenantId: string,
  side: 'new' | 'resolved',
  run: ScanRunKey,
  against: ScanRunKey | null,
): Expression<SqlBool> {
  const of = (key: ScanRunKey, observed: boolean) =>
    sql`c.exposure_id in (select exposure_id from (${runExposures(db, tenantId, key)}) x where observed = ${sql.lit(observed)})`;
  const office = sql`c.office_id = ${run.officeId}`;
  if (side === 'new') {
    const notAgainst = against
      ? sql` and c.exposure_id not in (select exposure_id from (${runExposures(db, tenantId, against)}) y where observed)`
      : sql``;
    return sql<SqlBool>`(${office} and ${of(run, true)}${notAgainst})`;
  }
  if (!against) return sql<SqlBool>`1 = 0`;
  return sql<SqlBool>`(${office} and ${of(against, true)} and ${of(run, false)})`;
}

/** How many exposures both runs observed. */
export async function countPersisting(
  db: Db,
  tenantId: string,
  run: ScanRunKey,
  against: ScanRunKey,
): Promise<number> {
  db = attributed(db, countPersisting);
  const result = await sql<{ total: number }>`select cast(count(*) as integer) as total
    from (${runExposures(db, tenantId, run)}) a
    join (${runExposures(db, tenantId, against)}) b on a.exposure_id = b.exposure_id
    where a.observed and b.observed`.execute(db);
  return Number(result.rows[0]?.total ?? 0);
}
