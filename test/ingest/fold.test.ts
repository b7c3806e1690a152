import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dropBatchRepeats as dropStagedRepeats } from '../../src/db/repositories/event-log.ts';
import { COALESCED_FIELDS, compareText, type ExposureEvent, foldPosition } from '../../src/domain.ts';
import {
  applyEvent,
  compareEvents,
  exposureKey,
  foldEvents,
  type MergeableState,
  mergeStates,
  type OpenStreakLookup,
  stateOfEvent,
} from '../../src/ingest/fold.ts';

const dropBatchRepeats = (events: ExposureEvent[]) =>
  dropStagedRepeats(events.map((event) => ({ batch: 0, event }))).map((staged) => staged.event);

let sequence = 0;

/** A validated event with every optional field empty. */
function event(overrides: Partial<ExposureEvent> = {}): ExposureEvent {
  sequence += 1;
  return {
    eventId: `e${String(sequence).padStart(4, '0')}`,
    timestamp: '2026-01-10T10:00:00.000Z',
    officeId: 'berlin',
    exposureId: 'x',
    exposureClass: 'open_port',
    status: 'OPEN',
    severity: 'HIGH',
    eventAction: null,
    eventKind: null,
    assetId: null,
    assetHostname: null,
    assetIp: null,
    riskScore: null,
    confidence: null,
    dstIp: null,
    dstPort: null,
    protocol: null,
    scanRunId: null,
    scannerType: null,
    dedupeKey: null,
    serviceName: null,
    serviceProduct: null,
    serviceVersion: null,
    resource: null,
    dispositionStatus: null,
    dispositionReason: null,
    dispositionExpiresAt: null,
    rawPayload: null,
    ...overrides,
  };
}

const only = (states: Map<string, unknown>) => {
  expect(states.size).toBe(1);
  return [...states.values()][0];
};

describe('compareText', () => {
  it('orders by UTF-8 bytes, as the engines do, not by UTF-16 code units', () => {
    // U+FF5A is below U+1F600, but its UTF-16 unit is above the surrogate that starts U+1F600.
    expect('😀' < 'ｚ').toBe(true);
    expect(compareText('ｚ', '😀')).toBeLessThan(0);
    expect(['é', 'a', 'Z', '😀', 'ｚ', '中'].sort(compareText)).toEqual(['Z', 'a', 'é', '中', 'ｚ', '😀']);
    expect(compareText('same', 'same')).toBe(0);
  });
});

describe('compareEvents', () => {
  it('orders by timestamp, then event id', () => {
    const a = event({ eventId: 'b', timestamp: '2026-01-10T10:00:00.000Z' });
    const b = event({ eventId: 'a', timestamp: '2026-01-10T10:00:00.001Z' });
    const c = event({ eventId: 'c', timestamp: '2026-01-10T10:00:00.001Z' });
    expect([c, b, a].sort(compareEvents)).toEqual([a, b, c]);
  });
});

