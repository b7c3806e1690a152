/**
 * The ingest writer: drops duplicates, appends new events to the log and merges them into the current
 * state, set-based. The caller owns the transaction.
 */
import { createHash } from 'node:crypto';
import { type RawBuilder, sql } from 'kysely';
import type { Engine } from '../config.ts';
import type { BulkColumn, BulkColumnType, WriteTransaction } from '../db/database.ts';
import { SEVERITIES } from '../db/tables.ts';
import type { ExposureEvent, ExposureKey, IngestCounts } from './event.ts';
import { dropBatchRepeats } from './fold.ts';
import { ipKey } from './ip.ts';
import { canonicalJson } from './validate.ts';

interface EventColumn extends BulkColumn {
  value(event: ExposureEvent): unknown;
}

const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));
const column = (
  name: string,
  type: BulkColumnType,
  value: (event: ExposureEvent) => unknown,
): EventColumn => ({
  name,
  type,
  value,
});

/** The columns of an event row, in staging-table order. */
const EVENT_COLUMNS: readonly EventColumn[] = [
  column('event_id', 'text', (e) => e.eventId),
  column('timestamp', 'timestamptz', (e) => e.timestamp),
  column('office_id', 'text', (e) => e.officeId),
  column('exposure_id', 'text', (e) => e.exposureId),
  column('exposure_class', 'text', (e) => e.exposureClass),
  column('status', 'text', (e) => e.status),
  column('severity', 'text', (e) => e.severity),
  column('severity_rank', 'integer', (e) => SEVERITIES.indexOf(e.severity)),
  column('event_action', 'text', (e) => e.eventAction),
  column('event_kind', 'text', (e) => e.eventKind),
  column('asset_id', 'text', (e) => e.assetId),
  column('asset_hostname', 'text', (e) => e.assetHostname),
  column('asset_ip', 'text', (e) => e.assetIp),
  column('risk_score', 'double', (e) => e.riskScore),
  column('confidence', 'double', (e) => e.confidence),
  column('dst_ip', 'text', (e) => e.dstIp),
  column('dst_ip_key', 'text', (e) => (e.dstIp === null ? null : ipKey(e.dstIp))),
  column('dst_port', 'integer', (e) => e.dstPort),
  column('protocol', 'text', (e) => e.protocol),
  column('service_name', 'text', (e) => e.serviceName),
  column('service_product', 'text', (e) => e.serviceProduct),
  column('service_version', 'text', (e) => e.serviceVersion),
  column('resource', 'json', (e) => json(e.resource)),
  column('disposition_status', 'text', (e) => e.dispositionStatus),
  column('disposition_reason', 'text', (e) => e.dispositionReason),
  column('scan_run_id', 'text', (e) => e.scanRunId),
  column('scanner_type', 'text', (e) => e.scannerType),
  column('dedupe_key', 'text', (e) => e.dedupeKey),
  column('raw_payload', 'json', (e) => json(e.rawPayload)),
];

/** Current-state columns taken from the latest event (see LATEST_FIELDS in fold.ts). */
export const LATEST_COLUMNS = [
  'exposure_class',
  'status',
  'severity',
  'severity_rank',
  'event_action',
  'event_kind',
] as const;
/** Current-state columns taken from the latest event that has them (see COALESCED_FIELDS in fold.ts). */
export const COALESCED_COLUMNS = [
  'asset_id',
  'asset_hostname',
  'asset_ip',
  'risk_score',
  'confidence',
  'dst_ip',
  'dst_ip_key',
  'dst_port',
  'protocol',
  'service_name',
  'service_product',
  'service_version',
  'resource',
  'disposition_status',
  'disposition_reason',
] as const;
const STATE_COLUMNS = [...LATEST_COLUMNS, ...COALESCED_COLUMNS];
const CURRENT_COLUMNS = [
  'tenant_id',
  'office_id',
  'exposure_id',
  ...STATE_COLUMNS,
  'first_seen',
  'last_seen',
  'last_event_id',
];

const STAGE = 'stage_exposure_events';
const ids = (names: readonly string[]) => sql.join(names.map((name) => sql.ref(name)));
const FOLD_ORDER = sql`order by ts desc, event_id desc`;

/**
 * The fold as one aggregate per column over rows ([tenant_id,] office_id, exposure_id, first_seen, ts,
 * event_id, state columns...), one row per exposure: the SQL twin of foldEvents(). Without a tenant id
 * the source spans tenants and carries tenant_id.
 */
