/**
 * Dashboard query mix over real HTTP on 127.0.0.1: the gateway (yoga, auth, limits, the codegen documents)
 * against a bare node:http handler that runs the same repository SQL and writes JSON, side by side, on
 * DuckDB and PostgreSQL, on the demo sample. Both servers run in one child process on one store (DuckDB
 * lets one process open the file), away from the load generator here, and are measured in alternating
 * windows so that other work on the machine weighs on both alike. Saves the table to bench/results/query.txt.
 * Target: gateway / bare >= 0.8 of the requests per second.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { print } from 'graphql';
import { signToken } from '../src/auth/tokens.ts';
import { type Config, type Engine, loadConfig } from '../src/config.ts';
import { openStore, type Store } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { countByStatusAndSeverity } from '../src/db/repositories/analytics.ts';
import { findEvents } from '../src/db/repositories/events.ts';
import { countExposures, type ExposureOrder, findExposures } from '../src/db/repositories/exposures.ts';
import type { EventFilter, ExposureFilter } from '../src/db/repositories/filters.ts';
import { findOffices } from '../src/db/repositories/offices.ts';
import { seedDemo } from '../src/demo/demo.ts';
import { DEMO_TENANT } from '../src/demo/sample.ts';
import type { Scope } from '../src/domain.ts';
import {
  DashboardEventsDocument,
  DashboardExposuresDocument,
  DashboardOfficesDocument,
  DashboardSummaryDocument,
} from '../src/gql/graphql.ts';
import { createLogger } from '../src/log.ts';
import { listen } from '../src/server.ts';
import { reachableEngines, scratchDatabase } from './support.ts';

const CONCURRENCY = 8;
const WARMUP_MS = 2_000;
/** Measured time per server, in windows that alternate between the two. */
const WINDOW_MS = 2_000;
const WINDOWS = 4;
const TARGET = 0.8;
const SECRET = 'bench-secret-that-is-long-enough';
const RESULTS = path.join(import.meta.dirname, 'results', 'query.txt');
const SCOPE: Scope = { tenantId: DEMO_TENANT, officeIds: 'all' };

/** The mix: what a dashboard's first screen asks for, one of each in turn. */
const EXPOSURE_FILTER = { statuses: ['OPEN'], minSeverity: 'HIGH' } as const;
const EXPOSURE_ORDER = { field: 'RISK_SCORE', direction: 'DESC' } as const;
const EVENT_FILTER = { officeIds: ['berlin', 'paris'], severities: ['HIGH', 'CRITICAL'] } as const;
const PAGE = 25;

interface Operation {
  name: string;
  /** The GraphQL request body. */
  graphql: string;
  /** The same work behind the bare handler. */
  bare: (db: Store['db']) => Promise<unknown>;
}

const iso = (date: Date) => date.toISOString();

const OPERATIONS: Operation[] = [
  {
    name: 'offices',
    graphql: JSON.stringify({ query: print(DashboardOfficesDocument) }),
    bare: async (db) =>
      (await findOffices(db, SCOPE)).map((o) => ({
        id: o.officeId,
        name: o.name,
        lastIngestAt: o.lastIngestAt && iso(o.lastIngestAt),
        openExposures: o.openExposures,
      })),
  },
  {
    name: 'exposureSummary',
    graphql: JSON.stringify({
      query: print(DashboardSummaryDocument),
      variables: { filter: { statuses: ['OPEN'] } },
    }),
    // The fields the document selects: the counts by status and severity.
    bare: async (db) => {
      const counts = await countByStatusAndSeverity(db, SCOPE, { statuses: ['OPEN'] });
      return {
        total: counts.total,
        open: counts.byStatus.OPEN,
        closed: counts.byStatus.CLOSED,
        info: counts.bySeverity.INFO,
        low: counts.bySeverity.LOW,
        medium: counts.bySeverity.MEDIUM,
        high: counts.bySeverity.HIGH,
        critical: counts.bySeverity.CRITICAL,
      };
    },
  },
  {
    name: 'exposures page',
    graphql: JSON.stringify({
      query: print(DashboardExposuresDocument),
      variables: { filter: EXPOSURE_FILTER, orderBy: EXPOSURE_ORDER, first: PAGE },
    }),
    bare: async (db) => {
      const filter = EXPOSURE_FILTER as unknown as ExposureFilter;
      // In the order the gateway runs them: the page, then totalCount when the page has resolved.
      const page = await findExposures(db, SCOPE, filter, {
        first: PAGE,
        order: EXPOSURE_ORDER as ExposureOrder,
      });
      const totalCount = await countExposures(db, SCOPE, filter);
      return {
        totalCount,
        pageInfo: { hasNextPage: page.hasNextPage },
        edges: page.rows.map((e) => ({
          node: {
            officeId: e.officeId,
            exposureId: e.exposureId,
            exposureClass: e.exposureClass,
            status: e.status,
            severity: e.severity,
            riskScore: e.riskScore,
            dstIp: e.dstIp,
            dstPort: e.dstPort,
            protocol: e.protocol,
            assetHostname: e.assetHostname,
            firstSeen: iso(e.firstSeen),
            lastSeen: iso(e.lastSeen),
          },
        })),
      };
    },
  },
  {
    name: 'events page',
    graphql: JSON.stringify({
      query: print(DashboardEventsDocument),
      variables: { filter: EVENT_FILTER, first: PAGE },
    }),
    bare: async (db) => {
      const page = await findEvents(db, SCOPE, EVENT_FILTER as unknown as EventFilter, { first: PAGE });
      return {
        pageInfo: { hasNextPage: page.hasNextPage },
        edges: page.rows.map((e) => ({
          node: {
            eventId: e.eventId,
            timestamp: iso(e.timestamp),
            officeId: e.officeId,
            exposureId: e.exposureId,
            exposureClass: e.exposureClass,
            severity: e.severity,
            status: e.status,
            eventAction: e.eventAction,
          },
        })),
      };
    },
  },
];

