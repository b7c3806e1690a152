/**
 * The gateway at scale (DESIGN.md, "Scale"). For each engine, in a child process of its own so that peak
 * RSS and start time are the engine's: open an empty store, load N scanner events of bench/scale-data.ts
 * through the ingest core in chunks of 2,000 (measuring the rate as the store grows), ingest a batch of
 * late events, serve the dashboard reads over HTTP to clients in this process (1 and 8 at a time), then
 * the database size, the time to open it again, the completion of scan runs over an office with about
 * 20,000 open exposures and over the busiest, and a full rebuild of the current state; with --explain,
 * the plans of the SQL behind each read, and on PostgreSQL what the statements of a write read and wrote
 * (explainWrites()). Targets are printed next to the figures; a missed one is
 * reported, never a failure.
 *
 *   tsx bench/scale.ts [--events 10M] [--engines duckdb,postgres] [--out FILE] [--keep DIR] [--explain] [--quick]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { print } from 'graphql';
import {
  CompiledQuery,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryId,
  type QueryResult,
  type RootOperationNode,
  sql,
  type UnknownRow,
} from 'kysely';
import { signToken } from '../src/auth/tokens.ts';
import { type Config, type DatabaseConfig, type Engine, loadConfig } from '../src/config.ts';
import { openStore, type Store } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { rebuildCurrent } from '../src/db/repositories/event-log.ts';
import {
  DashboardEventsDocument,
  DashboardExposuresDocument,
  DashboardOfficesDocument,
  DashboardSummaryDocument,
} from '../src/gql/graphql.ts';
import { ChangeFeed } from '../src/ingest/changes.ts';
import { ingest } from '../src/ingest/ingest.ts';
import { completeScanRun } from '../src/ingest/scan-runs.ts';
import { createLogger } from '../src/log.ts';
import { listen } from '../src/server.ts';
import { createGateway } from '../src/yoga.ts';
import { databaseEnv } from '../test/helpers/cli.ts';
import type { TestDatabase } from '../test/helpers/engines.ts';
import { DATA_DAYS, DATA_END, DATA_START, parseCount, ScannerFeed } from './scale-data.ts';
import {
  benchOptions,
  COMPLETION_OPEN,
  completionGroups,
  condensedPlan,
  isPlanReport,
  rate,
  reachableEngines,
  scratchDatabase,
  withAutoExplain,
} from './support.ts';

const USAGE = `usage: tsx bench/scale.ts [--events 10M] [--engines duckdb,postgres] [--out FILE] [--keep DIR] [--explain] [--quick]`;

const CHUNK = 2_000;
const INGEST_LIMITS = { maxEventsPerCall: 10_000, maxFutureSkewSeconds: 300 };
const TENANT = 'acme';
/** A second tenant with a tenth of the events, so that every read has another tenant's rows to skip. */
const OTHER_TENANT = 'globex';
const OFFICES = 50;
/** Events per rate measurement (fewer below 1M events: a tenth of them). */
const WINDOW = 100_000;
/** Where the measured windows start, as shares of N; the last one is after the whole load. */
const MILESTONES = [0, 0.1, 0.5, 1];
/**
 * After the load, the full store and an empty one ingest in turn, PAIRED_ROUNDS times PAIRED_EVENTS each:
 * whatever else the machine runs weighs on both sides alike, so their ratio holds where the windows of
 * the load, minutes apart, do not.
 */
const PAIRED_ROUNDS = 3;
const PAIRED_EVENTS = 20_000;
/** One chunk of the other tenant after every this many of the main tenant's. */
const OTHER_EVERY = 10;
const CONCURRENCY = [1, 8] as const;
/** Requests per read and concurrency, after a warm-up with one client; --quick for a smoke run. */
const READ_COUNTS = { full: { requests: 200, warmup: 20 }, quick: { requests: 16, warmup: 2 } } as const;
const SECRET = 'bench-scale-secret-long-enough';
const PROGRESS_MS = 10_000;

const TARGETS = {
  ingestRatio: 0.8,
  peakRssMb: 1536,
  lateRatio: 0.5,
  p99OneClientMs: 100,
  p99EightClientsMs: 250,
  timelineMs: 150,
  completeRunMs: 2000,
};

interface Options {
  events: number;
  /** null: every engine whose server answers. */
  engines: Engine[] | null;
  out: string;
  keep: string | null;
  explain: boolean;
  quick: boolean;
}

function parseOptions(): Options & { child: Engine | null; fresh: Engine | null } {
  const values = benchOptions(
    {
      events: { type: 'string', default: '10M' },
      engines: { type: 'string' },
      out: { type: 'string', default: path.join(import.meta.dirname, 'results', 'scale.txt') },
      keep: { type: 'string' },
      explain: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      child: { type: 'string' },
      fresh: { type: 'string' },
    },
    USAGE,
  );
  const engine = (name: string): Engine => {
    if (name === 'duckdb' || name === 'postgres') return name;
    throw new Error(`unknown engine "${name}": use duckdb, postgres or both, comma-separated`);
  };
  const events = parseCount(values.events);
  if (events < 20_000) throw new Error(`--events must be at least 20k, got ${values.events}`);
  return {
    events,
    engines: values.engines ? values.engines.split(',').map(engine) : null,
    out: path.resolve(values.out),
    keep: values.keep ? path.resolve(values.keep) : null,
    explain: values.explain,
    quick: values.quick,
    child: values.child ? engine(values.child) : null,
    fresh: values.fresh ? engine(values.fresh) : null,
  };
}

/** What is loaded: N events of the main tenant, the other tenant's tenth, and a window after them. */
interface Plan {
  events: number;
  window: number;
  /** Main-tenant events per side and round of the paired windows. */
  paired: number;
  /** Other-tenant events stored by the load; after the reads, a new process ingests `fresh` more. */
  otherLoaded: number;
  /**
   * Other-tenant events a new process ingests into the full store (freshProcessIngest()): the other
   * tenant's, so that the main tenant's feed, its late events and the reads stay as they were.
   */
  fresh: number;
  /** Main-tenant events stored when each measured window starts. */
  milestones: number[];
  main: ScannerFeed;
  other: ScannerFeed;
}

