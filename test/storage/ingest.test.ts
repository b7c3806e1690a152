import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../../src/domain.ts';
import { IngestRejectedError, ingest } from '../../src/ingest/ingest.ts';
import { ENGINES, openTestStore, type TestStore } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';

const config = { maxEventsPerCall: 1000, maxFutureSkewSeconds: 300 };

for (const engine of ENGINES) {
  describe(`ingest on ${engine}`, () => {
    let t: TestStore;
    let tenant = 0;
    // Each test writes to a tenant of its own, so tests share one database without seeing each other.
    const newScope = (): Scope => ({ tenantId: `tenant-${++tenant}`, officeIds: 'all' });
    const current = (scope: Scope) =>
      t.store.db
        .selectFrom('exposures_current')
        .selectAll()
        .where('tenant_id', '=', scope.tenantId)
        .orderBy('exposure_id')
        .execute();
    const eventCount = async (scope: Scope) =>
      (
        await t.store.db
          .selectFrom('exposure_events')
          .select('event_id')
          .where('tenant_id', '=', scope.tenantId)
          .execute()
      ).length;

    beforeAll(async () => {
      t = await openTestStore(engine);
    });
    afterAll(async () => t.close());

    it('appends events and inserts then updates the current state', async () => {
      const scope = newScope();
      const first = await ingest({ store: t.store, config }, scope, {
        events: [eventInput({ exposureId: 'a' }), eventInput({ exposureId: 'b' })],
      });
      expect(first).toMatchObject({
        eventsInserted: 2,
        eventsDuplicate: 0,
        exposuresInserted: 2,
        exposuresUpdated: 0,
        totalProcessed: 2,
        rejected: [],
      });
      const second = await ingest({ store: t.store, config }, scope, {
        events: [eventInput({ exposureId: 'a', timestamp: '2026-01-11T10:00:00Z', status: 'CLOSED' })],
      });
      expect(second).toMatchObject({ eventsInserted: 1, exposuresInserted: 0, exposuresUpdated: 1 });
      const rows = await current(scope);
      expect(
        rows.map((r) => [r.exposure_id, r.status, r.first_seen.toISOString(), r.last_seen.toISOString()]),
      ).toEqual([
        ['a', 'CLOSED', '2026-01-10T10:00:00.000Z', '2026-01-11T10:00:00.000Z'],
        ['b', 'OPEN', '2026-01-10T10:00:00.000Z', '2026-01-10T10:00:00.000Z'],
      ]);
    });

    it('keeps the later event of two for one key in one batch, whatever their order in the batch', async () => {
      const scope = newScope();
      await ingest({ store: t.store, config }, scope, {
        events: [
          eventInput({ timestamp: '2026-01-12T00:00:00Z', severity: 'LOW', riskScore: null }),
          eventInput({ timestamp: '2026-01-11T00:00:00Z', severity: 'CRITICAL', riskScore: 90 }),
        ],
      });
      const [row] = await current(scope);
      expect(row).toMatchObject({ severity: 'LOW', risk_score: 90 });
      expect(row?.first_seen.toISOString()).toBe('2026-01-11T00:00:00.000Z');
    });

    it('recomputes a key from the log when an event arrives late', async () => {
      const scope = newScope();
      const deps = { store: t.store, config };
      await ingest(deps, scope, {
        events: [eventInput({ timestamp: '2026-01-20T00:00:00Z', status: 'CLOSED', serviceName: null })],
      });
      await ingest(deps, scope, {
        events: [eventInput({ timestamp: '2026-01-10T00:00:00Z', status: 'OPEN', serviceName: 'rdp' })],
      });
      const [row] = await current(scope);
      // The late OPEN must not overwrite the newer CLOSED, but its service name fills the gap.
      expect(row).toMatchObject({ status: 'CLOSED', service_name: 'rdp' });
      expect(row?.first_seen.toISOString()).toBe('2026-01-10T00:00:00.000Z');
      expect(row?.last_seen.toISOString()).toBe('2026-01-20T00:00:00.000Z');
    });

    it('drops duplicates by event id, dedupe key and repeats inside a batch', async () => {
      const scope = newScope();
      const deps = { store: t.store, config };
      const a = eventInput({ eventId: 'same', exposureId: 'x' });
      const b = eventInput({
        eventId: 'other',
        dedupeKey: 'd1',
        exposureId: 'x',
        timestamp: '2026-01-11T00:00:00Z',
      });
      const result = await ingest(deps, scope, { events: [a, a, b] });
      expect(result).toMatchObject({ eventsInserted: 2, eventsDuplicate: 1, totalProcessed: 3 });
      const again = await ingest(deps, scope, {
        events: [a, eventInput({ eventId: 'third', dedupeKey: 'd1', exposureId: 'x' })],
      });
      expect(again).toMatchObject({
        eventsInserted: 0,
        eventsDuplicate: 2,
        exposuresInserted: 0,
        exposuresUpdated: 0,
      });
      expect(await eventCount(scope)).toBe(2);
    });

    it('derives the same event id for the same content', async () => {
      const scope = newScope();
      const deps = { store: t.store, config };
      const event = eventInput({ eventId: undefined });
      await ingest(deps, scope, { events: [event] });
      const again = await ingest(deps, scope, { events: [{ ...event }] });
      expect(again.eventsDuplicate).toBe(1);
      expect(await eventCount(scope)).toBe(1);
    });

    it('rejects invalid input with index, field and reason, and writes nothing', async () => {
      const scope = newScope();
      const events = [
        eventInput(),
        eventInput({ severity: 'SEVERE' }),
        eventInput({ dstPort: 70000 }),
        eventInput({ dstIp: '10.0.0.256' }),
        eventInput({ timestamp: '2026-01-10T10:00:00' }),
        eventInput({ exposureClass: undefined }),
      ];
      const error = await ingest({ store: t.store, config }, scope, { events }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IngestRejectedError);
      expect((error as IngestRejectedError).rejected.map((r) => [r.index, r.field, r.code])).toEqual([
        [1, 'severity', 'INVALID_VALUE'],
        [2, 'dstPort', 'OUT_OF_RANGE'],
        [3, 'dstIp', 'INVALID_IP'],
        [4, 'timestamp', 'INVALID_TIMESTAMP'],
        [5, 'exposureClass', 'REQUIRED'],
      ]);
      expect(await eventCount(scope)).toBe(0);
    });

    it('writes the valid events and returns the rest when skipInvalid is set', async () => {
      const scope = newScope();
      const result = await ingest({ store: t.store, config }, scope, {
        events: [eventInput(), eventInput({ dstPort: -1 })],
        skipInvalid: true,
      });
      expect(result.eventsInserted).toBe(1);
      expect(result.rejected).toEqual([
        expect.objectContaining({ index: 1, field: 'dstPort', code: 'OUT_OF_RANGE' }),
      ]);
    });

    it('returns the first result for a repeated idempotency key and refuses it for other events', async () => {
      const scope = newScope();
      const deps = { store: t.store, config };
      const events = [eventInput({ eventId: undefined, exposureId: 'k' })];
      const first = await ingest(deps, scope, { events, idempotencyKey: 'batch-1' });
      const second = await ingest(deps, scope, { events, idempotencyKey: 'batch-1' });
      expect(second).toEqual({ ...first, replayed: true });
      const other = ingest(deps, scope, {
        events: [eventInput({ exposureId: 'k2' })],
        idempotencyKey: 'batch-1',
      });
      await expect(other).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
      expect(await eventCount(scope)).toBe(1);
    });

    it('answers concurrent retries of one idempotency key with the first result', async () => {
      const scope = newScope();
      const deps = { store: t.store, config };
      const events = Array.from({ length: 50 }, (_, i) => eventInput({ exposureId: `c${i}` }));
      // On PostgreSQL the calls run in parallel transactions: the retries must wait, then replay.
      const results = await Promise.all(
        [1, 2, 3].map(() => ingest(deps, scope, { events, idempotencyKey: 'concurrent' })),
      );
      expect(results.filter((r) => !r.replayed)).toHaveLength(1);
      const first = results.find((r) => !r.replayed);
      for (const result of results) expect(result).toEqual({ ...first, replayed: result.replayed });
      expect(await eventCount(scope)).toBe(50);
    });

    it('rejects events for offices outside the scope', async () => {
      const scope: Scope = { tenantId: `tenant-${++tenant}`, officeIds: ['berlin'] };
      const error = await ingest({ store: t.store, config }, scope, {
        events: [eventInput(), eventInput({ officeId: 'paris' })],
      }).catch((e: unknown) => e);
      expect((error as IngestRejectedError).rejected).toEqual([
        expect.objectContaining({ index: 1, field: 'officeId', code: 'OFFICE_NOT_ALLOWED' }),
      ]);
      expect(await eventCount(scope)).toBe(0);
    });

    it('keeps tenants apart even with the same office and exposure ids', async () => {
      const one = newScope();
      const two = newScope();
      await ingest({ store: t.store, config }, one, {
        events: [eventInput({ eventId: 'shared', severity: 'LOW' })],
      });
      const result = await ingest({ store: t.store, config }, two, {
        events: [eventInput({ eventId: 'shared', severity: 'CRITICAL' })],
      });
      expect(result.eventsInserted).toBe(1);
      expect((await current(one))[0]?.severity).toBe('LOW');
      expect((await current(two))[0]?.severity).toBe('CRITICAL');
    });
  });
}
