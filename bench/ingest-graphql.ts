/**
 * Ingest through the GraphQL mutation over HTTP against the same work through the in-process bulk path:
 * ingestExposureEvents posted to a gateway on a local port (JSON, GraphQL, validation, the bulk write)
 * versus writeEvents in store.write with the events already validated, on the same engine, the same
 * events and the same batch size, one transaction per batch. Prints a table and saves it to
 * bench/results/ingest-graphql.txt. Target: GraphQL / bulk >= 0.8.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { signToken } from '../src/auth/tokens.ts';
import { type Engine, loadConfig } from '../src/config.ts';
import { openStore, type Store } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { writeEvents } from '../src/db/repositories/event-log.ts';
import type { ExposureEvent } from '../src/domain.ts';
import { ChangeFeed } from '../src/ingest/changes.ts';
import { ingest } from '../src/ingest/ingest.ts';
import { validateEvents } from '../src/ingest/validate.ts';
import { createGateway } from '../src/yoga.ts';
import { rate, reachableEngines, scratchDatabase } from './support.ts';

const EVENTS = 20_000;
const OFFICES = 5;
const EXPOSURES_PER_OFFICE = 600;
const BATCH_SIZES = [500, 2_000];
const TARGET = 0.8;
const ROUNDS = 3;
const TENANT = 'bench';
const SECRET = 'bench-secret-that-is-long-enough';
const RESULTS = path.join(import.meta.dirname, 'results', 'ingest-graphql.txt');

const MUTATION = `mutation Ingest($input: IngestExposureEventsInput!) {
  ingestExposureEvents(input: $input) { eventsInserted eventsDuplicate totalProcessed }
}`;

/** Deterministic pseudo-random numbers (mulberry32), so every run sends the same events. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Scan runs in time order over a few thousand exposures, as a scanner sends them: plain JSON input. */
function generateInputs(): Record<string, unknown>[] {
  const next = random(20261122);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)]!;
  const start = Date.UTC(2026, 0, 1);
  return Array.from({ length: EVENTS }, (_, i) => {
    const office = Math.floor(next() * OFFICES);
    const exposure = Math.floor(next() * EXPOSURES_PER_OFFICE);
    const host = exposure % 250;
    const port = pick([22, 80, 443, 445, 3389, 5432, 8080]);
    // Left out of the input now and then, as scanners do.
    const maybe = <T>(probability: number, value: T) => (next() < probability ? value : undefined);
    const fields: Record<string, unknown> = {
      eventId: `evt-${i}`,
      timestamp: new Date(start + i * 60_000 + Math.floor(next() * 60_000)).toISOString(),
      officeId: `office-${office}`,
      exposureId: `exp-${office}-${exposure}`,
      exposureClass: pick(['open_port', 'weak_tls', 'expired_certificate', 'risky_service']),
      status: next() < 0.85 ? 'OPEN' : 'CLOSED',
      severity: pick(['INFO', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL']),
      eventAction: pick(['detected', 'rescanned']),
      eventKind: 'alert',
      assetId: `asset-${office}-${host}`,
      assetHostname: maybe(0.7, `host-${host}.office-${office}.example`),
      assetIp: `10.${office}.0.${host}`,
      riskScore: maybe(0.8, Math.round(next() * 1000) / 10),
      confidence: maybe(0.6, Math.round(next() * 100) / 100),
      dstIp: `10.${office}.0.${host}`,
      dstPort: port,
      protocol: 'tcp',
      scanRunId: `run-${Math.floor(i / 500)}`,
      scannerType: pick(['nmap', 'nessus', 'qualys']),
      dedupeKey: maybe(0.5, `finding-${i}`),
      serviceName: maybe(0.7, pick(['ssh', 'http', 'https', 'smb', 'rdp'])),
      resource: maybe(0.5, { port, tags: ['external', `zone-${office}`] }),
      rawPayload: { scanner: 'bench', port, banner: `service banner ${i % 97}` },
    };
    return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
  });
}

/** Sends batches with one call each; returns the seconds they took. */
type Path = (store: Store, batches: readonly (readonly Record<string, unknown>[])[]) => Promise<number>;

/** The in-process bulk path, given what it takes: validated, normalized events. */
const bulkPath: Path = async (store, batches) => {
  const limits = { maxFutureSkewSeconds: 300 };
  const validated: ExposureEvent[][] = batches.map((batch) =>
    validateEvents(batch, limits).valid.map((v) => v.event),
  );
  const started = performance.now();
  for (const events of validated) await store.write((trx) => writeEvents(trx, TENANT, events));
  return (performance.now() - started) / 1000;
};

/** The ingest core in-process: validation, office check and the same write, without HTTP and GraphQL. */
const corePath: Path = async (store, batches) => {
  const deps = { store, config: { maxEventsPerCall: 10_000, maxFutureSkewSeconds: 300 } };
  const started = performance.now();
  for (const events of batches) await ingest(deps, { tenantId: TENANT, officeIds: 'all' }, { events });
  return (performance.now() - started) / 1000;
};

/** The mutation over HTTP, to a gateway listening on a local port, one call at a time as a worker sends them. */
const graphqlPath: Path = async (store, batches) => {
  const config = loadConfig({ AUTH_JWT_SECRET: SECRET, LOG_LEVEL: 'silent', RATE_LIMIT_REQUESTS: '0' });
  const server = http.createServer(createGateway({ config, store, changes: new ChangeFeed() }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const token = await signToken(SECRET, { tenantId: TENANT, officeIds: ['*'], roles: ['ingestor'] });
  // A worker has its payload ready: serializing it is the client's work, not the gateway's.
  const bodies = batches.map((events) =>
    JSON.stringify({ query: MUTATION, variables: { input: { events } } }),
  );
  try {
    const started = performance.now();
    for (const body of bodies) {
      const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body,
      });
      const answer = (await response.json()) as { errors?: { message: string }[] };
      if (answer.errors) throw new Error(`the gateway refused a batch: ${answer.errors[0]?.message}`);
    }
    return (performance.now() - started) / 1000;
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
};

/** Events per second of one path on a fresh database; every event must have landed. */
async function measure(
  engine: Engine,
  write: Path,
  inputs: readonly Record<string, unknown>[],
  size: number,
) {
  const database = await scratchDatabase(engine);
  const store = await openStore(database.config);
  try {
    await migrateToLatest(store);
    const batches: Record<string, unknown>[][] = [];
    for (let i = 0; i < inputs.length; i += size) batches.push(inputs.slice(i, i + size));
    const seconds = await write(store, batches);
    const counted = await store.db
      .selectFrom('exposure_events')
      .select((eb) => eb.fn.countAll<number | string | bigint>().as('total'))
      .executeTakeFirstOrThrow();
    if (Number(counted.total) !== inputs.length)
      throw new Error(`stored ${counted.total} of ${inputs.length} events`);
    return inputs.length / seconds;
  } finally {
    await store.close();
    await database.drop();
  }
}

async function main() {
  const inputs = generateInputs();
  const engines = await reachableEngines();

  // Warm up the JIT, the schema and the engines' code paths before anything is timed.
  for (const engine of engines) {
    for (const path of [bulkPath, corePath, graphqlPath])
      await measure(engine, path, inputs.slice(0, 2_000), 500);
  }

  const rows: string[][] = [];
  for (const engine of engines) {
    for (const size of BATCH_SIZES) {
      // Best of a few alternating rounds: background load on the machine then weighs on every path alike.
      let [bulk, core, graphql] = [0, 0, 0];
      for (let round = 0; round < ROUNDS; round++) {
        bulk = Math.max(bulk, await measure(engine, bulkPath, inputs, size));
        core = Math.max(core, await measure(engine, corePath, inputs, size));
        graphql = Math.max(graphql, await measure(engine, graphqlPath, inputs, size));
      }
      const ratio = graphql / bulk;
      rows.push([
        engine,
        rate(size),
        rate(bulk),
        rate(core),
        rate(graphql),
        ratio.toFixed(2),
        `>= ${TARGET} ${ratio >= TARGET ? 'met' : 'MISSED'}`,
        (graphql / core).toFixed(2),
      ]);
    }
  }

  const header = [
    'engine',
    'events/call',
    'bulk events/s',
    'core events/s',
    'GraphQL events/s',
    'GraphQL/bulk',
    'target',
    'GraphQL/core',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const output = [
    'Ingest: ingestExposureEvents over HTTP vs the in-process bulk path, one transaction per call',
    `${rate(inputs.length)} events in ${OFFICES} offices; fresh database per measurement, best of ${ROUNDS} alternating rounds`,
    'bulk:    writeEvents in store.write, events validated beforehand (appender / unnest, dedupe, merge)',
    'core:    ingest() in-process: validation and office check of the raw input, then the same write',
    'GraphQL: POST /graphql to a gateway on a local port, one call at a time: HTTP, auth, GraphQL, then core',
    `Node ${process.version}, ${os.cpus().length} CPUs, ${new Date().toISOString().slice(0, 10)}`,
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