function planOf(events: number): Plan {
  const chunks = (n: number) => Math.floor(n / CHUNK) * CHUNK;
  const window = Math.min(WINDOW, chunks(events / 10));
  const paired = Math.min(PAIRED_EVENTS, window);
  const otherLoaded = Math.round(events / 10);
  return {
    events,
    window,
    paired,
    otherLoaded,
    fresh: paired,
    milestones: MILESTONES.map((share) => (share === 1 ? events : chunks(events * share))),
    // The window after the load is part of the time axis, so every event is older than DATA_END; so is
    // the chunk that --explain writes last (explainWrites()).
    main: new ScannerFeed({
      tenantId: TENANT,
      events: events + window + PAIRED_ROUNDS * paired + CHUNK,
      offices: OFFICES,
      seed: 20261130,
    }),
    other: new ScannerFeed({
      tenantId: OTHER_TENANT,
      events: otherLoaded + paired,
      offices: OFFICES,
      seed: 7,
    }),
  };
}

// --- the reads --------------------------------------------------------------------------------------

type ResponseData = Record<string, unknown>;

interface ReadOperation {
  name: string;
  /** p99 targets in ms with 1 client and with 8; null: none. */
  targets: readonly [number, number | null];
  /** One client's requests: each call gives the next body, from the client's previous answer. */
  client(plan: Plan): (previous: ResponseData | null) => string;
  /** Throws when an answer is not what the operation must measure (an exposure that was not found). */
  check?(data: ResponseData): void;
}

const body = (query: string, variables: Record<string, unknown> = {}) => JSON.stringify({ query, variables });
const PAGES = 20;
/** Exposures the detail read goes round, spread over the feed. */
const DETAIL_EXPOSURES = 64;

const EXPOSURE_DETAIL = `query ScaleExposure($officeId: ID!, $exposureId: String!) {
  exposure(officeId: $officeId, exposureId: $exposureId) {
    id status severity lastSeen
    events(first: 20) { edges { node { eventId timestamp status } } }
  }
}`;
const TIMELINE = `query ScaleTimeline($filter: EventFilter!) {
  eventTimeline(bucket: DAY, filter: $filter, timeZone: "Europe/Berlin") { start count }
}`;

const DASHBOARD_P99 = [TARGETS.p99OneClientMs, TARGETS.p99EightClientsMs] as const;
/** A client that sends the same request every time. */
const same = (payload: string) => () => () => payload;

/** The documents of src/client/dashboard.graphql, the timeline, one exposure, and paging forward. */
const READS: readonly ReadOperation[] = [
  {
    name: 'offices',
    targets: DASHBOARD_P99,
    client: same(body(print(DashboardOfficesDocument))),
  },
  {
    name: 'exposureSummary',
    targets: DASHBOARD_P99,
    client: same(body(print(DashboardSummaryDocument), { filter: { statuses: ['OPEN'] } })),
  },
  {
    name: 'exposures page + totalCount',
    targets: DASHBOARD_P99,
    client: same(
      body(print(DashboardExposuresDocument), {
        filter: { statuses: ['OPEN'], minSeverity: 'HIGH' },
        orderBy: { field: 'RISK_SCORE', direction: 'DESC' },
        first: 25,
      }),
    ),
  },
  {
    name: 'events page',
    targets: DASHBOARD_P99,
    client: (plan) => {
      const payload = body(print(DashboardEventsDocument), {
        filter: {
          officeIds: [plan.main.officeId(0), plan.main.officeId(1)],
          severities: ['HIGH', 'CRITICAL'],
        },
        first: 25,
      });
      return () => payload;
    },
  },
  {
    name: `eventTimeline DAY, ${DATA_DAYS} days`,
    targets: [TARGETS.timelineMs, null],
    client: same(
      body(TIMELINE, {
        filter: { from: new Date(DATA_START).toISOString(), to: new Date(DATA_END).toISOString() },
      }),
    ),
    check: (data) => {
      if ((data.eventTimeline as unknown[]).length < DATA_DAYS) throw new Error('the timeline lacks buckets');
    },
  },
  {
    name: 'exposure + 20 events',
    targets: DASHBOARD_P99,
    client: (plan) => {
      let next = 0;
      return () => {
        const k = Math.floor(((next++ % DETAIL_EXPOSURES) + 0.5) * (plan.main.exposures / DETAIL_EXPOSURES));
        return body(EXPOSURE_DETAIL, plan.main.exposureKey(k));
      };
    },
    check: (data) => {
      if (!data.exposure) throw new Error('the exposure was not found');
    },
  },
  {
    name: `exposures, ${PAGES} pages of 50`,
    targets: DASHBOARD_P99,
    client: () => {
      const query = print(DashboardExposuresDocument);
      let page = 0;
      return (previous) => {
        const cursor =
          (previous?.exposures as { pageInfo?: { endCursor: string | null } } | undefined)?.pageInfo
            ?.endCursor ?? null;
        // Back to the first page after the last one, or when the previous page failed.
        if (page === PAGES || cursor === null) page = 0;
        const after = page === 0 ? null : cursor;
        page++;
        return body(query, { filter: { statuses: ['OPEN'] }, first: 50, after });
      };
    },
  },
];

interface ReadResult {
  name: string;
  targets: readonly [number, number | null];
  /** Per concurrency: p50 and p99 in ms, and how many requests failed (with the first error). */
  runs: { clients: number; p50: number; p99: number; errors: number; firstError: string | null }[];
}