function foldSelect(engine: Engine, source: RawBuilder<unknown>, tenantId?: string): RawBuilder<unknown> {
  const tenant = tenantId === undefined ? sql`tenant_id` : sql`${tenantId}`;
  const key = tenantId === undefined ? sql`tenant_id, office_id, exposure_id` : sql`office_id, exposure_id`;
  if (engine === 'duckdb') {
    // DuckDB sorts each group once per ordered array_agg, which made this the slowest step of an ingest;
    // arg_max over the fold position does not sort. arg_max_null keeps a null of the latest row, arg_max
    // skips nulls (the COALESCE rule).
    const position = sql`(ts, event_id)`;
    const latest = LATEST_COLUMNS.map((c) => sql`arg_max_null(${sql.ref(c)}, ${position})`);
    const coalesced = COALESCED_COLUMNS.map((c) => sql`arg_max(${sql.ref(c)}, ${position})`);
    return sql`select ${tenant}, office_id, exposure_id, ${sql.join([...latest, ...coalesced])},
        min(first_seen), max(ts), arg_max(event_id, ${position})
      from (${source}) fold_source
      group by ${key}`;
  }
  const latest = LATEST_COLUMNS.map((c) => sql`(array_agg(${sql.ref(c)} ${FOLD_ORDER}))[1]`);
  const coalesced = COALESCED_COLUMNS.map(
    (c) => sql`(array_agg(${sql.ref(c)} ${FOLD_ORDER}) filter (where ${sql.ref(c)} is not null))[1]`,
  );
  return sql`select ${tenant}, office_id, exposure_id, ${sql.join([...latest, ...coalesced])},
      min(first_seen), max(ts), (array_agg(event_id ${FOLD_ORDER}))[1]
    from (${source}) fold_source
    group by ${key}`;
}

const UPSERT_CURRENT = sql`on conflict (tenant_id, office_id, exposure_id) do update set ${sql.join(
  [...STATE_COLUMNS, 'first_seen', 'last_seen', 'last_event_id'].map(
    (c) => sql`${sql.ref(c)} = ${sql.raw(`excluded.${c}`)}`,
  ),
)}`;

async function createStage(trx: WriteTransaction): Promise<void> {
  const types: Record<BulkColumnType, string> =
    trx.engine === 'postgres'
      ? {
          text: 'text collate "C"',
          timestamptz: 'timestamptz',
          integer: 'integer',
          double: 'double precision',
          json: 'jsonb',
          boolean: 'boolean',
        }
      : {
          text: 'varchar',
          timestamptz: 'timestamptz',
          integer: 'integer',
          double: 'double',
          json: 'json',
          boolean: 'boolean',
        };
  const definitions = EVENT_COLUMNS.map((c) => sql`${sql.ref(c.name)} ${sql.raw(types[c.type])}`);
  await sql`create temp table if not exists ${sql.table(STAGE)} (${sql.join(definitions)})`.execute(trx.db);
  await sql`delete from ${sql.table(STAGE)}`.execute(trx.db);
}

export interface WriteResult extends IngestCounts {
  /** Exposures that received new events, for change notifications. */
  changed: ExposureKey[];
}

/**
 * Serializes the writes of one tenant until the transaction ends: on PostgreSQL across gateway instances
 * (the merge reads, then writes); on DuckDB the single writer already does. Taking it twice is fine.
 */
export async function lockTenant(trx: WriteTransaction, tenantId: string): Promise<void> {
  if (trx.engine === 'postgres') {
    await sql`select pg_advisory_xact_lock(hashtext(${tenantId}))`.execute(trx.db);
  }
}

