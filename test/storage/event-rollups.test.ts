/**
 * Timelines from event_rollups: the same counts as the log for any events, range, bucket, zone, group
 * and filter; rollups kept at ingest equal a rebuild from the log; a rolled-back ingest counts nothing;
 * the migration backfills the log that exists.
 */
import fc from 'fast-check';
import { sql } from 'kysely';
import { DateTime } from 'luxon';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/db/database.ts';
import { migrateDown, migrateToLatest, migrationStatus } from '../../src/db/migrate.ts';
import {
  bucketBoundaries,
  EVENT_GROUP_BYS,
  type EventGroupBy,
  findEventTimeline,
  TIME_BUCKETS,
  type TimeBucket,
  type TimelineSpec,
} from '../../src/db/repositories/analytics.ts';
import { ROLLUP_LEVELS, rebuildRollups } from '../../src/db/repositories/event-rollups.ts';
import type { EventFilter } from '../../src/db/repositories/filters.ts';
import type { Scope } from '../../src/domain.ts';
import { ingest } from '../../src/ingest/ingest.ts';
import { createTestDatabase, ENGINES, openTestStore, type TestStore } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';

const config = { maxEventsPerCall: 1000, maxFutureSkewSeconds: 300 };
const RUNS = Number(process.env.PROPERTY_RUNS ?? 15);
const ROLLUP_MIGRATION = '2026-12-01T00-10-event-rollups';

const OFFICES = ['berlin', 'paris', 'tokyo'];
const CLASSES = ['open_port', 'weak_tls'];
const SEVERITIES = ['LOW', 'HIGH', 'CRITICAL'];
const STATUSES = ['OPEN', 'CLOSED'];
const ACTIONS = ['created', 'closed', null];
const ZONES = ['UTC', 'Europe/Berlin', 'Asia/Kathmandu', 'America/St_Johns'];
/**
 * Instants where buckets of those zones start or DST changes, in March/April and October/November 2026.
 * Events and range ends cluster around them, so the partial periods at the ends of a range hold events.
 */
const ANCHORS = [
  '2026-03-28T23:00:00Z', // Berlin: Sunday 29 March, 23 hours long
  '2026-03-29T01:00:00Z', // Berlin: to summer time
  '2026-03-31T18:15:00Z', // Kathmandu: 1 April
  '2026-03-31T22:00:00Z', // Berlin: 1 April
  '2026-04-01T02:30:00Z', // St. John's: 1 April
  '2026-10-25T01:00:00Z', // Berlin: to winter time
  '2026-10-25T23:00:00Z', // Berlin: Monday 26 October
  '2026-11-01T00:00:00Z', // UTC: 1 November
  '2026-11-01T04:30:00Z', // St. John's: to winter time
  '2026-11-02T03:30:00Z', // St. John's: Monday 2 November
].map((iso) => Date.parse(iso));
const QUARTER_MS = 900_000;
const HOUR_MS = 3_600_000;

/** Near an anchor: off by a few milliseconds, on the 15-minute grid give or take one, or anywhere within 3 hours. */
const instantArb = fc
  .tuple(
    fc.constantFrom(...ANCHORS),
    fc.oneof(
      fc.integer({ min: -2000, max: 2000 }),
      fc
        .tuple(fc.integer({ min: -12, max: 12 }), fc.constantFrom(-1, 0, 1))
        .map(([k, d]) => k * QUARTER_MS + d),
      fc.integer({ min: -3 * HOUR_MS, max: 3 * HOUR_MS }),
    ),
  )
  .map(([anchor, offset]) => anchor + offset);

interface GeneratedEvent {
  time: number;
  officeId: string;
  exposureClass: string;
  severity: string;
  status: string;
  eventAction: string | null;
}

const eventArb: fc.Arbitrary<GeneratedEvent> = fc.record({
  time: instantArb,
  officeId: fc.constantFrom(...OFFICES),
  exposureClass: fc.constantFrom(...CLASSES),
  severity: fc.constantFrom(...SEVERITIES),
  status: fc.constantFrom(...STATUSES),
  eventAction: fc.constantFrom(...ACTIONS),
});

