/** Validates raw event input: every problem is reported with the event's index, the field and a reason. */
import { createHash } from 'node:crypto';
import type { ExposureEvent, RejectedEvent } from '../domain.ts';
import { isStorableText, SEVERITIES, STATUSES, UNSTORABLE_TEXT } from '../domain.ts';
import { canonicalIp } from '../ip.ts';

export interface ValidationLimits {
  /** How far in the future a timestamp may be, for scanner clocks that run ahead. */
  maxFutureSkewSeconds: number;
  /** The instant "now" is measured from; tests pin it. */
  now?: Date;
}

export const MAX_ID_LENGTH = 256;
export const MAX_TEXT_LENGTH = 2048;
export const MAX_JSON_BYTES = 64 * 1024;
/** Nesting of rawPayload and resource: deeper JSON is refused before it is serialized or stored. */
export const MAX_JSON_DEPTH = 32;

/** Why a JSON value cannot be stored, or null: too deep, or a key or string that is not storable text. */
function jsonProblem(value: unknown): { code: string; message: string } | null {
  // Iterative: a payload nested thousands deep must not exhaust the stack.
  const pending: { value: unknown; depth: number }[] = [{ value, depth: 1 }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const { value: item, depth } = next;
    if (typeof item === 'string') {
      if (!isStorableText(item)) return { code: 'INVALID_CHARACTERS', message: UNSTORABLE_TEXT };
      continue;
    }
    if (item === null || typeof item !== 'object') continue;
    if (depth > MAX_JSON_DEPTH)
      return { code: 'TOO_DEEP', message: `must be nested at most ${MAX_JSON_DEPTH} levels deep` };
    for (const [key, child] of Object.entries(item)) {
      if (!isStorableText(key)) return { code: 'INVALID_CHARACTERS', message: `keys ${UNSTORABLE_TEXT}` };
      pending.push({ value: child, depth: depth + 1 });
    }
  }
  return null;
}

const ID_FIELDS = ['eventId', 'officeId', 'exposureId', 'assetId', 'scanRunId', 'dedupeKey'] as const;
const TEXT_FIELDS = [
  'exposureClass',
  'eventAction',
  'eventKind',
  'assetHostname',
  'protocol',
  'scannerType',
  'serviceName',
  'serviceProduct',
  'serviceVersion',
  'dispositionStatus',
  'dispositionReason',
] as const;
const REQUIRED_FIELDS = [
  'timestamp',
  'officeId',
  'exposureId',
  'exposureClass',
  'status',
  'severity',
] as const;
const REQUIRED = new Set<string>(REQUIRED_FIELDS);
const KNOWN_FIELDS = new Set<string>([
  ...ID_FIELDS,
  ...TEXT_FIELDS,
  'timestamp',
  'status',
  'severity',
  'assetIp',
  'dstIp',
  'riskScore',
  'confidence',
  'dstPort',
  'resource',
  'dispositionExpiresAt',
  'rawPayload',
]);

// An offset is required: a bare local time means different instants on different scanners.
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))$/;
/** kysely-duckdb reads years before 100 back wrong and PostgreSQL has no year 0: keep to the Unix era. */
const EARLIEST_TIMESTAMP = Date.UTC(1970, 0, 1);

/** Date.parse rolls a day that does not exist over (2026-02-30 becomes March 2): check every part first. */
function isCalendarTime(match: RegExpExecArray): boolean {
  const part = (group: number) => Number(match[group] ?? 0);
  const [year, month, day] = [part(1), part(2), part(3)];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const [hour, minute, second, offsetHour, offsetMinute] = [part(4), part(5), part(6), part(9), part(10)];
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHour <= 23 &&
    offsetMinute <= 59
  );
}

export interface ValidationResult {
  /** Valid events with their index in the input. */
  valid: { index: number; event: ExposureEvent }[];
  rejected: RejectedEvent[];
}

