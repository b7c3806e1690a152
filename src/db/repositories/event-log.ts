/**
 * The event log's writer: drops duplicates, appends the new events and merges them into the current state,
 * at a cost in proportion to the batch, never to the history. Every step that looks up the batch's keys
 * goes through a unique index (ON CONFLICT) or a one-column hash index (see exposure-keys.ts), and the
 * merge is the per-field join of fold.ts's mergeStates(), so no step reads an exposure's earlier events,
 * whatever order they arrive in. The caller owns the transaction.
 */
import { type RawBuilder, sql } from 'kysely';
import type { Engine } from '../../config.ts';
import {
  COALESCED_FIELDS,
  compareText,
  EXPOSURE_FIELDS,
  type ExposureEvent,
  type ExposureField,
  type ExposureKey,
  FIELD_NAMES,
  foldPosition,
  GROUPED_FIELDS,
  type GroupedField,
  type IngestCounts,
  LATEST_FIELDS,
  leaderOf,
  SEVERITIES,
  type ValueType,
} from '../../domain.ts';
import { ipKey } from '../../ip.ts';
import type { BulkColumn, WriteTransaction } from '../database.ts';
import { attributed } from '../telemetry.ts';
import { countNewEvents } from './event-rollups.ts';
import { countChanges, recountExposures } from './exposure-counts.ts';
import {
  currentRowsWithHashes,
  eventRowsWithHashes,
  hashIn,
  keyHash,
  keyHashSql,
  withRowsOfHashes,
} from './exposure-keys.ts';
import { exposureKeyConditions } from './exposures.ts';
import { observeScanRuns } from './scan-runs.ts';
import { createStage } from './stage.ts';

/** A staged event: its batch within the transaction, and the event. */
export interface StagedEvent {
  batch: number;
  event: ExposureEvent;
}

interface StageColumn extends BulkColumn {
  value(staged: StagedEvent): unknown;
}

const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));
const column = (name: string, type: ValueType, value: (event: ExposureEvent) => unknown): StageColumn => ({
  name,
  type,
  value: (staged) => value(staged.event),
});

/** Columns derived from a field: stored beside it and merged with it. */
const COMPANIONS: Partial<Record<ExposureField, StageColumn>> = {
  severity: column('severity_rank', 'integer', (e) => SEVERITIES.indexOf(e.severity)),
  dstIp: column('dst_ip_key', 'text', (e) => (e.dstIp === null ? null : ipKey(e.dstIp))),
};

/** The columns a field is stored in: its own, then its companion's. */
function columnsOf(field: ExposureField): string[] {
  const companion = COMPANIONS[field];
  return companion ? [EXPOSURE_FIELDS[field].column, companion.name] : [EXPOSURE_FIELDS[field].column];
}

const positionColumn = (field: ExposureField) => `${EXPOSURE_FIELDS[field].column}_position`;

const FIELD_COLUMNS: readonly StageColumn[] = FIELD_NAMES.flatMap((field) => {
  const { column: name, type } = EXPOSURE_FIELDS[field];
  const own = column(name, type, (e) => (type === 'json' ? json(e[field]) : e[field]));
  const companion = COMPANIONS[field];
  return companion ? [own, companion] : [own];
});

/** The columns of an event row in the log, less the key hashes, which SQL computes. */
const EVENT_COLUMNS: readonly StageColumn[] = [
  column('event_id', 'text', (e) => e.eventId),
  column('timestamp', 'timestamptz', (e) => e.timestamp),
  column('office_id', 'text', (e) => e.officeId),
  column('exposure_id', 'text', (e) => e.exposureId),
  ...FIELD_COLUMNS,
  column('scan_run_id', 'text', (e) => e.scanRunId),
  column('dedupe_key', 'text', (e) => e.dedupeKey),
  column('raw_payload', 'json', (e) => json(e.rawPayload)),
  column('actor', 'text', (e) => e.actor ?? null),
];

const STAGE = 'stage_exposure_events';
const STAGE_COLUMNS: readonly StageColumn[] = [
  ...EVENT_COLUMNS,
  column('position', 'text', foldPosition),
  { name: 'batch', type: 'integer', value: (staged) => staged.batch },
];

const ids = (names: readonly string[]) => sql.join(names.map((name) => sql.ref(name)));
/** The open streak of the state (see fold.ts): its start, that start's position, the latest CLOSED one. */
const OPEN_STREAK_COLUMNS = ['open_since', 'open_since_position', 'closed_position'];
const STATE_COLUMNS = FIELD_NAMES.flatMap(columnsOf);
const CURRENT_COLUMNS = [
  'tenant_id',
  'office_id',
  'exposure_id',
  ...STATE_COLUMNS,
  ...COALESCED_FIELDS.map(positionColumn),
  'first_seen',
  'last_seen',
  'last_event_id',
  'last_position',
  'event_count',
  ...OPEN_STREAK_COLUMNS,
  'exposure_hash',
];

/**
 * The fold position of `timestamp, event_id` in SQL, equal to foldPosition(): ISO-8601 in UTC with
 * milliseconds, then the event id.
 */