/** How far a range may reach for each bucket size, within the bucket limit. */
const RANGE_MS: Record<TimeBucket, number> = {
  FIVE_MINUTES: 8 * HOUR_MS,
  HOUR: 5 * 86_400_000,
  DAY: 230 * 86_400_000,
  WEEK: 230 * 86_400_000,
  MONTH: 230 * 86_400_000,
};

/** Mostly no filter on a field; else some of its values (an empty list matches nothing). */
const subset = <T>(values: readonly T[]) =>
  fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 3 },
    { arbitrary: fc.subarray([...values]), weight: 1 },
  );

const queryArb = fc
  .record({
    bucket: fc.constantFrom(...TIME_BUCKETS),
    timeZone: fc.constantFrom(...ZONES),
    groupBy: fc.constantFrom<EventGroupBy | null>(null, ...EVENT_GROUP_BYS),
    from: instantArb,
    // Up to another anchor, or a short way: ranges within one period, across one boundary, over hours.
    to: fc.oneof(
      instantArb.map((at) => ({ at })),
      fc.integer({ min: 1, max: 4 * HOUR_MS }).map((length) => ({ length })),
    ),
    officeIds: subset([...OFFICES, 'nowhere']),
    exposureClasses: subset(CLASSES),
    severities: subset(SEVERITIES),
    statuses: subset(STATUSES),
    // '' is no action's stand-in inside the rollups: as a filter value it matches nothing.
    eventActions: subset(['created', 'closed', '']),
    // Filters the rollups do not keep: the log answers.
    exposureIds: subset(['x-0', 'x-1', 'x-2']),
    scopeOffices: subset(OFFICES),
  })
  .map((q) => {
    const end = 'at' in q.to ? q.to.at : q.from + q.to.length;
    const from = Math.min(q.from, end);
    const to = Math.min(Math.max(q.from, end, from + 1), from + RANGE_MS[q.bucket]);
    return { ...q, from: new Date(from), to: new Date(to) };
  });
type Query = typeof queryArb extends fc.Arbitrary<infer Q> ? Q : never;

const GROUP_FIELD: Record<EventGroupBy, keyof GeneratedEvent> = {
  SEVERITY: 'severity',
  STATUS: 'status',
  EXPOSURE_CLASS: 'exposureClass',
  EVENT_ACTION: 'eventAction',
  OFFICE: 'officeId',
};

/** The timeline counted here from the events themselves. */
function expectedTimeline(events: readonly (GeneratedEvent & { exposureId: string })[], q: Query) {
  const bounds = bucketBoundaries(q, { bucket: q.bucket, timeZone: q.timeZone, maxBuckets: 10_000 });
  const starts = bounds.slice(0, -1);
  const counts = starts.map(() => new Map<string | null, number>());
  const groups = new Set<string | null>(q.groupBy ? [] : [null]);
  const allows = (values: readonly unknown[] | undefined, value: unknown) =>
    values === undefined || values.includes(value);
  for (const e of events) {
    if (e.time < q.from.getTime() || e.time >= q.to.getTime()) continue;
    if (
      !allows(q.scopeOffices, e.officeId) ||
      !allows(q.officeIds, e.officeId) ||
      !allows(q.exposureClasses, e.exposureClass) ||
      !allows(q.severities, e.severity) ||
      !allows(q.statuses, e.status) ||
      !(q.eventActions === undefined || (e.eventAction !== null && q.eventActions.includes(e.eventAction))) ||
      !allows(q.exposureIds, e.exposureId)
    )
      continue;
    const index = starts.findLastIndex((start) => start.getTime() <= e.time);
    const group = q.groupBy ? (e[GROUP_FIELD[q.groupBy]] as string | null) : null;
    groups.add(group);
    counts[index]!.set(group, (counts[index]!.get(group) ?? 0) + 1);
  }
  const ordered = [...groups].sort((a, b) =>
    a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1,
  );
  return starts.flatMap((start, i) =>
    ordered.map((group) => ({ start, group, count: counts[i]!.get(group) ?? 0 })),
  );
}

