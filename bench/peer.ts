/**
 * The gateway against PostGraphile 5 on the same PostgreSQL database (DESIGN.md, "Performance targets"):
 * the dashboard mix of bench/query.ts, asked of the gateway with its own documents (src/gql) and of
 * PostGraphile, with connection-filter and pg-aggregates, with queries that return the same data. Two
 * sizes, each in a fresh schema made by the gateway's migrations: the demo sample (tenant demo) and
 * --events scanner events of bench/scale-data.ts (plus another tenant's tenth, which every read must skip).
 *
 * Each server runs in a child process of its own and answers over HTTP on 127.0.0.1; the clients are
 * here. Before measuring, both are asked every operation once and their answers must be equal (the run
 * stops otherwise). Then gateway and PostGraphile windows alternate, so that other work on the machine
 * weighs on both alike; the ratio is taken per round. Statements are counted in each server's process at
 * the PostgreSQL driver (every call of pg's Client.query, whoever makes it), so both are counted alike.
 * Target: gateway / PostGraphile >= 1.5 of the requests per second on the mix, at both sizes; a missed
 * target is reported, never a failure.
 *
 *   tsx bench/peer.ts [--events 200k] [--out FILE] [--quick]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { print } from 'graphql';
import { sql } from 'kysely';
import pg from 'pg';
import { signToken } from '../src/auth/tokens.ts';
import { type Config, loadConfig } from '../src/config.ts';
import { openStore, type Store } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { seedDemo } from '../src/demo/demo.ts';
import { DEMO_OFFICES, DEMO_TENANT } from '../src/demo/sample.ts';
import { SEVERITIES } from '../src/domain.ts';
import {
  DashboardEventsDocument,
  DashboardExposuresDocument,
  DashboardOfficesDocument,
  DashboardSummaryDocument,
} from '../src/gql/graphql.ts';
import { ingest } from '../src/ingest/ingest.ts';
import { createLogger } from '../src/log.ts';
import { listen } from '../src/server.ts';
import { parseCount, ScannerFeed } from './scale-data.ts';
import { benchOptions, POSTGRES_URL, rate, reachableEngines, scratchDatabase } from './support.ts';

const USAGE = `usage: tsx bench/peer.ts [--events 200k] [--out FILE] [--quick]`;

const CONCURRENCY = 8;
/** Per side: a warm-up, then `rounds` measured windows, alternating with the other side's. */
const TIMING = {
  full: { rounds: 5, windowMs: 3_000, warmupMs: 3_000 },
  quick: { rounds: 2, windowMs: 1_000, warmupMs: 500 },
} as const;
const TARGET = 1.5;
const SECRET = 'bench-peer-secret-long-enough';
const PAGE = 25;
/** The gateway's pool size (src/db/database.ts); PostGraphile gets as many connections. */
const POOL_SIZE = 10;
/** A request that takes longer has hung: the run stops rather than wait for ever. */
const REQUEST_TIMEOUT_MS = 60_000;
const CHUNK = 2_000;
const INGEST_LIMITS = { maxEventsPerCall: 10_000, maxFutureSkewSeconds: 300 };
const OTHER_TENANT = 'globex';
/** One chunk of the other tenant after every this many of the measured one's. */
const OTHER_EVERY = 10;
const OFFICES = 50;

interface Options {
  events: number;
  out: string;
  quick: boolean;
}

function parseOptions(): Options & { serve: Side | null } {
  const values = benchOptions(
    {
      events: { type: 'string', default: '200k' },
      out: { type: 'string', default: path.join(import.meta.dirname, 'results', 'peer.txt') },
      quick: { type: 'boolean', default: false },
      serve: { type: 'string' },
    },
    USAGE,
  );
  const events = parseCount(values.events);
  if (events < 20_000) throw new Error(`--events must be at least 20k, got ${values.events}`);
  const serve = values.serve ?? null;
  if (serve !== null && serve !== 'gateway' && serve !== 'postgraphile') {
    throw new Error(`--serve takes gateway or postgraphile, got ${serve}`);
  }
  return { events, out: path.resolve(values.out), quick: values.quick, serve };
}

// --- the data -----------------------------------------------------------------------------------------

/** One size: what is loaded, and the tenant and offices the reads ask about. */
interface Dataset {
  name: string;
  tenantId: string;
  /** The offices the events page filters on. */
  eventOffices: readonly [string, string];
  /** Loads the data into a migrated store; returns what was loaded, for the report. */
  load(store: Store, config: Config): Promise<string>;
}

