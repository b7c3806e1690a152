/** Group commit: calls that wait while the store writes share the next transaction, each with its own outcome. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/db/database.ts';
import type { ExposureEvent } from '../../src/domain.ts';
import { GroupCommit, IdempotencyKeyReusedError, type WriteCall } from '../../src/ingest/group-commit.ts';
import { currentStates, foldedStates, storedEvents, validated } from '../helpers/current.ts';
import { ENGINES, openTestStore, type TestStore } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';

/** The store, counting the transactions it runs. */
function counting(store: Store): { store: Store; transactions: () => number } {
  let transactions = 0;
  return {
    store: {
      ...store,
      write: (work) => {
        transactions++;
        return store.write(work);
      },
    },
    transactions: () => transactions,
  };
}

function call(tenantId: string, events: ExposureEvent[], key?: string): WriteCall {
  return {
    tenantId,
    events,
    received: events.length,
    rejected: [],
    idempotency: key ? { key, requestHash: JSON.stringify(events.map((e) => e.eventId)) } : null,
  };
}

/** Events of one call: `count` events of their own exposures, plus one of an exposure every call shares. */
function callEvents(n: number, count = 3): ExposureEvent[] {
  return validated([
    ...Array.from({ length: count }, (_, i) =>
      eventInput({ eventId: `c${n}-${i}`, exposureId: `own-${n}-${i}`, timestamp: '2026-01-10T10:00:00Z' }),
    ),
    eventInput({
      eventId: `c${n}-shared`,
      exposureId: 'shared',
      riskScore: n,
      timestamp: `2026-01-10T1${n % 10}:00:00Z`,
    }),
  ]);
}

for (const engine of ENGINES) {
  describe(`group commit on ${engine}`, () => {
    let t: TestStore;
    let tenants = 0;
    const newTenant = () => `group-${++tenants}`;

    beforeAll(async () => {
      t = await openTestStore(engine);
    });
    afterAll(async () => t.close());

    it('writes calls that arrive together in fewer transactions, each with its own result', async () => {
      const tenantId = newTenant();
      const { store, transactions } = counting(t.store);
      const writer = new GroupCommit(store, { maxEvents: 2000, concurrency: 1 });
      const calls = Array.from({ length: 12 }, (_, n) => callEvents(n));
      const outcomes = await Promise.all(calls.map((events) => writer.write(call(tenantId, events))));

      // The first call starts alone; the others wait for it and go in together.
      expect(transactions()).toBe(2);
      for (const [n, outcome] of outcomes.entries()) {
        expect(outcome).toMatchObject({
          eventsInserted: 4,
          eventsDuplicate: 0,
          totalProcessed: 4,
          replayed: false,
        });
        // The shared exposure is new for the first call that brings it, and updated for every other.
        expect(outcome.exposuresInserted).toBe(n === 0 ? 4 : 3);
        expect(outcome.exposuresUpdated).toBe(n === 0 ? 0 : 1);
        expect(outcome.changed).toHaveLength(4);
      }
      expect(await currentStates(t.store, tenantId)).toEqual(foldedStates(calls.flat()));
    });

    it('counts an event two calls of one group carry for the first of them', async () => {
      const tenantId = newTenant();
      const writer = new GroupCommit(t.store, { maxEvents: 2000, concurrency: 1 });
      const [first, second] = [callEvents(1), callEvents(1)];
      const outcomes = await Promise.all([
        writer.write(call(tenantId, callEvents(0))),
        writer.write(call(tenantId, first)),
        writer.write(call(tenantId, second)),
      ]);
      expect(outcomes[1]).toMatchObject({ eventsInserted: 4, eventsDuplicate: 0 });
      expect(outcomes[2]).toMatchObject({
        eventsInserted: 0,
        eventsDuplicate: 4,
        exposuresInserted: 0,
        exposuresUpdated: 0,
      });
      expect(outcomes[2]!.changed).toEqual([]);
    });

    it('fails only the call the database refuses: the others of its group are written alone', async () => {
      const tenantId = newTenant();
      const writer = new GroupCommit(t.store, { maxEvents: 2000, concurrency: 1 });
      // Past validation, as no caller of ingest() could send it: a timestamp neither engine can read.
      const [broken] = callEvents(2, 0);
      const outcomes = await Promise.allSettled([
        writer.write(call(tenantId, callEvents(0))),
        writer.write(call(tenantId, callEvents(1))),
        writer.write(call(tenantId, [{ ...broken!, timestamp: 'not a time' }])),
        writer.write(call(tenantId, callEvents(3))),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      const written = [0, 1, 3].flatMap((n) => callEvents(n));
      expect((await storedEvents(t.store, tenantId)).map((e) => e.eventId).sort()).toEqual(
        written.map((e) => e.eventId).sort(),
      );
      expect(await currentStates(t.store, tenantId)).toEqual(foldedStates(written));
    });

    it('gives each idempotency key its own answer: a retry replays, a reused key refuses only its call', async () => {
      const tenantId = newTenant();
      const writer = new GroupCommit(t.store, { maxEvents: 2000, concurrency: 1 });
      const events = callEvents(1);
      const outcomes = await Promise.allSettled([
        writer.write(call(tenantId, callEvents(0))),
        writer.write(call(tenantId, events, 'k1')),
        // The same key again while the first is waiting: it must see the first one's result.
        writer.write(call(tenantId, events, 'k1')),
        writer.write(call(tenantId, callEvents(2), 'k1')),
        writer.write(call(tenantId, callEvents(3), 'k2')),
      ]);
      const [, first, retry, reused, other] = outcomes;
      expect(first).toMatchObject({ status: 'fulfilled', value: { eventsInserted: 4, replayed: false } });
      expect(retry).toMatchObject({
        status: 'fulfilled',
        value: { eventsInserted: 4, replayed: true, changed: [] },
      });
      expect(reused.status).toBe('rejected');
      expect((reused as PromiseRejectedResult).reason).toBeInstanceOf(IdempotencyKeyReusedError);
      expect(other).toMatchObject({ status: 'fulfilled', value: { eventsInserted: 4, replayed: false } });
      const stored = (await storedEvents(t.store, tenantId)).map((e) => e.eventId);
      expect(stored.filter((id) => id.startsWith('c2-'))).toEqual([]);
    });

    it('writes a call larger than a group alone, and never groups two tenants', async () => {
      const { store, transactions } = counting(t.store);
      const writer = new GroupCommit(store, { maxEvents: 5, concurrency: 1 });
      const [a, b] = [newTenant(), newTenant()];
      await Promise.all([
        writer.write(call(a, callEvents(0))),
        writer.write(call(a, callEvents(1, 9))),
        writer.write(call(b, callEvents(2, 1))),
        writer.write(call(a, callEvents(3, 1))),
      ]);
      // 0 alone (it started first), 1 alone (10 events), then b's call, then a's last, which b's cannot join.
      expect(transactions()).toBe(4);
    });
  });
}