/** Validates and normalizes a batch; an event with any problem is left out of `valid`. */
export function validateEvents(inputs: readonly unknown[], limits: ValidationLimits): ValidationResult {
  const result: ValidationResult = { valid: [], rejected: [] };
  const latest = (limits.now ?? new Date()).getTime() + limits.maxFutureSkewSeconds * 1000;
  const checker = new EventChecker(latest);
  inputs.forEach((input, index) => {
    const problems: RejectedEvent[] = [];
    const event = checker.check(input, index, problems);
    if (event && problems.length === 0) result.valid.push({ index, event });
    else result.rejected.push(...problems);
  });
  return result;
}

/**
 * Checks one event at a time. The per-field checks are methods of one object reused for the whole batch
 * rather than closures made anew for every event: ingest runs them for every event of every call.
 */
class EventChecker {
  private raw: Record<string, unknown> = {};
  private index = 0;
  private problems: RejectedEvent[] = [];

  constructor(private readonly latestAllowed: number) {}

  check(input: unknown, index: number, problems: RejectedEvent[]): ExposureEvent | null {
    this.index = index;
    this.problems = problems;
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      return this.reject(null, 'INVALID_TYPE', 'an event must be a JSON object');
    }
    const raw = input as Record<string, unknown>;
    this.raw = raw;
    for (const field of Object.keys(raw)) {
      if (!KNOWN_FIELDS.has(field))
        this.reject(field, 'UNKNOWN_FIELD', 'is not a field of an exposure event');
    }
    for (const field of REQUIRED_FIELDS) {
      if (raw[field] === undefined || raw[field] === null || raw[field] === '')
        this.reject(field, 'REQUIRED', 'is required');
    }