function positionSql(engine: Engine): RawBuilder<string> {
  return engine === 'postgres'
    ? sql`(to_char(timestamp at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || event_id) collate "C"`
    : sql`strftime(timezone('UTC', timestamp), '%Y-%m-%dT%H:%M:%S.%gZ') || event_id`;
}

/**
 * Rows of events (tenant_id, office_id, exposure_id, timestamp, event_id, position, field columns) as
 * states of one event each: stateOfEvent() in SQL.
 */
function eventStates(source: RawBuilder<unknown>): RawBuilder<unknown> {
  const positions = COALESCED_FIELDS.map((f) => sql`position as ${sql.ref(positionColumn(f))}`);
  return sql`select tenant_id, office_id, exposure_id, ${ids(STATE_COLUMNS)}, ${sql.join(positions)},
      timestamp as first_seen, timestamp as last_seen, event_id as last_event_id, position as last_position,
      1 as event_count,
      case when status = 'OPEN' then timestamp end as open_since,
      case when status = 'OPEN' then position end as open_since_position,
      case when status = 'CLOSED' then position end as closed_position
    from (${source}) events`;
}

/** Stored rows of exposures_current as states whose every set value has its position spelled out. */
function storedStates(source: RawBuilder<unknown>): RawBuilder<unknown> {
  const positions = COALESCED_FIELDS.map(
    (f) => sql`coalesce(${sql.ref(positionColumn(f))}, last_position) as ${sql.ref(positionColumn(f))}`,
  );
  return sql`select tenant_id, office_id, exposure_id, ${ids(STATE_COLUMNS)}, ${sql.join(positions)},
      first_seen, last_seen, last_event_id, last_position, event_count, ${ids(OPEN_STREAK_COLUMNS)}
    from (${source}) stored`;
}

/**
 * The join of the states in `source` per exposure (rows as made by eventStates() or storedStates()):
 * mergeStates() in SQL, as aggregates. In the result a coalesced field's position is null where it equals
 * last_position, which most rows then leave empty. Where a state forgot the OPEN events after the merged
 * latest CLOSED one (see mergeStates()), the open streak is left empty for repairOpenStreaks().
 */
function mergeSelect(engine: Engine, source: RawBuilder<unknown>): RawBuilder<unknown> {
  const latest = (c: string) =>
    engine === 'duckdb'
      ? sql`arg_max_null(${sql.ref(c)}, last_position)`
      : sql`(array_agg(${sql.ref(c)} order by last_position desc))[1]`;
  const whereSet = (field: ExposureField) =>
    sql`filter (where ${sql.ref(EXPOSURE_FIELDS[field].column)} is not null)`;
  const coalesced = (field: ExposureField, c: string) => {
    const position = sql.ref(positionColumn(field));
    return engine === 'duckdb'
      ? sql`arg_max(${sql.ref(c)}, ${position}) ${whereSet(field)}`
      : sql`(array_agg(${sql.ref(c)} order by ${position} desc) ${whereSet(field)})[1]`;
  };
  // A grouped column comes from the row its leader comes from, null included.
  const grouped = (field: ExposureField, c: string) => {
    const position = sql.ref(positionColumn(field));
    return engine === 'duckdb'
      ? sql`arg_max_null(${sql.ref(c)}, ${position}) ${whereSet(field)}`
      : sql`(array_agg(${sql.ref(c)} order by ${position} desc) ${whereSet(field)})[1]`;
  };
  const inStreak = sql`filter (where open_since_position is not null
    and (merged_closed is null or open_since_position > merged_closed))`;
  const streakStart =
    engine === 'duckdb'
      ? sql`arg_min(open_since, open_since_position) ${inStreak}`
      : sql`(array_agg(open_since order by open_since_position) ${inStreak})[1]`;
  const aggregates = [
    ...LATEST_FIELDS.flatMap((f) => columnsOf(f).map((c) => sql`${latest(c)} as ${sql.ref(c)}`)),
    ...COALESCED_FIELDS.flatMap((f) => [
      ...columnsOf(f).map((c) => sql`${coalesced(f, c)} as ${sql.ref(c)}`),
      sql`max(${sql.ref(positionColumn(f))}) ${whereSet(f)} as ${sql.ref(positionColumn(f))}`,
    ]),
    ...GROUPED_FIELDS.flatMap((f) =>
      columnsOf(f).map((c) => sql`${grouped(leaderOf(f), c)} as ${sql.ref(c)}`),
    ),
    sql`max(closed_position) as closed_position`,
    sql`min(open_since_position) ${inStreak} as open_since_position`,
    sql`${streakStart} as open_since`,
    sql`coalesce(bool_or(open_since_position < merged_closed and last_position > merged_closed), false)
      as forgot_streak`,
  ];
  const withClosed = sql`select *,
      max(closed_position) over (partition by tenant_id, office_id, exposure_id) as merged_closed
    from (${source}) states`;
  const merged = sql`select tenant_id, office_id, exposure_id, ${sql.join(aggregates)},
      min(first_seen) as first_seen, max(last_seen) as last_seen, ${latest('last_event_id')} as last_event_id,
      max(last_position) as last_position, cast(sum(event_count) as integer) as event_count
    from (${withClosed}) states
    group by tenant_id, office_id, exposure_id`;
  const positions = COALESCED_FIELDS.map(
    (f) => sql`nullif(${sql.ref(positionColumn(f))}, last_position) as ${sql.ref(positionColumn(f))}`,
  );
  return sql`select tenant_id, office_id, exposure_id, ${ids(STATE_COLUMNS)}, ${sql.join(positions)},
      first_seen, last_seen, last_event_id, last_position, event_count,
      case when forgot_streak then null else open_since end as open_since,
      case when forgot_streak then null else open_since_position end as open_since_position,
      closed_position,
      ${keyHashSql(engine, sql.ref('tenant_id'), sql.ref('office_id'), sql.ref('exposure_id'))} as exposure_hash
    from (${merged}) merged
    order by office_id, exposure_id`;
}