describe('applyEvent and foldEvents', () => {
  it('starts a state from the first event', () => {
    const first = event({ timestamp: '2026-01-10T10:00:00.000Z', riskScore: 50 });
    expect(applyEvent(undefined, first)).toMatchObject({
      officeId: 'berlin',
      exposureId: 'x',
      firstSeen: '2026-01-10T10:00:00.000Z',
      lastSeen: '2026-01-10T10:00:00.000Z',
      lastEventId: first.eventId,
      riskScore: 50,
    });
  });

  it('takes status, severity, class, action and kind from the latest event, even when empty', () => {
    const state = only(
      foldEvents([
        event({
          timestamp: '2026-01-10T00:00:00.000Z',
          status: 'OPEN',
          severity: 'CRITICAL',
          eventAction: 'detected',
          eventKind: 'alert',
        }),
        event({
          timestamp: '2026-01-11T00:00:00.000Z',
          status: 'CLOSED',
          severity: 'LOW',
          exposureClass: 'weak_tls',
        }),
      ]),
    );
    expect(state).toMatchObject({
      status: 'CLOSED',
      severity: 'LOW',
      exposureClass: 'weak_tls',
      eventAction: null,
      eventKind: null,
    });
  });

  it('never lets a null erase a known optional value (COALESCE), for every coalesced field', () => {
    const values: Partial<ExposureEvent> = {
      assetId: 'asset-1',
      assetHostname: 'db1',
      assetIp: '10.0.0.7',
      riskScore: 0,
      confidence: 0,
      dstIp: '10.0.0.5',
      dstPort: 0,
      protocol: 'tcp',
      serviceName: 'rdp',
      serviceProduct: 'xrdp',
      serviceVersion: '0.9',
      resource: { port: 3389 },
      dispositionStatus: 'accepted_risk',
      scannerType: 'nmap',
    };
    expect(Object.keys(values).sort()).toEqual([...COALESCED_FIELDS].sort());
    const state = only(
      foldEvents([
        event({ ...values, timestamp: '2026-01-10T00:00:00.000Z' }),
        event({ timestamp: '2026-01-11T00:00:00.000Z' }),
      ]),
    );
    // Zero is a value, not an absence.
    expect(state).toMatchObject(values);
  });

  it('moves the disposition reason and expiry with the latest event that sets a disposition status', () => {
    const decided = {
      dispositionStatus: 'accepted_risk',
      dispositionReason: 'lab host',
      dispositionExpiresAt: '2026-03-01T00:00:00.000Z',
    };
    const first = event({ ...decided, timestamp: '2026-01-10T00:00:00.000Z' });
    // A reason without a status is no decision; an event without a status keeps the decision.
    const reasonOnly = event({ dispositionReason: 'stray', timestamp: '2026-01-11T00:00:00.000Z' });
    expect(only(foldEvents([first, reasonOnly]))).toMatchObject(decided);
    // A later decision without an expiry does not inherit the earlier one's.
    const later = event({
      dispositionStatus: 'false_positive',
      dispositionReason: 'not reachable',
      timestamp: '2026-01-12T00:00:00.000Z',
    });
    expect(only(foldEvents([later, reasonOnly, first]))).toMatchObject({
      dispositionStatus: 'false_positive',
      dispositionReason: 'not reachable',
      dispositionExpiresAt: null,
    });
    const cleared = event({ dispositionStatus: 'none', timestamp: '2026-01-13T00:00:00.000Z' });
    expect(only(foldEvents([first, cleared]))).toMatchObject({
      dispositionStatus: 'none',
      dispositionReason: null,
      dispositionExpiresAt: null,
    });
  });

  it('starts the open streak at the first OPEN event after the latest CLOSED one', () => {
    const at = (day: number, status: 'OPEN' | 'CLOSED') =>
      event({ timestamp: `2026-01-${String(day).padStart(2, '0')}T00:00:00.000Z`, status });
    const reopened = foldEvents([
      at(10, 'OPEN'),
      at(11, 'OPEN'),
      at(12, 'CLOSED'),
      at(13, 'OPEN'),
      at(14, 'OPEN'),
    ]);
    expect(only(reopened)).toMatchObject({ status: 'OPEN', openSince: '2026-01-13T00:00:00.000Z' });
    expect(only(foldEvents([at(10, 'OPEN'), at(12, 'CLOSED')]))).toMatchObject({ openSince: null });
    expect(only(foldEvents([at(10, 'OPEN'), at(11, 'OPEN')]))).toMatchObject({
      openSince: '2026-01-10T00:00:00.000Z',
    });
  });

  it('takes an optional value from the latest event that has it', () => {
    const state = only(
      foldEvents([
        event({ timestamp: '2026-01-10T00:00:00.000Z', serviceName: 'old', riskScore: 10 }),
        event({ timestamp: '2026-01-11T00:00:00.000Z', serviceName: 'new' }),
        event({ timestamp: '2026-01-12T00:00:00.000Z' }),
      ]),
    );
    expect(state).toMatchObject({ serviceName: 'new', riskScore: 10 });
  });

  it('gives the same state whatever order the events come in', () => {
    const events = [
      event({ timestamp: '2026-01-12T00:00:00.000Z', status: 'CLOSED' }),
      event({ timestamp: '2026-01-10T00:00:00.000Z', serviceName: 'rdp', riskScore: 90 }),
      event({ timestamp: '2026-01-11T00:00:00.000Z', riskScore: 40, eventAction: 'rescanned' }),
      event({ exposureId: 'y', timestamp: '2026-01-09T00:00:00.000Z' }),
    ];
    const expected = foldEvents(events);
    expect(expected.get(exposureKey({ officeId: 'berlin', exposureId: 'x' }))).toMatchObject({
      status: 'CLOSED',
      riskScore: 40,
      serviceName: 'rdp',
      eventAction: null,
      firstSeen: '2026-01-10T00:00:00.000Z',
      lastSeen: '2026-01-12T00:00:00.000Z',
      lastEventId: events[0]!.eventId,
    });
    for (const order of [
      [3, 2, 1, 0],
      [1, 3, 0, 2],
      [2, 0, 3, 1],
    ]) {
      expect(foldEvents(order.map((i) => events[i]!))).toEqual(expected);
    }
  });

  it('breaks a timestamp tie by event id in byte order', () => {
    const ts = '2026-01-10T10:00:00.000Z';
    const states = foldEvents([
      event({ eventId: '😀', timestamp: ts, severity: 'LOW' }),
      event({ eventId: 'ｚ', timestamp: ts, severity: 'CRITICAL' }),
    ]);
    expect(only(states)).toMatchObject({ severity: 'LOW', lastEventId: '😀' });
  });

  it('keeps exposures of different offices apart', () => {
    const states = foldEvents([event({ officeId: 'berlin' }), event({ officeId: 'paris' })]);
    expect([...states.keys()].sort()).toEqual([
      exposureKey({ officeId: 'berlin', exposureId: 'x' }),
      exposureKey({ officeId: 'paris', exposureId: 'x' }),
    ]);
  });
});

