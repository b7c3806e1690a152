/**
 * Key hashes are lookup keys, never identities: rows of another tenant or exposure that share a hash
 * come through a merge unchanged and never reach a read of the key they collide with.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countEventsOfExposures, findEventsOfExposures } from '../../src/db/repositories/events.ts';
import { keyHash } from '../../src/db/repositories/exposure-keys.ts';
import { findExposuresByKeys } from '../../src/db/repositories/exposures.ts';
import { ingest } from '../../src/ingest/ingest.ts';
import { ENGINES, openTestStore, type TestStore } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';

const config = { maxEventsPerCall: 1000, maxFutureSkewSeconds: 300 };

for (const engine of ENGINES) {
  describe(`key hash collisions on ${engine}`, () => {
    let t: TestStore;
    beforeAll(async () => {
      t = await openTestStore(engine);
    });
    afterAll(async () => t.close());

    const write = (tenantId: string, events: Record<string, unknown>[]) =>
      ingest({ store: t.store, config }, { tenantId, officeIds: 'all' }, { events });
    // Without the hash: the merge computes it again from the key, which undoes the collision made below.
    const current = async (tenantId: string) =>
      (
        await t.store.db
          .selectFrom('exposures_current')
          .selectAll()
          .where('tenant_id', '=', tenantId)
          .execute()
      ).map(({ exposure_hash: _hash, ...row }) => row);

    it('merges and reads the right rows when other rows share the hash', async () => {
      const acme = { tenantId: 'acme', officeIds: 'all' as const };
      const key = { officeId: 'berlin', exposureId: 'x' };
      await write('acme', [
        eventInput({ eventId: 'a-1', exposureId: 'x', timestamp: '2026-03-02T10:00:00Z' }),
      ]);
      await write('globex', [
        eventInput({ eventId: 'g-1', exposureId: 'x', timestamp: '2026-03-02T09:00:00Z' }),
        eventInput({ eventId: 'g-2', exposureId: 'y', timestamp: '2026-03-02T09:30:00Z' }),
      ]);
      await write('acme', [
        eventInput({ eventId: 'a-2', exposureId: 'y', timestamp: '2026-03-02T10:30:00Z' }),
      ]);
      // Make every other row share acme's hash of (berlin, x), as a collision would.
      const hash = keyHash('acme', 'berlin', 'x');
      for (const table of ['exposures_current', 'exposure_events'] as const) {
        await t.store.write((trx) =>
          trx.db
            .updateTable(table)
            .set({ exposure_hash: hash })
            .where((eb) => eb.or([eb('tenant_id', '=', 'globex'), eb('exposure_id', '=', 'y')]))
            .execute(),
        );
      }
      const [globexBefore, acmeBefore] = [await current('globex'), await current('acme')];

      const result = await write('acme', [
        eventInput({
          eventId: 'a-3',
          exposureId: 'x',
          timestamp: '2026-03-02T11:00:00Z',
          severity: 'CRITICAL',
        }),
      ]);
      expect(result).toMatchObject({ eventsInserted: 1, exposuresInserted: 0, exposuresUpdated: 1 });
      expect(await current('globex')).toEqual(expect.arrayContaining(globexBefore));
      expect(await current('globex')).toHaveLength(globexBefore.length);
      const acmeAfter = await current('acme');
      expect(acmeAfter.find((r) => r.exposure_id === 'y')).toEqual(
        acmeBefore.find((r) => r.exposure_id === 'y'),
      );
      expect(acmeAfter.find((r) => r.exposure_id === 'x')).toMatchObject({
        severity: 'CRITICAL',
        event_count: 2,
      });

      const [exposure, ...others] = await findExposuresByKeys(t.store.db, acme, [key]);
      expect(others).toEqual([]);
      expect(exposure).toMatchObject({ exposureId: 'x', severity: 'CRITICAL' });
      const [events] = await findEventsOfExposures(t.store.db, acme, [key], { first: 10 });
      expect(events!.rows.map((e) => e.eventId)).toEqual(['a-3', 'a-1']);
      expect(
        await countEventsOfExposures(t.store.db, acme, [key, { officeId: 'berlin', exposureId: 'y' }], {}),
      ).toEqual([2, 1]);
      expect(
        await countEventsOfExposures(t.store.db, acme, [key], { from: new Date('2026-03-01T00:00:00Z') }),
      ).toEqual([2]);
    });
  });
}