/**
 * mergeSelect() of states that are one per exposure (made by eventStates()): each is its own join, so no
 * aggregate is needed; only its representation changes. A grouped value stands only beside its leader's,
 * and every coalesced position equals last_position or belongs to a null value, so it is stored as null.
 */
function singleStates(engine: Engine, source: RawBuilder<unknown>): RawBuilder<unknown> {
  const grouped = new Set<ExposureField>(GROUPED_FIELDS);
  const state = FIELD_NAMES.flatMap((field) => {
    if (!grouped.has(field)) return columnsOf(field).map((c) => sql.ref(c));
    const leader = sql.ref(EXPOSURE_FIELDS[leaderOf(field as GroupedField)].column);
    return columnsOf(field).map(
      (c) => sql`case when ${leader} is not null then ${sql.ref(c)} end as ${sql.ref(c)}`,
    );
  });
  const positions = COALESCED_FIELDS.map((f) => sql`cast(null as text) as ${sql.ref(positionColumn(f))}`);
  return sql`select tenant_id, office_id, exposure_id, ${sql.join(state)}, ${sql.join(positions)},
      first_seen, last_seen, last_event_id, last_position, event_count, ${ids(OPEN_STREAK_COLUMNS)},
      ${keyHashSql(engine, sql.ref('tenant_id'), sql.ref('office_id'), sql.ref('exposure_id'))} as exposure_hash
    from (${source}) states
    order by office_id, exposure_id`;
}

/**
 * Whether a merged row's open streak is left for repairOpenStreaks(): it has events after its latest
 * CLOSED one, so a streak, yet none is set. `row` names the row where a statement reads two.
 */
function streakForgotten(row?: string): RawBuilder<boolean> {
  const c = (name: string) => sql.ref(row ? `${row}.${name}` : name);
  return sql<boolean>`(${c('closed_position')} is not null and ${c('open_since_position')} is null
    and ${c('last_position')} > ${c('closed_position')})`;
}

/**
 * Merging a folded batch (excluded) into a stored row (exposures_current): mergeStates() per field, as
 * the assignments of ON CONFLICT DO UPDATE, which reach the stored row through the primary key.
 */
const MERGE_ASSIGNMENTS = (() => {
  const ref = (row: string, c: string) => sql.ref(`${row}.${c}`);
  const stored = 'exposures_current';
  const laterBatch = sql`${ref('excluded', 'last_position')} > ${ref(stored, 'last_position')}`;
  const lastPosition = sql`greatest(${ref('excluded', 'last_position')}, ${ref(stored, 'last_position')})`;
  const pick = (condition: RawBuilder<unknown>, c: string) =>
    sql`case when ${condition} then ${ref('excluded', c)} else ${ref(stored, c)} end`;
  // Where a coalesced value came from; a null position means the row's last position.
  const effective = (row: string, field: ExposureField) =>
    sql`case when ${ref(row, EXPOSURE_FIELDS[field].column)} is null then null
      else coalesce(${ref(row, positionColumn(field))}, ${ref(row, 'last_position')}) end`;
  // A null comparison means the stored row has no value: the batch's wins if it has one.
  const batchWins = (field: ExposureField) => {
    const [batch, current] = [effective('excluded', field), effective(stored, field)];
    return sql`coalesce(${batch} > ${current}, ${batch} is not null)`;
  };
  const assign = (c: string, value: RawBuilder<unknown>) => sql`${sql.ref(c)} = ${value}`;

  // The open streak (mergeStates()): greatest() and least() pass over nulls on PostgreSQL.
  const closed = sql`greatest(${ref('excluded', 'closed_position')}, ${ref(stored, 'closed_position')})`;
  const streakAfter = (row: string) =>
    sql`case when ${closed} is null or ${ref(row, 'open_since_position')} > ${closed}
      then ${ref(row, 'open_since_position')} end`;
  const forgot = (row: string) =>
    sql`coalesce(${ref(row, 'open_since_position')} < ${closed} and ${ref(row, 'last_position')} > ${closed}, false)`;
  const forgotten = sql`${forgot('excluded')} or ${forgot(stored)}`;
  const start = sql`least(${streakAfter('excluded')}, ${streakAfter(stored)})`;

  const latest = LATEST_FIELDS.flatMap(columnsOf);
  return sql.join([
    ...[...latest, 'last_seen', 'last_event_id'].map((c) => assign(c, pick(laterBatch, c))),
    ...COALESCED_FIELDS.flatMap((field) => {
      const wins = batchWins(field);
      const [batch, current] = [effective('excluded', field), effective(stored, field)];
      return [
        ...columnsOf(field).map((c) => assign(c, pick(wins, c))),
        assign(
          positionColumn(field),
          sql`nullif(case when ${wins} then ${batch} else ${current} end, ${lastPosition})`,
        ),
      ];
    }),
    ...GROUPED_FIELDS.flatMap((field) =>
      columnsOf(field).map((c) => assign(c, pick(batchWins(leaderOf(field)), c))),
    ),
    assign('first_seen', sql`least(${ref('excluded', 'first_seen')}, ${ref(stored, 'first_seen')})`),
    assign('last_position', lastPosition),
    assign('event_count', sql`${ref(stored, 'event_count')} + ${ref('excluded', 'event_count')}`),
    assign('closed_position', closed),
    assign('open_since_position', sql`case when ${forgotten} then null else ${start} end`),
    assign(
      'open_since',
      sql`case when ${forgotten} or ${start} is null then null
        when ${start} = ${ref('excluded', 'open_since_position')} then ${ref('excluded', 'open_since')}
        else ${ref(stored, 'open_since')} end`,
    ),
  ]);
})();