/** Appends the new events of a validated batch and merges them into exposures_current. */
export async function writeEvents(
  trx: WriteTransaction,
  tenantId: string,
  events: readonly ExposureEvent[],
): Promise<WriteResult> {
  const distinct = dropBatchRepeats(events);
  const empty = { eventsInserted: 0, exposuresInserted: 0, exposuresUpdated: 0, changed: [] };
  if (distinct.length === 0)
    return { ...empty, eventsDuplicate: events.length, totalProcessed: events.length };
  await lockTenant(trx, tenantId);
  await createStage(trx);
  await trx.bulkInsert(
    STAGE,
    EVENT_COLUMNS,
    distinct.map((event) => EVENT_COLUMNS.map((c) => c.value(event))),
  );
  const stage = sql.table(STAGE);
  await sql`delete from ${stage} where event_id in (
      select e.event_id from exposure_events e
      where e.tenant_id = ${tenantId} and e.event_id in (select event_id from ${stage}))`.execute(trx.db);
  await sql`delete from ${stage} where dedupe_key is not null and exists (
      select 1 from exposure_events e where e.tenant_id = ${tenantId}
        and e.office_id = ${sql.ref(`${STAGE}.office_id`)} and e.dedupe_key = ${sql.ref(`${STAGE}.dedupe_key`)})`.execute(
    trx.db,
  );

  const keys = await sql<{ office_id: string; exposure_id: string; existed: boolean }>`
    select k.office_id, k.exposure_id, c.exposure_id is not null as existed
    from (select distinct office_id, exposure_id from ${stage}) k
    left join exposures_current c
      on c.tenant_id = ${tenantId} and c.office_id = k.office_id and c.exposure_id = k.exposure_id`.execute(
    trx.db,
  );
  if (keys.rows.length === 0)
    return { ...empty, eventsDuplicate: events.length, totalProcessed: events.length };

  const inserted = await sql`insert into exposure_events (tenant_id, ${ids(EVENT_COLUMNS.map((c) => c.name))})
    select ${tenantId}, ${ids(EVENT_COLUMNS.map((c) => c.name))} from ${stage}`.execute(trx.db);
  const eventsInserted = Number(inserted.numAffectedRows ?? 0);

  await sql`insert into exposures_current (${ids(CURRENT_COLUMNS)}) ${foldSelect(trx.engine, mergeSource(tenantId), tenantId)}
    ${UPSERT_CURRENT}`.execute(trx.db);
  await sql`insert into offices (tenant_id, office_id, last_ingest_at)
    select distinct ${tenantId}, office_id, cast(${new Date().toISOString()} as timestamptz) from ${stage}
    on conflict (tenant_id, office_id) do update set last_ingest_at = excluded.last_ingest_at`.execute(
    trx.db,
  );

  const existed = keys.rows.filter((row) => row.existed).length;
  return {
    eventsInserted,
    eventsDuplicate: events.length - eventsInserted,
    exposuresInserted: keys.rows.length - existed,
    exposuresUpdated: existed,
    totalProcessed: events.length,
    changed: keys.rows.map((row) => ({ officeId: row.office_id, exposureId: row.exposure_id })),
  };
}

/**
 * What the merge folds, per exposure the stage touches. In order (every new event after the stored
 * state): the stored row as the state so far, plus the new events. Late (a new event before the stored
 * last_seen/last_event_id): the key's whole log, so the result is exactly the in-order fold.
 */
function mergeSource(tenantId: string): RawBuilder<unknown> {
  const stage = sql.table(STAGE);
  const state = ids(STATE_COLUMNS);
  const sameKey = (a: string, b: string) =>
    sql`${sql.ref(`${a}.office_id`)} = ${sql.ref(`${b}.office_id`)} and ${sql.ref(`${a}.exposure_id`)} = ${sql.ref(`${b}.exposure_id`)}`;
  return sql`
    with late as (
      select distinct s.office_id, s.exposure_id from ${stage} s
      join exposures_current c on c.tenant_id = ${tenantId} and ${sameKey('c', 's')}
      where s.timestamp < c.last_seen or (s.timestamp = c.last_seen and s.event_id < c.last_event_id)
    )
    select office_id, exposure_id, timestamp as first_seen, timestamp as ts, event_id, ${state}
      from ${stage} s where not exists (select 1 from late l where ${sameKey('l', 's')})
    union all
    select office_id, exposure_id, first_seen, last_seen as ts, last_event_id as event_id, ${state}
      from exposures_current c
      where c.tenant_id = ${tenantId}
        and exists (select 1 from ${stage} s where ${sameKey('s', 'c')})
        and not exists (select 1 from late l where ${sameKey('l', 'c')})
    union all
    select office_id, exposure_id, timestamp as first_seen, timestamp as ts, event_id, ${state}
      from exposure_events e
      where e.tenant_id = ${tenantId} and exists (select 1 from late l where ${sameKey('l', 'e')})`;
}

/** Recomputes exposures_current from the log, for every tenant or one. */
export async function rebuildCurrent(trx: WriteTransaction, tenantId?: string): Promise<number> {
  const tenantFilter = tenantId === undefined ? sql`` : sql`where tenant_id = ${tenantId}`;
  await sql`delete from exposures_current ${tenantFilter}`.execute(trx.db);
  const source = sql`select tenant_id, office_id, exposure_id, timestamp as first_seen, timestamp as ts, event_id,
      ${ids(STATE_COLUMNS)} from exposure_events ${tenantFilter}`;
  // Grouped by tenant too: the same office and exposure ids may exist in several tenants.
  const result =
    await sql`insert into exposures_current (${ids(CURRENT_COLUMNS)}) ${foldSelect(trx.engine, source)}`.execute(
      trx.db,
    );
  return Number(result.numAffectedRows ?? 0);
}

/** Hash of a batch's content, to tell a retry of an idempotency key from a different batch. */
export function batchHash(events: readonly unknown[]): string {
  return createHash('sha256').update(canonicalJson(events)).digest('hex');
}
