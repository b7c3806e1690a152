/** Table types of the store: one interface per table, shared by both engines. */
import type { ColumnType, Insertable, Selectable } from 'kysely';
import type {
  CoalescedField,
  ColumnOf,
  EXPOSURE_FIELDS,
  ExposureField,
  ExposureFieldValues,
  QuarantineStatus,
} from '../domain.ts';

/** Timestamps are written as ISO strings (DuckDB cannot bind a Date) and read back as Date. */
export type Timestamp = ColumnType<Date, string, string>;
/** JSON is written as serialized text; DuckDB reads it back as text, PostgreSQL as a value. */
export type Json = ColumnType<unknown, string | null, string | null>;

/** A timestamp that may be empty. */
export type NullableTimestamp = ColumnType<Date | null, string | null, string | null>;

type StoredValue<F extends ExposureField> = (typeof EXPOSURE_FIELDS)[F]['type'] extends 'json'
  ? Json
  : (typeof EXPOSURE_FIELDS)[F]['type'] extends 'timestamptz'
    ? NullableTimestamp
    : ExposureFieldValues[F];

/** Columns an event carries beyond its identity; the same names exist on the current-state row. */
export type ExposureStateColumns = { [F in ExposureField as ColumnOf<F>]: StoredValue<F> } & {
  /** Index of severity in SEVERITIES, so severity sorts and compares in its order. */
  severity_rank: number;
  /** Family-prefixed fixed-width hex of dst_ip ("4:0a000001"), so a CIDR match is a range scan on both engines. */
  dst_ip_key: string | null;
};

/** The fold position (see foldPosition) of each coalesced value; null when it is the row's last_position. */
export type ExposurePositionColumns = { [F in CoalescedField as `${ColumnOf<F>}_position`]: string | null };

export type ExposureEventTable = ExposureStateColumns & {
  tenant_id: string;
  event_id: string;
  timestamp: Timestamp;
  office_id: string;
  exposure_id: string;
  scan_run_id: string | null;
  scanner_type: string | null;
  dedupe_key: string | null;
  /** Who wrote it: a token's subject or an API key's name; null for events written before it was kept. */
  actor: string | null;
  /** keyHash(tenant_id, event_id): DuckDB finds stored event ids through it. */
  event_hash: bigint;
  raw_payload: Json;
  ingested_at: ColumnType<Date, string | undefined, never>;
  /** keyHash(tenant_id, office_id, exposure_id): the one-column lookup key of an exposure's events. */
  exposure_hash: bigint;
  /** keyHash(tenant_id, office_id, dedupe_key) when there is a dedupe key. */
  dedupe_hash: bigint | null;
};

export type ExposureCurrentTable = ExposureStateColumns &
  ExposurePositionColumns & {
    tenant_id: string;
    office_id: string;
    exposure_id: string;
    first_seen: Timestamp;
    last_seen: Timestamp;
    /** The event that decided the latest state. */
    last_event_id: string;
    /** The fold position of that event. */
    last_position: string;
    /** How many events of the log the row folds. */
    event_count: number;
    /** Start of the current OPEN streak (see fold.ts); null while CLOSED. */
    open_since: NullableTimestamp;
    /** The fold position of the event that started it. */
    open_since_position: string | null;
    /** The fold position of the latest CLOSED event; null when there is none. */
    closed_position: string | null;
    /** keyHash(tenant_id, office_id, exposure_id). */
    exposure_hash: bigint;
  };

/** Event counts per tenant and 15-minute period (see repositories/event-rollups.ts). */
export interface TenantEventRollupTable {
  tenant_id: string;
  /** 15-minute periods since the Unix epoch: floor(epoch seconds / 900). */
  quarter_hour: number;
  events: number;
}

/** Event counts per tenant, 15-minute period and office. */
export interface OfficeEventRollupTable extends TenantEventRollupTable {
  office_id: string;
}