describe('exposureKey', () => {
  it('cannot be confused by separators inside the ids', () => {
    expect(exposureKey({ officeId: 'a","b', exposureId: 'c' })).not.toBe(
      exposureKey({ officeId: 'a', exposureId: 'b","c' }),
    );
    expect(exposureKey({ officeId: 'a:b', exposureId: 'c' })).not.toBe(
      exposureKey({ officeId: 'a', exposureId: 'b:c' }),
    );
  });
});

describe('dropBatchRepeats', () => {
  it('keeps the first of several events with one event id', () => {
    const a = event({ eventId: 'same', severity: 'LOW' });
    const b = event({ eventId: 'same', severity: 'HIGH' });
    const c = event({ eventId: 'other' });
    expect(dropBatchRepeats([a, b, c])).toEqual([a, c]);
  });

  it('keeps the first of several events with one dedupe key in one office', () => {
    const a = event({ dedupeKey: 'd' });
    const b = event({ dedupeKey: 'd' });
    const otherOffice = event({ dedupeKey: 'd', officeId: 'paris' });
    const noKey = [event(), event()];
    expect(dropBatchRepeats([a, b, otherOffice, ...noKey])).toEqual([a, otherOffice, ...noKey]);
  });

  it('does not let a dropped repeat claim its dedupe key', () => {
    const a = event({ eventId: 'same' });
    const repeat = event({ eventId: 'same', dedupeKey: 'd' });
    const b = event({ dedupeKey: 'd' });
    expect(dropBatchRepeats([a, repeat, b])).toEqual([a, b]);
  });
});