const demoDataset: Dataset = {
  name: 'demo sample',
  tenantId: DEMO_TENANT,
  eventOffices: [DEMO_OFFICES[0]!.id, DEMO_OFFICES[1]!.id],
  load: async (store, config) => {
    const seeded = await seedDemo(store, config);
    return `${rate(seeded.eventsInserted)} events of tenant ${DEMO_TENANT} (${rate(seeded.exposures)} exposures, ${DEMO_OFFICES.length} offices), the sample of exposure-gateway demo`;
  },
};

function feedDataset(events: number): Dataset {
  const main = new ScannerFeed({ tenantId: 'acme', events, offices: OFFICES, seed: 20261130 });
  const other = new ScannerFeed({
    tenantId: OTHER_TENANT,
    events: Math.round(events / 10),
    offices: OFFICES,
    seed: 7,
  });
  const write = async (store: Store, tenantId: string, chunk: readonly unknown[]) => {
    const result = await ingest(
      { store, config: INGEST_LIMITS },
      { tenantId, officeIds: 'all' },
      { events: chunk },
    );
    if (result.eventsInserted !== chunk.length) {
      throw new Error(`${tenantId}: ${result.eventsInserted} of ${chunk.length} events written`);
    }
  };
  return {
    name: `${rate(events)} events`,
    tenantId: main.spec.tenantId,
    // The feed puts the most exposures in its first offices.
    eventOffices: [main.officeId(0), main.officeId(1)],
    load: async (store) => {
      const others = other.chunks(0, other.spec.events, CHUNK);
      let chunks = 0;
      for (const chunk of main.chunks(0, events, CHUNK)) {
        await write(store, main.spec.tenantId, chunk);
        const next = ++chunks % OTHER_EVERY === 0 ? others.next() : null;
        if (next && !next.done) await write(store, OTHER_TENANT, next.value);
      }
      for (const chunk of others) await write(store, OTHER_TENANT, chunk);
      return (
        `${rate(events)} scanner events of tenant ${main.spec.tenantId} (${rate(main.exposures)} exposures, ${OFFICES} offices) ` +
        `and ${rate(other.spec.events)} of tenant ${OTHER_TENANT}, interleaved (bench/scale-data.ts)`
      );
    },
  };
}

/** A fresh schema with the gateway's migrations and the dataset, analyzed; returns its URL and a drop. */
async function prepare(dataset: Dataset) {
  const database = await scratchDatabase('postgres');
  const url = database.config.postgresUrl ?? '';
  const config = loadConfig({ DB_TYPE: 'postgres', DATABASE_URL: url, LOG_LEVEL: 'silent' });
  const store = await openStore(config.database);
  try {
    await migrateToLatest(store);
    const started = performance.now();
    const loaded = await dataset.load(store, config);
    const loadMs = performance.now() - started;
    // Fresh statistics for both sides' plans, rather than whenever autovacuum gets to it. Named tables:
    // a bare VACUUM would go through every schema of the server.
    await sql`vacuum (analyze) exposures_current, exposure_events, offices`.execute(store.db);
    return { url, loaded, loadMs, drop: database.drop };
  } catch (error) {
    await database.drop();
    throw error;
  } finally {
    await store.close();
  }
}

// --- the operations -----------------------------------------------------------------------------------

type Data = Record<string, unknown>;

/** The same read for both sides: each one's request body, and its answer in one shape for both. */
interface Operation {
  name: string;
  gateway(dataset: Dataset): string;
  postgraphile(dataset: Dataset): string;
  gatewayAnswer(data: Data): unknown;
  postgraphileAnswer(data: Data): unknown;
}

const body = (query: string, variables: Record<string, unknown> = {}) => JSON.stringify({ query, variables });
/** Timestamps as instants: the gateway writes ISO strings in UTC, PostGraphile PostgreSQL's text. */
const instant = (value: unknown) => (value === null ? null : new Date(String(value)).getTime());

const PEER_OFFICES = `query PeerOffices($tenantId: String!) {
  allOffices(filter: { tenantId: { equalTo: $tenantId } }, orderBy: [OFFICE_ID_ASC]) {
    nodes {
      officeId
      name
      lastIngestAt
      openExposures: exposuresCurrentsByTenantIdAndOfficeId(filter: { status: { equalTo: "OPEN" } }) {
        totalCount
      }
    }
  }
}`;