function timelineArgs(q: Query, tenantId: string): [Scope, EventFilter, TimelineSpec] {
  return [
    { tenantId, officeIds: q.scopeOffices ?? 'all' },
    {
      from: q.from,
      to: q.to,
      officeIds: q.officeIds,
      exposureClasses: q.exposureClasses,
      severities: q.severities as EventFilter['severities'],
      statuses: q.statuses as EventFilter['statuses'],
      eventActions: q.eventActions,
      exposureIds: q.exposureIds,
    },
    { bucket: q.bucket, groupBy: q.groupBy, timeZone: q.timeZone, maxBuckets: 10_000 },
  ];
}

/**
 * The tenant's rollup counts at every level, one row per key in key order (DuckDB may keep a key in
 * several rows, one per transaction that counted it).
 */
async function rollupRows(store: Store, tenantId: string) {
  const levels = await Promise.all(
    ROLLUP_LEVELS.map(async (level) => {
      const key = ['quarter_hour', ...level.dimensions] as const;
      const rows = await store.db
        .selectFrom(level.table as 'event_rollups')
        .select([...key, sql<number>`sum(events)`.as('events')])
        .where('tenant_id', '=', tenantId)
        .groupBy([...key])
        .orderBy([...key])
        .execute();
      return rows.map((r) => ({ ...r, quarter_hour: Number(r.quarter_hour), events: Number(r.events) }));
    }),
  );
  return levels;
}

const toInput = (e: GeneratedEvent & { eventId: string; exposureId: string }) =>
  eventInput({
    eventId: e.eventId,
    exposureId: e.exposureId,
    timestamp: new Date(e.time).toISOString(),
    officeId: e.officeId,
    exposureClass: e.exposureClass,
    severity: e.severity,
    status: e.status,
    eventAction: e.eventAction ?? undefined,
  });

const ingestInto = (store: Store, tenantId: string, events: readonly Record<string, unknown>[]) =>
  ingest({ store, config }, { tenantId, officeIds: 'all' }, { events });

