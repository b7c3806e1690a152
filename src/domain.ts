/**
 * The types every layer shares: scopes and roles, severities and statuses, exposure keys, the exposure
 * event, ingest results, and the one list of the fields an event carries about its exposure. Imports
 * nothing.
 */

/** What a caller may see and touch: one tenant, and all of its offices or a list of them. */
export interface Scope {
  readonly tenantId: string;
  readonly officeIds: 'all' | readonly string[];
}

export function scopeIncludesOffice(scope: Scope, officeId: string): boolean {
  return scope.officeIds === 'all' || scope.officeIds.includes(officeId);
}

/**
 * viewer: queries and subscriptions; ingestor: ingest mutations; analyst: what a viewer may, and triage;
 * admin: everything.
 */
export const ROLES = ['viewer', 'ingestor', 'analyst', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const SEVERITIES = ['INFO', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const STATUSES = ['OPEN', 'CLOSED'] as const;
export type ExposureStatus = (typeof STATUSES)[number];
export const QUARANTINE_STATUSES = ['PENDING', 'REPLAYED', 'DISCARDED'] as const;
export type QuarantineStatus = (typeof QUARANTINE_STATUSES)[number];

/** How a value is stored: the storage type of its column on both engines. */
export type ValueType = 'text' | 'timestamptz' | 'integer' | 'double' | 'json' | 'boolean';

/**
 * How the current state takes a field from the events of its exposure:
 * - latest: from the latest event in fold order (timestamp, event id), even when that event leaves it empty;
 * - coalesced: from the latest event that has it, so a null never erases a known value;
 * - grouped: from the event its `leader` (a coalesced field) comes from, null included: the fields of
 *   one decision move together, so a later decision never keeps an earlier one's reason or expiry.
 */
export type MergeRule = 'latest' | 'coalesced' | 'grouped';

interface FieldSpec {
  column: string;
  type: ValueType;
  merge: MergeRule;
  /** grouped: the coalesced field whose event this one is taken from. */
  leader?: string;
  /** Every event has it. */
  required?: true;
  /** The TypeScript type when it is narrower than its storage type. */
  domain?: 'status' | 'severity';
}

/**
 * The fields an event reports about its exposure, which the current state folds: the one list from which
 * columns, the fold, staging and row mapping are derived.
 */
export const EXPOSURE_FIELDS = {
  exposureClass: { column: 'exposure_class', type: 'text', merge: 'latest', required: true },
  status: { column: 'status', type: 'text', merge: 'latest', required: true, domain: 'status' },
  severity: { column: 'severity', type: 'text', merge: 'latest', required: true, domain: 'severity' },
  eventAction: { column: 'event_action', type: 'text', merge: 'latest' },
  eventKind: { column: 'event_kind', type: 'text', merge: 'latest' },
  assetId: { column: 'asset_id', type: 'text', merge: 'coalesced' },
  assetHostname: { column: 'asset_hostname', type: 'text', merge: 'coalesced' },
  assetIp: { column: 'asset_ip', type: 'text', merge: 'coalesced' },
  riskScore: { column: 'risk_score', type: 'double', merge: 'coalesced' },
  confidence: { column: 'confidence', type: 'double', merge: 'coalesced' },
  dstIp: { column: 'dst_ip', type: 'text', merge: 'coalesced' },
  dstPort: { column: 'dst_port', type: 'integer', merge: 'coalesced' },
  protocol: { column: 'protocol', type: 'text', merge: 'coalesced' },
  serviceName: { column: 'service_name', type: 'text', merge: 'coalesced' },
  serviceProduct: { column: 'service_product', type: 'text', merge: 'coalesced' },
  serviceVersion: { column: 'service_version', type: 'text', merge: 'coalesced' },
  resource: { column: 'resource', type: 'json', merge: 'coalesced' },
  // A triage decision is one group: the latest event that sets a dispositionStatus ("none" clears it)
  // decides the reason and the expiry too, even where it leaves them empty; an event without a
  // dispositionStatus changes none of the three.
  dispositionStatus: { column: 'disposition_status', type: 'text', merge: 'coalesced' },
  dispositionReason: {
    column: 'disposition_reason',
    type: 'text',
    merge: 'grouped',
    leader: 'dispositionStatus',
  },
  dispositionExpiresAt: {
    column: 'disposition_expires_at',
    type: 'timestamptz',
    merge: 'grouped',
    leader: 'dispositionStatus',
  },
  // In the state, the scanner that last reported the exposure: a completed scan run closes only its own.
  scannerType: { column: 'scanner_type', type: 'text', merge: 'coalesced' },
} as const satisfies Record<string, FieldSpec>;

export type ExposureField = keyof typeof EXPOSURE_FIELDS;
type Spec<F extends ExposureField> = (typeof EXPOSURE_FIELDS)[F];
export type LatestField = {
  [F in ExposureField]: Spec<F>['merge'] extends 'latest' ? F : never;
}[ExposureField];
export type CoalescedField = {
  [F in ExposureField]: Spec<F>['merge'] extends 'coalesced' ? F : never;
}[ExposureField];
export type GroupedField = Exclude<ExposureField, LatestField | CoalescedField>;

/** The column of each field, and the fields by merge rule, in the list's order. */
export type ColumnOf<F extends ExposureField> = Spec<F>['column'];
export const FIELD_NAMES = Object.keys(EXPOSURE_FIELDS) as ExposureField[];
export const LATEST_FIELDS = FIELD_NAMES.filter(
  (f) => EXPOSURE_FIELDS[f].merge === 'latest',
) as LatestField[];
export const COALESCED_FIELDS = FIELD_NAMES.filter(
  (f) => EXPOSURE_FIELDS[f].merge === 'coalesced',
) as CoalescedField[];
export const GROUPED_FIELDS = FIELD_NAMES.filter(
  (f) => EXPOSURE_FIELDS[f].merge === 'grouped',
) as GroupedField[];

/** The coalesced field whose event a grouped field is taken from. */
export function leaderOf(field: GroupedField): CoalescedField {
  return EXPOSURE_FIELDS[field].leader;
}

interface ValueOfType {
  text: string;
  timestamptz: string;
  integer: number;
  double: number;
  json: unknown;
  boolean: boolean;
}
type DomainValue<S> = S extends { domain: 'status' }
  ? ExposureStatus
  : S extends { domain: 'severity' }
    ? Severity
    : S extends { type: infer T extends ValueType }
      ? ValueOfType[T]
      : never;
type FieldValue<S> = S extends { required: true } ? DomainValue<S> : DomainValue<S> | null;

/** The values of every exposure field, as the fold sees them. */
export type ExposureFieldValues = { -readonly [F in ExposureField]: FieldValue<Spec<F>> };

export interface ExposureKey {
  officeId: string;
  exposureId: string;
}

/** The exposure event as the ingest core sees it after validation. */
export interface ExposureEvent extends ExposureKey, ExposureFieldValues {
  eventId: string;
  /** ISO-8601 UTC with milliseconds. */
  timestamp: string;
  scanRunId: string | null;
  scannerType: string | null;
  dedupeKey: string | null;
  rawPayload: unknown;
  /** Who writes it: the caller's token subject or API key name, never the event's own content. */
  actor?: string | null;
}

/**
 * An event's place in fold order, as text: the fixed-width ISO timestamp, then the event id. Text order
 * of positions (UTF-8 bytes) is the order by (timestamp, event id), on both engines and in the fold.
 */
export function foldPosition(event: Pick<ExposureEvent, 'timestamp' | 'eventId'>): string {
  return event.timestamp + event.eventId;
}

/** Byte order of UTF-8, as both engines compare keys (PostgreSQL columns use COLLATE "C"). */
export function compareText(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** An event input field that failed validation, reported with the event's index in its batch. */
export interface RejectedEvent {
  index: number;
  field: string | null;
  code: string;
  message: string;
}

export interface IngestCounts {
  eventsInserted: number;
  eventsDuplicate: number;
  exposuresInserted: number;
  exposuresUpdated: number;
  totalProcessed: number;
}

export interface IngestResult extends IngestCounts {
  rejected: RejectedEvent[];
}

// With the u flag a surrogate pair is one code point, so \p{Surrogate} matches only unpaired halves.
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is exactly the character refused.
const UNSTORABLE_CHARACTER = /[\u0000\p{Surrogate}]/u;

/**
 * Text both engines store alike: PostgreSQL text and jsonb cannot hold U+0000 (DuckDB can), and an
 * unpaired UTF-16 surrogate has no UTF-8 form (each engine would store or refuse it its own way).
 */
export function isStorableText(value: string): boolean {
  return !UNSTORABLE_CHARACTER.test(value);
}

/** What an INVALID_CHARACTERS refusal says of the text it names. */
export const UNSTORABLE_TEXT = 'must not contain U+0000 (NUL) or an unpaired UTF-16 surrogate';

/** What a caller can act on: every refusal carries one of these codes, as extensions.code. */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'INVALID_CURSOR'
  | 'TOO_MANY_BUCKETS'
  | 'INVALID_EVENTS'
  | 'TOO_MANY_EVENTS'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'NOT_FOUND'
  | 'ALREADY_RESOLVED'
  | 'FILE_TOO_LARGE'
  | 'QUERY_TIMEOUT'
  | 'QUERY_TOO_DEEP'
  | 'TOO_MANY_ALIASES'
  | 'QUERY_TOO_LARGE'
  | 'REQUEST_TOO_LARGE'
  | 'CSRF_HEADER_REQUIRED'
  | 'PERSISTED_QUERY_ONLY'
  | 'PERSISTED_QUERY_NOT_FOUND'
  | 'FILTER_LIST_TOO_LONG'
  | 'INVALID_CHARACTERS'
  | 'QUERY_TOO_COSTLY'
  | 'SCAN_RUN_COMPLETED'
  | 'RATE_LIMITED'
  | 'OVERLOADED'
  | 'CHANGE_FEED_INTERRUPTED'
  | 'STORE_FAILED';

/** A disposition status that clears the decision: the exposure is undecided again. */
export const NO_DISPOSITION = 'none';

/** SLA days to remediate per severity; null: no SLA for that severity. */
export type SlaPolicy = Record<Severity, number | null>;
/** The SLA policy of a tenant that has not set one. */
export const DEFAULT_SLA_POLICY: SlaPolicy = { CRITICAL: 7, HIGH: 30, MEDIUM: 90, LOW: 180, INFO: null };
/** SLA days are whole days of 24 hours, on both engines and here, whatever the time zone. */
export const SLA_DAY_MS = 24 * 60 * 60 * 1000;

/** When an open streak must be remediated by: its start plus the days of the severity; null without either. */
export function slaDueAt(openSince: Date | null, severity: Severity, policy: SlaPolicy): Date | null {
  const days = policy[severity];
  return openSince === null || days === null ? null : new Date(openSince.getTime() + days * SLA_DAY_MS);
}

/** A decision other than "none" is set and has not lapsed at `now`. */
export function isDispositionActive(status: string | null, expiresAt: string | null, now: Date): boolean {
  return (
    status !== null &&
    status !== NO_DISPOSITION &&
    (expiresAt === null || Date.parse(expiresAt) > now.getTime())
  );
}

/**
 * A refusal the caller can act on: a code, a message that says what to change, and details such as the
 * field or the limit. Every layer throws these; src/errors.ts turns them into client errors, in one place.
 */
export class DomainError extends Error {
  override name = 'DomainError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}