/** POSTs a body to /graphql and resolves with `data`; an HTTP error or a GraphQL error rejects. */
function graphqlOverHttp(url: string, token: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(...CONCURRENCY) });
  const { hostname, port } = new URL(url);
  const send = (payload: string) =>
    new Promise<ResponseData>((resolve, reject) => {
      const request = http.request(
        {
          agent,
          host: hostname,
          port,
          path: '/graphql',
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
            authorization: `Bearer ${token}`,
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              const answer = JSON.parse(text) as { data?: ResponseData; errors?: unknown[] };
              if (response.statusCode === 200 && !answer.errors && answer.data) return resolve(answer.data);
            } catch {
              // Not JSON: reported with the status below.
            }
            reject(new Error(`${response.statusCode} ${text.slice(0, 300)}`));
          });
        },
      );
      request.on('error', reject);
      request.end(payload);
    });
  return { send, close: () => agent.destroy() };
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** `requests` requests shared by `clients` clients, each waiting for its answer before the next. */
async function runClients(
  operation: ReadOperation,
  plan: Plan,
  send: (payload: string) => Promise<ResponseData>,
  clients: number,
  requests: number,
) {
  const latencies: number[] = [];
  const errors: string[] = [];
  let issued = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const next = operation.client(plan);
      let previous: ResponseData | null = null;
      while (issued < requests) {
        issued++;
        const payload = next(previous);
        const started = performance.now();
        try {
          previous = await send(payload);
          operation.check?.(previous);
        } catch (error) {
          // A timed-out or failed read is a missed target, not the end of a run that took an hour to load.
          errors.push((error as Error).message);
          previous = null;
        }
        latencies.push(performance.now() - started);
      }
    }),
  );
  return { latencies, errors };
}

async function measureReads(url: string, plan: Plan, quick: boolean): Promise<ReadResult[]> {
  const token = await signToken(SECRET, {
    tenantId: TENANT,
    officeIds: ['*'],
    roles: ['viewer'],
    // Reads of a 10M store may take a while; the token must outlive them.
    expiresIn: '24h',
  });
  const { requests, warmup } = READ_COUNTS[quick ? 'quick' : 'full'];
  const client = graphqlOverHttp(url, token);
  try {
    const results: ReadResult[] = [];
    for (const operation of READS) {
      await runClients(operation, plan, client.send, 1, warmup);
      const runs = [];
      for (const clients of CONCURRENCY) {
        const { latencies, errors } = await runClients(operation, plan, client.send, clients, requests);
        runs.push({
          clients,
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
          errors: errors.length,
          firstError: errors[0] ?? null,
        });
        console.error(
          `[reads] ${operation.name}, ${clients} client(s): p50 ${ms(percentile(latencies, 50))}, p99 ${ms(percentile(latencies, 99))}`,
        );
      }
      results.push({ name: operation.name, targets: operation.targets, runs });
    }
    return results;
  } finally {
    client.close();
  }
}

// --- one engine (the child process) -----------------------------------------------------------------

interface EngineResult {
  engine: Engine;
  version: string;
  openMs: number;
  /** Events/s of the window after each milestone. */
  windows: { stored: number; rate: number }[];
  /** Events/s of the full store and of an empty one, measured in turn after the load. */
  paired: PairedWindow[];
  load: { events: number; ms: number };
  /** Of this process, which loaded every event. */
  peakRssMb: number;
  /** A new process's ingest into the full store, as `exposure-gateway ingest` runs one. */
  fresh: FreshIngest;
  /** DuckDB: what its buffer manager held after the late events, by tag (duckdb_memory()), largest first. */
  memory: { tag: string; bytes: number }[];
  late: { events: number; rate: number };
  databaseBytes: number;
  reopenMs: number;
  /** completeScanRun over the office and scanner type with the most open exposures. */
  completions: Completion[];
  /** error: the rebuild failed (reported, so the figures before it are kept). */
  rebuild: { exposures: number; ms: number } | { error: string };
  kept: string | null;
  /** The bench vacuumed in autovacuum's place. */
  vacuumed: boolean;
  plans: { operation: string; sql: string; parameters: unknown[]; plan: string }[];
}

interface PairedWindow {
  full: number;
  empty: number;
}

interface FreshIngest {
  events: number;
  /** Events/s of the ingest calls, without opening and closing the store. */
  rate: number;
  /** Of the whole process, the store's opening and closing (a DuckDB checkpoint) included. */
  peakRssMb: number;
  /** DuckDB: what its buffer manager held after the last chunk (see duckDbMemory()). */
  memory: EngineResult['memory'];
}

type ChildMessage =
  | { kind: 'serving'; url: string }
  | { kind: 'result'; result: EngineResult }
  | { kind: 'fresh'; result: FreshIngest };