    const event = {
      timestamp: this.timestamp('timestamp', true),
      officeId: this.text('officeId', MAX_ID_LENGTH),
      exposureId: this.text('exposureId', MAX_ID_LENGTH),
      exposureClass: this.text('exposureClass', MAX_TEXT_LENGTH),
      status: this.enumValue('status', STATUSES),
      severity: this.enumValue('severity', SEVERITIES),
      eventAction: this.text('eventAction', MAX_TEXT_LENGTH),
      eventKind: this.text('eventKind', MAX_TEXT_LENGTH),
      assetId: this.text('assetId', MAX_ID_LENGTH),
      assetHostname: this.text('assetHostname', MAX_TEXT_LENGTH),
      assetIp: this.ip('assetIp'),
      riskScore: this.number('riskScore', 0, 100),
      confidence: this.number('confidence', 0, 1),
      dstIp: this.ip('dstIp'),
      dstPort: this.number('dstPort', 0, 65535, true),
      protocol: this.text('protocol', MAX_TEXT_LENGTH),
      scanRunId: this.text('scanRunId', MAX_ID_LENGTH),
      scannerType: this.text('scannerType', MAX_TEXT_LENGTH),
      dedupeKey: this.text('dedupeKey', MAX_ID_LENGTH),
      serviceName: this.text('serviceName', MAX_TEXT_LENGTH),
      serviceProduct: this.text('serviceProduct', MAX_TEXT_LENGTH),
      serviceVersion: this.text('serviceVersion', MAX_TEXT_LENGTH),
      resource: this.json('resource'),
      dispositionStatus: this.text('dispositionStatus', MAX_TEXT_LENGTH),
      dispositionReason: this.text('dispositionReason', MAX_TEXT_LENGTH),
      // An expiry is a decision about the future: only the lower bound of timestamps applies.
      dispositionExpiresAt: this.timestamp('dispositionExpiresAt', false),
      rawPayload: this.json('rawPayload'),
    };
    const eventId = this.text('eventId', MAX_ID_LENGTH);
    if (problems.length > 0) return null;
    const { timestamp: ts, officeId, exposureId, exposureClass, status, severity } = event;
    if (!ts || !officeId || !exposureId || !exposureClass || !status || !severity) return null;
    const complete = { ...event, timestamp: ts, officeId, exposureId, exposureClass, status, severity };
    return { eventId: eventId ?? deriveEventId(complete), ...complete };
  }

  private reject(field: string | null, code: string, message: string): null {
    this.problems.push({
      index: this.index,
      field,
      code,
      message: field ? `${field}: ${message}` : message,
    });
    return null;
  }

  private text(field: string, max: number): string | null {
    const value = this.raw[field];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'string') return this.reject(field, 'INVALID_TYPE', 'must be a string');
    // An empty required field is already reported as REQUIRED.
    if (value.length === 0)
      return REQUIRED.has(field) ? null : this.reject(field, 'INVALID_VALUE', 'must not be empty');
    if (value.length > max) return this.reject(field, 'TOO_LONG', `must be at most ${max} characters`);
    if (!isStorableText(value)) return this.reject(field, 'INVALID_CHARACTERS', UNSTORABLE_TEXT);
    return value;
  }

  private number(field: string, min: number, max: number, integer = false): number | null {
    const value = this.raw[field];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'number' || !Number.isFinite(value))
      return this.reject(field, 'INVALID_TYPE', 'must be a number');
    if (integer && !Number.isInteger(value)) return this.reject(field, 'INVALID_TYPE', 'must be an integer');
    if (value < min || value > max)
      return this.reject(field, 'OUT_OF_RANGE', `must be between ${min} and ${max}`);
    return value;
  }

  private enumValue<T extends string>(field: string, allowed: readonly T[]): T | null {
    const value = this.raw[field];
    if (value === undefined || value === null || value === '') return null;
    const upper = typeof value === 'string' ? value.toUpperCase() : undefined;
    for (const candidate of allowed) if (candidate === upper) return candidate;
    return this.reject(field, 'INVALID_VALUE', `must be one of ${allowed.join(', ')}`);
  }

  private ip(field: string): string | null {
    const value = this.text(field, 64);
    if (value === null) return null;
    return (
      canonicalIp(value) ??
      this.reject(field, 'INVALID_IP', 'must be an IPv4 or IPv6 address without prefix or leading zeros')
    );
  }

  private json(field: string): unknown {
    const value = this.raw[field];
    if (value === undefined || value === null) return null;
    const problem = jsonProblem(value);
    if (problem) return this.reject(field, problem.code, problem.message);
    const size = Buffer.byteLength(JSON.stringify(value));
    if (size > MAX_JSON_BYTES)
      return this.reject(field, 'TOO_LARGE', `must serialize to at most ${MAX_JSON_BYTES} bytes`);
    return value;
  }

  private timestamp(field: 'timestamp' | 'dispositionExpiresAt', skewBound: boolean): string | null {
    const value = this.raw[field];
    if (value === undefined || value === null || value === '') return null;
    const match = typeof value === 'string' ? TIMESTAMP.exec(value) : null;
    if (typeof value !== 'string' || !match) {
      return this.reject(
        field,
        'INVALID_TIMESTAMP',
        'must be ISO-8601 with an offset, e.g. 2026-01-31T12:00:00Z',
      );
    }
    const millis = Date.parse(value);
    if (Number.isNaN(millis) || !isCalendarTime(match)) {
      return this.reject(field, 'INVALID_TIMESTAMP', 'is not a valid date and time');
    }
    if (millis < EARLIEST_TIMESTAMP) {
      return this.reject(field, 'OUT_OF_RANGE', 'must not be before 1970-01-01T00:00:00Z');
    }
    if (skewBound && millis > this.latestAllowed) {
      return this.reject(field, 'FUTURE_TIMESTAMP', 'is further in the future than the allowed clock skew');
    }
    // Millisecond precision: both engines and JavaScript agree on it exactly.
    return new Date(millis).toISOString();
  }
}

/** A stable id from the event's content, so a resent event without an id is still a duplicate. */
export function deriveEventId(event: Omit<ExposureEvent, 'eventId'>): string {
  // Left out when empty, as it was before the field existed: resent events keep their derived ids.
  const { dispositionExpiresAt, ...earlier } = event;
  const content = dispositionExpiresAt === null ? earlier : event;
  return `sha256:${createHash('sha256').update(canonicalJson(content)).digest('hex')}`;
}

/** JSON with object keys sorted at every level, so equal content gives equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