const PEER_SUMMARY = `query PeerSummary($filter: ExposuresCurrentFilter!) {
  allExposuresCurrents(filter: $filter) {
    totalCount
    byStatus: groupedAggregates(groupBy: [STATUS]) { keys count { exposureId } }
    bySeverity: groupedAggregates(groupBy: [SEVERITY]) { keys count { exposureId } }
  }
}`;

const PEER_EXPOSURES = `query PeerExposures(
  $filter: ExposuresCurrentFilter!
  $orderBy: [ExposuresCurrentOrderBy!]
  $first: Int
  $after: Cursor
) {
  allExposuresCurrents(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        id officeId exposureId exposureClass status severity riskScore dstIp dstPort protocol assetHostname
        firstSeen lastSeen
      }
    }
  }
}`;

const PEER_EVENTS = `query PeerEvents($filter: ExposureEventFilter!, $first: Int, $after: Cursor) {
  allExposureEvents(filter: $filter, orderBy: [TIMESTAMP_DESC, EVENT_ID_DESC], first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { id eventId timestamp officeId exposureId exposureClass severity status eventAction } }
  }
}`;

interface Group {
  keys: string[];
  count: { exposureId: string };
}
const groupCount = (groups: readonly Group[], key: string) =>
  Number(groups.find((group) => group.keys[0] === key)?.count.exposureId ?? 0);

interface ExposureNode {
  officeId: string;
  exposureId: string;
  exposureClass: string;
  status: string;
  severity: string;
  riskScore: number | null;
  dstIp: string | null;
  dstPort: number | null;
  protocol: string | null;
  assetHostname: string | null;
  firstSeen: string;
  lastSeen: string;
}
interface EventNode {
  eventId: string;
  timestamp: string;
  officeId: string;
  exposureId: string;
  exposureClass: string;
  severity: string;
  status: string;
  eventAction: string | null;
}
interface Connection<T> {
  totalCount?: number;
  pageInfo: { hasNextPage: boolean };
  edges: { node: T }[];
}

/** Every field but the node id and the cursor, which each side encodes its own way. */
const exposurePage = (connection: Connection<ExposureNode>) => ({
  totalCount: connection.totalCount,
  hasNextPage: connection.pageInfo.hasNextPage,
  nodes: connection.edges.map(({ node }) => ({
    officeId: node.officeId,
    exposureId: node.exposureId,
    exposureClass: node.exposureClass,
    status: node.status,
    severity: node.severity,
    riskScore: node.riskScore,
    dstIp: node.dstIp,
    dstPort: node.dstPort,
    protocol: node.protocol,
    assetHostname: node.assetHostname,
    firstSeen: instant(node.firstSeen),
    lastSeen: instant(node.lastSeen),
  })),
});
const eventPage = (connection: Connection<EventNode>) => ({
  hasNextPage: connection.pageInfo.hasNextPage,
  nodes: connection.edges.map(({ node }) => ({
    eventId: node.eventId,
    timestamp: instant(node.timestamp),
    officeId: node.officeId,
    exposureId: node.exposureId,
    exposureClass: node.exposureClass,
    severity: node.severity,
    status: node.status,
    eventAction: node.eventAction,
  })),
});