// --- the servers (child processes) ----------------------------------------------------------------

function configFor(): Config {
  const env = process.env;
  return loadConfig({
    DB_TYPE: env.DB_TYPE,
    DB_PATH: env.DB_PATH,
    DATABASE_URL: env.DATABASE_URL,
    DUCKDB_THREADS: env.DUCKDB_THREADS,
    DUCKDB_MEMORY_LIMIT: env.DUCKDB_MEMORY_LIMIT,
    QUERY_TIMEOUT_MS: env.QUERY_TIMEOUT_MS,
    HOST: '127.0.0.1',
    PORT: '0',
    AUTH_JWT_SECRET: SECRET,
    LOG_LEVEL: 'silent',
    // One caller sends the whole load: a limit per caller would refuse most of it.
    RATE_LIMIT_REQUESTS: '0',
  });
}

/** The same repository calls as the resolvers, JSON in and out, nothing else. */
function bareServer(store: Store): http.Server {
  const byPath = new Map(OPERATIONS.map((operation, i) => [`/${i}`, operation]));
  return http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const operation = byPath.get(request.url ?? '');
      if (!operation) {
        response.writeHead(404).end();
        return;
      }
      JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      operation.bare(store.db).then(
        (data) => {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ data }));
        },
        (error: Error) => {
          response.writeHead(500, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ error: error.message }));
        },
      );
    });
  });
}

/** Both servers on one store, each on a port of its own. */
async function serveChild(): Promise<void> {
  const config = configFor();
  const store = await openStore(config.database);
  const gateway = await listen(config, store, createLogger('silent'));
  const bare = bareServer(store);
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  console.log(`PORTS ${new URL(gateway.url).port} ${(bare.address() as AddressInfo).port}`);
  process.once('SIGTERM', () => {
    bare.closeAllConnections();
    bare.close();
    // Closes the store too.
    void gateway.shutdown().then(() => process.exit(0));
  });
}

// --- the load generator -----------------------------------------------------------------------------

interface Sample {
  operation: number;
  ms: number;
}

function startChild(env: Record<string, string>): Promise<{ child: ChildProcess; ports: [number, number] }> {
  // BENCH_CPU_PROF=DIR: a V8 CPU profile of the servers, to see where the gateway's time goes.
  const profile = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF]
    : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', import.meta.filename, '--serve'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk) => {
      out += chunk;
      const match = /PORTS (\d+) (\d+)/.exec(out);
      if (match) resolve({ child, ports: [Number(match[1]), Number(match[2])] });
    });
    child.once('exit', (code) => reject(new Error(`the servers exited with ${code}`)));
  });
}

