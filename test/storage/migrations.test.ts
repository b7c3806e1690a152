import { type Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/db/database.ts';
import { MIGRATION_NAMES, migrateDown, migrateToLatest, migrationStatus } from '../../src/db/migrate.ts';
import { keyHash } from '../../src/db/repositories/exposure-keys.ts';
import { EXPOSURE_FIELDS, FIELD_NAMES, SEVERITIES } from '../../src/domain.ts';
import { ingest } from '../../src/ingest/ingest.ts';
import { ipKey } from '../../src/ip.ts';
import { runCli } from '../helpers/cli.ts';
import { currentStates, expectKeptTables, foldedStates, validated } from '../helpers/current.ts';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';

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
      expect((await migrationStatus(s)).map((m) => [m.name, m.executedAt])).toEqual(
        MIGRATION_NAMES.map((name) => [name, undefined]),
      );
      const first = await migrateToLatest(s);
      expect(first.results?.map((r) => [r.migrationName, r.direction, r.status])).toEqual(
        MIGRATION_NAMES.map((name) => [name, 'Up', 'Success']),
      );
      expect(await tables(s)).toEqual(TABLES);
      await ingest({ store: s, config }, scope, { events: [eventInput()] });

      const second = await migrateToLatest(s);
      expect(second.results).toEqual([]);
      const events = await s.db.selectFrom('exposure_events').select('event_id').execute();
      expect(events).toHaveLength(1);
    });

    it.runIf(engine === 'postgres')(
      'reads only its own schema: another one with migrated tables is neither counted nor read',
      async () => {
        const other = await createTestDatabase('postgres');
        const otherStore = await openStore(other.config);
        try {
          await migrateToLatest(otherStore);
          await otherStore.db.schema.createTable('elsewhere').addColumn('id', 'serial').execute();
          const s = await open();
          const first = await migrateToLatest(s);
          expect(first.results).toHaveLength(MIGRATION_NAMES.length);
          const names = (await s.db.introspection.getTables({ withInternalKyselyTables: true })).map(
            (t) => t.name,
          );
          expect(names).toContain('kysely_migration');
          expect(names).not.toContain('elsewhere');
          expect([...new Set((await s.db.introspection.getTables()).map((t) => t.schema))]).toHaveLength(1);
        } finally {
          await otherStore.close();
          await other.drop();
        }
      },
    );

    it('lists the migrations with the time they were applied', async () => {
      const s = await open();
      const before = Date.now() - 1000;
      await migrateToLatest(s);
      const status = await migrationStatus(s);
      expect(status.map((m) => m.name)).toEqual(MIGRATION_NAMES);
      for (const migration of status) {
        expect(migration.executedAt).toBeInstanceOf(Date);
        expect(migration.executedAt!.getTime()).toBeGreaterThanOrEqual(before);
      }
    });

    it('reverts the migrations one at a time and applies them again', async () => {
      const s = await open();
      await migrateToLatest(s);
      await ingest({ store: s, config }, scope, { events: [eventInput()] });

      for (const name of [...MIGRATION_NAMES].reverse()) {
        const down = await migrateDown(s);
        expect(down.results?.map((r) => [r.migrationName, r.direction, r.status])).toEqual([
          [name, 'Down', 'Success'],
        ]);
      }
      expect(await tables(s)).toEqual([]);
      expect((await migrationStatus(s)).every((m) => m.executedAt === undefined)).toBe(true);
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
      expect(up).toMatchObject({
        code: 0,
        stdout: MIGRATION_NAMES.map((name) => `applied ${name}\n`).join(''),
      });
      const status = await runCli(['migrate', 'status'], database.config);
      expect(status.code).toBe(0);
      const applied = MIGRATION_NAMES.map((name) => `applied \\d{4}-\\d{2}-\\d{2}T\\S+Z  ${name}\\n`);
      expect(status.stdout).toMatch(new RegExp(`^${applied.join('')}$`));
    });

    it('upgrades a store of the first schema: key hashes filled, the current state rebuilt with its positions', async () => {
      const s = await open();
      await migrateToLatest(s);
      for (let i = 1; i < MIGRATION_NAMES.length; i++) await migrateDown(s);
      const events = validated([
        eventInput({ eventId: 'e1', timestamp: '2026-01-10T10:00:00Z', riskScore: 40, dedupeKey: 'd1' }),
        eventInput({ eventId: 'e2', timestamp: '2026-01-11T10:00:00Z', riskScore: null }),
      ]);
      // Rows as the first schema's writer left them: the log, and a current state without positions or
      // open streaks, which the rebuild computes.
      const rows = events.map((e) => ({
        tenant_id: 'acme',
        event_id: e.eventId,
        timestamp: e.timestamp,
        office_id: e.officeId,
        exposure_id: e.exposureId,
        ...Object.fromEntries(
          // The expiry of a decision came later (2026-12-01T01-10-open-streaks).
          FIELD_NAMES.filter((f) => f !== 'dispositionExpiresAt').map((f) => {
            const { column, type } = EXPOSURE_FIELDS[f];
            return [column, type === 'json' && e[f] !== null ? JSON.stringify(e[f]) : e[f]];
          }),
        ),
        severity_rank: SEVERITIES.indexOf(e.severity),
        dst_ip_key: e.dstIp === null ? null : ipKey(e.dstIp),
        dedupe_key: e.dedupeKey,
      }));
      await (s.db as unknown as Kysely<Record<string, object>>)
        .insertInto('exposure_events')
        .values(rows)
        .execute();

      await migrateToLatest(s);
      expect(await currentStates(s, 'acme')).toEqual(foldedStates(events));
      await expectKeptTables(s);
      const hashes = await s.db
        .selectFrom('exposure_events')
        .select(['event_id', 'office_id', 'exposure_id', 'dedupe_key', 'exposure_hash', 'dedupe_hash'])
        .orderBy('event_id')
        .execute();
      expect(
        hashes.map((h) => [BigInt(h.exposure_hash), h.dedupe_hash === null ? null : BigInt(h.dedupe_hash)]),
      ).toEqual(
        events.map((e) => [
          keyHash('acme', e.officeId, e.exposureId),
          e.dedupeKey === null ? null : keyHash('acme', e.officeId, e.dedupeKey),
        ]),
      );
      // The upgraded store merges later events by key, with the rebuilt positions.
      const late = await ingest({ store: s, config }, scope, {
        events: [
          eventInput({ eventId: 'e0', timestamp: '2026-01-09T10:00:00Z', riskScore: 90, dedupeKey: 'd1' }),
        ],
      });
      expect(late).toMatchObject({ eventsInserted: 0, eventsDuplicate: 1 });
      const later = { eventId: 'e3', timestamp: '2026-01-12T10:00:00Z', riskScore: null };
      await ingest({ store: s, config }, scope, { events: [eventInput(later)] });
      expect(await currentStates(s, 'acme')).toEqual(
        foldedStates([...events, ...validated([eventInput(later)])]),
      );
      await expectKeptTables(s);
    });
  });
}
