/** What every benchmark shares: the PostgreSQL server it measures and scratch databases on either engine. */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import type { Engine } from '../src/config.ts';
import type { Store } from '../src/db/database.ts';
import { createTestDatabase, type TestDatabase } from '../test/helpers/engines.ts';

export const POSTGRES_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';

/**
 * The command line's options, as parseArgs() reads them, plus --help: prints `usage` and exits, with 0
 * for --help and 2 (after the reason) for an option it does not know or a missing value.
 */
export function benchOptions<O extends NonNullable<ParseArgsConfig['options']>>(options: O, usage: string) {
  try {
    const { values } = parseArgs({ options: { ...options, help: { type: 'boolean', default: false } } });
    if ((values as { help?: boolean }).help) {
      console.log(usage);
      process.exit(0);
    }
    return values as ReturnType<typeof parseArgs<{ options: O }>>['values'];
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
}

/** A new, empty database: a DuckDB file in a temp dir, or a fresh schema on POSTGRES_URL. */
export function scratchDatabase(engine: Engine): Promise<TestDatabase> {
  return createTestDatabase(engine, POSTGRES_URL);
}

/** The engines to measure: PostgreSQL only when its server answers. */
export async function reachableEngines(): Promise<Engine[]> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return ['duckdb', 'postgres'];
  } catch {
    console.error(`PostgreSQL at ${POSTGRES_URL} is not reachable: measuring DuckDB only`);
    return ['duckdb'];
  }
}

/** Events per second, as a whole number with thousands separators. */
export const rate = (n: number) => Math.round(n).toLocaleString('en-US');

/** The size of completion the scan-run target is set for: an office with 20,000 open exposures. */
export const COMPLETION_OPEN = 20_000;

/** An office and scanner type with their open exposures, which a run of theirs that saw nothing closes. */
export interface CompletionGroup {
  officeId: string;
  scannerType: string;
  open: number;
}

/**
 * The tenant's office and scanner type whose open exposures come closest to COMPLETION_OPEN from above
 * (the busiest when none has as many), and the busiest.
 */
export async function completionGroups(
  store: Store,
  tenantId: string,
): Promise<{ sized: CompletionGroup; busiest: CompletionGroup } | null> {
  const rows = await store.db
    .selectFrom('exposures_current')
    .select(['office_id', 'scanner_type', sql<number>`cast(count(*) as integer)`.as('open_exposures')])
    .where('tenant_id', '=', tenantId)
    .where('status', '=', 'OPEN')
    .where('scanner_type', 'is not', null)
    .groupBy(['office_id', 'scanner_type'])
    .orderBy('open_exposures', 'asc')
    .execute();
  const groups = rows.map((row) => ({
    officeId: row.office_id,
    scannerType: row.scanner_type!,
    open: Number(row.open_exposures),
  }));
  const busiest = groups.at(-1);
  if (!busiest) return null;
  return { sized: groups.find((g) => g.open >= COMPLETION_OPEN) ?? busiest, busiest };
}

/**
 * The PostgreSQL URL with the server's auto_explain module loaded in each session, reporting every
 * statement of 1 ms or more, those of triggers included, to the client as a notice (StoreOptions.onNotice):
 * its plan with the rows of each node, the shared buffers hit, read and written, and the WAL written. Per-node
 * timing stays off, which keeps the overhead small. Loading the module per session takes a superuser.
 */
export function withAutoExplain(url: string): string {
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

/** Whether a notice is a report of auto_explain. */
export const isPlanReport = (message: string) => message.startsWith('duration:');

/**
 * A report of auto_explain, shorter: its duration, the statement's first 160 characters on one line, and
 * of the plan the nodes with their rows, the tuples an upsert wrote, the buffers and the WAL.
 */
export function condensedPlan(report: string): string {
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
