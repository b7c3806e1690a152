/** findOffices: the offices of a scope with their open exposure counts, the same on both engines. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOffices } from '../../src/db/repositories/offices.ts';
import type { Scope } from '../../src/domain.ts';
import { ingest } from '../../src/ingest/ingest.ts';
import { ENGINES, openTestStore, type TestStore } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';

const config = { maxEventsPerCall: 1000, maxFutureSkewSeconds: 300 };
const acme: Scope = { tenantId: 'acme', officeIds: 'all' };

/** [office, open exposures] in the order findOffices returns them. */
const counts = async (t: TestStore, scope: Scope) =>
  (await findOffices(t.store.db, scope)).map((o) => [o.officeId, o.openExposures]);

for (const engine of ENGINES) {
  describe(`offices on ${engine}`, () => {
    let t: TestStore;
    beforeAll(async () => {
      t = await openTestStore(engine);
      const open = (officeId: string, exposureId: string) => eventInput({ officeId, exposureId });
      await ingest({ store: t.store, config }, acme, {
        events: [
          open('berlin', 'b1'),
          open('berlin', 'b2'),
          open('berlin', 'b3'),
          // Opened, then closed: not counted.
          open('berlin', 'b4'),
          eventInput({
            officeId: 'berlin',
            exposureId: 'b4',
            status: 'CLOSED',
            timestamp: '2026-01-11T10:00:00Z',
          }),
          open('paris', 'p1'),
          // Paris' only other exposure is closed; Oslo has nothing open at all.
          eventInput({ officeId: 'paris', exposureId: 'p2', status: 'CLOSED' }),
          eventInput({ officeId: 'oslo', exposureId: 'o1', status: 'CLOSED' }),
        ],
      });
      // Another tenant's exposures in offices of the same names.
      await ingest(
        { store: t.store, config },
        { tenantId: 'globex', officeIds: 'all' },
        {
          events: [eventInput({ officeId: 'berlin', exposureId: 'g1' }), eventInput({ officeId: 'tokyo' })],
        },
      );
      // An office with no exposure at all.
      await t.store.write((trx) =>
        trx.db
          .insertInto('offices')
          .values({ tenant_id: 'acme', office_id: 'lisbon', name: 'Lisbon' })
          .execute(),
      );
    });
    afterAll(async () => t.close());

    it('counts the open exposures of every office of the tenant, 0 for an office without any', async () => {
      expect(await counts(t, acme)).toEqual([
        ['berlin', 3],
        ['lisbon', 0],
        ['oslo', 0],
        ['paris', 1],
      ]);
      const offices = await findOffices(t.store.db, acme);
      expect(offices.find((o) => o.officeId === 'lisbon')).toEqual({
        officeId: 'lisbon',
        name: 'Lisbon',
        lastIngestAt: null,
        openExposures: 0,
      });
      expect(offices.find((o) => o.officeId === 'berlin')?.lastIngestAt).toBeInstanceOf(Date);
    });

    it('keeps to the offices of the scope', async () => {
      expect(await counts(t, { tenantId: 'acme', officeIds: ['paris', 'lisbon', 'tokyo'] })).toEqual([
        ['lisbon', 0],
        ['paris', 1],
      ]);
      expect(await counts(t, { tenantId: 'acme', officeIds: [] })).toEqual([]);
      expect(await counts(t, { tenantId: 'globex', officeIds: 'all' })).toEqual([
        ['berlin', 1],
        ['tokyo', 1],
      ]);
      expect(await counts(t, { tenantId: 'initech', officeIds: 'all' })).toEqual([]);
    });

    it('gives the same answer when asked again (the cached statement)', async () => {
      const first = await findOffices(t.store.db, acme);
      expect(await findOffices(t.store.db, acme)).toEqual(first);
      expect(await counts(t, { tenantId: 'acme', officeIds: ['berlin'] })).toEqual([['berlin', 3]]);
    });
  });
}
