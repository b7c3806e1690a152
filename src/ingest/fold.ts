/**
 * The merge rules of the current state, as pure functions. exposures_current must always equal
 * foldEvents(all events), whatever order they arrived in; the SQL in db/repositories/event-log.ts
 * implements mergeStates(), which gives the same result from any grouping and order of the events.
 */
import {
  COALESCED_FIELDS,
  type CoalescedField,
  type ExposureEvent,
  type ExposureFieldValues,
  type ExposureKey,
  FIELD_NAMES,
  foldPosition,
  LATEST_FIELDS,
} from '../domain.ts';

export type ExposureState = ExposureKey &
  ExposureFieldValues & {
    firstSeen: string;
    lastSeen: string;
    lastEventId: string;
    /** How many events were folded in. */
    eventCount: number;
  };

/**
 * A state that remembers where its values came from, so that it can merge with any other: the position
 * of the latest event, and of the event behind each coalesced value that is set.
 */
export interface MergeableState extends ExposureState {
  lastPosition: string;
  positions: Partial<Record<CoalescedField, string>>;
}

/** Byte order of UTF-8, as both engines compare keys (PostgreSQL columns use COLLATE "C"). */
export function compareText(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Fold order: by timestamp, then event id. */
export function compareEvents(a: ExposureEvent, b: ExposureEvent): number {
  return compareText(foldPosition(a), foldPosition(b));
}

export function exposureKey(key: ExposureKey): string {
  return JSON.stringify([key.officeId, key.exposureId]);
}

/** The state after `event`, which must not come before the events already folded into `state`. */
export function applyEvent(state: ExposureState | undefined, event: ExposureEvent): ExposureState {
  const next = { ...state } as Record<string, unknown>;
  for (const field of LATEST_FIELDS) next[field] = event[field];
  for (const field of COALESCED_FIELDS) next[field] = event[field] ?? state?.[field] ?? null;
  return {
    ...(next as ExposureFieldValues),
    officeId: event.officeId,
    exposureId: event.exposureId,
    firstSeen: state?.firstSeen ?? event.timestamp,
    lastSeen: event.timestamp,
    lastEventId: event.eventId,
    eventCount: (state?.eventCount ?? 0) + 1,
  };
}

/** The current state of every exposure the events mention, keyed by exposureKey(): the in-order fold. */
export function foldEvents(events: readonly ExposureEvent[]): Map<string, ExposureState> {
  const states = new Map<string, ExposureState>();
  for (const event of [...events].sort(compareEvents)) {
    const key = exposureKey(event);
    states.set(key, applyEvent(states.get(key), event));
  }
  return states;
}

/** The state of an exposure that has seen only this event. */
export function stateOfEvent(event: ExposureEvent): MergeableState {
  const position = foldPosition(event);
  const values = Object.fromEntries(FIELD_NAMES.map((f) => [f, event[f]])) as ExposureFieldValues;
  const positions: MergeableState['positions'] = {};
  for (const field of COALESCED_FIELDS) if (event[field] !== null) positions[field] = position;
  return {
    ...values,
    officeId: event.officeId,
    exposureId: event.exposureId,
    firstSeen: event.timestamp,
    lastSeen: event.timestamp,
    lastEventId: event.eventId,
    eventCount: 1,
    lastPosition: position,
    positions,
  };
}

/**
 * The join of two states of one exposure built from disjoint sets of events: each field keeps the value of
 * the later position (a coalesced field only counts positions where it is set), first_seen the earlier.
 * Commutative and associative, and idempotent but for eventCount, which adds up.
 */
export function mergeStates(a: MergeableState, b: MergeableState): MergeableState {
  const later = compareText(a.lastPosition, b.lastPosition) >= 0 ? a : b;
  const merged = { ...later, positions: {} } as MergeableState;
  const values = merged as unknown as Record<string, unknown>;
  for (const field of COALESCED_FIELDS) {
    const [pa, pb] = [a.positions[field], b.positions[field]];
    const from = pb === undefined || (pa !== undefined && compareText(pa, pb) >= 0) ? a : b;
    values[field] = from[field];
    const position = from.positions[field];
    if (position !== undefined) merged.positions[field] = position;
  }
  // biome-ignore lint/complexity/useMathMinMax: ISO text, compared as text; Math.min would make it NaN.
  merged.firstSeen = a.firstSeen < b.firstSeen ? a.firstSeen : b.firstSeen;
  merged.eventCount = a.eventCount + b.eventCount;
  return merged;
}
