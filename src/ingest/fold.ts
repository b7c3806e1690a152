/**
 * The merge rules of the current state, as pure functions. exposures_current must always equal
 * foldEvents(all events), whatever order they arrived in; the SQL in db/repositories/event-log.ts
 * implements mergeStates(), which gives the same result from any grouping and order of the events.
 */
import {
  COALESCED_FIELDS,
  type CoalescedField,
  compareText,
  type ExposureEvent,
  type ExposureFieldValues,
  type ExposureKey,
  FIELD_NAMES,
  foldPosition,
  GROUPED_FIELDS,
  LATEST_FIELDS,
  leaderOf,
} from '../domain.ts';

export type ExposureState = ExposureKey &
  ExposureFieldValues & {
    firstSeen: string;
    lastSeen: string;
    lastEventId: string;
    /** How many events were folded in. */
    eventCount: number;
    /** Timestamp of the first OPEN event after the latest CLOSED one (or of all); null while CLOSED. */
    openSince: string | null;
  };

/**
 * A state that remembers where its values came from, so that it can merge with any other: the position
 * of the latest event, of the event behind each coalesced value that is set, of the latest CLOSED event
 * and of the first OPEN event after it (the start of the open streak, whose timestamp is openSince).
 */
export interface MergeableState extends ExposureState {
  lastPosition: string;
  positions: Partial<Record<CoalescedField, string>>;
  closedPosition: string | null;
  openSincePosition: string | null;
}

/** The open streak's start after the latest CLOSED event, looked up among the exposure's events. */
export type OpenStreakLookup = (closedPosition: string) => { position: string; timestamp: string } | null;

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
  for (const field of GROUPED_FIELDS)
    next[field] = event[leaderOf(field)] !== null ? event[field] : (state?.[field] ?? null);
  // A streak starts at an OPEN event that follows a CLOSED one, or none: later OPEN events keep it.
  const openSince =
    event.status === 'CLOSED' ? null : state?.status === 'OPEN' ? state.openSince : event.timestamp;
  return {
    ...(next as ExposureFieldValues),
    officeId: event.officeId,
    exposureId: event.exposureId,
    firstSeen: state?.firstSeen ?? event.timestamp,
    lastSeen: event.timestamp,
    lastEventId: event.eventId,
    eventCount: (state?.eventCount ?? 0) + 1,
    openSince,
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
  const grouped = values as unknown as Record<string, unknown>;
  for (const field of GROUPED_FIELDS) if (event[leaderOf(field)] === null) grouped[field] = null;
  const open = event.status === 'OPEN';
  return {
    ...values,
    officeId: event.officeId,
    exposureId: event.exposureId,
    firstSeen: event.timestamp,
    lastSeen: event.timestamp,
    lastEventId: event.eventId,
    eventCount: 1,
    openSince: open ? event.timestamp : null,
    lastPosition: position,
    positions,
    closedPosition: open ? null : position,
    openSincePosition: open ? position : null,
  };
}

/**
 * The join of two states of one exposure built from disjoint sets of events: each field keeps the value of
 * the later position (a coalesced field only counts positions where it is set, a grouped field goes with
 * its leader), first_seen the earlier, the latest CLOSED position the later. The open streak starts at
 * the earliest OPEN position after that CLOSED one that either side knows; but a side whose streak began
 * before it, and which has events after it, never kept its OPEN events after it (they continued its own
 * streak): only the exposure's events can tell, so `lookup` is asked. Commutative and associative, and
 * idempotent but for eventCount, which adds up.
 */
export function mergeStates(a: MergeableState, b: MergeableState, lookup?: OpenStreakLookup): MergeableState {
  const later = compareText(a.lastPosition, b.lastPosition) >= 0 ? a : b;
  const merged = { ...later, positions: {} } as MergeableState;
  const values = merged as unknown as Record<string, unknown>;
  for (const field of COALESCED_FIELDS) {
    const [pa, pb] = [a.positions[field], b.positions[field]];
    const from = pb === undefined || (pa !== undefined && compareText(pa, pb) >= 0) ? a : b;
    values[field] = from[field];
    const position = from.positions[field];
    if (position !== undefined) merged.positions[field] = position;
    for (const grouped of GROUPED_FIELDS) if (leaderOf(grouped) === field) values[grouped] = from[grouped];
  }
  // biome-ignore lint/complexity/useMathMinMax: ISO text, compared as text; Math.min would make it NaN.
  merged.firstSeen = a.firstSeen < b.firstSeen ? a.firstSeen : b.firstSeen;
  merged.eventCount = a.eventCount + b.eventCount;
  const closed = laterOf(a.closedPosition, b.closedPosition);
  merged.closedPosition = closed;
  const [sa, sb] = [streakAfter(a, closed), streakAfter(b, closed)];
  if (closed !== null && (forgotStreak(a, closed) || forgotStreak(b, closed))) {
    if (!lookup) throw new Error('merging these states needs the events after the latest CLOSED one');
    const start = lookup(closed);
    merged.openSincePosition = start?.position ?? null;
    merged.openSince = start?.timestamp ?? null;
  } else {
    const from = sa === null ? b : sb === null || compareText(sa, sb) <= 0 ? a : b;
    merged.openSincePosition = streakAfter(from, closed);
    merged.openSince = merged.openSincePosition === null ? null : from.openSince;
  }
  return merged;
}

function laterOf(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return compareText(a, b) >= 0 ? a : b;
}

/** The state's streak start if it comes after `closed`. */
function streakAfter(state: MergeableState, closed: string | null): string | null {
  const start = state.openSincePosition;
  return start !== null && (closed === null || compareText(start, closed) > 0) ? start : null;
}

/** The state's streak began before `closed` yet it has events after it: all OPEN, none of them kept. */
function forgotStreak(state: MergeableState, closed: string): boolean {
  return (
    state.openSincePosition !== null &&
    compareText(state.openSincePosition, closed) < 0 &&
    compareText(state.lastPosition, closed) > 0
  );
}
