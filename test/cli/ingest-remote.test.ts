/** `exposure-gateway ingest FILE --url --token`: scan files through a gateway listening on a real port. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';
import { openTestGateway, type TestGateway } from '../helpers/gateway.ts';

const BIN = path.resolve('bin/exposure-gateway.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in an empty folder with no database settings: a remote ingest must not need one. */
function runCli(args: string[], cwd: string, extraEnv: Record<string, string> = {}): Promise<Run> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(DB_|DATABASE_URL|INGEST_|PERSISTED_)/.test(name)),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...env, INGEST_CHUNK_SIZE: '500', LOG_LEVEL: 'silent', ...extraEnv },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The gateway on a port of its own, as a remote site would reach it. */
async function listen(g: TestGateway): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(g.yoga);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const LIST = /* GraphQL */ `
  {
    quarantinedFiles {
      totalCount
      edges {
        node { id filename fileSize fileHash errorType errorMessage errorDetails scannerType officeId status contentStored }
      }
    }
  }
`;

interface ListData {
  quarantinedFiles: {
    totalCount: number;
    edges: { node: Record<string, unknown> & { errorDetails: { problems: Record<string, unknown>[] } } }[];
  };
}

const fileLine = (i: number, overrides: Record<string, unknown> = {}) =>
  JSON.stringify(
    eventInput({
      eventId: undefined,
      officeId: undefined,
      exposureId: `exp-${i % 400}`,
      timestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
      ...overrides,
    }),
  );