const OPERATIONS: readonly Operation[] = [
  {
    name: 'offices',
    gateway: () => body(print(DashboardOfficesDocument)),
    postgraphile: (d) => body(PEER_OFFICES, { tenantId: d.tenantId }),
    gatewayAnswer: (data) =>
      (
        data.offices as {
          id: string;
          name: string | null;
          lastIngestAt: string | null;
          openExposures: number;
        }[]
      ).map((o) => ({
        officeId: o.id,
        name: o.name,
        lastIngestAt: instant(o.lastIngestAt),
        openExposures: o.openExposures,
      })),
    postgraphileAnswer: (data) =>
      (
        data.allOffices as {
          nodes: {
            officeId: string;
            name: string | null;
            lastIngestAt: string | null;
            openExposures: { totalCount: number };
          }[];
        }
      ).nodes.map((o) => ({
        officeId: o.officeId,
        name: o.name,
        lastIngestAt: instant(o.lastIngestAt),
        openExposures: o.openExposures.totalCount,
      })),
  },
  {
    name: 'exposureSummary',
    gateway: () => body(print(DashboardSummaryDocument), { filter: { statuses: ['OPEN'] } }),
    postgraphile: (d) =>
      body(PEER_SUMMARY, { filter: { tenantId: { equalTo: d.tenantId }, status: { in: ['OPEN'] } } }),
    gatewayAnswer: (data) => data.exposureSummary,
    postgraphileAnswer: (data) => {
      const { totalCount, byStatus, bySeverity } = data.allExposuresCurrents as {
        totalCount: number;
        byStatus: Group[];
        bySeverity: Group[];
      };
      // In the gateway's field order, so that the two serialize alike.
      return {
        total: totalCount,
        open: groupCount(byStatus, 'OPEN'),
        closed: groupCount(byStatus, 'CLOSED'),
        info: groupCount(bySeverity, 'INFO'),
        low: groupCount(bySeverity, 'LOW'),
        medium: groupCount(bySeverity, 'MEDIUM'),
        high: groupCount(bySeverity, 'HIGH'),
        critical: groupCount(bySeverity, 'CRITICAL'),
      };
    },
  },
  {
    name: 'exposures page',
    gateway: () =>
      body(print(DashboardExposuresDocument), {
        filter: { statuses: ['OPEN'], minSeverity: 'HIGH' },
        orderBy: { field: 'RISK_SCORE', direction: 'DESC' },
        first: PAGE,
      }),
    postgraphile: (d) =>
      body(PEER_EXPOSURES, {
        filter: {
          tenantId: { equalTo: d.tenantId },
          status: { in: ['OPEN'] },
          // minSeverity as the gateway applies it: by the rank it stores beside the severity.
          severityRank: { greaterThanOrEqualTo: SEVERITIES.indexOf('HIGH') },
        },
        // The gateway's key for RISK_SCORE DESC: ties by last seen, then the exposure's key.
        orderBy: ['RISK_SCORE_DESC', 'LAST_SEEN_DESC', 'OFFICE_ID_DESC', 'EXPOSURE_ID_DESC'],
        first: PAGE,
      }),
    gatewayAnswer: (data) => exposurePage(data.exposures as Connection<ExposureNode>),
    postgraphileAnswer: (data) => exposurePage(data.allExposuresCurrents as Connection<ExposureNode>),
  },
  {
    name: 'events page',
    gateway: (d) =>
      body(print(DashboardEventsDocument), {
        filter: { officeIds: d.eventOffices, severities: ['HIGH', 'CRITICAL'] },
        first: PAGE,
      }),
    postgraphile: (d) =>
      body(PEER_EVENTS, {
        filter: {
          tenantId: { equalTo: d.tenantId },
          officeId: { in: d.eventOffices },
          severity: { in: ['HIGH', 'CRITICAL'] },
        },
        first: PAGE,
      }),
    gatewayAnswer: (data) => eventPage(data.events as Connection<EventNode>),
    postgraphileAnswer: (data) => eventPage(data.allExposureEvents as Connection<EventNode>),
  },
];

/** What the equal answers were, in a few words, for the report. */
function describeAnswer(operation: string, answer: unknown): string {
  if (operation === 'offices') {
    const offices = answer as { openExposures: number }[];
    return `${offices.length} offices, ${rate(offices.reduce((sum, o) => sum + o.openExposures, 0))} open exposures`;
  }
  if (operation === 'exposureSummary') {
    return Object.entries(answer as Record<string, number>)
      .map(([name, count]) => `${name} ${rate(count)}`)
      .join(', ');
  }
  const page = answer as { totalCount?: number; hasNextPage: boolean; nodes: unknown[] };
  const total = page.totalCount === undefined ? '' : `totalCount ${rate(page.totalCount)}, `;
  return `${total}${page.nodes.length} rows on the first page, every field (hasNextPage ${page.hasNextPage})`;
}

/** The path of the first difference between two answers, or null when they are equal. */
function difference(a: unknown, b: unknown, at = ''): string | null {
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return Object.is(a, b) ? null : `${at || '.'}: ${JSON.stringify(a)} against ${JSON.stringify(b)}`;
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    const found = difference(
      (a as Record<string, unknown>)[key],
      (b as Record<string, unknown>)[key],
      `${at}${Array.isArray(a) ? `[${key}]` : `.${key}`}`,
    );
    if (found) return found;
  }
  return null;
}

// --- the servers (child processes) --------------------------------------------------------------------

type Side = 'gateway' | 'postgraphile';
const SIDES: readonly Side[] = ['gateway', 'postgraphile'];
const SIDE_NAMES: Record<Side, string> = { gateway: 'gateway', postgraphile: 'PostGraphile' };

type ChildMessage = { kind: 'listening'; port: number } | { kind: 'statements'; count: number };

/** Counts every statement this process sends to PostgreSQL: each call of pg's Client.query, whoever calls. */
function countStatements(): () => number {
  let count = 0;
  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    count++;
    return query.apply(this, args);
  } as typeof pg.Client.prototype.query;
  return () => count;
}

