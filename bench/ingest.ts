/**
 * Ingest throughput, on both engines, fresh database per measurement.
 *
 * 1. The bulk path against the same work through Kysely's multi-row VALUES with bound parameters, one
 *    transaction per batch of 500 or 2,000 events:
 *    - bulk: writeEvents (appender / unnest into a stage, dedupe, append, set-based fold and merge);
 *    - VALUES: the same steps written with Kysely: drop repeats in the batch, look up stored dedupe keys,
 *      insert the events with their key hashes (keyHash) in one multi-row VALUES ... ON CONFLICT DO NOTHING
 *      RETURNING, fold the inserted events per exposure in JS (stateOfEvent/mergeStates), upsert them into
 *      exposures_current in one multi-row VALUES whose DO UPDATE is the semilattice merge (per-field
 *      positions, event_count, first_seen), and stamp offices.last_ingest_at.
 *    After each run exposures_current must be identical on both paths, which checks that they did the
 *    same work. Target: bulk / VALUES >= 5x on DuckDB; PostgreSQL is reported.
 * 2. Many small concurrent calls: 32 clients each sending 10-event calls through ingest() in process,
 *    with group commit and without it (one call per transaction), in alternating rounds.
 *
 * Prints both tables and saves them to bench/results/ingest.txt.
 */

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Insertable, type RawBuilder, sql } from 'kysely';
import type { Engine } from '../src/config.ts';
import { openStore, type Store } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { dropBatchRepeats, writeEvents } from '../src/db/repositories/event-log.ts';
import { hashIn, keyHash } from '../src/db/repositories/exposure-keys.ts';
import type { ExposureCurrentTable, ExposureStateColumns, NewExposureEvent } from '../src/db/tables.ts';
import {
  COALESCED_FIELDS,
  EXPOSURE_FIELDS,
  type ExposureEvent,
  type ExposureField,
  type ExposureFieldValues,
  FIELD_NAMES,
  LATEST_FIELDS,
  SEVERITIES,
  STATUSES,
} from '../src/domain.ts';
import { exposureKey, type MergeableState, mergeStates, stateOfEvent } from '../src/ingest/fold.ts';
import { GroupCommit } from '../src/ingest/group-commit.ts';
import { ingest } from '../src/ingest/ingest.ts';
import { ipKey } from '../src/ip.ts';
import { rate, reachableEngines, scratchDatabase } from './support.ts';

const EVENTS = 20_000;
const OFFICES = 5;
const EXPOSURES_PER_OFFICE = 600;
const BATCH_SIZES = [500, 2_000];
const TARGET = 5;
/** Alternating rounds per comparison: the machine is shared, so one run of each side proves little. */
const ROUNDS = 3;
const CLIENTS = 32;
const CALL_EVENTS = 10;
/** Ten calls per client: one call per transaction is slow on DuckDB, and the rounds must stay short. */
const CONCURRENT_EVENTS = 3_200;
const CONCURRENT_ROUNDS = 5;
const GROUP_MAX_EVENTS = 2_000;
const TENANT = 'bench';
const RESULTS = path.join(import.meta.dirname, 'results', 'ingest.txt');

/** Deterministic pseudo-random numbers (mulberry32), so every run ingests the same events. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Scan runs over a few thousand exposures: each run reports a random subset, in time order, with a few
 * events arriving late from an earlier run, some fields left empty and half of the events keyed.
 */
