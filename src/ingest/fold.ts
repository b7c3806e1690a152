/**
 * The merge rules of the current state, as pure functions. exposures_current must always equal
 * foldEvents(all events), whatever order they arrived in: the SQL in writer.ts implements the same rules.
 */
import type { ExposureEvent, ExposureKey } from './event.ts';

/** Fields taken from the latest event, even when it leaves them empty. */
export const LATEST_FIELDS = ['exposureClass', 'status', 'severity', 'eventAction', 'eventKind'] as const;

/** Optional fields taken from the latest event that has them: a null never erases a known value. */
export const COALESCED_FIELDS = [
  'assetId',
  'assetHostname',
  'assetIp',
  'riskScore',
  'confidence',
  'dstIp',
  'dstPort',
  'protocol',
  'serviceName',
  'serviceProduct',
  'serviceVersion',
  'resource',
  'dispositionStatus',
  'dispositionReason',
] as const;

type CoalescedField = (typeof COALESCED_FIELDS)[number];

export type ExposureState = ExposureKey &
  Pick<ExposureEvent, (typeof LATEST_FIELDS)[number] | CoalescedField> & {
    firstSeen: string;
    lastSeen: string;
    lastEventId: string;
  };

/** Byte order of UTF-8, as both engines compare keys (PostgreSQL columns use COLLATE "C"). */
export function compareText(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Fold order: by timestamp, then event id. */
export function compareEvents(a: ExposureEvent, b: ExposureEvent): number {
  return a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : compareText(a.eventId, b.eventId);
}

export function exposureKey(key: ExposureKey): string {
  return JSON.stringify([key.officeId, key.exposureId]);
}

/** The state after `event`, which must not come before the events already folded into `state`. */
export function applyEvent(state: ExposureState | undefined, event: ExposureEvent): ExposureState {
  const coalesced = Object.fromEntries(COALESCED_FIELDS.map((f) => [f, event[f] ?? state?.[f] ?? null]));
  return {
    officeId: event.officeId,
    exposureId: event.exposureId,
    exposureClass: event.exposureClass,
    status: event.status,
    severity: event.severity,
    eventAction: event.eventAction,
    eventKind: event.eventKind,
    ...(coalesced as Pick<ExposureEvent, CoalescedField>),
    firstSeen: state?.firstSeen ?? event.timestamp,
    lastSeen: event.timestamp,
    lastEventId: event.eventId,
  };
}

/** The current state of every exposure the events mention, keyed by exposureKey(). */
export function foldEvents(events: readonly ExposureEvent[]): Map<string, ExposureState> {
  const states = new Map<string, ExposureState>();
  for (const event of [...events].sort(compareEvents)) {
    const key = exposureKey(event);
    states.set(key, applyEvent(states.get(key), event));
  }
  return states;
}

/** Drops repeats inside one batch (same event id, or same dedupe key in one office), keeping the first. */
export function dropBatchRepeats(events: readonly ExposureEvent[]): ExposureEvent[] {
  const ids = new Set<string>();
  const dedupeKeys = new Set<string>();
  return events.filter((event) => {
    const dedupe = event.dedupeKey === null ? null : JSON.stringify([event.officeId, event.dedupeKey]);
    if (ids.has(event.eventId) || (dedupe !== null && dedupeKeys.has(dedupe))) return false;
    ids.add(event.eventId);
    if (dedupe !== null) dedupeKeys.add(dedupe);
    return true;
  });
}