/** The gateway as `serve` runs it: JWT auth, limits and all, on its own pool. */
async function serveGateway(url: string) {
  const config = loadConfig({
    DB_TYPE: 'postgres',
    DATABASE_URL: url,
    HOST: '127.0.0.1',
    PORT: '0',
    AUTH_JWT_SECRET: SECRET,
    LOG_LEVEL: 'silent',
    // One caller sends the whole load: a limit per caller would refuse most of it.
    RATE_LIMIT_REQUESTS: '0',
  });
  const store = await openStore(config.database);
  const server = await listen(config, store, createLogger('silent'));
  // Closes the store too.
  return { port: Number(new URL(server.url).port), close: () => server.shutdown() };
}

async function serveChild(side: Side): Promise<void> {
  const statements = countStatements();
  const url = process.env.DATABASE_URL ?? '';
  // Imported here: PostGraphile stays out of the other processes, and prints a note on import.
  const server =
    side === 'gateway'
      ? await serveGateway(url)
      : await (await import('./peer-postgraphile.ts')).servePostGraphile(url, POOL_SIZE);
  const tell = (message: ChildMessage) => process.send?.(message);
  process.on('message', () => tell({ kind: 'statements', count: statements() }));
  process.once('SIGTERM', () => {
    void server.close().then(() => process.exit(0));
  });
  tell({ kind: 'listening', port: server.port });
}

interface Child {
  side: Side;
  port: number;
  pid: number;
  /** Statements the server has sent to PostgreSQL so far. */
  statements(): Promise<number>;
  stop(): Promise<void>;
}

function nextMessage(child: ChildProcess, side: Side): Promise<ChildMessage> {
  return new Promise((resolve, reject) => {
    const exited = (code: number | null) => reject(new Error(`the ${side} server exited with ${code}`));
    child.once('exit', exited);
    child.once('message', (message) => {
      child.off('exit', exited);
      resolve(message as ChildMessage);
    });
  });
}

async function startChild(side: Side, url: string): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--serve', side], {
    // GRAPHILE_ENV: PostGraphile's production mode, without the note that it is not development.
    env: { ...process.env, DATABASE_URL: url, GRAPHILE_ENV: 'production' },
    // Whatever a server prints goes to stderr: stdout is the report's.
    stdio: ['ignore', process.stderr, 'inherit', 'ipc'],
  });
  const first = await nextMessage(child, side);
  if (first.kind !== 'listening') throw new Error(`the ${side} server answered ${first.kind} first`);
  return {
    side,
    port: first.port,
    pid: child.pid!,
    statements: async () => {
      const answer = nextMessage(child, side);
      child.send('statements');
      const message = await answer;
      if (message.kind !== 'statements') throw new Error(`the ${side} server answered ${message.kind}`);
      return message.count;
    },
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

// --- the clients --------------------------------------------------------------------------------------

/** POSTs a body to /graphql; resolves with the response text of a 200 without errors. */
function post(agent: http.Agent, port: number, payload: string, token: string | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        agent,
        host: '127.0.0.1',
        port,
        path: '/graphql',
        method: 'POST',
        timeout: REQUEST_TIMEOUT_MS,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (response.statusCode !== 200 || !text.startsWith('{"data"') || text.includes('"errors"')) {
            reject(new Error(`port ${port}: ${response.statusCode} ${text.slice(0, 500)}`));
          } else resolve(text);
        });
      },
    );
    request.on('timeout', () =>
      request.destroy(new Error(`port ${port}: no answer in ${REQUEST_TIMEOUT_MS} ms`)),
    );
    request.on('error', reject);
    request.end(payload);
  });
}

interface Sample {
  operation: number;
  ms: number;
}

/**
 * CONCURRENCY clients, each sending the mix in turn, for `ms`; returns every latency and how long it took
 * until the last answer came.
 */
async function load(
  send: (operation: number) => Promise<unknown>,
  ms: number,
): Promise<{ samples: Sample[]; elapsedMs: number }> {
  const samples: Sample[] = [];
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, client) => {
      for (let i = client; performance.now() < end; i++) {
        const operation = i % OPERATIONS.length;
        const started = performance.now();
        await send(operation);
        samples.push({ operation, ms: performance.now() - started });
      }
    }),
  );
  return { samples, elapsedMs: performance.now() - start };
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}
/** The middle value, or the mean of the two middle ones. */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

