/**
 * Scanner files and scan runs from the command line, on both engines: `ingest --format nmap|nuclei` into
 * the local database and through a remote gateway, and `complete-run` both ways.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/db/database.ts';
import { currentStates, foldedStates, storedEvents } from '../helpers/current.ts';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/engines.ts';
import { openTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { runCli } from './process.ts';

const FIXTURES = path.resolve('test/fixtures/scanners');
const fixture = (name: string) => path.join(FIXTURES, name);

for (const engine of ENGINES) {
  describe(`scan runs from the command line on ${engine}`, () => {
    let database: TestDatabase;

    beforeAll(async () => {
      database = await createTestDatabase(engine);
    });
    afterAll(async () => database.drop());

    it('ingests nmap files as completed runs, completes a run by hand, and quarantines a cut-short file', async () => {
      const local = ['--tenant', 'cli', '--office', 'paris', '--format', 'nmap'];
      const first = await runCli(['ingest', fixture('nmap-paris-2026-03-02.xml'), ...local], database.config);
      expect(first.stderr).not.toMatch(/Error/);
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(
        /run nmap:1772442000:[0-9a-f]{16} of office paris completed at 2026-03-02T09:01:35\.000Z/,
      );
      const later = await runCli(['ingest', fixture('nmap-paris-2026-03-09.xml'), ...local], database.config);
      expect(later.code).toBe(0);
      expect(later.stdout).toMatch(
        /completed at 2026-03-09T09:01:28\.000Z: \d+ exposures observed \(0 new, 0 reopened\), 1 closed/,
      );

      // A run with no events of its own that covered one host: what is open there is closed.
      const args = [
        'complete-run',
        '--tenant',
        'cli',
        '--office',
        'paris',
        '--run',
        'manual-1',
        '--scanner',
        'nmap',
      ];
      const scope = ['--at', '2026-03-10T00:00:00Z', '--cidrs', '10.20.0.1/32', '--ports', '1-1024'];
      const manual = await runCli([...args, ...scope], database.config);
      expect(manual.stderr).toBe('');
      expect(manual.stdout).toMatch(
        /run manual-1 of office paris completed at 2026-03-10T00:00:00\.000Z: 0 exposures observed \(0 new, 0 reopened\), [1-9]\d* closed/,
      );
      const again = await runCli([...args, '--at', '2026-03-11T00:00:00Z'], database.config);
      expect(again.stdout).toBe(manual.stdout);
      const bad = await runCli(
        [...args, '--at', '2026-03-10T00:00:00Z', '--cidrs', '10.20.0.1/40'],
        database.config,
      );
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/input\.scope\.dstIpIn\[0\]/);

      const truncated = await runCli(
        ['ingest', fixture('nmap-paris-truncated.xml'), ...local],
        database.config,
      );
      expect(truncated.code).toBe(1);
      expect(truncated.stdout).toMatch(/quarantined as .* \(PARSE_ERROR\)/);

      const store = await openStore(database.config);
      try {
        expect(await currentStates(store, 'cli')).toEqual(foldedStates(await storedEvents(store, 'cli')));
        const open = await store.db
          .selectFrom('exposures_current')
          .select('exposure_id')
          .where('tenant_id', '=', 'cli')
          .where('status', '=', 'OPEN')
          .where('dst_ip', '=', '10.20.0.1')
          .execute();
        expect(open).toEqual([]);
        const runs = await store.db
          .selectFrom('scan_runs')
          .select('scan_run_id')
          .where('tenant_id', '=', 'cli')
          .execute();
        expect(runs.length).toBe(3);
      } finally {
        await store.close();
      }
    });
  });

  describe(`scan runs through a remote gateway from the command line on ${engine}`, () => {
    let g: TestGateway;
    let server: http.Server;
    let url: string;

    beforeAll(async () => {
      g = await openTestGateway(engine);
      server = http.createServer(g.yoga);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
      await g.close();
    });

    it('sends a nuclei file as a completed run and completes a run', async () => {
      const token = await g.token({ tenantId: 'remote-runs', roles: ['ingestor'] });
      const remote = ['--url', url, '--token', token, '--office', 'paris'];
      const sent = await runCli(
        ['ingest', fixture('nuclei-paris-2026-03-02.jsonl'), ...remote, '--format', 'nuclei'],
        undefined,
      );
      expect(sent.stderr).not.toMatch(/Error/);
      expect(sent.code).toBe(0);
      expect(sent.stdout).toMatch(/run nuclei:[0-9a-f]{32} of office paris completed at /);
      const completed = await runCli(
        [
          'complete-run',
          ...remote,
          '--run',
          'remote-1',
          '--scanner',
          'nuclei',
          '--at',
          '2026-03-05T00:00:00Z',
        ],
        undefined,
      );
      expect(completed.stderr).toBe('');
      // Everything nuclei reported in the office was open and outside this run: all of it closes.
      const viewer = await g.token({ tenantId: 'remote-runs', roles: ['viewer'] });
      const response = await g.graphql<{
        scanRuns: {
          edges: { node: { scanRunId: string; exposuresClosed: number; exposuresObserved: number } }[];
        };
      }>('{ scanRuns { edges { node { scanRunId exposuresClosed exposuresObserved } } } }', {}, viewer);
      const [latest, file] = response.data!.scanRuns.edges.map((e) => e.node);
      expect(latest).toMatchObject({ scanRunId: 'remote-1', exposuresClosed: file!.exposuresObserved });
      expect(completed.stdout).toContain(`${file!.exposuresObserved} closed as not observed`);
      const stored = await storedEvents(g.store, 'remote-runs');
      expect(stored.filter((e) => e.eventKind === 'inferred').length).toBe(file!.exposuresObserved);
    });
  });
}
