/** Table types of the store: one interface per table, shared by both engines. */
import type { ColumnType, Insertable, Selectable } from 'kysely';

/** Timestamps are written as ISO strings (DuckDB cannot bind a Date) and read back as Date. */
export type Timestamp = ColumnType<Date, string, string>;
/** JSON is written as serialized text; DuckDB reads it back as text, PostgreSQL as a value. */
export type Json = ColumnType<unknown, string | null, string | null>;

export const SEVERITIES = ['INFO', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const STATUSES = ['OPEN', 'CLOSED'] as const;
export type ExposureStatus = (typeof STATUSES)[number];
export const QUARANTINE_STATUSES = ['PENDING', 'REPLAYED', 'DISCARDED'] as const;
export type QuarantineStatus = (typeof QUARANTINE_STATUSES)[number];

/** Columns an event carries beyond its identity; the same names exist on the current-state row. */
export interface ExposureStateColumns {
  exposure_class: string;
  status: ExposureStatus;
  severity: Severity;
  severity_rank: number;
  event_action: string | null;
  event_kind: string | null;
  asset_id: string | null;
  asset_hostname: string | null;
  asset_ip: string | null;
  risk_score: number | null;
  confidence: number | null;
  dst_ip: string | null;
  /** Family-prefixed fixed-width hex of dst_ip ("4:0a000001"), so a CIDR match is a range scan on both engines. */
  dst_ip_key: string | null;
  dst_port: number | null;
  protocol: string | null;
  service_name: string | null;
  service_product: string | null;
  service_version: string | null;
  resource: Json;
  disposition_status: string | null;
  disposition_reason: string | null;
}

export interface ExposureEventTable extends ExposureStateColumns {
  tenant_id: string;
  event_id: string;
  timestamp: Timestamp;
  office_id: string;
  exposure_id: string;
  scan_run_id: string | null;
  scanner_type: string | null;
  dedupe_key: string | null;
  raw_payload: Json;
  ingested_at: ColumnType<Date, string | undefined, never>;
}

export interface ExposureCurrentTable extends ExposureStateColumns {
  tenant_id: string;
  office_id: string;
  exposure_id: string;
  first_seen: Timestamp;
  last_seen: Timestamp;
  /** The event that decided the latest state: with last_seen, the fold position of the row. */
  last_event_id: string;
}

export interface QuarantinedFileTable {
  tenant_id: string;
  id: string;
  filename: string;
  file_size: number;
  file_hash: string;
  error_type: string;
  error_message: string;
  error_details: Json;
  scanner_type: string | null;
  office_id: string | null;
  status: QuarantineStatus;
  content: string | null;
  content_truncated: boolean;
  replay_count: number;
  discard_reason: string | null;
  quarantined_at: Timestamp;
  resolved_at: ColumnType<Date | null, string | null, string | null>;
}

export interface OfficeTable {
  tenant_id: string;
  office_id: string;
  name: string | null;
  last_ingest_at: ColumnType<Date | null, string | null, string | null>;
}

export interface ApiKeyTable {
  tenant_id: string;
  id: string;
  name: string;
  key_hash: string;
  office_ids: string;
  roles: string;
  created_at: Timestamp;
  revoked_at: ColumnType<Date | null, string | null, string | null>;
}

export interface IngestBatchTable {
  tenant_id: string;
  idempotency_key: string;
  request_hash: string;
  result: Json;
  created_at: Timestamp;
}

export interface Database {
  exposure_events: ExposureEventTable;
  exposures_current: ExposureCurrentTable;
  quarantined_files: QuarantinedFileTable;
  offices: OfficeTable;
  api_keys: ApiKeyTable;
  ingest_batches: IngestBatchTable;
}

export type ExposureEventRow = Selectable<ExposureEventTable>;
export type NewExposureEvent = Insertable<ExposureEventTable>;
export type ExposureRow = Selectable<ExposureCurrentTable>;
export type QuarantinedFileRow = Selectable<QuarantinedFileTable>;
export type OfficeRow = Selectable<OfficeTable>;
export type ApiKeyRow = Selectable<ApiKeyTable>;