interface Window {
  rps: number;
  p50: number;
  p99: number;
  statementsPerRequest: number;
  /** CPU time per request, ms: the server's process, every PostgreSQL process, these clients. */
  cpu: CpuShare;
}

interface CpuShare {
  server: number;
  postgres: number;
  clients: number;
}

/** The kernel's clock ticks per second, in which /proc/PID/stat counts CPU time (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** User plus system CPU time of a process so far, ms, from /proc/PID/stat; 0 once it has gone. */
function processCpuMs(pid: number): number {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // The command name, field 2, is in parentheses and may hold spaces: count fields after its end.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** CPU time so far of every process of the PostgreSQL server (its backends included), ms. */
function postgresCpuMs(): number {
  let total = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let comm: string;
    try {
      comm = fs.readFileSync(`/proc/${entry}/comm`, 'utf8');
    } catch {
      continue;
    }
    if (comm.startsWith('postgres')) total += processCpuMs(Number(entry));
  }
  return total;
}

function cpuNow(server: Child): CpuShare {
  const own = process.cpuUsage();
  return {
    server: processCpuMs(server.pid),
    postgres: postgresCpuMs(),
    clients: (own.user + own.system) / 1000,
  };
}

interface SideResult {
  windows: Window[];
  /** Statements of one request of each operation, from the check. */
  statements: number[];
  /** p50 and p99 of each operation over every window. */
  perOperation: { p50: number; p99: number }[];
}

interface SizeResult {
  dataset: Dataset;
  loaded: string;
  loadMs: number;
  /** Per operation: what both sides answered. */
  answers: string[];
  sides: Record<Side, SideResult>;
}

/** Asks both sides every operation once, one request at a time: the answers must be equal. */
async function check(dataset: Dataset, children: Record<Side, Child>, send: Sender) {
  const answers: string[] = [];
  const statements: Record<Side, number[]> = { gateway: [], postgraphile: [] };
  for (const [i, operation] of OPERATIONS.entries()) {
    const answer = {} as Record<Side, unknown>;
    for (const side of SIDES) {
      const before = await children[side].statements();
      const data = (JSON.parse(await send[side](i)) as { data: Data }).data;
      statements[side].push((await children[side].statements()) - before);
      answer[side] = side === 'gateway' ? operation.gatewayAnswer(data) : operation.postgraphileAnswer(data);
    }
    const found = difference(answer.gateway, answer.postgraphile);
    if (found) {
      throw new Error(
        `${dataset.name}, ${operation.name}: the answers differ at ${found} (gateway against PostGraphile)`,
      );
    }
    answers.push(describeAnswer(operation.name, answer.gateway));
  }
  for (const side of SIDES) {
    // A counter that saw nothing would report a server that needs no database.
    if (statements[side].some((count) => count === 0)) {
      throw new Error(`the ${side} server's statement counter saw no statement for an operation`);
    }
  }
  return { answers, statements };
}

type Sender = Record<Side, (operation: number) => Promise<string>>;

async function measureSize(dataset: Dataset, options: Options): Promise<SizeResult> {
  console.error(`[${dataset.name}] loading`);
  const token = await signToken(SECRET, { tenantId: dataset.tenantId, officeIds: ['*'], roles: ['viewer'] });
  const database = await prepare(dataset);
  const timing = TIMING[options.quick ? 'quick' : 'full'];
  const children: Partial<Record<Side, Child>> = {};
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    for (const side of SIDES) children[side] = await startChild(side, database.url);
    const started = children as Record<Side, Child>;
    const send: Sender = {
      gateway: (i) => post(agent, started.gateway.port, OPERATIONS[i]!.gateway(dataset), token),
      postgraphile: (i) => post(agent, started.postgraphile.port, OPERATIONS[i]!.postgraphile(dataset), null),
    };
    // Warmed up first, so that the check counts the statements of a request, not of opening connections
    // (PostGraphile sets up each new one with a statement of its own).
    for (const side of SIDES) await load(send[side], timing.warmupMs);
    console.error(`[${dataset.name}] comparing the answers`);
    const { answers, statements } = await check(dataset, started, send);
    const samples: Record<Side, Sample[]> = { gateway: [], postgraphile: [] };
    const windows: Record<Side, Window[]> = { gateway: [], postgraphile: [] };
    for (let round = 0; round < timing.rounds; round++) {
      // Either side first in turn, so that neither always follows the other.
      for (const side of round % 2 === 0 ? SIDES : [...SIDES].reverse()) {
        const before = await started[side].statements();
        const cpuBefore = cpuNow(started[side]);
        const { samples: taken, elapsedMs } = await load(send[side], timing.windowMs);
        const cpuAfter = cpuNow(started[side]);
        const sent = (await started[side].statements()) - before;
        const latencies = taken.map((s) => s.ms);
        windows[side].push({
          rps: taken.length / (elapsedMs / 1000),
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
          statementsPerRequest: sent / taken.length,
          cpu: {
            server: (cpuAfter.server - cpuBefore.server) / taken.length,
            postgres: (cpuAfter.postgres - cpuBefore.postgres) / taken.length,
            clients: (cpuAfter.clients - cpuBefore.clients) / taken.length,
          },
        });
        samples[side].push(...taken);
      }
      console.error(
        `[${dataset.name}] round ${round + 1}: ${SIDES.map((s) => `${SIDE_NAMES[s]} ${rate(windows[s].at(-1)!.rps)} req/s`).join(', ')}`,
      );
    }
    const sides = {} as Record<Side, SideResult>;
    for (const side of SIDES) {
      sides[side] = {
        windows: windows[side],
        statements: statements[side],
        perOperation: OPERATIONS.map((_, i) => {
          const of = samples[side].filter((s) => s.operation === i).map((s) => s.ms);
          return { p50: percentile(of, 50), p99: percentile(of, 99) };
        }),
      };
    }
    return { dataset, loaded: database.loaded, loadMs: database.loadMs, answers, sides };
  } finally {
    agent.destroy();
    for (const child of Object.values(children)) await child.stop();
    await database.drop();
  }
}