/** Prints how far a long load has come, at most every PROGRESS_MS. */
class Progress {
  #done = 0;
  #last = performance.now();
  #lastDone = 0;
  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}
  add(events: number) {
    this.#done += events;
    const now = performance.now();
    if (now - this.#last < PROGRESS_MS && this.#done < this.total) return;
    const recent = ((this.#done - this.#lastDone) / (now - this.#last)) * 1000;
    const share = Math.round((this.#done / this.total) * 100);
    console.error(
      `[${this.label}] ${rate(this.#done)} / ${rate(this.total)} events (${share}%), ${rate(recent)} events/s`,
    );
    this.#last = now;
    this.#lastDone = this.#done;
  }
}

/** Ingests one chunk as one call of the ingest core; returns its duration in ms. */
async function ingestChunk(store: Store, tenantId: string, events: readonly unknown[]): Promise<number> {
  const started = performance.now();
  const result = await ingest({ store, config: INGEST_LIMITS }, { tenantId, officeIds: 'all' }, { events });
  const elapsed = performance.now() - started;
  if (result.eventsInserted !== events.length) {
    throw new Error(`${tenantId}: ${result.eventsInserted} of ${events.length} events written`);
  }
  return elapsed;
}

/**
 * What autovacuum would do, where the server has it off (as a CI server may): vacuum and analyze the
 * gateway's tables every VACUUM_EVERY events, outside the timed ingest. Without it, PostgreSQL plans the
 * writes with the statistics of empty tables and exposures_current fills with dead rows (1.2M after 1.4M
 * events), and the rates measure that rather than the gateway. Returns null when autovacuum is on.
 */
async function vacuumStandIn(store: Store): Promise<(() => Promise<void>) | null> {
  if (store.engine !== 'postgres') return null;
  const { rows } = await sql<{ autovacuum: string }>`show autovacuum`.execute(store.db);
  if (rows[0]?.autovacuum === 'on') return null;
  // Without the query timeout, which a vacuum at millions of events outlasts on a busy machine.
  // Every table of the store's schema, as autovacuum would: a table left out of a fixed list (as
  // exposure_sort_keys once was, with 10M dead rows and no statistics at 10M events) gets plans of an
  // empty table.
  return () =>
    store.exclusive(async (db) => {
      const tables = await sql<{ name: string }>`select tablename as name from pg_tables
        where schemaname = current_schema() order by tablename`.execute(db);
      const names = sql.join(tables.rows.map((table) => sql.id(table.name)));
      await sql`vacuum (analyze) ${names}`.execute(db);
    });
}
const VACUUM_EVERY = 500_000;

async function loadAll(store: Store, plan: Plan, engine: Engine, vacuum: (() => Promise<void>) | null) {
  const progress = new Progress(engine, plan.events + plan.otherLoaded + plan.window);
  const timings: { stored: number; events: number; ms: number }[] = [];
  const load = { events: 0, ms: 0 };
  const ingestTimed = async (tenantId: string, chunk: readonly unknown[]) => {
    const elapsed = await ingestChunk(store, tenantId, chunk);
    load.events += chunk.length;
    load.ms += elapsed;
    progress.add(chunk.length);
    return elapsed;
  };
  let stored = 0;
  const ingestMain = async (chunk: readonly unknown[]) => {
    timings.push({ stored, events: chunk.length, ms: await ingestTimed(TENANT, chunk) });
    stored += chunk.length;
    if (vacuum && stored % VACUUM_EVERY === 0) await vacuum();
  };
  const other = plan.other.chunks(0, plan.otherLoaded, CHUNK);
  const ingestOther = async () => {
    const next = other.next();
    if (!next.done) await ingestTimed(OTHER_TENANT, next.value);
    return !next.done;
  };
  // The other tenant's first chunk warms the code paths and statement caches up before the first window.
  await ingestOther();
  for (const chunk of plan.main.chunks(0, plan.events, CHUNK)) {
    await ingestMain(chunk);
    if (timings.length % OTHER_EVERY === 0) await ingestOther();
  }
  while (await ingestOther());
  for (const chunk of plan.main.chunks(plan.events, plan.events + plan.window, CHUNK))
    await ingestMain(chunk);

  const windows = plan.milestones.map((milestone) => {
    const inWindow = timings.filter((t) => t.stored >= milestone && t.stored < milestone + plan.window);
    const events = inWindow.reduce((sum, t) => sum + t.events, 0);
    return { stored: milestone, rate: (events / inWindow.reduce((sum, t) => sum + t.ms, 0)) * 1000 };
  });
  return { windows, load };
}

/**
 * The paired windows: the next events of the feed into the full store, then the feed's first events
 * (those the load started with) into an empty store of the same engine, PAIRED_ROUNDS times.
 */
async function pairedWindows(store: Store, engine: Engine, plan: Plan): Promise<PairedWindow[]> {
  const database = await scratchDatabase(engine);
  const empty = await openStore(gatewayConfig(database.config).database);
  try {
    await migrateToLatest(empty);
    const side = async (target: Store, from: number) => {
      let elapsed = 0;
      for (const chunk of plan.main.chunks(from, from + plan.paired, CHUNK))
        elapsed += await ingestChunk(target, TENANT, chunk);
      return (plan.paired / elapsed) * 1000;
    };
    const rounds: PairedWindow[] = [];
    for (let round = 0; round < PAIRED_ROUNDS; round++) {
      const full = await side(store, plan.events + plan.window + round * plan.paired);
      rounds.push({ full, empty: await side(empty, round * plan.paired) });
    }
    return rounds;
  } finally {
    await empty.close();
    await database.drop();
  }
}

async function lateBatch(store: Store, plan: Plan) {
  let elapsed = 0;
  for (const chunk of plan.main.lateChunks(plan.window, CHUNK))
    elapsed += await ingestChunk(store, TENANT, chunk);
  return { events: plan.window, rate: (plan.window / elapsed) * 1000 };
}

interface Completion {
  open: number;
  closed: number;
  ms: number;
}

/**
 * Completes runs that observed nothing, an hour after the data ends: first for the office and scanner
 * type whose open exposures come closest to COMPLETION_OPEN from above (see completionGroups()), then,
 * when it is another, for the busiest, the largest completion the data allows. Every open exposure of
 * each is closed.
 */
async function completeRuns(store: Store, config: Config): Promise<Completion[]> {
  const groups = await completionGroups(store, TENANT);
  if (!groups) throw new Error('no open exposure to close');
  const { sized, busiest } = groups;
  const completions: Completion[] = [];
  for (const [i, group] of [sized, ...(sized === busiest ? [] : [busiest])].entries()) {
    const started = performance.now();
    const run = await completeScanRun(
      { store, config: config.ingest },
      { tenantId: TENANT, officeIds: 'all' },
      {
        officeId: group.officeId,
        scanRunId: `bench-complete-${i + 1}`,
        scannerType: group.scannerType,
        completedAt: new Date(DATA_END + 3_600_000).toISOString(),
      },
    );
    completions.push({ open: group.open, closed: run.exposuresClosed, ms: performance.now() - started });
  }
  return completions;
}

/** A new database, or with --keep one that stays: a DuckDB file in DIR, a PostgreSQL schema named in DIR. */
async function engineDatabase(engine: Engine, keep: string | null, events: number): Promise<TestDatabase> {
  if (keep) fs.mkdirSync(keep, { recursive: true });
  if (keep && engine === 'duckdb') {
    const file = path.join(keep, `scale-${events}.duckdb`);
    if (fs.existsSync(file)) throw new Error(`${file} exists: remove it or keep elsewhere`);
    return { config: { engine, duckdbPath: file }, drop: async () => {} };
  }
  const database = await scratchDatabase(engine);
  if (!keep) return database;
  fs.writeFileSync(path.join(keep, `scale-${events}.postgres-url`), `${database.config.postgresUrl}\n`);
  return { ...database, drop: async () => {} };
}

/** Gateway settings the bench takes from its environment, as an operator would set them; printed. */
const PASSED_SETTINGS = ['DUCKDB_THREADS', 'DUCKDB_MEMORY_LIMIT', 'QUERY_TIMEOUT_MS'] as const;
const passedSettings = () =>
  Object.fromEntries(
    PASSED_SETTINGS.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])),
  );

function gatewayConfig(database: DatabaseConfig): Config {
  return loadConfig({
    ...databaseEnv(database),
    ...passedSettings(),
    HOST: '127.0.0.1',
    PORT: '0',
    AUTH_JWT_SECRET: SECRET,
    LOG_LEVEL: 'silent',
    // One caller sends the whole load: a limit per caller would refuse most of it.
    RATE_LIMIT_REQUESTS: '0',
  });
}

async function databaseBytes(store: Store, database: DatabaseConfig): Promise<number> {
  if (database.engine === 'duckdb') {
    const size = (file: string) => (fs.existsSync(file) ? fs.statSync(file).size : 0);
    return size(database.duckdbPath) + size(`${database.duckdbPath}.wal`);
  }
  const { rows } = await sql<{ bytes: string }>`
    select coalesce(sum(pg_total_relation_size(c.oid)), 0) as bytes
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = current_schema() and c.relkind in ('r', 'p')`.execute(store.db);
  return Number(rows[0]?.bytes ?? 0);
}

/** DuckDB's memory by tag, the part of the RSS its buffer manager accounts for; none on PostgreSQL. */
async function duckDbMemory(store: Store): Promise<EngineResult['memory']> {
  if (store.engine !== 'duckdb') return [];
  const { rows } = await sql<{ tag: string; bytes: number | bigint }>`select tag, memory_usage_bytes as bytes
    from duckdb_memory() where memory_usage_bytes > 0 order by memory_usage_bytes desc`.execute(store.db);
  return rows.map((row) => ({ tag: row.tag, bytes: Number(row.bytes) }));
}

async function engineVersion(store: Store): Promise<string> {
  const { rows } = await sql<{ version: string }>`select version() as version`.execute(store.db);
  return String(rows[0]?.version ?? '').split(' on ')[0] ?? '';
}

/** Records each statement a read runs, compiled, so that its plan can be asked for. */
class StatementCapture implements KyselyPlugin {
  readonly statements: CompiledQuery[] = [];
  readonly #compiled = new WeakMap<QueryId, CompiledQuery>();
  constructor(private readonly store: Store) {}
  transformQuery({ node, queryId }: PluginTransformQueryArgs): RootOperationNode {
    this.#compiled.set(queryId, this.store.db.getExecutor().compileQuery(node, queryId));
    return node;
  }
  // Subqueries pass through transformQuery too, but only statements that ran come back here.
  async transformResult({ queryId, result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const compiled = this.#compiled.get(queryId);
    if (compiled) this.statements.push(compiled);
    return result;
  }
}

/** EXPLAIN ANALYZE of the statements behind each read: those of a client's second request (a second page). */
async function explainReads(store: Store, config: Config, plan: Plan): Promise<EngineResult['plans']> {
  const capture = new StatementCapture(store);
  const gateway = createGateway(
    { config, store: { ...store, db: store.db.withPlugin(capture) }, changes: new ChangeFeed() },
    { logger: createLogger('silent') },
  );
  const token = await signToken(SECRET, { tenantId: TENANT, officeIds: ['*'], roles: ['viewer'] });
  const send = async (payload: string) => {
    const response = await gateway.fetch('http://gateway/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: payload,
    });
    const answer = (await response.json()) as { data?: ResponseData; errors?: unknown[] };
    if (answer.errors || !answer.data) throw new Error(JSON.stringify(answer.errors));
    return answer.data;
  };
  const prefix = store.engine === 'duckdb' ? 'EXPLAIN ANALYZE' : 'EXPLAIN (ANALYZE, BUFFERS)';
  const plans: EngineResult['plans'] = [];
  for (const operation of READS) {
    const next = operation.client(plan);
    const first = await send(next(null));
    capture.statements.length = 0;
    await send(next(first));
    for (const statement of [...capture.statements]) {
      // Through the writer: no read timeout, and the reader pool stays out of it.
      const result = await store.exclusive((db) =>
        db.executeQuery<Record<string, unknown>>(
          CompiledQuery.raw(`${prefix} ${statement.sql}`, [...statement.parameters]),
        ),
      );
      // DuckDB answers (explain_key, explain_value) rows, PostgreSQL one "QUERY PLAN" line per row.
      const text = result.rows.map((row) => String(Object.values(row).at(-1))).join('\n');
      plans.push({
        operation: operation.name,
        sql: statement.sql,
        parameters: [...statement.parameters],
        plan: text,
      });
    }
  }
  return plans;
}

/**
 * With --explain on PostgreSQL, after everything measured: auto_explain's reports (withAutoExplain()) of the
 * statements of one chunk of the feed's next events into the full store, of the feed's first chunk into an
 * empty store, and of one chunk of late events into the full store: the buffers each statement reads and
 * the WAL it writes show what the full store costs a write more than the empty one.
 */
async function explainWrites(database: DatabaseConfig, plan: Plan): Promise<EngineResult['plans']> {
  const reports: string[] = [];
  const explaining = (config: DatabaseConfig) =>
    openStore(gatewayConfig({ ...config, postgresUrl: withAutoExplain(config.postgresUrl ?? '') }).database, {
      onNotice: ({ message }) => isPlanReport(message) && reports.push(message),
    });
  const written = async (operation: string, target: Store, events: readonly unknown[]) => {
    reports.length = 0;
    await ingestChunk(target, TENANT, events);
    return { operation, sql: '', parameters: [], plan: reports.map(condensedPlan).join('\n\n') };
  };
  const eventsFrom = (from: number) => Array.from({ length: CHUNK }, (_, i) => plan.main.event(from + i));
  // The late events the run wrote, then one chunk more.
  const late = [...plan.main.lateChunks(plan.window + CHUNK, CHUNK)].at(-1) ?? [];
  const full = await explaining(database);
  const scratch = await scratchDatabase('postgres');
  const empty = await explaining(scratch.config);
  try {
    await migrateToLatest(empty);
    return [
      // The feed's last chunk, which nothing else writes.
      await written(
        'write: the next chunk into the full store',
        full,
        eventsFrom(plan.main.spec.events - CHUNK),
      ),
      await written('write: the first chunk into an empty store', empty, eventsFrom(0)),
      await written('write: a chunk of late events into the full store', full, late),
    ];
  } finally {
    await Promise.all([full.close(), empty.close()]);
    await scratch.drop();
  }
}

function tellParent(message: ChildMessage): Promise<void> {
  return new Promise((resolve, reject) =>
    process.send?.(message, undefined, {}, (error) => (error ? reject(error) : resolve())),
  );
}

async function runEngine(engine: Engine, options: Options): Promise<void> {
  const plan = planOf(options.events);
  const database = await engineDatabase(engine, options.keep, plan.events);
  const config = gatewayConfig(database.config);
  try {
    let started = performance.now();
    let store = await openStore(config.database);
    await migrateToLatest(store);
    const openMs = performance.now() - started;
    const version = await engineVersion(store);

    const vacuum = await vacuumStandIn(store);
    const { windows, load } = await loadAll(store, plan, engine, vacuum);
    await vacuum?.();
    console.error(`[${engine}] paired windows, the full store and an empty one in turn`);
    const paired = await pairedWindows(store, engine, plan);
    console.error(`[${engine}] ${rate(plan.window)} late events`);
    const late = await lateBatch(store, plan);
    const peakAfterIngest = process.resourceUsage().maxRSS;
    const memory = await duckDbMemory(store);

    const server = await listen(config, store, createLogger('silent'));
    await tellParent({ kind: 'serving', url: server.url });
    await new Promise((resolve) => process.once('message', resolve));
    // Closes the store too: DuckDB checkpoints its file.
    await server.shutdown();
    console.error(`[${engine}] ${rate(plan.fresh)} events ingested by a new process`);
    const fresh = await freshProcessIngest(engine, database.config, options);

    started = performance.now();
    store = await openStore(config.database);
    await migrateToLatest(store);
    const reopenMs = performance.now() - started;
    const bytes = await databaseBytes(store, database.config);
    console.error(`[${engine}] completing a scan run`);
    const completions = await completeRuns(store, config);
    console.error(`[${engine}] rebuilding the current state`);
    started = performance.now();
    const rebuild = await store
      .write((trx) => rebuildCurrent(trx))
      .then(
        (exposures) => ({ exposures, ms: performance.now() - started }),
        (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }),
      );
    const plans = options.explain ? await explainReads(store, config, plan) : [];
    await store.close();
    if (options.explain && engine === 'postgres') plans.push(...(await explainWrites(database.config, plan)));

    await tellParent({
      kind: 'result',
      result: {
        engine,
        version,
        openMs,
        windows,
        paired,
        load,
        peakRssMb: Math.max(peakAfterIngest, process.resourceUsage().maxRSS) / 1024,
        fresh,
        memory,
        late,
        databaseBytes: bytes,
        reopenMs,
        completions,
        rebuild,
        kept: options.keep ? (database.config.postgresUrl ?? database.config.duckdbPath) : null,
        vacuumed: vacuum !== null,
        plans,
      },
    });
  } finally {
    await database.drop();
    // The IPC channel would keep the process alive.
    process.disconnect?.();
  }
}