describe('mergeStates', () => {
  /** Events of one exposure with few timestamps and ids, so ties and gaps in optional fields are common. */
  const eventsArb = fc.uniqueArray(
    fc.record({
      eventId: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'é', '😀'),
      timestamp: fc.constantFrom(
        '2026-01-10T10:00:00.000Z',
        '2026-01-10T10:00:00.001Z',
        '2026-01-11T00:00:00.000Z',
      ),
      status: fc.constantFrom('OPEN' as const, 'CLOSED' as const),
      eventAction: fc.constantFrom(null, 'detected'),
      dispositionStatus: fc.constantFrom(null, 'accepted_risk', 'none'),
      dispositionReason: fc.constantFrom(null, 'lab'),
      dispositionExpiresAt: fc.constantFrom(null, '2026-02-01T00:00:00.000Z'),
      riskScore: fc.constantFrom(null, 0, 50),
      serviceName: fc.constantFrom(null, 'rdp', 'ssh'),
      resource: fc.constantFrom(null, { port: 1 }),
    }),
    { minLength: 1, maxLength: 8, selector: (e) => e.eventId },
  );
  /** The lookup the store makes in the log, here over the events of the scenario. */
  const lookupIn =
    (log: readonly ExposureEvent[]): OpenStreakLookup =>
    (closed) => {
      const after = log
        .filter((e) => e.status === 'OPEN' && compareText(foldPosition(e), closed) > 0)
        .sort(compareEvents)[0];
      return after ? { position: foldPosition(after), timestamp: after.timestamp } : null;
    };
  let log: readonly ExposureEvent[] = [];
  const merge = (events: readonly ExposureEvent[]) =>
    events.map(stateOfEvent).reduce((a, b) => mergeStates(a, b, lookupIn(log)));
  const withoutPositions = ({
    lastPosition: _l,
    positions: _p,
    closedPosition: _c,
    openSincePosition: _o,
    ...state
  }: MergeableState) => state;

  it('merged in any order and grouping, gives the in-order fold', () => {
    fc.assert(
      fc.property(eventsArb, fc.integer({ min: 0, max: 7 }), (inputs, cut) => {
        const events = inputs.map((input) => event(input));
        log = events;
        const folded = only(foldEvents(events));
        expect(withoutPositions(merge([...events].reverse()))).toEqual(folded);
        // Two groups merged separately, then together: a batch merged into a stored state.
        const at = cut % events.length;
        const [left, right] = [events.slice(0, at), events.slice(at)];
        const grouped =
          left.length === 0 ? merge(right) : mergeStates(merge(right), merge(left), lookupIn(events));
        expect(withoutPositions(grouped)).toEqual(folded);
      }),
    );
  });

  it('is commutative and associative, and idempotent but for the event count', () => {
    // States of one log: an event id always stands for the same event.
    const statesArb = eventsArb.chain((inputs) => {
      const subset = fc.subarray(inputs, { minLength: 1 });
      return fc.tuple(subset, subset, subset);
    });
    fc.assert(
      fc.property(statesArb, (subsets) => {
        // A state with the events it folds: a join looks up the open streak among both sides' events.
        type Folded = [MergeableState, ExposureEvent[]];
        const [a, b, c] = subsets.map((inputs): Folded => {
          const events = inputs.map((input) => event(input));
          log = events;
          return [merge(events), events];
        }) as [Folded, Folded, Folded];
        const join = ([x, xs]: Folded, [y, ys]: Folded): Folded => [
          mergeStates(x, y, lookupIn([...xs, ...ys])),
          [...xs, ...ys],
        ];
        expect(join(a, b)[0]).toEqual(join(b, a)[0]);
        expect(join(join(a, b), c)[0]).toEqual(join(a, join(b, c))[0]);
        expect({ ...join(a, a)[0], eventCount: a[0].eventCount }).toEqual(a[0]);
      }),
    );
  });
});
