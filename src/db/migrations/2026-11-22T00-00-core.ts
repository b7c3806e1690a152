/** The core tables: event log, current state, dead-letter queue, offices, API keys, ingest batches. */
import { type Kysely, PostgresAdapter, sql } from 'kysely';

// Frozen once landed: engine differences are decided here, not by application code.
function types(db: Kysely<any>) {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  return {
    // Byte-order comparison on both engines, so keyset pagination and fold order agree with each other.
    key: sql.raw(postgres ? 'text collate "C"' : 'varchar'),
    text: sql.raw(postgres ? 'text' : 'varchar'),
    json: sql.raw(postgres ? 'jsonb' : 'json'),
    double: sql.raw(postgres ? 'double precision' : 'double'),
  };
}

export async function up(db: Kysely<any>): Promise<void> {
  const t = types(db);
  const stateColumns = sql`
    exposure_class ${t.text} not null,
    status ${t.text} not null,
    severity ${t.text} not null,
    severity_rank smallint not null,
    event_action ${t.text},
    event_kind ${t.text},
    asset_id ${t.key},
    asset_hostname ${t.text},
    asset_ip ${t.text},
    risk_score ${t.double},
    confidence ${t.double},
    dst_ip ${t.text},
    dst_ip_key ${t.key},
    dst_port integer,
    protocol ${t.text},
    service_name ${t.text},
    service_product ${t.text},
    service_version ${t.text},
    resource ${t.json},
    disposition_status ${t.text},
    disposition_reason ${t.text}`;

  await sql`create table if not exists exposure_events (
    tenant_id ${t.key} not null,
    event_id ${t.key} not null,
    timestamp timestamptz not null,
    office_id ${t.key} not null,
    exposure_id ${t.key} not null,
    ${stateColumns},
    scan_run_id ${t.key},
    scanner_type ${t.text},
    dedupe_key ${t.key},
    raw_payload ${t.json},
    ingested_at timestamptz not null default current_timestamp,
    primary key (tenant_id, event_id),
    unique (tenant_id, office_id, dedupe_key)
  )`.execute(db);
  await sql`create index if not exists exposure_events_office_time on exposure_events (tenant_id, office_id, timestamp)`.execute(
    db,
  );
  await sql`create index if not exists exposure_events_asset_time on exposure_events (tenant_id, asset_id, timestamp)`.execute(
    db,
  );
  await sql`create index if not exists exposure_events_exposure_time on exposure_events (tenant_id, office_id, exposure_id, timestamp)`.execute(
    db,
  );
  await sql`create index if not exists exposure_events_class_status on exposure_events (tenant_id, exposure_class, status)`.execute(
    db,
  );
  await sql`create index if not exists exposure_events_scan_run on exposure_events (tenant_id, scan_run_id)`.execute(
    db,
  );

  await sql`create table if not exists exposures_current (
    tenant_id ${t.key} not null,
    office_id ${t.key} not null,
    exposure_id ${t.key} not null,
    ${stateColumns},
    first_seen timestamptz not null,
    last_seen timestamptz not null,
    last_event_id ${t.key} not null,
    primary key (tenant_id, office_id, exposure_id)
  )`.execute(db);
  await sql`create index if not exists exposures_current_office_class on exposures_current (tenant_id, office_id, exposure_class)`.execute(
    db,
  );
  await sql`create index if not exists exposures_current_status_severity on exposures_current (tenant_id, status, severity)`.execute(
    db,
  );
  await sql`create index if not exists exposures_current_asset on exposures_current (tenant_id, asset_id)`.execute(
    db,
  );
  await sql`create index if not exists exposures_current_last_seen on exposures_current (tenant_id, last_seen)`.execute(
    db,
  );

  await sql`create table if not exists quarantined_files (
    tenant_id ${t.key} not null,
    id ${t.key} not null,
    filename ${t.text} not null,
    file_size bigint not null,
    file_hash ${t.text} not null,
    error_type ${t.text} not null,
    error_message ${t.text} not null,
    error_details ${t.json},
    scanner_type ${t.text},
    office_id ${t.key},
    status ${t.text} not null,
    content ${t.text},
    content_truncated boolean not null default false,
    replay_count integer not null default 0,
    discard_reason ${t.text},
    quarantined_at timestamptz not null,
    resolved_at timestamptz,
    primary key (tenant_id, id)
  )`.execute(db);
  await sql`create index if not exists quarantined_files_time on quarantined_files (tenant_id, quarantined_at)`.execute(
    db,
  );

  await sql`create table if not exists offices (
    tenant_id ${t.key} not null,
    office_id ${t.key} not null,
    name ${t.text},
    last_ingest_at timestamptz,
    primary key (tenant_id, office_id)
  )`.execute(db);

  await sql`create table if not exists api_keys (
    tenant_id ${t.key} not null,
    id ${t.key} not null,
    name ${t.text} not null,
    key_hash ${t.key} not null,
    office_ids ${t.text} not null,
    roles ${t.text} not null,
    created_at timestamptz not null,
    revoked_at timestamptz,
    primary key (tenant_id, id),
    unique (key_hash)
  )`.execute(db);

  await sql`create table if not exists ingest_batches (
    tenant_id ${t.key} not null,
    idempotency_key ${t.key} not null,
    request_hash ${t.key} not null,
    result ${t.json} not null,
    created_at timestamptz not null,
    primary key (tenant_id, idempotency_key)
  )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'ingest_batches',
    'api_keys',
    'offices',
    'quarantined_files',
    'exposures_current',
    'exposure_events',
  ]) {
    await sql`drop table if exists ${sql.table(table)}`.execute(db);
  }
}