/** Event counts per tenant, 15-minute period and every timeline dimension. */
export interface EventRollupTable
  extends OfficeEventRollupTable,
    Pick<ExposureStateColumns, 'exposure_class' | 'severity' | 'status'> {
  /** '' for events without an action: the column is part of the key, which cannot hold a null. */
  event_action: string;
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
  /** The file's format (events, nmap, nuclei); null for files quarantined before it was kept: events. */
  format: string | null;
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

/** A tenant's SLA days per severity; null: no SLA. A tenant without a row has DEFAULT_SLA_POLICY. */
export interface SlaPolicyTable {
  tenant_id: string;
  critical: number | null;
  high: number | null;
  medium: number | null;
  low: number | null;
  info: number | null;
  updated_at: Timestamp;
}

/** A scan run of one office, with the counts ingest keeps (see repositories/scan-runs.ts). */
export interface ScanRunTable {
  tenant_id: string;
  office_id: string;
  scan_run_id: string;
  scanner_type: string | null;
  started_at: ColumnType<Date | null, string | null, string | null>;
  /** Null while the run is open. */
  completed_at: ColumnType<Date | null, string | null, string | null>;
  events_observed: number;
  exposures_observed: number;
  exposures_new: number;
  exposures_reopened: number;
  exposures_closed: number;
}

/** An exposure a run observed (observed) or closed at its completion (not observed), once per run. */
export interface ScanRunExposureTable {
  tenant_id: string;
  office_id: string;
  scan_run_id: string;
  exposure_id: string;
  observed: boolean;
  /** The run's event was the exposure's first. */
  is_new: boolean;
  /** The exposure was CLOSED before the run's event and the run saw it OPEN. */
  reopened: boolean;
  /** keyHash(tenant_id, office_id, scan_run_id). */
  run_hash: bigint;
  /** keyHash(tenant_id, office_id, scan_run_id, exposure_id). */
  observation_hash: bigint;
}

/** A change set too large for a NOTIFY payload, read back by the other gateways (PostgreSQL only). */
export interface ChangeNoticeTable {
  tenant_id: string;
  notice_id: string;
  /** The changed exposures, as [officeId, exposureId] pairs. */
  payload: Json;
  created_at: ColumnType<Date, never, never>;
}

/** exposure_counts: exposures of the current state per office, class, status and severity. */
export interface ExposureCountTable
  extends Pick<ExposureStateColumns, 'exposure_class' | 'severity' | 'status'> {
  tenant_id: string;
  office_id: string;
  /** bigint: pg returns it as text. */
  exposures: ColumnType<string | number, number, number>;
}

/**
 * exposure_sort_keys, on PostgreSQL only: the sort columns of each exposure of the current state, indexed
 * per order for the exposure pages; triggers on exposures_current keep it.
 */
export interface ExposureSortKeyTable {
  tenant_id: string;
  office_id: string;
  exposure_id: string;
  status: ExposureStateColumns['status'];
  last_seen: Date;
  first_seen: Date;
  severity_rank: number;
  /** coalesce(risk_score, -1), as the pages sort it. */
  risk: number;
}

export interface Database {
  exposure_events: ExposureEventTable;
  exposures_current: ExposureCurrentTable;
  quarantined_files: QuarantinedFileTable;
  offices: OfficeTable;
  api_keys: ApiKeyTable;
  ingest_batches: IngestBatchTable;
  event_rollups: EventRollupTable;
  office_event_rollups: OfficeEventRollupTable;
  tenant_event_rollups: TenantEventRollupTable;
  sla_policies: SlaPolicyTable;
  scan_runs: ScanRunTable;
  scan_run_exposures: ScanRunExposureTable;
  change_notices: ChangeNoticeTable;
  exposure_counts: ExposureCountTable;
  exposure_sort_keys: ExposureSortKeyTable;
}

export type ExposureEventRow = Selectable<ExposureEventTable>;
export type NewExposureEvent = Insertable<ExposureEventTable>;
export type ExposureRow = Selectable<ExposureCurrentTable>;
export type QuarantinedFileRow = Selectable<QuarantinedFileTable>;
export type OfficeRow = Selectable<OfficeTable>;
export type ApiKeyRow = Selectable<ApiKeyTable>;
export type ScanRunRow = Selectable<ScanRunTable>;