/**
 * Merging one event (s, a row of singleStates()) into a stored row (t) that it comes after: what
 * MERGE_ASSIGNMENTS gives when the event's position is the greater, spelled out so that DuckDB's UPDATE
 * evaluates plain picks rather than comparisons of positions. Per 10,000 rows on a loaded 2-core machine:
 * 0.59 s for an UPDATE with MERGE_ASSIGNMENTS, 0.63 s for the aggregate and a copy, 0.45 s with these.
 * Latest fields and the last event come from the event; a coalesced field from the event where it has a
 * value, else stays with the position it had; a grouped field follows its leader; a CLOSED event ends
 * the streak, an OPEN one keeps the stored streak or starts one.
 */
const LATER_ASSIGNMENTS = (() => {
  const [event, stored] = [(c: string) => sql.ref(`s.${c}`), (c: string) => sql.ref(`t.${c}`)];
  const assign = (c: string, value: RawBuilder<unknown>) => sql`${sql.ref(c)} = ${value}`;
  const pick = (eventWins: RawBuilder<unknown>, c: string) =>
    sql`case when ${eventWins} then ${event(c)} else ${stored(c)} end`;
  const has = (row: typeof event, field: ExposureField) =>
    sql`${row(EXPOSURE_FIELDS[field].column)} is not null`;
  const ended = sql`${event('closed_position')} is not null`;
  return sql.join([
    ...LATEST_FIELDS.flatMap(columnsOf).map((c) => assign(c, event(c))),
    ...COALESCED_FIELDS.flatMap((field) => [
      ...columnsOf(field).map((c) => assign(c, pick(has(event, field), c))),
      assign(
        positionColumn(field),
        sql`case when ${has(event, field)} or not (${has(stored, field)}) then null
          else coalesce(${stored(positionColumn(field))}, ${stored('last_position')}) end`,
      ),
    ]),
    ...GROUPED_FIELDS.flatMap((field) =>
      columnsOf(field).map((c) => assign(c, pick(has(event, leaderOf(field)), c))),
    ),
    ...['last_seen', 'last_event_id', 'last_position'].map((c) => assign(c, event(c))),
    assign('event_count', sql`${stored('event_count')} + ${event('event_count')}`),
    assign('closed_position', sql`coalesce(${event('closed_position')}, ${stored('closed_position')})`),
    ...['open_since', 'open_since_position'].map((c) =>
      assign(c, sql`case when ${ended} then null else coalesce(${stored(c)}, ${event(c)}) end`),
    ),
  ]);
})();

/** What a caller vouches for about the events it appends. */
export interface AppendOptions {
  /**
   * Neither the events nor their runs' observations of their exposures can be stored yet (a completion's
   * inferred events: their ids derive from a run not completed, and only exposures the run never named
   * are closed), so the lookups for stored ones are skipped. The log's key still refuses a repeat.
   */
  unseen?: boolean;
}

/** What one batch of a transaction did. */
export interface AppendResult extends IngestCounts {
  /** Exposures that received new events, for change notifications. */
  changed: ExposureKey[];
}

/**
 * Appends the new events of one tenant's batches and merges them into exposures_current, in the caller's
 * transaction; one result per batch, as if the batches had been written one after the other. Repeats
 * across batches count for the first batch that carries them.
 */