function generateEvents(): ExposureEvent[] {
  const next = random(20261122);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)]!;
  const start = Date.UTC(2026, 0, 1);
  const events: ExposureEvent[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const run = Math.floor((i / EVENTS) * 40);
    const late = next() < 0.05 && run > 0;
    const runStart = start + (late ? run - 1 - Math.floor(next() * run) : run) * 6 * 3_600_000;
    const office = Math.floor(next() * OFFICES);
    const exposure = Math.floor(next() * EXPOSURES_PER_OFFICE);
    const port = pick([22, 80, 443, 445, 3389, 5432, 8080]);
    const host = exposure % 250;
    const event: ExposureEvent = {
      eventId: `evt-${i}`,
      timestamp: new Date(runStart + Math.floor(next() * 3_600_000)).toISOString(),
      officeId: `office-${office}`,
      exposureId: `exp-${office}-${exposure}`,
      exposureClass: pick(['open_port', 'weak_tls', 'expired_certificate', 'risky_service']),
      status: next() < 0.85 ? STATUSES[0] : STATUSES[1],
      severity: pick(SEVERITIES),
      eventAction: pick(['detected', 'rescanned', null]),
      eventKind: 'alert',
      assetId: `asset-${office}-${host}`,
      assetHostname: next() < 0.7 ? `host-${host}.office-${office}.example` : null,
      assetIp: `10.${office}.${Math.floor(host / 250)}.${host}`,
      riskScore: next() < 0.8 ? Math.round(next() * 1000) / 10 : null,
      confidence: next() < 0.6 ? Math.round(next() * 100) / 100 : null,
      dstIp: `10.${office}.0.${host}`,
      dstPort: port,
      protocol: 'tcp',
      scanRunId: `run-${run}`,
      scannerType: pick(['nmap', 'nessus', 'qualys']),
      dedupeKey: next() < 0.5 ? `finding-${i}` : null,
      serviceName: next() < 0.7 ? pick(['ssh', 'http', 'https', 'smb', 'rdp', 'postgres']) : null,
      serviceProduct: next() < 0.5 ? pick(['openssh', 'nginx', 'samba', 'xrdp']) : null,
      serviceVersion: next() < 0.4 ? pick(['8.9', '1.24.0', '4.15', '0.9.19']) : null,
      resource: next() < 0.5 ? { port, tags: ['external', `zone-${office}`] } : null,
      dispositionStatus: next() < 0.1 ? 'accepted_risk' : null,
      dispositionReason: null,
      dispositionExpiresAt: null,
      rawPayload: { scanner: 'bench', run, port, banner: `service banner ${i % 97}` },
    };
    events.push(event);
  }
  return events;
}

const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));

/** Columns stored beside a field and merged with it, as tables.ts declares them, with their values. */
const COMPANIONS: Partial<
  Record<ExposureField, [keyof ExposureStateColumns, (v: ExposureFieldValues) => unknown]>
> = {
  severity: ['severity_rank', (v) => SEVERITIES.indexOf(v.severity)],
  dstIp: ['dst_ip_key', (v) => (v.dstIp === null ? null : ipKey(v.dstIp))],
};

/** The columns a field is stored in: its own, then its companion's. */
function columnsOf(field: ExposureField): string[] {
  const companion = COMPANIONS[field];
  return companion ? [EXPOSURE_FIELDS[field].column, companion[0]] : [EXPOSURE_FIELDS[field].column];
}

const positionColumn = (field: ExposureField) => `${EXPOSURE_FIELDS[field].column}_position`;

/** The field columns of an event or a state, derived from EXPOSURE_FIELDS. */
function stateColumns(values: ExposureFieldValues): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const field of FIELD_NAMES) {
    const { column, type } = EXPOSURE_FIELDS[field];
    row[column] = type === 'json' ? json(values[field]) : values[field];
    const companion = COMPANIONS[field];
    if (companion) row[companion[0]] = companion[1](values);
  }
  return row;
}

function eventRow(event: ExposureEvent): NewExposureEvent {
  return {
    tenant_id: TENANT,
    event_id: event.eventId,
    timestamp: event.timestamp,
    office_id: event.officeId,
    exposure_id: event.exposureId,
    ...stateColumns(event),
    scan_run_id: event.scanRunId,
    scanner_type: event.scannerType,
    dedupe_key: event.dedupeKey,
    raw_payload: json(event.rawPayload),
    exposure_hash: keyHash(TENANT, event.officeId, event.exposureId),
    dedupe_hash: event.dedupeKey === null ? null : keyHash(TENANT, event.officeId, event.dedupeKey),
  } as NewExposureEvent;
}

/** A folded state as a row; a coalesced position is stored null where it is the row's last position. */
function currentRow(state: MergeableState): Insertable<ExposureCurrentTable> {
  const positions = COALESCED_FIELDS.map((field) => {
    const position = state.positions[field];
    return [
      positionColumn(field),
      position === undefined || position === state.lastPosition ? null : position,
    ];
  });
  return {
    tenant_id: TENANT,
    office_id: state.officeId,
    exposure_id: state.exposureId,
    ...stateColumns(state),
    ...Object.fromEntries(positions),
    first_seen: state.firstSeen,
    last_seen: state.lastSeen,
    last_event_id: state.lastEventId,
    last_position: state.lastPosition,
    event_count: state.eventCount,
    exposure_hash: keyHash(TENANT, state.officeId, state.exposureId),
  } as Insertable<ExposureCurrentTable>;
}