// --- the report ---------------------------------------------------------------------------------------

const fmt = (value: number, digits = 1) => value.toFixed(digits);
const spread = (values: readonly number[], digits = 1) =>
  `${fmt(Math.min(...values), digits)} / ${fmt(median(values), digits)} / ${fmt(Math.max(...values), digits)}`;
const verdict = (met: boolean) => (met ? 'met' : 'MISSED');

function row(cells: readonly (string | number)[]): string {
  return `| ${cells.join(' | ')} |`;
}

function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string[] {
  return [row(header), row(header.map(() => '---')), ...rows.map(row)];
}

/** Gateway / PostGraphile requests per second of each round. */
function roundRatios(result: SizeResult): number[] {
  const { gateway, postgraphile } = result.sides;
  return gateway.windows.map((w, i) => w.rps / postgraphile.windows[i]!.rps);
}
const medianRatio = (result: SizeResult) => median(roundRatios(result));

function sizeReport(result: SizeResult): string[] {
  const { gateway, postgraphile } = result.sides;
  const ratios = roundRatios(result);
  const ratio = median(ratios);
  return [
    `## ${result.dataset.name}`,
    '',
    `${result.loaded}; loaded in ${fmt(result.loadMs / 1000)} s.`,
    '',
    '### answers (asked once of each side before measuring; equal, or the run stops)',
    '',
    ...table(
      ['operation', 'equal answers', 'gateway statements', 'PostGraphile statements'],
      OPERATIONS.map((operation, i) => [
        operation.name,
        result.answers[i]!,
        gateway.statements[i]!,
        postgraphile.statements[i]!,
      ]),
    ),
    '',
    `### the mix (${CONCURRENCY} clients; min / median / max over ${gateway.windows.length} windows per side)`,
    '',
    ...table(
      [
        'server',
        'req/s',
        'p50 ms',
        'p99 ms',
        'statements/request',
        'CPU ms/request: server',
        'PostgreSQL',
        'clients',
      ],
      SIDES.map((side) => {
        const windows = result.sides[side].windows;
        return [
          SIDE_NAMES[side],
          spread(
            windows.map((w) => w.rps),
            0,
          ),
          spread(windows.map((w) => w.p50)),
          spread(windows.map((w) => w.p99)),
          spread(
            windows.map((w) => w.statementsPerRequest),
            2,
          ),
          spread(
            windows.map((w) => w.cpu.server),
            2,
          ),
          spread(
            windows.map((w) => w.cpu.postgres),
            2,
          ),
          spread(
            windows.map((w) => w.cpu.clients),
            2,
          ),
        ];
      }),
    ),
    '',
    ...table(
      ['figure', 'value', 'target', 'result'],
      [
        [
          `gateway / PostGraphile req/s, per round`,
          `${fmt(ratio, 2)} median (min ${fmt(Math.min(...ratios), 2)}, max ${fmt(Math.max(...ratios), 2)})`,
          `>= ${TARGET}`,
          verdict(ratio >= TARGET),
        ],
      ],
    ),
    '',
    `rounds, gateway / PostGraphile req/s: ${gateway.windows
      .map((w, i) => `${fmt(w.rps, 0)} / ${fmt(postgraphile.windows[i]!.rps, 0)}`)
      .join(', ')}`,
    '',
    '### per operation (ms, over every window)',
    '',
    ...table(
      ['server', ...OPERATIONS.map((o) => `${o.name} p50 / p99`)],
      SIDES.map((side) => [
        SIDE_NAMES[side],
        ...result.sides[side].perOperation.map((o) => `${fmt(o.p50)} / ${fmt(o.p99)}`),
      ]),
    ),
  ];
}

