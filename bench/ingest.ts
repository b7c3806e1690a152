/**
 * Ingest throughput: the bulk path (writeEvents through store.write: appender or unnest into a stage,
 * dedupe, append, set-based merge) against a naive Kysely path (multi-row VALUES for the events plus one
 * upsert of exposures_current per key), on the same events, one transaction per batch, on both engines.
 * Prints a table and saves it to bench/results/ingest.txt. Target: bulk / VALUES >= 5x.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Insertable, sql } from 'kysely';
import type { Engine } from '../src/config.ts';
import { openStore, type Store } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { COALESCED_COLUMNS, LATEST_COLUMNS, writeEvents } from '../src/db/repositories/event-log.ts';
import type { ExposureCurrentTable, NewExposureEvent } from '../src/db/tables.ts';
import type { ExposureEvent } from '../src/domain.ts';
import { SEVERITIES, STATUSES } from '../src/domain.ts';
import { type ExposureState, foldEvents } from '../src/ingest/fold.ts';
import { ipKey } from '../src/ip.ts';
import { rate, reachableEngines, scratchDatabase } from './support.ts';

const EVENTS = 20_000;
const OFFICES = 5;
const EXPOSURES_PER_OFFICE = 600;
const BATCH_SIZES = [500, 2_000];
const TARGET = 5;
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
      rawPayload: { scanner: 'bench', run, port, banner: `service banner ${i % 97}` },
    };
    events.push(event);
  }
  return events;
}

const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));

function eventRow(event: ExposureEvent): NewExposureEvent {
  return {
    tenant_id: TENANT,
    event_id: event.eventId,
    timestamp: event.timestamp,
    office_id: event.officeId,
    exposure_id: event.exposureId,
    exposure_class: event.exposureClass,
    status: event.status,
    severity: event.severity,
    severity_rank: SEVERITIES.indexOf(event.severity),
    event_action: event.eventAction,
    event_kind: event.eventKind,
    asset_id: event.assetId,
    asset_hostname: event.assetHostname,
    asset_ip: event.assetIp,
    risk_score: event.riskScore,
    confidence: event.confidence,
    dst_ip: event.dstIp,
    dst_ip_key: event.dstIp === null ? null : ipKey(event.dstIp),
    dst_port: event.dstPort,
    protocol: event.protocol,
    service_name: event.serviceName,
    service_product: event.serviceProduct,
    service_version: event.serviceVersion,
    resource: json(event.resource),
    disposition_status: event.dispositionStatus,
    disposition_reason: event.dispositionReason,
    scan_run_id: event.scanRunId,
    scanner_type: event.scannerType,
    dedupe_key: event.dedupeKey,
    raw_payload: json(event.rawPayload),
  };
}

function currentRow(state: ExposureState): Insertable<ExposureCurrentTable> {
  return {
    tenant_id: TENANT,
    office_id: state.officeId,
    exposure_id: state.exposureId,
    exposure_class: state.exposureClass,
    status: state.status,
    severity: state.severity,
    severity_rank: SEVERITIES.indexOf(state.severity),
    event_action: state.eventAction,
    event_kind: state.eventKind,
    asset_id: state.assetId,
    asset_hostname: state.assetHostname,
    asset_ip: state.assetIp,
    risk_score: state.riskScore,
    confidence: state.confidence,
    dst_ip: state.dstIp,
    dst_ip_key: state.dstIp === null ? null : ipKey(state.dstIp),
    dst_port: state.dstPort,
    protocol: state.protocol,
    service_name: state.serviceName,
    service_product: state.serviceProduct,
    service_version: state.serviceVersion,
    resource: json(state.resource),
    disposition_status: state.dispositionStatus,
    disposition_reason: state.dispositionReason,
    first_seen: state.firstSeen,
    last_seen: state.lastSeen,
    last_event_id: state.lastEventId,
  };
}

/**
 * The naive path: the batch's events in one multi-row VALUES insert, then the batch folded per key in JS
 * (DuckDB keeps only one row per key of a multi-row upsert) and upserted with one multi-row VALUES
 * statement. Like most hand-written upserts it does not recompute late events from the log.
 */