/**
 * The semilattice merge of a folded batch (excluded) into the stored row, as DO UPDATE assignments:
 * mergeStates() per field, the same join the writer runs, written out here for the baseline.
 */
const MERGE: Record<string, RawBuilder<unknown>> = (() => {
  const ref = (row: 'excluded' | 'exposures_current', c: string) => sql.ref(`${row}.${c}`);
  const laterBatch = sql`${ref('excluded', 'last_position')} > ${ref('exposures_current', 'last_position')}`;
  const lastPosition = sql`greatest(${ref('excluded', 'last_position')}, ${ref('exposures_current', 'last_position')})`;
  const pick = (condition: RawBuilder<unknown>, c: string) =>
    sql`case when ${condition} then ${ref('excluded', c)} else ${ref('exposures_current', c)} end`;
  // Where a coalesced value came from; a null position means the row's last position.
  const effective = (row: 'excluded' | 'exposures_current', field: ExposureField) =>
    sql`case when ${ref(row, EXPOSURE_FIELDS[field].column)} is null then null
      else coalesce(${ref(row, positionColumn(field))}, ${ref(row, 'last_position')}) end`;
  const assignments: Record<string, RawBuilder<unknown>> = {};
  for (const c of [...LATEST_FIELDS.flatMap(columnsOf), 'last_seen', 'last_event_id'])
    assignments[c] = pick(laterBatch, c);
  for (const field of COALESCED_FIELDS) {
    const [batch, stored] = [effective('excluded', field), effective('exposures_current', field)];
    const batchWins = sql`coalesce(${batch} > ${stored}, ${batch} is not null)`;
    for (const c of columnsOf(field)) assignments[c] = pick(batchWins, c);
    assignments[positionColumn(field)] =
      sql`nullif(case when ${batchWins} then ${batch} else ${stored} end, ${lastPosition})`;
  }
  assignments.first_seen = sql`least(${ref('excluded', 'first_seen')}, ${ref('exposures_current', 'first_seen')})`;
  assignments.last_position = lastPosition;
  assignments.event_count = sql`${ref('exposures_current', 'event_count')} + ${ref('excluded', 'event_count')}`;
  return assignments;
})();

/** The baseline: writeEvents' steps through Kysely's builder, every value a bound parameter. */
async function valuesBatch(store: Store, events: readonly ExposureEvent[]): Promise<void> {
  await store.write(async ({ db }) => {
    let batch = dropBatchRepeats(events.map((event) => ({ batch: 0, event }))).map((s) => s.event);
    const keyed = batch.filter((e) => e.dedupeKey !== null);
    if (keyed.length > 0) {
      // The writer's lookup: the hash list leads DuckDB to its index, the lists PostgreSQL to its own.
      const stored = await db
        .selectFrom('exposure_events')
        .select(['office_id', 'dedupe_key'])
        .where('tenant_id', '=', TENANT)
        .where('office_id', 'in', [...new Set(keyed.map((e) => e.officeId))])
        .where('dedupe_key', 'in', [...new Set(keyed.map((e) => e.dedupeKey as string))])
        .where(
          hashIn(
            sql.ref('dedupe_hash'),
            keyed.map((e) => keyHash(TENANT, e.officeId, e.dedupeKey as string)),
          ),
        )
        .execute();
      const dedupeKey = (officeId: string, key: string) => JSON.stringify([officeId, key]);
      const taken = new Set(stored.map((row) => dedupeKey(row.office_id, row.dedupe_key as string)));
      batch = batch.filter((e) => e.dedupeKey === null || !taken.has(dedupeKey(e.officeId, e.dedupeKey)));
    }
    if (batch.length === 0) return;
    const inserted = await db
      .insertInto('exposure_events')
      .values(batch.map(eventRow))
      .onConflict((oc) => oc.columns(['tenant_id', 'event_id']).doNothing())
      .returning('event_id')
      .execute();
    const fresh = new Set(inserted.map((row) => row.event_id));
    // One row per exposure: a multi-row upsert may not touch a key twice.
    const states = new Map<string, MergeableState>();
    for (const event of batch.filter((e) => fresh.has(e.eventId))) {
      const key = exposureKey(event);
      const state = stateOfEvent(event);
      const earlier = states.get(key);
      states.set(key, earlier ? mergeStates(earlier, state) : state);
    }
    if (states.size === 0) return;
    await db
      .insertInto('exposures_current')
      .values([...states.values()].map(currentRow))
      .onConflict((oc) => oc.columns(['tenant_id', 'office_id', 'exposure_id']).doUpdateSet(MERGE))
      .execute();
    const now = new Date().toISOString();
    await db
      .insertInto('offices')
      .values(
        [...new Set(batch.map((e) => e.officeId))].map((office_id) => ({
          tenant_id: TENANT,
          office_id,
          last_ingest_at: now,
        })),
      )
      .onConflict((oc) =>
        oc
          .columns(['tenant_id', 'office_id'])
          .doUpdateSet((eb) => ({ last_ingest_at: eb.ref('excluded.last_ingest_at') })),
      )
      .execute();
  });
}

