import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/db/database.ts';
import { demoEvents } from '../../src/demo/sample.ts';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/engines.ts';
import { runCli, startServer } from './process.ts';

describe('demo sample', () => {
  it('is the same for the same anchor, and never after it', () => {
    const anchor = new Date('2026-06-15T12:00:00Z');
    const events = demoEvents(anchor);
    expect(demoEvents(anchor)).toEqual(events);
    expect(events.length).toBeGreaterThan(3000);
    expect(events.every((event) => String(event.timestamp) < anchor.toISOString())).toBe(true);
    const first = String(events[0]?.timestamp);
    expect(Date.parse(first)).toBeLessThan(anchor.getTime() - 35 * 24 * 3600_000);
  });
});

for (const engine of ENGINES) {
  describe(`demo command on ${engine}`, () => {
    let database: TestDatabase;
    beforeAll(async () => {
      database = await createTestDatabase(engine);
    });
    afterAll(async () => database.drop());
    // DB_TYPE=postgres: the demo uses DATABASE_URL; on DuckDB it takes its own file, given with --db.
    const demoArgs = () => (engine === 'duckdb' ? ['demo', '--db', database.config.duckdbPath] : ['demo']);

    it.runIf(engine === 'duckdb')('opens its file with the configured DuckDB settings', async () => {
      // A limit too small for anything: the seed fails, which shows the setting reached DuckDB.
      const starved = await runCli([...demoArgs(), '--seed-only'], database.config, {
        DUCKDB_MEMORY_LIMIT: '1MB',
      });
      expect(starved.code).not.toBe(0);
      expect(starved.stderr).toMatch(/memory/i);
    });

    it('seeds a realistic sample through ingest, and adds nothing the second time', async () => {
      const first = await runCli([...demoArgs(), '--seed-only'], database.config);
      expect(first.code, first.stderr).toBe(0);
      const inserted = Number(/(\d+) events inserted, 0 already there/.exec(first.stdout)?.[1]);
      expect(inserted).toBeGreaterThan(3000);
      expect(first.stdout).toContain('4 new quarantined files');

      const second = await runCli([...demoArgs(), '--seed-only'], database.config);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).toContain(
        `0 events inserted, ${inserted} already there, 0 new exposures, 0 new quarantined files`,
      );

      const store = await openStore(database.config);
      try {
        const values = async (column: string, table = 'exposure_events') =>
          (
            await sql<{ value: string }>`select distinct ${sql.ref(column)} as value from ${sql.table(table)}
              where tenant_id = 'demo' order by 1`.execute(store.db)
          ).rows.map((row) => row.value);
        expect(await values('severity')).toEqual(['CRITICAL', 'HIGH', 'INFO', 'LOW', 'MEDIUM']);
        expect(await values('status', 'exposures_current')).toEqual(['CLOSED', 'OPEN']);
        expect(await values('exposure_class')).toEqual(
          expect.arrayContaining(['open_port', 'weak_tls', 'expired_certificate', 'risky_service']),
        );
        const ips = await values('dst_ip');
        expect(ips.some((ip) => ip.includes(':'))).toBe(true);
        expect(ips.some((ip) => /^10\.\d+\.\d+\.\d+$/.test(ip))).toBe(true);
        expect(await values('status', 'quarantined_files')).toEqual(['DISCARDED', 'PENDING', 'REPLAYED']);
        const offices = await store.db
          .selectFrom('offices')
          .select(['office_id', 'name'])
          .where('tenant_id', '=', 'demo')
          .execute();
        expect(offices).toHaveLength(6);
        expect(offices.every((office) => office.name)).toBe(true);
        const days = await sql<{
          days: number;
        }>`select cast(count(distinct cast(timestamp as date)) as integer) as days
          from exposure_events where tenant_id = 'demo'`.execute(store.db);
        expect(days.rows[0]?.days).toBeGreaterThanOrEqual(35);
      } finally {
        await store.close();
      }
    });

    it('serves the sample and prints the GraphiQL URL and a token that reads it', async () => {
      const demo = await startServer(demoArgs(), database.config);
      try {
        // The banner is printed once the server listens, just after the log line startServer waits for.
        await expect.poll(() => demo.stdout(), { timeout: 10_000 }).toContain('Stop with Ctrl-C.');
        expect(demo.stdout()).toContain(`GraphiQL:  ${demo.url}/graphql`);
        const token = /^(eyJ[\w-]+\.[\w-]+\.[\w-]+)$/m.exec(demo.stdout())?.[1];
        const response = await fetch(`${demo.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: '{ offices { id name } exposureSummary { total open critical } }' }),
        });
        const body = (await response.json()) as {
          data: {
            offices: { id: string }[];
            exposureSummary: { total: number; open: number; critical: number };
          };
        };
        expect(body.data.offices.map((office) => office.id)).toEqual([
          'berlin',
          'london',
          'new-york',
          'paris',
          'sao-paulo',
          'singapore',
        ]);
        expect(body.data.exposureSummary.total).toBeGreaterThan(250);
        expect(body.data.exposureSummary.open).toBeLessThan(body.data.exposureSummary.total);
        expect(body.data.exposureSummary.critical).toBeGreaterThan(0);
      } finally {
        demo.child.kill('SIGTERM');
        expect(await demo.exited).toBe(0);
      }
    });
  });
}