function request(agent: http.Agent, port: number, requestPath: string, body: string, token?: string) {
  return new Promise<void>((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: '127.0.0.1',
        port,
        path: requestPath,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (response.statusCode !== 200 || !text.startsWith('{"data"')) {
            reject(new Error(`${requestPath}: ${response.statusCode} ${text.slice(0, 300)}`));
          } else resolve();
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** CONCURRENCY clients, each sending the mix in turn, for `ms`; returns every latency. */
async function load(send: (operation: number) => Promise<void>, ms: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  const end = performance.now() + ms;
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
  return samples;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

interface Measurement {
  rps: number;
  p50: number;
  p99: number;
  perOperation: { p50: number; p99: number }[];
}

function summarize(samples: Sample[]): Measurement {
  const all = samples.map((s) => s.ms);
  return {
    rps: samples.length / ((WINDOW_MS * WINDOWS) / 1000),
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    perOperation: OPERATIONS.map((_, i) => {
      const of = samples.filter((s) => s.operation === i).map((s) => s.ms);
      return { p50: percentile(of, 50), p99: percentile(of, 99) };
    }),
  };
}

/** Warms both servers up, then measures them in alternating windows. */
async function measure(
  env: Record<string, string>,
  token: string,
): Promise<{ gateway: Measurement; bare: Measurement }> {
  const { child, ports } = await startChild(env);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });
  try {
    const gateway = (operation: number) =>
      request(agent, ports[0], '/graphql', OPERATIONS[operation]!.graphql, token);
    const bare = (operation: number) => request(agent, ports[1], `/${operation}`, '{}');
    await load(gateway, WARMUP_MS);
    await load(bare, WARMUP_MS);
    const samples = { gateway: [] as Sample[], bare: [] as Sample[] };
    for (let window = 0; window < WINDOWS; window++) {
      samples.gateway.push(...(await load(gateway, WINDOW_MS)));
      samples.bare.push(...(await load(bare, WINDOW_MS)));
    }
    return { gateway: summarize(samples.gateway), bare: summarize(samples.bare) };
  } finally {
    agent.destroy();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

/** A database with the demo sample: a DuckDB file or a fresh PostgreSQL schema. */
async function prepare(
  engine: Engine,
): Promise<{ env: Record<string, string>; events: number; drop(): Promise<void> }> {
  const database = await scratchDatabase(engine);
  const { config: db } = database;
  const env: Record<string, string> =
    db.engine === 'duckdb'
      ? { DB_TYPE: 'duckdb', DB_PATH: db.duckdbPath }
      : { DB_TYPE: 'postgres', DATABASE_URL: db.postgresUrl ?? '' };
  const drop = database.drop;
  const config = loadConfig({ ...env, LOG_LEVEL: 'silent' });
  const store = await openStore(config.database);
  try {
    await migrateToLatest(store);
    const seeded = await seedDemo(store, config);
    return { env, events: seeded.eventsInserted, drop };
  } finally {
    await store.close();
  }
}

const fmt = (value: number, digits = 1) => value.toFixed(digits);

async function main(): Promise<void> {
  const started = performance.now();
  // Bounded: a stuck server must not hold a CI job.
  setTimeout(() => {
    console.error('bench:query took longer than 2 minutes; stopping');
    process.exit(1);
  }, 120_000).unref();
  const token = await signToken(SECRET, { tenantId: DEMO_TENANT, officeIds: ['*'], roles: ['viewer'] });
  const lines = [
    `bench:query  ${new Date().toISOString()}  node ${process.version}  ${os.cpus().length} CPUs`,
    `Dashboard mix, one of each in turn: ${OPERATIONS.map((o) => o.name).join(', ')}.`,
    `${CONCURRENCY} concurrent keep-alive clients; per server ${WARMUP_MS / 1000} s warm-up, then ${WINDOWS} windows of ${WINDOW_MS / 1000} s`,
    'measured, alternating with the other server. gateway: exposure-gateway over HTTP (JWT auth, limits,',
    'yoga, Pothos); bare: node:http running the same repository SQL and writing JSON. Both run in one child',
    'process on one store; the data is the demo sample.',
    '',
  ];
  const table = [
    '| engine | server | req/s | p50 ms | p99 ms | gateway/bare req/s |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  const operations = [
    `| engine | server | ${OPERATIONS.map((o) => `${o.name} p50/p99 ms`).join(' | ')} |`,
    `| --- | --- | ${OPERATIONS.map(() => '---').join(' | ')} |`,
  ];
  let failed = false;
  for (const engine of await reachableEngines()) {
    const db = await prepare(engine);
    try {
      const { gateway, bare } = await measure(db.env, token);
      const ratio = gateway.rps / bare.rps;
      failed ||= ratio < TARGET;
      for (const [name, m] of [
        ['gateway', gateway],
        ['bare', bare],
      ] as const) {
        table.push(
          `| ${engine} | ${name} | ${fmt(m.rps, 0)} | ${fmt(m.p50)} | ${fmt(m.p99)} | ${name === 'gateway' ? `${fmt(ratio, 2)} (target >= ${TARGET})` : ''} |`,
        );
        operations.push(
          `| ${engine} | ${name} | ${m.perOperation.map((o) => `${fmt(o.p50)} / ${fmt(o.p99)}`).join(' | ')} |`,
        );
      }
      lines.push(`${engine}: ${db.events} demo events`);
    } finally {
      await db.drop();
    }
  }
  const output = [
    ...lines,
    '',
    ...table,
    '',
    ...operations,
    '',
    `total ${fmt((performance.now() - started) / 1000)} s`,
  ].join('\n');
  console.log(output);
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, `${output}\n`);
  // A measurement, not a test: a missed target is reported, and the run still succeeds.
  if (failed) console.error(`gateway/bare is below ${TARGET} on at least one engine`);
}

if (process.argv.includes('--serve')) await serveChild();
else await main();