for (const engine of ENGINES) {
  describe(`event rollups on ${engine}`, () => {
    let t: TestStore;
    let run = 0;

    beforeAll(async () => {
      t = await openTestStore(engine);
    });
    afterAll(async () => t.close());

    const ingestAll = (tenantId: string, events: readonly Record<string, unknown>[], store = t.store) =>
      ingestInto(store, tenantId, events);

    it('gives the log timeline for any events, range, bucket, zone, group and filter', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(eventArb, { minLength: 20, maxLength: 80 }),
          fc.integer({ min: 1, max: 3 }),
          fc.array(queryArb, { minLength: 8, maxLength: 24 }),
          async (generated, batches, queries) => {
            run += 1;
            const tenantId = `prop-${run}`;
            const events = generated.map((e, i) => ({
              ...e,
              eventId: `${tenantId}-${i}`,
              exposureId: `x-${i % 3}`,
            }));
            const size = Math.ceil(events.length / batches);
            for (let start = 0; start < events.length; start += size) {
              await ingestAll(tenantId, events.slice(start, start + size).map(toInput));
            }
            // The first batch again: its events are stored, so they count once.
            await ingestAll(tenantId, events.slice(0, size).map(toInput));
            for (const q of queries) {
              const expected = expectedTimeline(events, q);
              const args = timelineArgs(q, tenantId);
              expect(await findEventTimeline(t.store.db, ...args)).toEqual(expected);
              expect(await findEventTimeline(t.store.db, ...args, { rollups: false })).toEqual(expected);
            }
            const kept = await rollupRows(t.store, tenantId);
            for (const level of kept) {
              expect(level.reduce((sum, r) => sum + r.events, 0)).toBe(events.length);
            }
            await t.store.write((trx) => rebuildRollups(trx, tenantId));
            expect(await rollupRows(t.store, tenantId)).toEqual(kept);
          },
        ),
        { numRuns: RUNS },
      );
    }, 180_000);

    it('reads whole periods from the rollups and the partial periods at both ends from the log', async () => {
      const tenantId = 'split';
      const at = [
        '2026-03-02T10:05:00Z',
        '2026-03-02T10:20:00Z',
        '2026-03-02T10:40:00Z',
        '2026-03-02T10:50:00Z',
      ];
      await ingestAll(
        tenantId,
        at.map((timestamp, i) => eventInput({ eventId: `split-${i}`, timestamp })),
      );
      // Counts only the rollups have, a different one per level: they show which level answered which
      // periods.
      const marks = { tenant_event_rollups: 100, office_event_rollups: 1000, event_rollups: 10_000 };
      for (const level of ROLLUP_LEVELS) {
        await t.store.db
          .updateTable(level.table as 'event_rollups')
          .set((eb) => ({ events: eb('events', '+', marks[level.table]) }))
          .where('tenant_id', '=', tenantId)
          .execute();
      }
      const all = { tenantId, officeIds: 'all' as const };
      const hour: TimelineSpec = { bucket: 'HOUR', groupBy: null, timeZone: 'UTC', maxBuckets: 10 };
      const counts = async (
        from: string,
        to: string,
        filter: EventFilter = {},
        spec = hour,
        scope: Scope = all,
      ) =>
        (
          await findEventTimeline(
            t.store.db,
            scope,
            { ...filter, from: new Date(from), to: new Date(to) },
            spec,
          )
        ).map((b) => b.count);
      // [10:00, 10:15) and [10:45, 11:00) partial: the log; [10:15, 10:45) whole: the rollups.
      expect(await counts('2026-03-02T10:01:00Z', '2026-03-02T10:59:00Z')).toEqual([1 + 101 + 101 + 1]);
      expect(await counts('2026-03-02T10:00:00Z', '2026-03-02T11:00:00Z')).toEqual([404]);
      // The coarsest level that keeps what the scope, filter and group name.
      const hourOf = (filter: EventFilter, spec = hour, scope: Scope = all) =>
        counts('2026-03-02T10:00:00Z', '2026-03-02T11:00:00Z', filter, spec, scope);
      expect(await hourOf({ officeIds: ['berlin'] })).toEqual([4004]);
      expect(await hourOf({}, hour, { tenantId, officeIds: ['berlin'] })).toEqual([4004]);
      expect(await hourOf({}, { ...hour, groupBy: 'OFFICE' })).toEqual([4004]);
      expect(await hourOf({ exposureClasses: ['open_port'] })).toEqual([40_004]);
      expect(await hourOf({}, { ...hour, groupBy: 'SEVERITY' })).toEqual([40_004]);
      // Less than a period: the log alone.
      expect(await counts('2026-03-02T10:16:00Z', '2026-03-02T10:29:00Z')).toEqual([1]);
      expect(await counts('2026-03-02T10:14:00Z', '2026-03-02T10:16:00Z')).toEqual([0]);
      // Filters and buckets the rollups cannot answer: the log.
      expect(
        await counts('2026-03-02T10:00:00Z', '2026-03-02T11:00:00Z', { exposureIds: ['exp-1'] }),
      ).toEqual([4]);
      const fiveMinutes: TimelineSpec = { ...hour, bucket: 'FIVE_MINUTES', maxBuckets: 20 };
      expect(await counts('2026-03-02T10:00:00Z', '2026-03-02T11:00:00Z', {}, fiveMinutes)).toEqual([
        0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0,
      ]);
      await t.store.write((trx) => rebuildRollups(trx, tenantId));
      expect(await counts('2026-03-02T10:00:00Z', '2026-03-02T11:00:00Z')).toEqual([4]);
    });

    it('counts from the log where a bucket starts off the 15-minute grid (local mean time)', async () => {
      // Liberia kept UTC-00:44:30 until 1972: its days started at 00:44:30 UTC.
      const tenantId = 'monrovia';
      const at = [
        '1971-06-01T00:44:29Z',
        '1971-06-01T00:44:30Z',
        '1971-06-02T00:44:29.999Z',
        '1971-06-02T00:44:30Z',
      ];
      await ingestAll(
        tenantId,
        at.map((timestamp, i) => eventInput({ eventId: `monrovia-${i}`, timestamp })),
      );
      const filter = { from: new Date('1971-05-31T12:00:00Z'), to: new Date('1971-06-03T00:00:00Z') };
      const spec = { bucket: 'DAY' as const, groupBy: null, timeZone: 'Africa/Monrovia', maxBuckets: 10 };
      const days = await findEventTimeline(t.store.db, { tenantId, officeIds: 'all' }, filter, spec);
      const midnight = (day: string) => DateTime.fromISO(day, { zone: 'Africa/Monrovia' }).toJSDate();
      expect(midnight('1971-06-01').toISOString()).toBe('1971-06-01T00:44:30.000Z');
      expect(days).toEqual([
        { start: midnight('1971-05-31'), group: null, count: 1 },
        { start: midnight('1971-06-01'), group: null, count: 2 },
        { start: midnight('1971-06-02'), group: null, count: 1 },
      ]);
    });

    it('counts nothing for an ingest that rolls back', async () => {
      const tenantId = 'rolled-back';
      const failing: Store = {
        ...t.store,
        write: (work) =>
          t.store.write(async (trx) => {
            await work(trx);
            throw new Error('rolled back after the write');
          }),
      };
      const events = [
        eventInput({ timestamp: '2026-03-02T10:05:00Z' }),
        eventInput({ timestamp: '2026-03-02T11:05:00Z' }),
      ];
      await expect(ingestAll(tenantId, events, failing)).rejects.toThrow('rolled back after the write');
      expect(await rollupRows(t.store, tenantId)).toEqual([[], [], []]);
      // The same events again, committed this time, count once.
      await ingestAll(tenantId, events);
      for (const level of await rollupRows(t.store, tenantId)) {
        expect(level.map((r) => r.events)).toEqual([1, 1]);
      }
    });

    it('rebuilds one tenant or all of them', async () => {
      const before = await rollupRows(t.store, 'split');
      expect(before.at(-1)!.length).toBeGreaterThan(0);
      const total = await t.store.write((trx) => rebuildRollups(trx));
      expect(total).toBeGreaterThan(before.at(-1)!.length);
      expect(await rollupRows(t.store, 'split')).toEqual(before);
      expect(await t.store.write((trx) => rebuildRollups(trx, 'nobody'))).toBe(0);
    });
  });

  describe(`the event_rollups migration on ${engine}`, () => {
    let store: Store | undefined;
    let drop: (() => Promise<void>) | undefined;
    afterEach(async () => {
      await store?.close();
      await drop?.();
    });

    it('backfills the events already in the log, and down() drops the table', async () => {
      const database = await createTestDatabase(engine);
      drop = database.drop;
      store = await openStore(database.config);
      await migrateToLatest(store);
      const events = ['2026-03-02T10:05:00Z', '2026-03-02T10:07:00Z', '2026-03-02T10:20:00Z'].map(
        (timestamp, i) => eventInput({ timestamp, eventAction: i === 0 ? 'created' : undefined }),
      );
      await ingestInto(store, 'acme', events);
      await ingestInto(store, 'globex', events.slice(0, 1));
      const kept = await rollupRows(store, 'acme');

      // Revert down to before the rollups (later migrations first), then migrate again.
      while ((await migrationStatus(store)).find((m) => m.name === ROLLUP_MIGRATION)?.executedAt) {
        await migrateDown(store);
      }
      await expect(rollupRows(store, 'acme')).rejects.toThrow();
      await migrateToLatest(store);
      expect(await rollupRows(store, 'acme')).toEqual(kept);
      expect((await rollupRows(store, 'globex')).map((level) => level.map((r) => r.events))).toEqual([
        [1],
        [1],
        [1],
      ]);
      expect(kept.at(-1)!.map((r) => [r.event_action, r.events])).toEqual([
        ['', 1],
        ['created', 1],
        ['', 1],
      ]);
    });
  });
}