/**
 * The other tenant's next events (plan.fresh), ingested by a process that opens the full store as
 * `exposure-gateway ingest` does: its peak RSS is what an operator's ingest costs at this size,
 * with none of the loading process's cache of table blocks (DuckDB keeps those up to its memory limit).
 */
async function freshProcessIngest(
  engine: Engine,
  database: DatabaseConfig,
  options: Options,
): Promise<FreshIngest> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', import.meta.filename, '--fresh', engine, '--events', String(options.events)],
    {
      env: { ...process.env, [FRESH_DATABASE_ENV]: JSON.stringify(database) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const message = await nextMessage(child, engine);
  const code = await exited;
  if (message.kind !== 'fresh' || code !== 0)
    throw new Error(`the ${engine} fresh ingest failed (exit ${code})`);
  return message.result;
}

/** How freshProcessIngest() tells its process which database to open. */
const FRESH_DATABASE_ENV = 'BENCH_SCALE_DATABASE';

async function runFreshIngest(options: Options): Promise<void> {
  const plan = planOf(options.events);
  const database = JSON.parse(process.env[FRESH_DATABASE_ENV] ?? 'null') as DatabaseConfig | null;
  if (!database) throw new Error(`${FRESH_DATABASE_ENV} is not set`);
  const store = await openStore(gatewayConfig(database).database);
  let elapsed = 0;
  let memory: EngineResult['memory'];
  try {
    await migrateToLatest(store);
    for (const chunk of plan.other.chunks(plan.otherLoaded, plan.otherLoaded + plan.fresh, CHUNK))
      elapsed += await ingestChunk(store, OTHER_TENANT, chunk);
    memory = await duckDbMemory(store);
  } finally {
    await store.close();
  }
  await tellParent({
    kind: 'fresh',
    result: {
      events: plan.fresh,
      rate: (plan.fresh / elapsed) * 1000,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      memory,
    },
  });
  process.disconnect?.();
}

// --- the parent: one child per engine, the clients, the report ---------------------------------------

function childArgs(engine: Engine, options: Options): string[] {
  return [
    '--import',
    'tsx',
    import.meta.filename,
    '--child',
    engine,
    '--events',
    String(options.events),
    ...(options.keep ? ['--keep', options.keep] : []),
    ...(options.explain ? ['--explain'] : []),
  ];
}

/** The next message of a child; rejects if it exits first. */
function nextMessage(child: ChildProcess, engine: Engine): Promise<ChildMessage> {
  return new Promise((resolve, reject) => {
    const exited = (code: number | null) => reject(new Error(`the ${engine} run exited with ${code}`));
    child.once('exit', exited);
    child.once('message', (message) => {
      child.off('exit', exited);
      resolve(message as ChildMessage);
    });
  });
}

async function measureEngine(engine: Engine, options: Options, plan: Plan) {
  const child = spawn(process.execPath, childArgs(engine, options), {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const serving = await nextMessage(child, engine);
  if (serving.kind !== 'serving')
    throw new Error(`the ${engine} run answered ${serving.kind} before serving`);
  let reads: ReadResult[] | undefined;
  let failure: unknown;
  try {
    reads = await measureReads(serving.url, plan, options.quick);
  } catch (error) {
    failure = error;
  }
  // Either way the child goes on, and cleans its database up.
  const finished = nextMessage(child, engine);
  child.send('reads done');
  const done = await finished;
  const code = await exited;
  if (failure) throw failure;
  if (done.kind !== 'result' || !reads || code !== 0)
    throw new Error(`the ${engine} run failed (exit ${code})`);
  return { ...done.result, reads };
}

// --- the report ---------------------------------------------------------------------------------------

const ms = (value: number) => (value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${value.toFixed(1)} ms`);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const verdict = (met: boolean) => (met ? 'met' : 'MISSED');

function row(cells: readonly (string | number)[]): string {
  return `| ${cells.join(' | ')} |`;
}

function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string[] {
  return [row(header), row(header.map(() => '---')), ...rows.map(row)];
}

/** The row of what DuckDB held (duckdb_memory()), by tag; none on PostgreSQL. */
function memoryRow(label: string, memory: EngineResult['memory']): string[][] {
  if (memory.length === 0) return [];
  return [[`${label} (duckdb_memory())`, memory.map((m) => `${m.tag} ${mb(m.bytes)}`).join(', '), '', '']];
}

function engineReport(result: EngineResult & { reads: ReadResult[] }, plan: Plan): string[] {
  const empty = result.windows[0]!.rate;
  const full = result.windows.at(-1)!.rate;
  const ingestRows = result.windows.map((w) => [
    `events/s, ${rate(w.stored)} stored`,
    `${rate(w.rate)} (${(w.rate / empty).toFixed(2)} of the first window)`,
    '',
    '',
  ]);
  // The judged ratio: the paired windows, the two sides measured in turn.
  const ratios = result.paired.map((p) => p.full / p.empty).sort((a, b) => a - b);
  const median = (values: readonly number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const pairedRow = [
    `events/s, full store / empty store in turn, ${result.paired.length} rounds of ${rate(plan.paired)}`,
    `${median(ratios).toFixed(2)} median (min ${ratios[0]!.toFixed(2)}, max ${ratios.at(-1)!.toFixed(2)}); ` +
      `full ${rate(median(result.paired.map((p) => p.full)))}, empty ${rate(median(result.paired.map((p) => p.empty)))}`,
    `>= ${TARGETS.ingestRatio}`,
    verdict(median(ratios) >= TARGETS.ingestRatio),
  ];
  const lateRatio = result.late.rate / full;
  const readRows = result.reads.map((read) => {
    const cells: (string | number)[] = [read.name];
    read.runs.forEach((run, i) => {
      const target = read.targets[i] ?? null;
      const errors = run.errors > 0 ? ` (${run.errors} failed: ${run.firstError?.slice(0, 80)})` : '';
      cells.push(
        run.p50.toFixed(1),
        `${run.p99.toFixed(1)}${errors}`,
        target === null ? 'none' : `< ${target}`,
        target === null ? '' : verdict(run.p99 < target && run.errors === 0),
      );
    });
    return cells;
  });
  return [
    `## ${result.engine}`,
    '',
    result.version,
    ...(result.kept ? [`kept: ${result.kept}`] : []),
    ...(result.vacuumed
      ? [
          `autovacuum is off on this server: the bench ran VACUUM (ANALYZE) in its place every ${rate(VACUUM_EVERY)} events and after the load, not timed.`,
        ]
      : []),
    '',
    `### ingest (chunks of ${rate(CHUNK)} events through ingest(); events/s of the ${rate(plan.window)} ${TENANT} events after each point)`,
    '',
    ...table(
      ['figure', 'value', 'target', 'result'],
      [
        ['open + migrate, empty store', ms(result.openMs), '', ''],
        ...ingestRows,
        pairedRow,
        [
          'whole load, both tenants',
          `${rate(result.load.events)} events in ${(result.load.ms / 1000).toFixed(1)} s, ${rate((result.load.events / result.load.ms) * 1000)} events/s`,
          '',
          '',
        ],
        [
          `events/s, ${rate(result.fresh.events)} events ingested by a new process into the full store (${OTHER_TENANT}'s next)`,
          `${rate(result.fresh.rate)} (${(result.fresh.rate / empty).toFixed(2)} of the first window)`,
          '',
          '',
        ],
        [
          'peak RSS of that new process',
          `${result.fresh.peakRssMb.toFixed(0)} MB`,
          `< ${TARGETS.peakRssMb} MB`,
          verdict(result.fresh.peakRssMb < TARGETS.peakRssMb),
        ],
        ...memoryRow('DuckDB memory of that new process after its last chunk', result.fresh.memory),
        [
          'peak RSS of the loading process (every event above, then the reads)',
          `${result.peakRssMb.toFixed(0)} MB`,
          '',
          '',
        ],
        ...memoryRow('DuckDB memory after the late events', result.memory),
      ],
    ),
    '',
    `### late events (${rate(result.late.events)} new events older than their exposures' latest, after the load)`,
    '',
    ...table(
      ['figure', 'value', 'target', 'result'],
      [
        [
          'late events/s',
          `${rate(result.late.rate)} (${lateRatio.toFixed(2)} of in-order at full size)`,
          `>= ${TARGETS.lateRatio} of in-order`,
          verdict(lateRatio >= TARGETS.lateRatio),
        ],
      ],
    ),
    '',
    '### scan runs (completeScanRun of a run that observed nothing, after the reads)',
    '',
    ...table(
      ['figure', 'value', 'target', 'result'],
      result.completions.map((completion, i) => [
        i === 0 ? 'complete run' : 'complete run, the busiest office',
        `${ms(completion.ms)} (${rate(completion.closed)} of ${rate(completion.open)} open exposures of one office and scanner closed; ${(
          (completion.ms * 1000) / Math.max(1, completion.closed)
        ).toFixed(0)} µs each)`,
        i === 0 ? `< ${ms(TARGETS.completeRunMs)} at ${rate(COMPLETION_OPEN)} open` : 'none',
        i === 0 ? verdict(completion.ms < TARGETS.completeRunMs) : '',
      ]),
    ),
    '',
    '### reads (gateway over HTTP on 127.0.0.1; ms)',
    '',
    ...table(
      ['read', '1 client p50', 'p99', 'target', 'result', '8 clients p50', 'p99', 'target', 'result'],
      readRows,
    ),
    '',
    '### storage',
    '',
    ...table(
      ['figure', 'value'],
      [
        [
          result.engine === 'duckdb' ? 'database size (file)' : 'database size (tables and indexes)',
          mb(result.databaseBytes),
        ],
        ['reopen (open + migrate)', ms(result.reopenMs)],
        [
          'rebuild current',
          'error' in result.rebuild
            ? `failed: ${result.rebuild.error}`
            : `${ms(result.rebuild.ms)} (${rate(result.rebuild.exposures)} exposures)`,
        ],
      ],
    ),
  ];
}

function explainReport(results: readonly EngineResult[]): string {
  return results
    .flatMap((result) =>
      result.plans.map((p) =>
        [
          `== ${result.engine}: ${p.operation}`,
          // A write's reports name their statements.
          ...(p.sql ? [p.sql, `parameters: ${JSON.stringify(p.parameters)}`] : []),
          '',
          p.plan,
          '',
        ].join('\n'),
      ),
    )
    .join('\n');
}

async function engines(options: Options): Promise<Engine[]> {
  if (!options.engines) return reachableEngines();
  // Asked for by name, PostgreSQL must be there: a run that quietly measured DuckDB alone would mislead.
  if (options.engines.includes('postgres') && !(await reachableEngines()).includes('postgres')) {
    throw new Error('--engines names postgres, but its server does not answer');
  }
  return options.engines;
}

async function main(options: Options): Promise<void> {
  const started = performance.now();
  const plan = planOf(options.events);
  const selected = await engines(options);
  const { requests } = READ_COUNTS[options.quick ? 'quick' : 'full'];
  const header = [
    `bench:scale  ${new Date().toISOString()}  node ${process.version}  ${os.cpus().length} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    `${rate(plan.events)} events of tenant ${TENANT} (${rate(plan.main.exposures)} exposures, ${OFFICES} offices, ${DATA_DAYS} days to ${new Date(DATA_END).toISOString()})`,
    `+ ${rate(plan.otherLoaded)} events of tenant ${OTHER_TENANT}, interleaved; then ${rate(plan.window)} more ${TENANT} events and ${rate(plan.window)} late ones.`,
    `Reads: ${requests} requests per read and concurrency after a warm-up, with 1 and ${CONCURRENCY[1]} keep-alive clients.`,
    'Each engine runs in a child process of its own, which loads and serves; after the reads, another process opens',
    'the full store and ingests more, as `exposure-gateway ingest` would. Peak RSS is of each process (the PostgreSQL',
    'server is not in it).',
    `Settings: ${
      Object.entries(passedSettings())
        .map(([name, value]) => `${name}=${value}`)
        .join(' ') || 'the defaults'
    }.`,
    '',
  ];
  const sections: string[] = [];
  const results: EngineResult[] = [];
  for (const engine of selected) {
    console.error(`[${engine}] starting`);
    const result = await measureEngine(engine, options, plan);
    results.push(result);
    sections.push(...engineReport(result, plan), '');
  }
  const output = [
    ...header,
    ...sections,
    `total ${((performance.now() - started) / 1000).toFixed(1)} s`,
  ].join('\n');
  console.log(output);
  fs.mkdirSync(path.dirname(options.out), { recursive: true });
  fs.writeFileSync(options.out, `${output}\n`);
  if (options.explain) {
    const explainFile = options.out.replace(/(\.txt)?$/, '-explain.txt');
    fs.writeFileSync(explainFile, `${explainReport(results)}\n`);
    console.error(`plans: ${explainFile}`);
  }
}

const { child, fresh, ...options } = parseOptions();
if (fresh) await runFreshIngest(options);
else if (child) await runEngine(child, options);
else await main(options);
