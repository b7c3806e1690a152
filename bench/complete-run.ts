/**
 * completeScanRun on a store kept by `bench:scale --keep DIR`: closes every open exposure of the office and
 * scanner type whose open exposures come closest to 20,000 from above (the busiest when none has as many),
 * as bench:scale does, and prints the time with where it went, per repository function and statement kind.
 * Each run closes what it measures: run it again and it takes the next office.
 *
 * With --explain on PostgreSQL, the server's auto_explain module reports each statement of the completion
 * that ran 1 ms or more, the statements of triggers included (withAutoExplain()).
 *
 *   tsx bench/complete-run.ts --store postgres://...|FILE.duckdb [--tenant acme] [--explain]
 */
import { sql } from 'kysely';
import { loadConfig } from '../src/config.ts';
import { openStore } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { completeScanRun } from '../src/ingest/scan-runs.ts';
import { benchOptions, completionGroups, condensedPlan, isPlanReport, withAutoExplain } from './support.ts';

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
    if (measuring && isPlanReport(message)) plans.push(message);
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
for (const plan of plans) console.log(`\n${condensedPlan(plan)}`);
await store.close();