async function bulkBatch(store: Store, events: readonly ExposureEvent[]): Promise<void> {
  await store.write((trx) => writeEvents(trx, TENANT, events));
}

type Path = (store: Store, events: readonly ExposureEvent[]) => Promise<void>;

const chunks = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** Runs work on a fresh, migrated database, then checks that every event landed. */
async function onFreshStore<T>(
  engine: Engine,
  events: number,
  work: (store: Store) => Promise<T>,
): Promise<T & { state: string }> {
  const database = await scratchDatabase(engine);
  const store = await openStore(database.config);
  try {
    await migrateToLatest(store);
    const result = await work(store);
    const counted = await store.db
      .selectFrom('exposure_events')
      .select((eb) => eb.fn.countAll<number | string | bigint>().as('total'))
      .executeTakeFirstOrThrow();
    if (Number(counted.total) !== events) throw new Error(`stored ${counted.total} of ${events} events`);
    const rows = await store.db
      .selectFrom('exposures_current')
      .selectAll()
      .orderBy('office_id')
      .orderBy('exposure_id')
      .execute();
    const state = createHash('sha256')
      .update(JSON.stringify(rows, (_, v) => (typeof v === 'bigint' ? v.toString() : v)))
      .digest('hex');
    return { ...result, state };
  } finally {
    await store.close();
    await database.drop();
  }
}

/** Events per second of one path, timing only the batches, and a digest of the resulting exposures_current. */
function measure(engine: Engine, write: Path, events: readonly ExposureEvent[], size: number) {
  return onFreshStore(engine, events.length, async (store) => {
    const started = performance.now();
    for (const batch of chunks(events, size)) await write(store, batch);
    return { rate: events.length / ((performance.now() - started) / 1000) };
  });
}

/**
 * CLIENTS clients sending CALL_EVENTS-event calls through ingest() back to back, each taking the next call
 * as soon as its last one returned, through a GroupCommit that groups calls or not. The writer's store
 * counts the transactions it opens.
 */
function concurrent(engine: Engine, events: readonly ExposureEvent[], grouped: boolean) {
  return onFreshStore(engine, events.length, async (store) => {
    let transactions = 0;
    const counting: Store = {
      ...store,
      write: (work) => {
        transactions++;
        return store.write(work);
      },
    };
    const writer = new GroupCommit(counting, {
      maxEvents: grouped ? GROUP_MAX_EVENTS : 0,
      concurrency: engine === 'duckdb' ? 1 : 4,
    });
    const deps = { store, writer, config: { maxEventsPerCall: 10_000, maxFutureSkewSeconds: 300 } };
    const scope = { tenantId: TENANT, officeIds: 'all' as const };
    const calls = chunks(events, CALL_EVENTS);
    let next = 0;
    const client = async () => {
      while (next < calls.length) await ingest(deps, scope, { events: calls[next++]! });
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: CLIENTS }, client));
    const seconds = (performance.now() - started) / 1000;
    return { rate: events.length / seconds, calls: calls.length, transactions };
  });
}

