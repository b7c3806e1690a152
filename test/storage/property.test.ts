/**
 * exposures_current == foldEvents(accepted events), whatever the arrival order, the batching, the
 * retries and the repeats inside a batch: the storage core's main invariant, on both engines.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/db/database.ts';
import { rebuildCurrent } from '../../src/db/repositories/event-log.ts';
import type { ExposureEvent } from '../../src/domain.ts';
import { SEVERITIES, STATUSES } from '../../src/domain.ts';
import { exposureKey } from '../../src/ingest/fold.ts';
import { ingest } from '../../src/ingest/ingest.ts';
import { validateEvents } from '../../src/ingest/validate.ts';
import { currentStates, expectKeptTables, foldedStates, storedEvents } from '../helpers/current.ts';
import { ENGINES, openTestStore, type TestStore } from '../helpers/engines.ts';

const config = { maxEventsPerCall: 1000, maxFutureSkewSeconds: 300 };
const NOW = new Date('2026-02-01T00:00:00Z');
// PROPERTY_RUNS=300 for a deeper search before touching the writer.
const RUNS = Number(process.env.PROPERTY_RUNS ?? 30);

/** A few instants, some written several ways, so equal timestamps are common and ties go to the event id. */
const TIMESTAMPS = [
  '2026-01-10T10:00:00Z',
  '2026-01-10T19:00:00+09:00',
  '2026-01-10T10:00:00.000000Z',
  '2026-01-10T10:00:00.001Z',
  '2026-01-10T10:00:00.0019Z',
  '2026-01-10T19:00:00-05:00',
  '2026-01-11T00:00:00Z',
  '2026-01-12T08:30:00.250+01:00',
];
/** Byte order and UTF-16 order disagree on the last two: the engines must order like compareText(). */
const EVENT_IDS = ['e1', 'e2', 'e3', 'e4', 'e5', 'E1', 'é', 'ｚ', '😀'];

/** undefined (field left out), null, or one of the values. */
const optional = <T>(...values: T[]) => fc.constantFrom<T | null | undefined>(undefined, null, ...values);

const eventInputArb = fc.record(
  {
    eventId: fc.constantFrom(...EVENT_IDS),
    timestamp: fc.constantFrom(...TIMESTAMPS),
    officeId: fc.constantFrom('berlin', 'paris'),
    exposureId: fc.constantFrom('x1', 'x2', 'x3'),
    exposureClass: fc.constantFrom('open_port', 'weak_tls'),
    status: fc.constantFrom<string>(...STATUSES, 'open'),
    severity: fc.constantFrom(...SEVERITIES),
    eventAction: optional('detected', 'resolved'),
    eventKind: optional('alert'),
    dedupeKey: optional('d1', 'd2'),
    assetId: optional('asset-1', 'asset-2'),
    assetHostname: optional('db1.example'),
    assetIp: optional('10.0.0.7', '2001:DB8::7'),
    riskScore: optional(0, 33.333333333333336, 100),
    confidence: optional(0.1, 1),
    dstIp: optional('10.0.0.5', '192.168.1.20', 'fe80::1'),
    dstPort: optional(0, 3389, 65535),
    protocol: optional('tcp', 'udp'),
    serviceName: optional('rdp', 'https'),
    serviceProduct: optional('openssl'),
    serviceVersion: optional('3.0.2', '1.1.1'),
    resource: optional({ port: 3389 }, { tags: ['a', 'b'], nested: { ok: true } }),
    dispositionStatus: optional('accepted_risk', 'none'),
    dispositionReason: optional('lab host'),
    dispositionExpiresAt: optional('2026-03-01T00:00:00Z', '2026-01-10T19:00:00+09:00'),
    scanRunId: optional('run-1'),
    scannerType: optional('nmap'),
  },
  // Left out, an event id is derived from the content, so equal content is a duplicate too.
  { requiredKeys: ['timestamp', 'officeId', 'exposureId', 'exposureClass', 'status', 'severity'] },
);

interface Send {
  batch: Record<string, unknown>[];
  idempotencyKey: string | null;
}

