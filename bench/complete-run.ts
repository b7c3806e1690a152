/**
 * completeScanRun on a store kept by `bench:scale --keep DIR`: closes every open exposure of the office and
 * scanner type whose open exposures come closest to 20,000 from above (the busiest when none has as many),
 * as bench:scale does, and prints the time with where it went, per repository function and statement kind.
 * Each run closes what it measures: run it again and it takes the next office.
 *
 * With --explain on PostgreSQL, the server's auto_explain module reports each statement of the completion
 * that ran 1 ms or more, the statements of triggers included: its plan with the rows each node returned,
 * the shared buffers it hit, read from the operating system and wrote out, and the WAL it wrote. The
 * module is loaded per session, which takes a superuser (as on the bench's machine).
 *
 *   tsx bench/complete-run.ts --store postgres://...|FILE.duckdb [--tenant acme] [--explain]
 */
import { sql } from 'kysely';
import { loadConfig } from '../src/config.ts';
import { openStore } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { completeScanRun } from '../src/ingest/scan-runs.ts';
import { benchOptions, completionGroups } from './support.ts';

const USAGE = `usage: tsx bench/complete-run.ts --store postgres://...|FILE.duckdb [--tenant acme] [--explain]`;

const values = benchOptions(
  {
    store: { type: 'string' },
    tenant: { type: 'string', default: 'acme' },
    explain: { type: 'boolean', default: false },
  },
  USAGE,
);
if (!values.store) throw new Error('--store takes a PostgreSQL URL or a DuckDB file kept by bench:scale');
const postgres = values.store.startsWith('postgres');
if (values.explain && !postgres) throw new Error('--explain reads the plans of PostgreSQL (auto_explain)');
const config = loadConfig(
  postgres
    ? { DB_TYPE: 'postgres', DATABASE_URL: values.explain ? withAutoExplain(values.store) : values.store }
    : { DB_TYPE: 'duckdb', DB_PATH: values.store },
);
/** auto_explain's reports while the completion runs. */
const plans: string[] = [];
let measuring = false;
const store = await openStore(config.database, {
  onNotice: ({ message }) => {
    if (measuring && message.startsWith('duration:')) plans.push(message);
  },
});
await migrateToLatest(store);
const tenantId = values.tenant;
const group = (await completionGroups(store, tenantId))?.sized;
if (!group) throw new Error(`tenant ${tenantId} has no open exposure with a scanner type`);
const latest = await store.db
  .selectFrom('exposures_current')
  .select(sql<Date>`max(last_seen)`.as('at'))
  .where('tenant_id', '=', tenantId)
  .executeTakeFirstOrThrow();
const spent = new Map<string, { statements: number; ms: number }>();
const stop = store.observe({
  statement(record) {
    const key = `${record.repository} ${record.kind}`;
    const entry = spent.get(key) ?? { statements: 0, ms: 0 };
    entry.statements++;
    entry.ms += record.ended - record.started;
    spent.set(key, entry);
  },
});
measuring = true;
const started = performance.now();
const run = await completeScanRun(
  { store, config: config.ingest },
  { tenantId, officeIds: 'all' },
  {
    officeId: group.officeId,
    scanRunId: `bench-complete-run-${Date.now()}`,
    scannerType: group.scannerType,
    completedAt: new Date(new Date(latest.at).getTime() + 3_600_000).toISOString(),
  },
);
const ms = performance.now() - started;
measuring = false;
stop();
console.log(
  `${config.database.engine}: ${run.exposuresClosed.toLocaleString('en-US')} of ${group.open.toLocaleString('en-US')} open exposures of ${group.officeId} (${group.scannerType}) closed in ${ms.toFixed(0)} ms`,
);
for (const [key, entry] of [...spent].sort((a, b) => b[1].ms - a[1].ms)) {
  console.log(
    `  ${key.padEnd(44)} ${String(entry.statements).padStart(4)} statements ${entry.ms.toFixed(1).padStart(9)} ms`,
  );
}
for (const plan of plans) console.log(`\n${condensed(plan)}`);
await store.close();

/** The URL with auto_explain loaded in each session, reporting to the client as notices. */
function withAutoExplain(url: string): string {
  const parsed = new URL(url);
  const settings = [
    'session_preload_libraries=auto_explain',
    'auto_explain.log_min_duration=1',
    'auto_explain.log_analyze=on',
    'auto_explain.log_buffers=on',
    'auto_explain.log_wal=on',
    'auto_explain.log_timing=off',
    'auto_explain.log_nested_statements=on',
    'auto_explain.log_level=notice',
  ];
  const own = parsed.searchParams.get('options');
  parsed.searchParams.set('options', [own, ...settings.map((s) => `-c ${s}`)].filter(Boolean).join(' '));
  return parsed.toString();
}

/**
 * A report of auto_explain, shorter: its duration, the statement's first 160 characters on one line, and
 * of the plan the nodes with their rows, the tuples an upsert wrote, the buffers and the WAL.
 */
function condensed(report: string): string {
  const [first = '', ...lines] = report.split('\n');
  // The statement runs from "Query Text:" to the plan's first node, the first line with its cost.
  const root = lines.findIndex((line) => /\(cost=[\d.]+\.\.[\d.]+ rows=/.test(line));
  const statement = lines
    .slice(0, root)
    .join(' ')
    .replace(/^\s*Query Text:/, '')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 160);
  const kept = lines
    .slice(root)
    .filter((line) => /\(cost=|Buffers:|WAL:|Tuples Inserted|Conflicting Tuples|Trigger /.test(line))
    .map((line) => line.replace(/ {2}\(cost=[^)]*\)/, ''));
  return [`${first.replace(/\s+plan:$/, '')}  ${statement}`, ...kept].join('\n');
}