function packageVersion(name: string): string {
  const file = path.join(import.meta.dirname, '..', 'node_modules', name, 'package.json');
  return `${name} ${(JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version}`;
}

async function serverVersion(): Promise<string> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ version: string }>('select version() as version');
    return String(rows[0]?.version ?? '').split(' on ')[0] ?? '';
  } finally {
    await client.end();
  }
}

async function main(options: Options): Promise<void> {
  const started = performance.now();
  if (!(await reachableEngines()).includes('postgres')) {
    throw new Error(`bench:peer needs PostgreSQL, and ${POSTGRES_URL} does not answer`);
  }
  const timing = TIMING[options.quick ? 'quick' : 'full'];
  const header = [
    `bench:peer  ${new Date().toISOString()}  node ${process.version}  ${os.cpus().length} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    `${await serverVersion()}; ${['postgraphile', 'postgraphile-plugin-connection-filter', '@graphile/pg-aggregates'].map(packageVersion).join(', ')}.`,
    `Dashboard mix, one of each in turn: ${OPERATIONS.map((o) => o.name).join(', ')}; ${CONCURRENCY} concurrent keep-alive clients.`,
    `Per server and size: ${timing.warmupMs / 1000} s warm-up, then ${timing.rounds} windows of ${timing.windowMs / 1000} s alternating with the other server's, each first in turn.`,
    ...(options.quick ? ['--quick: a smoke run of the bench; its figures are no measurement.'] : []),
    '',
    'gateway: exposure-gateway over HTTP as `serve` runs it, the documents of src/client/dashboard.graphql, an HS256',
    'JWT checked on every request, the tenant and offices taken from it. PostGraphile: PostGraphile 5 (Amber preset,',
    'connection-filter, pg-aggregates) over grafserv on node:http, WITHOUT auth: no token, no role, no pgSettings; each',
    'query restricts itself to the tenant with a filter. Its set-up for this schema: filtering and ordering by',
    'unindexed columns allowed (PgIndexBehaviorsPlugin off), a smart-tag foreign key exposures_current -> offices',
    '(the per-office open count), a `count` aggregate added to pg-aggregates (it has only distinctCount per group).',
    `Both: one child process each, the same schema made by the gateway's migrations and analyzed after the load, a pool`,
    `of ${POOL_SIZE} connections, jit=off. Statements: calls of pg's Client.query in the server's process, per request`,
    '(both count alike; neither opens a transaction for these reads). CPU ms/request: user and system time over',
    "the window from /proc, of the server's process, of every PostgreSQL process and of the clients here.",
    '',
    'Where the answers cannot be identical: node ids and cursors (each side encodes its own; not compared);',
    'timestamps (ISO in UTC against PostgreSQL text, compared as instants); the summary, which PostGraphile gives',
    'as groups (keys and counts) that a client folds into the same fields; risk-score order, where PostgreSQL puts',
    'exposures without a score first in DESC and the gateway last (the check would see it on the compared page).',
    '',
  ];
  const sections: string[] = [];
  const verdicts: string[][] = [];
  for (const dataset of [demoDataset, feedDataset(options.events)]) {
    const result = await measureSize(dataset, options);
    sections.push(...sizeReport(result), '');
    const ratio = medianRatio(result);
    verdicts.push([dataset.name, fmt(ratio, 2), `>= ${TARGET}`, verdict(ratio >= TARGET)]);
  }
  const output = [
    ...header,
    ...table(['size', 'gateway / PostGraphile req/s (median of the rounds)', 'target', 'result'], verdicts),
    '',
    ...sections,
    `total ${fmt((performance.now() - started) / 1000)} s`,
  ].join('\n');
  console.log(output);
  fs.mkdirSync(path.dirname(options.out), { recursive: true });
  fs.writeFileSync(options.out, `${output}\n`);
}

const { serve, ...options } = parseOptions();
if (serve) await serveChild(serve);
else await main(options);