async function valuesBatch(store: Store, events: readonly ExposureEvent[]): Promise<void> {
  await store.write(async ({ db }) => {
    await db
      .insertInto('exposure_events')
      .values(events.map(eventRow))
      // With a target: DuckDB's target-less DO NOTHING also drops rows whose dedupe_key is null.
      .onConflict((oc) => oc.columns(['tenant_id', 'event_id']).doNothing())
      .execute();
    await db
      .insertInto('exposures_current')
      .values([...foldEvents(events).values()].map(currentRow))
      .onConflict((oc) =>
        oc.columns(['tenant_id', 'office_id', 'exposure_id']).doUpdateSet((eb) => ({
          ...Object.fromEntries(LATEST_COLUMNS.map((c) => [c, eb.ref(`excluded.${c}`)])),
          ...Object.fromEntries(
            COALESCED_COLUMNS.map((c) => [
              c,
              sql`coalesce(${eb.ref(`excluded.${c}`)}, exposures_current.${sql.ref(c)})`,
            ]),
          ),
          first_seen: sql`least(exposures_current.first_seen, excluded.first_seen)`,
          last_seen: sql`greatest(exposures_current.last_seen, excluded.last_seen)`,
          last_event_id: eb.ref('excluded.last_event_id'),
        })),
      )
      .execute();
  });
}

async function bulkBatch(store: Store, events: readonly ExposureEvent[]): Promise<void> {
  await store.write((trx) => writeEvents(trx, TENANT, events));
}

type Path = (store: Store, events: readonly ExposureEvent[]) => Promise<void>;

/** Events per second of one path on a fresh database, timing only the batches. */
async function measure(engine: Engine, write: Path, events: readonly ExposureEvent[], size: number) {
  const database = await scratchDatabase(engine);
  const store = await openStore(database.config);
  try {
    await migrateToLatest(store);
    const started = performance.now();
    for (let i = 0; i < events.length; i += size) await write(store, events.slice(i, i + size));
    const seconds = (performance.now() - started) / 1000;
    const counted = await store.db
      .selectFrom('exposure_events')
      .select((eb) => eb.fn.countAll<number | string | bigint>().as('total'))
      .executeTakeFirstOrThrow();
    if (Number(counted.total) !== events.length)
      throw new Error(`stored ${counted.total} of ${events.length} events`);
    return events.length / seconds;
  } finally {
    await store.close();
    await database.drop();
  }
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

async function main() {
  const events = generateEvents();
  const exposures = new Set(events.map((e) => e.exposureId)).size;
  const engines = await reachableEngines();

  // Warm up the JIT and the engines' code paths, so the first measurement is not the slowest.
  for (const engine of engines) {
    await measure(engine, bulkBatch, events.slice(0, 2_000), 500);
    await measure(engine, valuesBatch, events.slice(0, 2_000), 500);
  }

  const rows: string[][] = [];
  const versions: string[] = [];
  for (const engine of engines) {
    versions.push(await version(engine));
    for (const size of BATCH_SIZES) {
      const values = await measure(engine, valuesBatch, events, size);
      const bulk = await measure(engine, bulkBatch, events, size);
      const ratio = bulk / values;
      rows.push([
        engine,
        rate(size),
        rate(values),
        rate(bulk),
        `${ratio.toFixed(1)}x`,
        `>= ${TARGET}x ${ratio >= TARGET ? 'met' : 'MISSED'}`,
      ]);
    }
  }

  const header = ['engine', 'events/tx', 'VALUES events/s', 'bulk events/s', 'bulk/VALUES', 'target'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const output = [
    'Ingest: bulk path vs Kysely multi-row VALUES, one transaction per batch',
    `${rate(events.length)} events over ${rate(exposures)} exposures in ${OFFICES} offices; fresh database per measurement`,
    'VALUES: insertInto(exposure_events).values([...]) + one multi-row Kysely upsert of exposures_current (one row per key)',
    'bulk:   writeEvents (appender / unnest into a stage, dedupe, append, set-based merge with late-event recompute)',
    `Node ${process.version}, ${versions.join(', ')}, ${os.cpus().length} CPUs, ${new Date().toISOString().slice(0, 10)}`,
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
  ].join('\n');
  console.log(output);
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, output);
}

await main();