/** Events, then a random permutation of them cut into batches, with repeats and retries. */
const scenarioArb = fc.array(eventInputArb, { minLength: 1, maxLength: 24 }).chain((events) =>
  fc
    .record({
      order: fc.shuffledSubarray(
        events.map((_, i) => i),
        { minLength: events.length, maxLength: events.length },
      ),
      sizes: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 24, maxLength: 24 }),
      // Per batch: an index of an event to repeat inside it (and where), or none.
      repeats: fc.array(fc.option(fc.record({ from: fc.nat(), to: fc.nat() })), {
        minLength: 24,
        maxLength: 24,
      }),
      keyed: fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
      // Newest first: every event after the first of its exposure arrives late.
      newestFirst: fc.boolean(),
      // CLOSED events last: each lands late, inside the OPEN streaks already stored.
      closedLast: fc.boolean(),
      // After send `after`, send batch `batch` again (a retry, possibly much later).
      retries: fc.array(fc.record({ after: fc.nat(), batch: fc.nat() }), { maxLength: 4 }),
    })
    .map(({ order, sizes, repeats, keyed, newestFirst, closedLast, retries }) => {
      if (newestFirst)
        order.sort((a, b) => Date.parse(events[b]!.timestamp) - Date.parse(events[a]!.timestamp));
      const closed = (i: number) => Number(events[i]!.status === 'CLOSED');
      if (closedLast) order.sort((a, b) => closed(a) - closed(b));
      const batches: Send[] = [];
      for (let start = 0, b = 0; start < order.length; b++) {
        const size = sizes[b % sizes.length]!;
        const batch = order.slice(start, start + size).map((i) => events[i]!);
        start += size;
        const repeat = repeats[b % repeats.length];
        if (repeat) {
          // A copy, not the same object: a repeat arrives as new input.
          const copy = { ...batch[repeat.from % batch.length]! };
          batch.splice(repeat.to % (batch.length + 1), 0, copy);
        }
        batches.push({ batch, idempotencyKey: keyed[b % keyed.length] ? `batch-${b}` : null });
      }
      const sends = [...batches];
      for (const retry of retries) {
        const position = (retry.after % sends.length) + 1;
        sends.splice(position, 0, batches[retry.batch % Math.min(position, batches.length)]!);
      }
      return sends;
    }),
);

/**
 * Which events the store keeps, in arrival order: inside a batch the first occurrence of an event id or of
 * an (office, dedupe key) wins; then anything whose event id or (office, dedupe key) is stored is dropped.
 */
class AcceptedEvents {
  readonly events: ExposureEvent[] = [];
  readonly #ids = new Set<string>();
  readonly #dedupeKeys = new Set<string>();

  /** Returns the events of the batch that are new. */
  receive(batch: readonly ExposureEvent[]): ExposureEvent[] {
    const batchIds = new Set<string>();
    const batchDedupeKeys = new Set<string>();
    const firsts: ExposureEvent[] = [];
    for (const event of batch) {
      const dedupe = event.dedupeKey === null ? null : `${event.officeId}\u0000${event.dedupeKey}`;
      if (batchIds.has(event.eventId) || (dedupe !== null && batchDedupeKeys.has(dedupe))) continue;
      batchIds.add(event.eventId);
      if (dedupe !== null) batchDedupeKeys.add(dedupe);
      firsts.push(event);
    }
    const accepted = firsts.filter(
      (event) =>
        !this.#ids.has(event.eventId) &&
        (event.dedupeKey === null || !this.#dedupeKeys.has(`${event.officeId}\u0000${event.dedupeKey}`)),
    );
    for (const event of accepted) {
      this.#ids.add(event.eventId);
      if (event.dedupeKey !== null) this.#dedupeKeys.add(`${event.officeId}\u0000${event.dedupeKey}`);
      this.events.push(event);
    }
    return accepted;
  }
}

for (const engine of ENGINES) {
  describe(`exposures_current is the fold of the accepted events on ${engine}`, () => {
    let t: TestStore;
    let run = 0;

    beforeAll(async () => {
      t = await openTestStore(engine);
    });
    afterAll(async () => t.close());

    it('for any arrival order, batching, repeats and retries; rebuildCurrent agrees', async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArb, async (sends) => {
          // Tenants isolate rows: every run (and every shrink step) starts from an empty tenant.
          const scope = { tenantId: `property-${++run}`, officeIds: 'all' as const };
          const model = new AcceptedEvents();
          const replies = new Map<string, unknown>();
          for (const { batch, idempotencyKey } of sends) {
            const validated = validateEvents(batch, { ...config, now: NOW });
            expect(validated.rejected).toEqual([]);
            const known = new Set(model.events.map(exposureKey));
            const accepted = model.receive(validated.valid.map((v) => v.event));
            const result = await ingest({ store: t.store, config }, scope, { events: batch, idempotencyKey });
            if (idempotencyKey && replies.has(idempotencyKey)) {
              // A retry under the same key returns the first answer and writes nothing.
              expect(result).toEqual({ ...(replies.get(idempotencyKey) as object), replayed: true });
              expect(accepted).toEqual([]);
              continue;
            }
            if (idempotencyKey) replies.set(idempotencyKey, { ...result, replayed: true });
            const keys = new Set(accepted.map(exposureKey));
            expect(result).toEqual({
              eventsInserted: accepted.length,
              eventsDuplicate: batch.length - accepted.length,
              exposuresInserted: [...keys].filter((k) => !known.has(k)).length,
              exposuresUpdated: [...keys].filter((k) => known.has(k)).length,
              totalProcessed: batch.length,
              rejected: [],
              replayed: false,
            });
          }

          const stored = await t.store.db
            .selectFrom('exposure_events')
            .select('event_id')
            .where('tenant_id', '=', scope.tenantId)
            .execute();
          expect(stored.map((r) => r.event_id).sort()).toEqual(model.events.map((e) => e.eventId).sort());

          const expected = foldedStates(model.events);
          expect(await currentStates(t.store, scope.tenantId)).toEqual(expected);
          await expectKeptTables(t.store);
          await t.store.write((trx) => rebuildCurrent(trx, scope.tenantId));
          expect(await currentStates(t.store, scope.tenantId)).toEqual(expected);
          await expectKeptTables(t.store);
        }),
        // A failure shrinks against the database: bound the time it may take.
        { numRuns: RUNS, interruptAfterTimeLimit: 100_000, markInterruptAsFailure: true },
      );
    }, 120_000);

