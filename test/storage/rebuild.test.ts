import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { rebuildCurrent, writeEvents } from '../../src/db/repositories/event-log.ts';
import type { ExposureEvent } from '../../src/domain.ts';
import { runCli } from '../helpers/cli.ts';
import { currentStates, foldedStates, validated } from '../helpers/current.ts';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';

/** Events for two tenants with the same office and exposure ids, arriving late and out of order. */
function history(tenant: string): ExposureEvent[] {
  const severity = tenant === 'acme' ? 'HIGH' : 'LOW';
  return validated([
    eventInput({ eventId: `${tenant}-1`, exposureId: 'x', timestamp: '2026-01-12T00:00:00Z', severity }),
    eventInput({
      eventId: `${tenant}-2`,
      exposureId: 'x',
      timestamp: '2026-01-10T00:00:00Z',
      serviceName: tenant,
    }),
    eventInput({ eventId: `${tenant}-3`, exposureId: 'y', officeId: 'paris', riskScore: 12.5 }),
    eventInput({
      eventId: `${tenant}-4`,
      exposureId: 'y',
      officeId: 'paris',
      status: 'CLOSED',
      timestamp: '2026-01-11T00:00:00Z',
    }),
  ]);
}

const TENANTS = ['acme', 'globex'];

for (const engine of ENGINES) {
  describe(`rebuild-current on ${engine}`, () => {
    let database: TestDatabase;
    let store: Store;
    const events = new Map(TENANTS.map((tenant) => [tenant, history(tenant)]));

    /** Rewrites rows of exposures_current so that they no longer match the log. */
    async function damage() {
      await store.write(async (trx) => {
        await trx.db
          .deleteFrom('exposures_current')
          .where('tenant_id', '=', 'acme')
          .where('exposure_id', '=', 'x')
          .execute();
        await trx.db
          .updateTable('exposures_current')
          .set({ status: 'OPEN', risk_score: 1, last_seen: '2030-01-01T00:00:00Z' })
          .where('exposure_id', '=', 'y')
          .execute();
        const [row] = await trx.db
          .selectFrom('exposures_current')
          .selectAll()
          .where('tenant_id', '=', 'globex')
          .limit(1)
          .execute();
        // A row without any event behind it.
        await trx.db
          .insertInto('exposures_current')
          .values({
            ...row!,
            exposure_id: 'ghost',
            first_seen: row!.first_seen.toISOString(),
            last_seen: row!.last_seen.toISOString(),
            open_since: row!.open_since?.toISOString() ?? null,
            disposition_expires_at: row!.disposition_expires_at?.toISOString() ?? null,
            resource: null,
          })
          .execute();
      });
    }

    beforeEach(async () => {
      database = await createTestDatabase(engine);
      store = await openStore(database.config);
      await migrateToLatest(store);
      for (const [tenant, tenantEvents] of events) {
        // One event at a time, newest first: every later one is a late event.
        for (const event of [...tenantEvents].reverse())
          await store.write((trx) => writeEvents(trx, tenant, [event]));
      }
    });
    afterEach(async () => {
      await store.close();
      await database.drop();
    });

    const expectFolded = async (tenant: string) =>
      expect(await currentStates(store, tenant)).toEqual(foldedStates(events.get(tenant)!));

    it('recomputes every tenant from the log', async () => {
      for (const tenant of TENANTS) await expectFolded(tenant);
      await damage();
      expect(await store.write((trx) => rebuildCurrent(trx))).toBe(4);
      for (const tenant of TENANTS) await expectFolded(tenant);
    });

    it('recomputes one tenant and leaves the others as they are', async () => {
      await damage();
      expect(await store.write((trx) => rebuildCurrent(trx, 'acme'))).toBe(2);
      await expectFolded('acme');
      const globex = await store.db
        .selectFrom('exposures_current')
        .select('exposure_id')
        .where('tenant_id', '=', 'globex')
        .orderBy('exposure_id')
        .execute();
      expect(globex.map((r) => r.exposure_id)).toEqual(['ghost', 'x', 'y']);
      expect(await store.write((trx) => rebuildCurrent(trx, 'nobody'))).toBe(0);
    });

    it('runs from the command line, for all tenants or one', async () => {
      await damage();
      // One process owns a DuckDB file: hand it over to the CLI.
      await store.close();
      const one = await runCli(['rebuild-current', '--tenant', 'globex'], database.config);
      expect(one.stderr).toBe('');
      expect(one).toMatchObject({
        code: 0,
        stdout: expect.stringMatching(/^rebuilt 2 exposures and \d+ event rollups in \d+ ms\n$/),
      });
      store = await openStore(database.config);
      await expectFolded('globex');
      expect(await currentStates(store, 'acme')).not.toEqual(foldedStates(events.get('acme')!));

      await store.close();
      const all = await runCli(['rebuild-current'], database.config);
      expect(all).toMatchObject({
        code: 0,
        stdout: expect.stringMatching(/^rebuilt 4 exposures and \d+ event rollups in \d+ ms\n$/),
      });
      store = await openStore(database.config);
      for (const tenant of TENANTS) await expectFolded(tenant);
    });
  });
}
