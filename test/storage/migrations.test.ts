import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/db/database.ts';
import { migrateDown, migrateToLatest, migrationStatus } from '../../src/db/migrate.ts';
import { ingest } from '../../src/ingest/ingest.ts';
import { runCli } from '../helpers/cli.ts';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';

const CORE = '2026-11-22T00-00-core';
const TABLES = [
  'api_keys',
  'exposure_events',
  'exposures_current',
  'ingest_batches',
  'offices',
  'quarantined_files',
];
const config = { maxEventsPerCall: 1000, maxFutureSkewSeconds: 300 };
const scope = { tenantId: 'acme', officeIds: 'all' as const };

/** Our tables that exist in the store's schema, sorted. */
async function tables(store: Store): Promise<string[]> {
  const { rows } = await sql<{ table_name: string }>`
    select table_name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(store.db);
  return rows
    .map((r) => r.table_name)
    .filter((name) => TABLES.includes(name))
    .sort();
}

for (const engine of ENGINES) {
  describe(`migrations on ${engine}`, () => {
    let database: TestDatabase;
    let store: Store | undefined;

    const open = async () => {
      database = await createTestDatabase(engine);
      store = await openStore(database.config);
      return store;
    };
    afterEach(async () => {
      await store?.close();
      store = undefined;
      await database.drop();
    });

    it('applies the core migration once; a second run is a no-op that keeps the data', async () => {
      const s = await open();
      expect((await migrationStatus(s)).map((m) => [m.name, m.executedAt])).toEqual([[CORE, undefined]]);
      const first = await migrateToLatest(s);
      expect(first.results?.map((r) => [r.migrationName, r.direction, r.status])).toEqual([
        [CORE, 'Up', 'Success'],
      ]);
      expect(await tables(s)).toEqual(TABLES);
      await ingest({ store: s, config }, scope, { events: [eventInput()] });

      const second = await migrateToLatest(s);
      expect(second.results).toEqual([]);
      const events = await s.db.selectFrom('exposure_events').select('event_id').execute();
      expect(events).toHaveLength(1);
    });

    it('lists the migration with the time it was applied', async () => {
      const s = await open();
      const before = Date.now() - 1000;
      await migrateToLatest(s);
      const [core, ...rest] = await migrationStatus(s);
      expect(rest).toEqual([]);
      expect(core?.name).toBe(CORE);
      expect(core?.executedAt).toBeInstanceOf(Date);
      expect(core!.executedAt!.getTime()).toBeGreaterThanOrEqual(before);
    });

    it('reverts the migration and applies it again', async () => {
      const s = await open();
      await migrateToLatest(s);
      await ingest({ store: s, config }, scope, { events: [eventInput()] });

      const down = await migrateDown(s);
      expect(down.results?.map((r) => [r.migrationName, r.direction, r.status])).toEqual([
        [CORE, 'Down', 'Success'],
      ]);
      expect(await tables(s)).toEqual([]);
      expect((await migrationStatus(s))[0]?.executedAt).toBeUndefined();
      // Nothing left to revert.
      expect((await migrateDown(s)).results).toEqual([]);

      await migrateToLatest(s);
      expect(await tables(s)).toEqual(TABLES);
      const result = await ingest({ store: s, config }, scope, { events: [eventInput()] });
      expect(result.eventsInserted).toBe(1);
    });

    it('runs from the command line: up, then status', async () => {
      database = await createTestDatabase(engine);
      const up = await runCli(['migrate', 'up'], database.config);
      expect(up).toMatchObject({ code: 0, stdout: `applied ${CORE}\n` });
      const status = await runCli(['migrate', 'status'], database.config);
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(new RegExp(`^applied \\d{4}-\\d{2}-\\d{2}T\\S+Z  ${CORE}\\n$`));
    });
  });
}
