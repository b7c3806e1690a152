/**
 * The current state becomes mergeable: it keeps the fold position of its latest event and of each
 * coalesced value, and how many events it folds, so that a batch merges into it by key without reading
 * the log. Exposure and dedupe keys get a hash column, a one-column index key on DuckDB (whose ART
 * indexes serve equality lookups on one column, not on a prefix of several). The positions of existing
 * rows are filled by rebuilding the current state from the log after this migration (see migrate.ts).
 */
import { type Kysely, PostgresAdapter, sql } from 'kysely';

// Frozen once landed: the lists below are this migration's, not the application's.
const COALESCED_COLUMNS = [
  'asset_id',
  'asset_hostname',
  'asset_ip',
  'risk_score',
  'confidence',
  'dst_ip',
  'dst_port',
  'protocol',
  'service_name',
  'service_product',
  'service_version',
  'resource',
  'disposition_status',
  'disposition_reason',
];

/** DuckDB never uses these composite ART indexes for reads, yet every insert maintains them in memory. */
const DUCKDB_UNUSED_INDEXES: Record<string, string> = {
  exposure_events_office_time: 'exposure_events (tenant_id, office_id, timestamp)',
  exposure_events_asset_time: 'exposure_events (tenant_id, asset_id, timestamp)',
  exposure_events_exposure_time: 'exposure_events (tenant_id, office_id, exposure_id, timestamp)',
  exposure_events_class_status: 'exposure_events (tenant_id, exposure_class, status)',
  exposure_events_scan_run: 'exposure_events (tenant_id, scan_run_id)',
  exposures_current_office_class: 'exposures_current (tenant_id, office_id, exposure_class)',
  exposures_current_status_severity: 'exposures_current (tenant_id, status, severity)',
  exposures_current_asset: 'exposures_current (tenant_id, asset_id)',
  exposures_current_last_seen: 'exposures_current (tenant_id, last_seen)',
};
const DUCKDB_HASH_INDEXES: Record<string, string> = {
  exposure_events_exposure_hash: 'exposure_events (exposure_hash)',
  exposure_events_dedupe_hash: 'exposure_events (dedupe_hash)',
  exposures_current_exposure_hash: 'exposures_current (exposure_hash)',
};

async function createIndexes(db: Kysely<any>, indexes: Record<string, string>) {
  for (const [name, on] of Object.entries(indexes)) {
    await sql`create index if not exists ${sql.ref(name)} on ${sql.raw(on)}`.execute(db);
  }
}

async function dropIndexes(db: Kysely<any>, indexes: Record<string, string>) {
  for (const name of Object.keys(indexes)) await sql`drop index if exists ${sql.ref(name)}`.execute(db);
}

/** 60 bits of md5(parts joined by U+001F), the same on both engines and in the application. */
function keyHash(postgres: boolean, ...parts: string[]) {
  const text = sql.join(
    parts.map((p) => sql.ref(p)),
    sql` || chr(31) || `,
  );
  return postgres
    ? sql`('x' || substr(md5(${text}), 1, 15))::bit(60)::bigint`
    : sql`cast(('0x' || substr(md5(${text}), 1, 15)) as bigint)`;
}

export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const key = sql.raw(postgres ? 'text collate "C"' : 'varchar');
  const addColumn = (table: string, definition: ReturnType<typeof sql>) =>
    sql`alter table ${sql.table(table)} add column if not exists ${definition}`.execute(db);

  if (!postgres) await dropIndexes(db, DUCKDB_UNUSED_INDEXES);

  await addColumn('exposure_events', sql`exposure_hash bigint`);
  await addColumn('exposure_events', sql`dedupe_hash bigint`);
  await sql`update exposure_events set exposure_hash = ${keyHash(postgres, 'tenant_id', 'office_id', 'exposure_id')},
    dedupe_hash = case when dedupe_key is null then null
      else ${keyHash(postgres, 'tenant_id', 'office_id', 'dedupe_key')} end`.execute(db);

  await addColumn('exposures_current', sql`last_position ${key}`);
  for (const column of COALESCED_COLUMNS) {
    await addColumn('exposures_current', sql`${sql.ref(`${column}_position`)} ${key}`);
  }
  await addColumn('exposures_current', sql`event_count integer default 0`);
  await addColumn('exposures_current', sql`exposure_hash bigint`);
  await sql`update exposures_current set exposure_hash = ${keyHash(postgres, 'tenant_id', 'office_id', 'exposure_id')}`.execute(
    db,
  );

  if (!postgres) await createIndexes(db, DUCKDB_HASH_INDEXES);
}

export async function down(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  if (!postgres) await dropIndexes(db, DUCKDB_HASH_INDEXES);

  const dropColumn = (table: string, column: string) =>
    sql`alter table ${sql.table(table)} drop column if exists ${sql.ref(column)}`.execute(db);
  await dropColumn('exposure_events', 'exposure_hash');
  await dropColumn('exposure_events', 'dedupe_hash');
  for (const column of ['last_position', ...COALESCED_COLUMNS.map((c) => `${c}_position`)]) {
    await dropColumn('exposures_current', column);
  }
  await dropColumn('exposures_current', 'event_count');
  await dropColumn('exposures_current', 'exposure_hash');
  // The core migration's indexes, as it made them.
  if (!postgres) await createIndexes(db, DUCKDB_UNUSED_INDEXES);
}
