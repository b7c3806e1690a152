/**
 * The open streak under late events: a CLOSED event that lands inside a stored OPEN streak moves the
 * streak's start to the next OPEN event after it, which the merge finds in the log, on both engines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebuildCurrent } from '../../src/db/repositories/event-log.ts';
import { ingest } from '../../src/ingest/ingest.ts';
import { currentStates, foldedStates, storedEvents } from '../helpers/current.ts';
import { ENGINES, openTestStore, type TestStore } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';

const config = { maxEventsPerCall: 1000, maxFutureSkewSeconds: 300 };
const at = (day: number, status: 'OPEN' | 'CLOSED', exposureId = 'x') =>
  eventInput({ exposureId, status, timestamp: `2026-01-${String(day).padStart(2, '0')}T00:00:00Z` });

for (const engine of ENGINES) {
  describe(`open streaks on ${engine}`, () => {
    let t: TestStore;
    beforeAll(async () => {
      t = await openTestStore(engine);
    });
    afterAll(async () => t.close());

    const openSince = async (tenantId: string, exposureId = 'x') =>
      (await currentStates(t.store, tenantId)).find(([key]) => key.includes(`"${exposureId}"`))?.[1]
        .openSince;

    it('moves the start to the first OPEN event after a late CLOSED one', async () => {
      const scope = { tenantId: 'late-closed', officeIds: 'all' as const };
      await ingest({ store: t.store, config }, scope, {
        events: [at(10, 'OPEN'), at(12, 'OPEN'), at(14, 'OPEN')],
      });
      expect(await openSince(scope.tenantId)).toBe('2026-01-10T00:00:00.000Z');
      await ingest({ store: t.store, config }, scope, { events: [at(11, 'CLOSED')] });
      expect(await openSince(scope.tenantId)).toBe('2026-01-12T00:00:00.000Z');
      // A batch whose own streak began before the stored CLOSED event, with OPEN events after it.
      await ingest({ store: t.store, config }, scope, { events: [at(20, 'CLOSED', 'y')] });
      await ingest({ store: t.store, config }, scope, {
        events: [at(19, 'OPEN', 'y'), at(21, 'OPEN', 'y'), at(22, 'OPEN', 'y')],
      });
      expect(await openSince(scope.tenantId, 'y')).toBe('2026-01-21T00:00:00.000Z');
      const expected = foldedStates(await storedEvents(t.store, scope.tenantId));
      expect(await currentStates(t.store, scope.tenantId)).toEqual(expected);
      await t.store.write((trx) => rebuildCurrent(trx, scope.tenantId));
      expect(await currentStates(t.store, scope.tenantId)).toEqual(expected);
    });

    it('clears the start when the latest event is CLOSED, and starts anew on a reopen', async () => {
      const scope = { tenantId: 'reopen', officeIds: 'all' as const };
      await ingest({ store: t.store, config }, scope, { events: [at(10, 'OPEN'), at(12, 'CLOSED')] });
      expect(await openSince(scope.tenantId)).toBeNull();
      await ingest({ store: t.store, config }, scope, { events: [at(13, 'OPEN'), at(15, 'OPEN')] });
      expect(await openSince(scope.tenantId)).toBe('2026-01-13T00:00:00.000Z');
    });
  });
}