async function version(engine: Engine): Promise<string> {
  const database = await scratchDatabase(engine);
  const store = await openStore(database.config);
  try {
    const { rows } = await sql<{ v: string }>`select version() as v`.execute(store.db);
    const text = rows[0]?.v ?? '?';
    return engine === 'duckdb' ? `DuckDB ${text}` : (text.split(' on ')[0] ?? text);
  } finally {
    await store.close();
    await database.drop();
  }
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

const spread = (rates: readonly number[]) =>
  `${rate(Math.min(...rates))} / ${rate(median(rates))} / ${rate(Math.max(...rates))}`;

async function main() {
  const events = generateEvents();
  const exposures = new Set(events.map((e) => e.exposureId)).size;
  const small = events.slice(0, CONCURRENT_EVENTS);
  const engines = await reachableEngines();
  // Other work on a shared machine slows every path; the load says how much to trust the absolute rates.
  const loadAtStart = os.loadavg()[0]!;

  // Warm up the JIT and the engines' code paths, so the first measurement is not the slowest.
  for (const engine of engines) {
    await measure(engine, bulkBatch, events.slice(0, 2_000), 500);
    await measure(engine, valuesBatch, events.slice(0, 2_000), 500);
    await concurrent(engine, small.slice(0, CLIENTS * CALL_EVENTS), true);
    await concurrent(engine, small.slice(0, CLIENTS * CALL_EVENTS), false);
  }

  const bulkRows: string[][] = [];
  const concurrentRows: string[][] = [];
  const versions: string[] = [];
  for (const engine of engines) {
    versions.push(await version(engine));
    for (const size of BATCH_SIZES) {
      const values: number[] = [];
      const bulk: number[] = [];
      const states = new Set<string>();
      for (let round = 0; round < ROUNDS; round++) {
        const v = await measure(engine, valuesBatch, events, size);
        const b = await measure(engine, bulkBatch, events, size);
        values.push(v.rate);
        bulk.push(b.rate);
        states.add(v.state).add(b.state);
      }
      if (states.size !== 1)
        throw new Error(`${engine}, ${size}/tx: VALUES and bulk left different exposures_current`);
      const ratio = median(bulk) / median(values);
      const target = engine === 'duckdb' ? `>= ${TARGET}x ${ratio >= TARGET ? 'met' : 'MISSED'}` : 'none';
      bulkRows.push([engine, rate(size), spread(values), spread(bulk), `${ratio.toFixed(1)}x`, target]);
    }

    const grouped: number[] = [];
    const alone: number[] = [];
    let [calls, transactions] = [0, 0];
    for (let round = 0; round < CONCURRENT_ROUNDS; round++) {
      // Which side goes first alternates too, so a slow spell does not always hit the same one.
      const sides = round % 2 === 0 ? [true, false] : [false, true];
      for (const side of sides) {
        const run = await concurrent(engine, small, side);
        if (side) {
          grouped.push(run.rate);
          calls += run.calls;
          transactions += run.transactions;
        } else alone.push(run.rate);
      }
    }
    concurrentRows.push([
      engine,
      spread(grouped),
      spread(alone),
      `${(median(grouped) / median(alone)).toFixed(1)}x`,
      (calls / transactions).toFixed(1),
    ]);
  }

  const output = [
    `Ingest, ${rate(events.length)} events over ${rate(exposures)} exposures in ${OFFICES} offices; fresh database per measurement`,
    `Node ${process.version}, ${versions.join(', ')}, ${os.cpus().length} CPUs, ${new Date().toISOString().slice(0, 10)}`,
    `1-minute load average ${loadAtStart.toFixed(1)} at the start, ${os.loadavg()[0]!.toFixed(1)} at the end`,
    '',
    `1. Bulk path vs Kysely multi-row VALUES, one transaction per batch; events/s min / median / max of ${ROUNDS} alternating rounds`,
    'bulk:   writeEvents: appender (DuckDB) / unnest (PostgreSQL) into a stage, dedupe, append, set-based fold and merge',
    'VALUES: the same steps through Kysely with bound parameters: dedupe (batch repeats, stored dedupe keys),',
    '        multi-row VALUES insert of the events with key hashes, per-exposure fold in JS, multi-row VALUES',
    '        upsert of exposures_current with the semilattice merge, offices.last_ingest_at',
    'Both paths leave the same exposures_current (checked on every run). Target on DuckDB: bulk/VALUES >= 5x',
    '',
    ...table(['engine', 'events/tx', 'VALUES events/s', 'bulk events/s', 'bulk/VALUES', 'target'], bulkRows),
    '',
    `2. ${CLIENTS} concurrent clients, ${CALL_EVENTS}-event calls through ingest() in process, ${rate(small.length)} events;`,
    `   events/s min / median / max of ${CONCURRENT_ROUNDS} rounds, the two sides alternating`,
    `group commit: GroupCommit { maxEvents: ${rate(GROUP_MAX_EVENTS)}, concurrency: 1 on DuckDB, 4 on PostgreSQL }`,
    'none:         GroupCommit { maxEvents: 0 (one call per transaction), same concurrency }',
    'calls/tx: calls per transaction with group commit, counted by wrapping store.write',
    '',
    ...table(['engine', 'group commit events/s', 'none events/s', 'group/none', 'calls/tx'], concurrentRows),
    '',
  ].join('\n');
  console.log(output);
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, output);
}

await main();