export async function appendEvents(
  trx: WriteTransaction,
  tenantId: string,
  batches: readonly (readonly ExposureEvent[])[],
  options: AppendOptions = {},
): Promise<AppendResult[]> {
  trx = attributed(trx, appendEvents);
  const results: AppendResult[] = batches.map((events) => ({
    eventsInserted: 0,
    eventsDuplicate: events.length,
    exposuresInserted: 0,
    exposuresUpdated: 0,
    totalProcessed: events.length,
    changed: [],
  }));
  const distinct = dropBatchRepeats(
    batches.flatMap((events, batch) => events.map((event) => ({ batch, event }))),
  );
  const candidates = options.unseen
    ? distinct
    : await dropStoredEventIds(trx, tenantId, await dropStoredDedupeKeys(trx, tenantId, distinct));
  if (candidates.length === 0) return results;

  await createStage(trx, STAGE, STAGE_COLUMNS);
  await trx.bulkInsert(
    STAGE,
    STAGE_COLUMNS,
    candidates.map((staged) => STAGE_COLUMNS.map((c) => c.value(staged))),
  );
  const stage = sql.table(STAGE);
  const eventColumns = ids(EVENT_COLUMNS.map((c) => c.name));
  // PostgreSQL finds duplicate event ids by the primary key as the rows go in, which stays exact with
  // concurrent writers. DuckDB's single writer has dropped the stored ones already (dropStoredEventIds):
  // its ON CONFLICT costs 140 ms per 2,000 events at 10M stored, the plain INSERT 8.4 ms, and the
  // primary key still refuses a duplicate.
  const appended = await sql<{ event_id: string }>`
    insert into exposure_events (tenant_id, ${eventColumns}, exposure_hash, dedupe_hash, event_hash)
    select ${tenantId}, ${eventColumns},
      ${keyHashSql(trx.engine, sql`${tenantId}`, sql.ref('office_id'), sql.ref('exposure_id'))},
      case when dedupe_key is null then null
        else ${keyHashSql(trx.engine, sql`${tenantId}`, sql.ref('office_id'), sql.ref('dedupe_key'))} end,
      ${keyHashSql(trx.engine, sql`${tenantId}`, sql.ref('event_id'))}
    from ${stage} order by event_id
    ${trx.engine === 'postgres' ? sql`on conflict (tenant_id, event_id) do nothing` : sql``}
    returning event_id`.execute(trx.db);
  const inserted = new Set(appended.rows.map((row) => row.event_id));
  if (inserted.size === 0) return results;
  const duplicates = candidates.filter((c) => !inserted.has(c.event.eventId)).map((c) => c.event.eventId);
  // From here on the stage holds exactly the new events.
  if (duplicates.length > 0) {
    await sql`delete from ${stage} where event_id in (${sql.join(duplicates)})`.execute(trx.db);
  }

  await countNewEvents(trx, tenantId, STAGE);
  const fresh = candidates.filter((c) => inserted.has(c.event.eventId));
  const runEvents = fresh.filter((c) => c.event.scanRunId !== null).map((c) => c.event);
  // Runs need the stored states from before the merge: PostgreSQL reads them first, DuckDB from the
  // merge's copy of them afterwards.
  if (trx.engine === 'postgres') {
    await observeScanRuns(trx, tenantId, STAGE, 'exposures_current', runEvents, options);
  }
  const keys = keysOf(fresh);
  const eventCounts = await mergeIntoCurrent(trx, tenantId, keys, keys.length === fresh.length);
  if (trx.engine === 'duckdb') await observeScanRuns(trx, tenantId, STAGE, STORED, runEvents, options);
  await sql`insert into offices (tenant_id, office_id, last_ingest_at)
    select distinct ${tenantId}, office_id, cast(${new Date().toISOString()} as timestamptz) from ${stage}
    on conflict (tenant_id, office_id) do update set last_ingest_at = excluded.last_ingest_at`.execute(
    trx.db,
  );

  for (const { batch } of fresh) {
    const result = results[batch]!;
    result.eventsInserted++;
    result.eventsDuplicate--;
  }
  attributeExposures(results, fresh, eventCounts);
  return results;
}

const keyOf = (officeId: string, exposureId: string) => JSON.stringify([officeId, exposureId]);

function keysOf(staged: readonly StagedEvent[]): ExposureKey[] {
  const keys = new Map(staged.map(({ event }) => [keyOf(event.officeId, event.exposureId), event]));
  return [...keys.values()].map((e) => ({ officeId: e.officeId, exposureId: e.exposureId }));
}

const STORED = 'stage_exposures_current';
const MERGED = 'stage_exposures_merged';

/**
 * Merges the new events in the stage into exposures_current; returns each touched exposure's event count
 * after the merge. PostgreSQL merges in the upsert, row by row through the primary key, which stays exact
 * with concurrent writers; when the stage holds one event per exposure (`single`), the batch's states
 * need no aggregate. DuckDB runs an upsert as a MERGE that joins the whole table, so there the single
 * writer copies the stored rows of the batch's keys aside (found through exposure_hash), merges them
 * with the new events into a second temp table, updates the stored rows in place from it, inserts the
 * exposures that had none and counts the difference (exposure-counts.ts; PostgreSQL's triggers count
 * there). In place, not deleted and inserted again: DuckDB keeps deleted rows in its row groups (at 10M
 * events, 11M rows held 1.1M live ones), and every scan reads them.
 */