for (const engine of ENGINES) {
  describe(`ingest command to a remote gateway on ${engine}`, () => {
    let g: TestGateway;
    let server: { url: string; close(): Promise<void> };
    let dir: string;
    let tenants = 0;

    async function newTenant(officeIds = ['*']) {
      const tenantId = `remote-${++tenants}`;
      return {
        ingestor: await g.token({ tenantId, officeIds, roles: ['ingestor'] }),
        admin: await g.token({ tenantId, roles: ['admin'] }),
      };
    }

    const eventCount = async (token: string) =>
      (await g.graphql<{ events: { totalCount: number } }>('{ events { totalCount } }', {}, token)).data!
        .events.totalCount;

    beforeAll(async () => {
      g = await openTestGateway(engine);
      server = await listen(g);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exposure-remote-'));
    });
    afterAll(async () => {
      await server.close();
      await g.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('sends a file in chunks, filling in the office and scanner, and a second run adds nothing', async () => {
      const t = await newTenant();
      const file = path.join(dir, 'scan.json');
      fs.writeFileSync(file, `[\n${Array.from({ length: 1200 }, (_, i) => fileLine(i)).join(',\n')}\n]\n`);
      const args = [
        'ingest',
        file,
        '--url',
        server.url,
        '--token',
        t.ingestor,
        '--office',
        'berlin',
        '--scanner-type',
        'nmap',
      ];

      const run = await runCli(args, dir);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(
        /^scan\.json: ingested 1200 events \(1200 new, 0 duplicates; exposures 400 new, 600 updated\)/,
      );
      expect(run.stderr).toContain('scan.json: 1200/1200 events');
      expect(await eventCount(t.admin)).toBe(1200);
      const sample = await g.graphql<{ events: { edges: { node: Record<string, unknown> }[] } }>(
        '{ events(first: 1) { edges { node { officeId scannerType severity } } } }',
        {},
        t.admin,
      );
      expect(sample.data?.events.edges[0]?.node).toEqual({
        officeId: 'berlin',
        scannerType: 'nmap',
        severity: 'HIGH',
      });

      const again = await runCli(args, dir);
      expect(again.stdout).toMatch(/ingested 1200 events \(0 new, 1200 duplicates/);
      expect(await eventCount(t.admin)).toBe(1200);
      // No local database was opened or created.
      expect(fs.readdirSync(dir)).toEqual(['scan.json']);
    });

    it('waits out RATE_LIMITED as Retry-After says, and sends the whole file', async () => {
      // Two requests a second: the three chunks and the run's completion need two windows or more.
      const limited = await openTestGateway(engine, {
        RATE_LIMIT_REQUESTS: '2',
        RATE_LIMIT_WINDOW_SECONDS: '1',
      });
      const limitedServer = await listen(limited);
      try {
        const token = await limited.token({ roles: ['ingestor', 'viewer'] });
        const file = path.join(dir, 'limited.jsonl');
        fs.writeFileSync(file, Array.from({ length: 1200 }, (_, i) => fileLine(i)).join('\n'));
        const run = await runCli(
          ['ingest', file, '--url', limitedServer.url, '--token', token, '--office', 'berlin'],
          dir,
        );
        expect(run.code, run.stderr).toBe(0);
        expect(run.stdout).toMatch(/limited\.jsonl: ingested 1200 events \(1200 new/);
        const stored = await limited.graphql<{ events: { totalCount: number } }>(
          '{ events { totalCount } }',
          {},
          token,
        );
        expect(stored.data?.events.totalCount).toBe(1200);
      } finally {
        await limitedServer.close();
        await limited.close();
        fs.rmSync(path.join(dir, 'limited.jsonl'));
      }
    });

    it('reports a bad file to the gateway’s quarantine and writes nothing', async () => {
      const t = await newTenant();
      const file = path.join(dir, 'broken.jsonl');
      const content = [fileLine(0), '{"exposureId": ', fileLine(2, { riskScore: 900 })].join('\n');
      fs.writeFileSync(file, content);

      const run = await runCli(
        [
          'ingest',
          file,
          '--url',
          server.url,
          '--token',
          t.ingestor,
          '--office',
          'berlin',
          '--scanner-type',
          'nmap',
        ],
        dir,
      );
      expect(run.code).toBe(1);
      const printed =
        /^broken\.jsonl: quarantined as (\S+) \(PARSE_ERROR\): broken\.jsonl, line 2: not valid JSON/.exec(
          run.stdout,
        );
      expect(printed, run.stdout + run.stderr).not.toBeNull();
      fs.rmSync(file);

      const list = await g.graphql<ListData>(LIST, {}, t.admin);
      expect(list.data?.quarantinedFiles.totalCount).toBe(1);
      const node = list.data!.quarantinedFiles.edges[0]!.node;
      expect(node).toMatchObject({
        id: printed![1],
        filename: 'broken.jsonl',
        fileSize: Buffer.byteLength(content),
        fileHash: createHash('sha256').update(content).digest('hex'),
        errorType: 'PARSE_ERROR',
        scannerType: 'nmap',
        officeId: 'berlin',
        status: 'PENDING',
        // The file stayed with the worker.
        contentStored: false,
      });
      expect(node.errorDetails.problems).toMatchObject([
        { line: 2, index: 1, code: 'PARSE_ERROR' },
        { line: 3, index: 2, field: 'riskScore', code: 'OUT_OF_RANGE' },
      ]);
      expect(await eventCount(t.admin)).toBe(0);
    });

    it('quarantines a file whose chunk the gateway refuses', async () => {
      const t = await newTenant(['berlin']);
      const file = path.join(dir, 'ahead.jsonl');
      // This machine allows a clock a day ahead; the gateway allows five minutes.
      const ahead = new Date(Date.now() + 2 * 3600_000).toISOString();
      fs.writeFileSync(file, [fileLine(0), fileLine(1, { timestamp: ahead })].join('\n'));
      const args = ['ingest', file, '--url', server.url, '--token', t.ingestor, '--office', 'berlin'];
      const run = await runCli(args, dir, { INGEST_MAX_FUTURE_SKEW_SECONDS: '86400' });
      expect(run.code, run.stderr).toBe(1);
      expect(run.stdout).toMatch(/^ahead\.jsonl: quarantined as \S+ \(INVALID_EVENTS\)/);
      const list = await g.graphql<ListData>(LIST, {}, t.admin);
      expect(list.data?.quarantinedFiles.edges[0]?.node).toMatchObject({
        officeId: 'berlin',
        status: 'PENDING',
      });
      expect(list.data?.quarantinedFiles.edges[0]?.node.errorDetails.problems).toEqual([
        { line: 2, index: 1, field: 'timestamp', code: 'FUTURE_TIMESTAMP', message: expect.any(String) },
      ]);
      expect(await eventCount(t.admin)).toBe(0);

      // Without --office, a token bound to offices cannot file a report for the whole tenant.
      const noOffice = await runCli(['ingest', file, '--url', server.url, '--token', t.ingestor], dir, {
        INGEST_MAX_FUTURE_SKEW_SECONDS: '86400',
      });
      fs.rmSync(file);
      expect(noOffice.code).toBe(2);
      expect(noOffice.stderr).toContain(
        'officeId: required, since the caller may write to some offices only',
      );
    });

    it('stops with a message when the gateway refuses the token', async () => {
      const file = path.join(dir, 'one.jsonl');
      fs.writeFileSync(file, fileLine(0, { officeId: 'berlin' }));
      const run = await runCli(['ingest', file, '--url', server.url, '--token', 'not-a-token'], dir);
      fs.rmSync(file);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('the token is not valid (UNAUTHENTICATED)');
    });

    it('speaks persisted operations to a gateway that runs nothing else', async () => {
      const strict = await openTestGateway(engine, { PERSISTED_OPERATIONS_ONLY: 'true' });
      const strictServer = await listen(strict);
      try {
        const token = await strict.token({ roles: ['ingestor', 'viewer'] });
        const file = path.join(dir, 'persisted.jsonl');
        fs.writeFileSync(file, [fileLine(0), fileLine(1)].join('\n'));
        const run = await runCli(
          ['ingest', file, '--url', strictServer.url, '--token', token, '--office', 'berlin'],
          dir,
        );
        fs.rmSync(file);
        expect(run.code, run.stderr).toBe(0);
        expect(run.stdout).toMatch(/ingested 2 events \(2 new/);
        const rows = await strict.store.db.selectFrom('exposure_events').select('event_id').execute();
        expect(rows).toHaveLength(2);
      } finally {
        await strictServer.close();
        await strict.close();
      }
    });
  });
}