    it('rebuilding every tenant at once gives the same table', async () => {
      const snapshot = () =>
        t.store.db
          .selectFrom('exposures_current')
          .selectAll()
          .orderBy('tenant_id')
          .orderBy('office_id')
          .orderBy('exposure_id')
          .execute();
      const before = await snapshot();
      expect(before.length).toBeGreaterThan(0);
      const rebuilt = await t.store.write((trx) => rebuildCurrent(trx));
      expect(rebuilt).toBe(before.length);
      expect(await snapshot()).toEqual(before);
      await expectKeptTables(t.store);
    });

    it('with two writers at once, the state is the fold of what the log kept', async () => {
      // On PostgreSQL a second store stands for a second gateway instance; on DuckDB both writers share
      // the one writer, and their calls meet in group commits.
      const other = engine === 'postgres' ? await openStore(t.database.config) : t.store;
      try {
        await fc.assert(
          fc.asyncProperty(
            scenarioArb,
            fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
            async (sends, sides) => {
              const scope = { tenantId: `concurrent-${++run}`, officeIds: 'all' as const };
              const streams = [t.store, other].map((store, side) =>
                (async () => {
                  for (const [i, { batch, idempotencyKey }] of sends.entries()) {
                    if (Number(sides[i % sides.length]) !== side) continue;
                    await ingest({ store, config }, scope, { events: batch, idempotencyKey });
                  }
                })(),
              );
              await Promise.all(streams);

              const sent = sends.flatMap(({ batch }) =>
                validateEvents(batch, { ...config, now: NOW }).valid.map((v) => v.event),
              );
              const log = await storedEvents(t.store, scope.tenantId);
              const dedupe = log
                .filter((e) => e.dedupeKey !== null)
                .map((e) => `${e.officeId}\u0000${e.dedupeKey}`);
              // Each event id and each (office, dedupe key) at most once, each stored event one that was sent,
              // and an event no other event can stand in for (no dedupe key, no other content under its id)
              // is stored, whichever writer came first.
              expect(new Set(dedupe).size).toBe(dedupe.length);
              expect(new Set(log.map((e) => e.eventId)).size).toBe(log.length);
              const sentIds = new Set(sent.map((e) => e.eventId));
              expect(log.every((e) => sentIds.has(e.eventId))).toBe(true);
              const storedIds = new Set(log.map((e) => e.eventId));
              for (const event of sent) {
                const sameId = sent.filter((e) => e.eventId === event.eventId);
                if (sameId.every((e) => e.dedupeKey === null))
                  expect(storedIds.has(event.eventId)).toBe(true);
              }
              expect(await currentStates(t.store, scope.tenantId)).toEqual(foldedStates(log));
              await expectKeptTables(t.store);
            },
          ),
          { numRuns: RUNS, interruptAfterTimeLimit: 100_000, markInterruptAsFailure: true },
        );
      } finally {
        if (other !== t.store) await other.close();
      }
    }, 120_000);
  });
}