async function mergeIntoCurrent(
  trx: WriteTransaction,
  tenantId: string,
  keys: readonly ExposureKey[],
  single: boolean,
): Promise<Map<string, number>> {
  const events = eventStates(sql`select ${tenantId} as tenant_id, * from ${sql.table(STAGE)}`);
  const countsOf = async (rows: readonly MergedRow[]) => {
    await repairOpenStreaks(
      trx,
      tenantId,
      rows.filter((row) => row.streak_forgotten),
    );
    return new Map(rows.map((row) => [keyOf(row.office_id, row.exposure_id), Number(row.event_count)]));
  };
  if (trx.engine === 'postgres') {
    const merged = await sql<MergedRow>`
      insert into exposures_current (${ids(CURRENT_COLUMNS)})
      ${single ? singleStates(trx.engine, events) : mergeSelect(trx.engine, events)}
      on conflict (tenant_id, office_id, exposure_id) do update set ${MERGE_ASSIGNMENTS}
      returning office_id, exposure_id, event_count, ${streakForgotten()} as streak_forgotten`.execute(
      trx.db,
    );
    return countsOf(merged.rows);
  }
  // The hash list alone, with no tenant condition: only so does DuckDB look it up through the index
  // (see withRowsOfHashes()). Rows of other exposures whose hash collides, of any tenant, come
  // along and are written back unchanged: the merge groups by the whole key.
  const hashes = keys.map((k) => keyHash(tenantId, k.officeId, k.exposureId));
  const [stored, merged] = [sql.table(STORED), sql.table(MERGED)];
  await sql`create or replace temp table ${stored} as select * from exposures_current where ${hashIn(sql.ref('exposure_hash'), hashes)}`.execute(
    trx.db,
  );
  const sameKey = (a: string, b: string) =>
    sql.join(
      ['tenant_id', 'office_id', 'exposure_id'].map(
        (c) => sql`${sql.ref(`${a}.${c}`)} = ${sql.ref(`${b}.${c}`)}`,
      ),
      sql` and `,
    );
  const inserted = sql`insert into exposures_current (${ids(CURRENT_COLUMNS)})
    select ${ids(CURRENT_COLUMNS)} from ${merged} as m
    where not exists (select 1 from ${stored} as s where ${sameKey('s', 'm')})`;
  if (single) {
    // In order, as a scanner's feed mostly is: each exposure's one event comes after its stored row,
    // whose merge is then a pick per field, not an aggregate over both (LATER_ASSIGNMENTS).
    await sql`create or replace temp table ${merged} as ${singleStates(trx.engine, events)}`.execute(trx.db);
    const earlier = await sql<{ earlier: number }>`select cast(count(*) as integer) as earlier
      from ${merged} as m join ${stored} as s on ${sameKey('s', 'm')}
      where m.last_position <= s.last_position`.execute(trx.db);
    if (Number(earlier.rows[0]?.earlier) === 0) {
      // The hash list on the target is its only filter, so DuckDB finds the rows through the index. No
      // RETURNING: with it, DuckDB writes the updated rows anew and keeps the old ones as deleted.
      await sql`update exposures_current as t
        set ${LATER_ASSIGNMENTS}
        from ${merged} as s
        where ${hashIn(sql.ref('t.exposure_hash'), hashes)} and t.exposure_hash = s.exposure_hash
          and ${sameKey('t', 's')}`.execute(trx.db);
      await inserted.execute(trx.db);
      await countChanges(trx, tenantId, STORED, MERGED);
      const counts = await sql<MergedRow>`select m.office_id, m.exposure_id,
          coalesce(s.event_count, 0) + m.event_count as event_count, false as streak_forgotten
        from ${merged} as m left join ${stored} as s on ${sameKey('s', 'm')}`.execute(trx.db);
      return countsOf(counts.rows);
    }
  }
  await sql`create or replace temp table ${merged} as
    ${mergeSelect(trx.engine, sql`${events} union all ${storedStates(sql`select * from ${stored}`)}`)}`.execute(
    trx.db,
  );
  const state = CURRENT_COLUMNS.filter(
    (c) => !['tenant_id', 'office_id', 'exposure_id', 'exposure_hash'].includes(c),
  );
  // DuckDB's UPDATE costs per column and per vector it writes, whether the value changed or not: at 10M
  // events, 2,000 late events spread over the table took 0.92 s to write all 45 columns, most of them
  // unchanged (a late event is not the latest). So only the columns some row changes are written.
  const changes = await sql<Record<string, boolean | null>>`select ${sql.join(
    state.map((c) => sql`bool_or(m.${sql.ref(c)} is distinct from s.${sql.ref(c)}) as ${sql.ref(c)}`),
  )}
    from ${merged} as m join ${stored} as s on ${sameKey('s', 'm')}`.execute(trx.db);
  const changed = state.filter((c) => changes.rows[0]?.[c] === true);
  if (changed.length > 0) {
    // The hash list on the target is its only filter, so DuckDB finds the rows through the index.
    await sql`update exposures_current as t
      set ${sql.join(changed.map((c) => sql`${sql.ref(c)} = ${sql.ref(`m.${c}`)}`))}
      from ${merged} as m
      where ${hashIn(sql.ref('t.exposure_hash'), hashes)} and t.exposure_hash = m.exposure_hash
        and ${sameKey('t', 'm')}`.execute(trx.db);
  }
  await inserted.execute(trx.db);
  await countChanges(trx, tenantId, STORED, MERGED);
  const counts = await sql<MergedRow>`
    select office_id, exposure_id, event_count, ${streakForgotten()} as streak_forgotten
    from ${merged} where tenant_id = ${tenantId}`.execute(trx.db);
  return countsOf(counts.rows);
}

