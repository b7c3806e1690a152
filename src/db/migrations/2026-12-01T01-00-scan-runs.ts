/**
 * Scan runs. scan_runs holds one row per office and run with the counts ingest keeps up to date;
 * scan_run_exposures the exposures each run observed (or closed at its completion), once each, so that
 * distinct counts hold across batches and retries and a completion finds what its run saw without
 * reading the log. exposures_current gains scanner_type (a coalesced field: the scanner that last
 * reported the exposure), filled by rebuilding the current state after this migration (see migrate.ts).
 * quarantined_files gains the format of the file, so a replay reads it as it was sent.
 */
import { type Kysely, PostgresAdapter, sql } from 'kysely';

// Frozen once landed: the indexes as they stand at this migration.
const DUCKDB_CURRENT_INDEXES: Record<string, string> = {
  exposures_current_exposure_hash: 'exposures_current (exposure_hash)',
};
const DUCKDB_QUARANTINE_INDEXES: Record<string, string> = {
  quarantined_files_time: 'quarantined_files (tenant_id, quarantined_at)',
};

/** 60 bits of md5 of the parts joined by U+001F, as in the application. */
function keyHash(postgres: boolean, ...parts: string[]) {
  const text = sql.join(
    parts.map((p) => sql.ref(p)),
    sql` || chr(31) || `,
  );
  return postgres
    ? sql`('x' || substr(md5(${text}), 1, 15))::bit(60)::bigint`
    : sql`cast(('0x' || substr(md5(${text}), 1, 15)) as bigint)`;
}

/** DuckDB refuses to alter a table that has indexes: they are dropped around the change and made again. */
async function alterTable(
  db: Kysely<any>,
  postgres: boolean,
  indexes: Record<string, string>,
  change: () => Promise<unknown>,
) {
  if (postgres) return change();
  for (const name of Object.keys(indexes)) {
    await sql`drop index if exists ${sql.ref(name)}`.execute(db);
  }
  await change();
  for (const [name, on] of Object.entries(indexes)) {
    await sql`create index if not exists ${sql.ref(name)} on ${sql.raw(on)}`.execute(db);
  }
}

export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const key = sql.raw(postgres ? 'text collate "C"' : 'varchar');
  const text = sql.raw(postgres ? 'text' : 'varchar');
  await alterTable(db, postgres, DUCKDB_CURRENT_INDEXES, async () => {
    await sql`alter table exposures_current add column if not exists scanner_type ${text}`.execute(db);
    await sql`alter table exposures_current add column if not exists scanner_type_position ${key}`.execute(
      db,
    );
  });
  await alterTable(db, postgres, DUCKDB_QUARANTINE_INDEXES, () =>
    sql`alter table quarantined_files add column if not exists format ${text}`.execute(db),
  );

  await sql`create table if not exists scan_runs (
    tenant_id ${key} not null,
    office_id ${key} not null,
    scan_run_id ${key} not null,
    scanner_type ${text},
    started_at timestamptz,
    completed_at timestamptz,
    events_observed integer not null default 0,
    exposures_observed integer not null default 0,
    exposures_new integer not null default 0,
    exposures_reopened integer not null default 0,
    exposures_closed integer not null default 0,
    primary key (tenant_id, office_id, scan_run_id)
  )`.execute(db);
  // observed: the run has an event of the exposure; false: its completion closed it (not_observed).
  // run_hash = keyHash(tenant, office, run) and observation_hash = keyHash(tenant, office, run, exposure)
  // are DuckDB's index lookups of a run's rows and of a batch's pairs (see exposure-keys.ts). The table
  // grows with the log (a row per run and exposure): DuckDB gets no composite primary key, whose ART
  // index every insert would maintain in memory; its single writer drops stored pairs before inserting.
  await sql`create table if not exists scan_run_exposures (
    tenant_id ${key} not null,
    office_id ${key} not null,
    scan_run_id ${key} not null,
    exposure_id ${key} not null,
    observed boolean not null,
    is_new boolean not null,
    reopened boolean not null,
    run_hash bigint not null,
    observation_hash bigint not null
    ${postgres ? sql`, primary key (tenant_id, office_id, scan_run_id, exposure_id)` : sql``}
  )`.execute(db);
  if (!postgres) {
    await sql`create index if not exists scan_run_exposures_run_hash on scan_run_exposures (run_hash)`.execute(
      db,
    );
    await sql`create index if not exists scan_run_exposures_observation_hash on scan_run_exposures (observation_hash)`.execute(
      db,
    );
  }

  // Runs already in the log: what they observed. Whether an exposure was new or reopened by them is not
  // known after the fact; those counts start at 0.
  await sql`delete from scan_run_exposures`.execute(db);
  await sql`insert into scan_run_exposures (tenant_id, office_id, scan_run_id, exposure_id, observed, is_new,
      reopened, run_hash, observation_hash)
    select tenant_id, office_id, scan_run_id, exposure_id, bool_or(coalesce(event_kind, '') <> 'inferred'), false,
      false, ${keyHash(postgres, 'tenant_id', 'office_id', 'scan_run_id')},
      ${keyHash(postgres, 'tenant_id', 'office_id', 'scan_run_id', 'exposure_id')}
    from exposure_events where scan_run_id is not null
    group by tenant_id, office_id, scan_run_id, exposure_id`.execute(db);
  await sql`delete from scan_runs`.execute(db);
  await sql`insert into scan_runs (tenant_id, office_id, scan_run_id, scanner_type, started_at, events_observed,
      exposures_observed)
    select e.tenant_id, e.office_id, e.scan_run_id, min(e.scanner_type), min(e.timestamp),
      cast(count(*) filter (where coalesce(e.event_kind, '') <> 'inferred') as integer),
      cast(count(distinct e.exposure_id) filter (where coalesce(e.event_kind, '') <> 'inferred') as integer)
    from exposure_events e where e.scan_run_id is not null
    group by e.tenant_id, e.office_id, e.scan_run_id`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await sql`drop table if exists scan_run_exposures`.execute(db);
  await sql`drop table if exists scan_runs`.execute(db);
  await alterTable(db, postgres, DUCKDB_QUARANTINE_INDEXES, () =>
    sql`alter table quarantined_files drop column if exists format`.execute(db),
  );
  await alterTable(db, postgres, DUCKDB_CURRENT_INDEXES, async () => {
    await sql`alter table exposures_current drop column if exists scanner_type_position`.execute(db);
    await sql`alter table exposures_current drop column if exists scanner_type`.execute(db);
  });
}