interface MergedRow {
  office_id: string;
  exposure_id: string;
  event_count: number;
  streak_forgotten: boolean;
}

/**
 * Sets the open streak of merged rows that forgot it (a late CLOSED event landed inside a stored OPEN
 * streak that continued after it): the earliest OPEN event after the row's latest CLOSED one, looked up
 * among that exposure's events in the log, which already holds the batch. Per key through the log's
 * exposure index (exposure_hash on DuckDB, the composite key on PostgreSQL), never a scan; rare, as late
 * events inside streaks are.
 */
async function repairOpenStreaks(
  trx: WriteTransaction,
  tenantId: string,
  keys: readonly { office_id: string; exposure_id: string }[],
): Promise<void> {
  if (keys.length === 0) return;
  const exposures = keys.map((k) => ({ officeId: k.office_id, exposureId: k.exposure_id }));
  const scope = { tenantId, officeIds: 'all' as const };
  const hashes = exposures.map((k) => keyHash(tenantId, k.officeId, k.exposureId));
  const closed = await currentRowsWithHashes(trx.db, hashes)
    .select(['c.office_id', 'c.exposure_id', 'c.closed_position'])
    .where('c.tenant_id', '=', tenantId)
    .where((eb) => exposureKeyConditions(eb, scope, exposures, 'c'))
    .execute();
  const opens = await eventRowsWithHashes(trx.db, hashes)
    .select(['e.office_id', 'e.exposure_id', 'e.timestamp', positionSql(trx.engine).as('position')])
    .where('e.tenant_id', '=', tenantId)
    .where('e.status', '=', 'OPEN')
    .where((eb) => exposureKeyConditions(eb, scope, exposures, 'e'))
    .execute();
  // Each exposure's OPEN events by key, so each row looks at its own: linear in the batch's events.
  const opensByKey = new Map<string, (typeof opens)[number][]>();
  for (const open of opens) {
    const key = `${open.office_id}\u001f${open.exposure_id}`;
    const list = opensByKey.get(key);
    if (list) list.push(open);
    else opensByKey.set(key, [open]);
  }
  const starts = closed.map((row) => {
    let after: (typeof opens)[number] | undefined;
    for (const open of opensByKey.get(`${row.office_id}\u001f${row.exposure_id}`) ?? []) {
      const later = compareText(open.position, row.closed_position ?? '') > 0;
      if (later && (!after || compareText(open.position, after.position) < 0)) after = open;
    }
    // The merge left it empty only because OPEN events follow the latest CLOSED one.
    if (!after) throw new Error(`no OPEN event after the latest CLOSED one of ${row.exposure_id}`);
    return sql`(${row.office_id}, ${row.exposure_id}, ${sql.raw(String(keyHash(tenantId, row.office_id, row.exposure_id)))},
      ${after.timestamp.toISOString()}, ${after.position})`;
  });
  // The hash list on the target is its only filter, so DuckDB finds the rows through the index.
  await sql`update exposures_current as t
    set open_since = cast(m.open_since as timestamptz), open_since_position = m.open_since_position
    from (values ${sql.join(starts)}) as m(office_id, exposure_id, exposure_hash, open_since, open_since_position)
    where ${hashIn(sql.ref('t.exposure_hash'), hashes)} and t.exposure_hash = m.exposure_hash
      and t.tenant_id = ${tenantId} and t.office_id = m.office_id and t.exposure_id = m.exposure_id`.execute(
    trx.db,
  );
}

/**
 * Each exposure that received events counts once per batch that brought them: as inserted for the first
 * such batch when the merge created its row (all its events are this transaction's), else as updated.
 */
function attributeExposures(
  results: AppendResult[],
  fresh: readonly StagedEvent[],
  eventCounts: ReadonlyMap<string, number>,
) {
  const byKey = new Map<string, { key: ExposureKey; batches: Set<number>; events: number }>();
  for (const { batch, event } of fresh) {
    const id = keyOf(event.officeId, event.exposureId);
    const entry = byKey.get(id) ?? { key: event, batches: new Set<number>(), events: 0 };
    entry.batches.add(batch);
    entry.events++;
    byKey.set(id, entry);
  }
  for (const [id, { key, batches, events }] of byKey) {
    const created = eventCounts.get(id) === events;
    [...batches]
      .sort((a, b) => a - b)
      .forEach((batch, i) => {
        const result = results[batch]!;
        if (created && i === 0) result.exposuresInserted++;
        else result.exposuresUpdated++;
        result.changed.push({ officeId: key.officeId, exposureId: key.exposureId });
      });
  }
}

/** Drops repeats inside the transaction (same event id, or same dedupe key in one office), keeping the first. */
export function dropBatchRepeats(staged: readonly StagedEvent[]): StagedEvent[] {
  const eventIds = new Set<string>();
  const dedupeKeys = new Set<string>();
  return staged.filter(({ event }) => {
    const dedupe = event.dedupeKey === null ? null : keyOf(event.officeId, event.dedupeKey);
    if (eventIds.has(event.eventId) || (dedupe !== null && dedupeKeys.has(dedupe))) return false;
    eventIds.add(event.eventId);
    if (dedupe !== null) dedupeKeys.add(dedupe);
    return true;
  });
}

/** Drops events whose dedupe key the log already holds: one lookup through the dedupe-key indexes. */
async function dropStoredDedupeKeys(
  trx: WriteTransaction,
  tenantId: string,
  staged: readonly StagedEvent[],
): Promise<StagedEvent[]> {
  const keyed = staged.filter((s) => s.event.dedupeKey !== null);
  if (keyed.length === 0) return [...staged];
  const offices = [...new Set(keyed.map((s) => s.event.officeId))];
  const dedupeKeys = [...new Set(keyed.map((s) => s.event.dedupeKey as string))];
  const hashes = keyed.map((s) => keyHash(tenantId, s.event.officeId, s.event.dedupeKey as string));
  // The office and key lists lead PostgreSQL to its unique index. DuckDB finds the hash list through
  // its index only as the sole condition (see withRowsOfHashes()): there the hashes select first.
  const source =
    trx.engine === 'postgres'
      ? trx.db.selectFrom('exposure_events as e')
      : withRowsOfHashes(trx.db, 'exposure_events', 'dedupe_hash', hashes).selectFrom('hashed as e');
  const stored = await source
    .select(['e.office_id', 'e.dedupe_key'])
    .where('e.tenant_id', '=', tenantId)
    .where('e.office_id', 'in', offices)
    .where('e.dedupe_key', 'in', dedupeKeys)
    .execute();
  if (stored.length === 0) return [...staged];
  const taken = new Set(stored.map((row) => keyOf(row.office_id, row.dedupe_key as string)));
  return staged.filter(
    ({ event }) => event.dedupeKey === null || !taken.has(keyOf(event.officeId, event.dedupeKey)),
  );
}

/**
 * On DuckDB, drops events whose id the log already holds: one lookup of their hashes through the
 * event_hash index, as the statement's sole condition (see withRowsOfHashes()). PostgreSQL leaves
 * them to the primary key at insert.
 */
async function dropStoredEventIds(
  trx: WriteTransaction,
  tenantId: string,
  staged: readonly StagedEvent[],
): Promise<StagedEvent[]> {
  if (trx.engine === 'postgres' || staged.length === 0) return [...staged];
  const hashes = staged.map((s) => keyHash(tenantId, s.event.eventId));
  const stored = await withRowsOfHashes(trx.db, 'exposure_events', 'event_hash', hashes)
    .selectFrom('hashed')
    .select('event_id')
    .where('tenant_id', '=', tenantId)
    .execute();
  if (stored.length === 0) return [...staged];
  const taken = new Set(stored.map((row) => row.event_id));
  return staged.filter(({ event }) => !taken.has(event.eventId));
}

/** Recomputes exposures_current from the log, for every tenant or one: a check and a repair. */
export async function rebuildCurrent(trx: WriteTransaction, tenantId?: string): Promise<number> {
  trx = attributed(trx, rebuildCurrent);
  const tenantFilter = tenantId === undefined ? sql`` : sql`where tenant_id = ${tenantId}`;
  await sql`delete from exposures_current ${tenantFilter}`.execute(trx.db);
  const source = sql`select tenant_id, office_id, exposure_id, timestamp, event_id,
      ${positionSql(trx.engine)} as position, ${ids(STATE_COLUMNS)}
    from exposure_events ${tenantFilter}`;
  const result = await sql`insert into exposures_current (${ids(CURRENT_COLUMNS)})
    ${mergeSelect(trx.engine, eventStates(source))}`.execute(trx.db);
  // PostgreSQL's triggers counted the rows as they went out and in.
  if (trx.engine === 'duckdb') await recountExposures(trx, tenantId);
  return Number(result.numAffectedRows ?? 0);
}

/** appendEvents() for a single batch. */
export async function writeEvents(
  trx: WriteTransaction,
  tenantId: string,
  events: readonly ExposureEvent[],
  options: AppendOptions = {},
): Promise<AppendResult> {
  const [result] = await appendEvents(trx, tenantId, [events], options);
  return result!;
}
