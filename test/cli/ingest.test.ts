/**
 * `exposure-gateway ingest FILE` into the local database, run as a child process on both engines:
 * 100,000 events with every count checked, an interrupted run started again, and a bad file.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseConfig } from '../../src/config.ts';
import { openStore } from '../../src/db/database.ts';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/engines.ts';

const BIN = path.resolve('bin/exposure-gateway.js');
const EXPOSURES = 10_000;
const EVENTS_PER_EXPOSURE = 10;
const EVENTS = EXPOSURES * EVENTS_PER_EXPOSURE;
const CHUNK_SIZE = 5000;
const OFFICES = ['berlin', 'paris', 'tokyo', 'lima'];
const SEVERITIES = ['INFO', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];

/** A scanner's export: each exposure's events in a row, the last one CLOSED for every third exposure. */
function writeScanFile(file: string) {
  const base = Date.UTC(2026, 0, 1);
  const out = fs.openSync(file, 'w');
  for (let k = 0; k < EXPOSURES; k++) {
    const lines: string[] = [];
    for (let j = 0; j < EVENTS_PER_EXPOSURE; j++) {
      lines.push(
        JSON.stringify({
          timestamp: new Date(base + j * 60_000 + k * 1000).toISOString(),
          officeId: OFFICES[k % OFFICES.length],
          exposureId: `exp-${k}`,
          exposureClass: 'open_port',
          status: j === EVENTS_PER_EXPOSURE - 1 && k % 3 === 0 ? 'CLOSED' : 'OPEN',
          severity: SEVERITIES[(k + j) % SEVERITIES.length],
          riskScore: j === 0 ? k % 101 : null,
          dstIp: `10.${k % 256}.${j}.1`,
          dstPort: 1000 + j,
          protocol: 'tcp',
        }),
      );
    }
    fs.writeSync(out, `${lines.join('\n')}\n`);
  }
  fs.closeSync(out);
}

function cliEnv(database: DatabaseConfig): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(DB_|DATABASE_URL|INGEST_)/.test(name)),
  );
  const db =
    database.engine === 'duckdb'
      ? { DB_TYPE: 'duckdb', DB_PATH: database.duckdbPath }
      : { DB_TYPE: 'postgres', DATABASE_URL: database.postgresUrl ?? '' };
  return { ...inherited, ...db, INGEST_CHUNK_SIZE: String(CHUNK_SIZE), LOG_LEVEL: 'silent' };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `until` may stop it with SIGKILL once its progress output matches. */
function runCli(args: string[], database: DatabaseConfig, until?: RegExp): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: cliEnv(database) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (until?.test(stderr)) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The numbers of an "ingested" line. */
function ingested(stdout: string) {
  const match =
    /ingested (\d+) events \((\d+) new, (\d+) duplicates; exposures (\d+) new, (\d+) updated\) in [\d.]+ s, \d+ events\/s/.exec(
      stdout,
    );
  expect(match, stdout).not.toBeNull();
  const [total, inserted, duplicates, exposuresNew, exposuresUpdated] = match!.slice(1).map(Number);
  return { total, inserted, duplicates, exposuresNew, exposuresUpdated };
}

for (const engine of ENGINES) {
  describe(`ingest command on ${engine}`, () => {
    let database: TestDatabase;
    let dir: string;
    let scanFile: string;

    /** Counts of one tenant, read with the CLI stopped (a DuckDB file has one owner at a time). */
    async function counts(tenantId: string) {
      const store = await openStore(database.config);
      try {
        const number = async (query: ReturnType<typeof sql<{ n: number }>>) =>
          Number((await query.execute(store.db)).rows[0]?.n ?? -1);
        const events = await number(
          sql<{
            n: number;
          }>`select cast(count(*) as integer) as n from exposure_events where tenant_id = ${tenantId}`,
        );
        const distinctEvents = await number(
          sql<{
            n: number;
          }>`select cast(count(distinct event_id) as integer) as n from exposure_events where tenant_id = ${tenantId}`,
        );
        const exposures = await number(
          sql<{
            n: number;
          }>`select cast(count(*) as integer) as n from exposures_current where tenant_id = ${tenantId}`,
        );
        const closed = await number(
          sql<{
            n: number;
          }>`select cast(count(*) as integer) as n from exposures_current where tenant_id = ${tenantId} and status = 'CLOSED'`,
        );
        const perOffice = (
          await sql<{ office_id: string; n: number }>`select office_id, cast(count(*) as integer) as n
            from exposures_current where tenant_id = ${tenantId} group by office_id order by office_id`.execute(
            store.db,
          )
        ).rows.map((row) => [row.office_id, Number(row.n)]);
        const sample = await store.db
          .selectFrom('exposures_current')
          .select(['status', 'severity', 'risk_score', 'dst_port', 'first_seen', 'last_seen'])
          .where('tenant_id', '=', tenantId)
          .where('office_id', '=', 'berlin')
          .where('exposure_id', '=', 'exp-300')
          .executeTakeFirst();
        const quarantined = await number(
          sql<{
            n: number;
          }>`select cast(count(*) as integer) as n from quarantined_files where tenant_id = ${tenantId}`,
        );
        return { events, distinctEvents, exposures, closed, perOffice, sample, quarantined };
      } finally {
        await store.close();
      }
    }

    const expected = {
      events: EVENTS,
      distinctEvents: EVENTS,
      exposures: EXPOSURES,
      closed: Math.ceil(EXPOSURES / 3),
      perOffice: [
        ['berlin', 2500],
        ['lima', 2500],
        ['paris', 2500],
        ['tokyo', 2500],
      ],
      sample: {
        status: 'CLOSED',
        // (300 + 9) % 5: the severity of the last event.
        severity: 'CRITICAL',
        // Only the first event carries a score; the later nulls do not erase it.
        risk_score: 300 % 101,
        dst_port: 1009,
        first_seen: new Date(Date.UTC(2026, 0, 1) + 300_000),
        last_seen: new Date(Date.UTC(2026, 0, 1) + 9 * 60_000 + 300_000),
      },
      quarantined: 0,
    };

    beforeAll(async () => {
      database = await createTestDatabase(engine);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exposure-ingest-'));
      scanFile = path.join(dir, 'scan-100k.jsonl');
      writeScanFile(scanFile);
    });
    afterAll(async () => {
      await database.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('ingests 100,000 events from a file and reports every count', { timeout: 180_000 }, async () => {
      const run = await runCli(['ingest', scanFile, '--tenant', 'acme'], database.config);
      expect(run.code, run.stderr).toBe(0);
      expect(ingested(run.stdout)).toEqual({
        total: EVENTS,
        inserted: EVENTS,
        duplicates: 0,
        // Each exposure's events are in one chunk: every one is new once.
        exposuresNew: EXPOSURES,
        exposuresUpdated: 0,
      });
      // Progress: done/total and a rate, ending with the whole file.
      expect(run.stderr).toMatch(/scan-100k\.jsonl: \d+\/100000 events, \d+ events\/s/);
      expect(run.stderr).toContain('scan-100k.jsonl: 100000/100000 events');
      expect(await counts('acme')).toEqual(expected);
    });

    it('finishes an interrupted run without duplicates when started again', {
      timeout: 180_000,
    }, async () => {
      // Killed at the first progress line that shows a committed chunk and more to come.
      const killed = await runCli(
        ['ingest', scanFile, '--tenant', 'beta'],
        database.config,
        /: [1-9]\d*\/100000 events/,
      );
      expect(killed.code).toBeNull();
      const partial = await counts('beta');
      // A commit per chunk: the log holds whole chunks only.
      expect(partial.events % CHUNK_SIZE).toBe(0);
      expect(partial.events).toBeGreaterThan(0);
      expect(partial.events).toBeLessThan(EVENTS);

      const rerun = await runCli(['ingest', scanFile, '--tenant', 'beta'], database.config);
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(ingested(rerun.stdout)).toMatchObject({
        total: EVENTS,
        inserted: EVENTS - partial.events,
        duplicates: partial.events,
      });
      expect(await counts('beta')).toEqual(expected);
    });

    it('quarantines a bad file with its line and content, writes nothing, and ends with 1', async () => {
      const bad = path.join(dir, 'broken.jsonl');
      const good = fs.readFileSync(scanFile, 'utf8').split('\n').slice(0, 4);
      const content = [good[0], good[1], '{"exposureId": "x"', good[3]].join('\n');
      fs.writeFileSync(bad, content);
      const run = await runCli(
        ['ingest', bad, '--tenant', 'gamma', '--scanner-type', 'nmap'],
        database.config,
      );
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(
        /^broken\.jsonl: quarantined as \S+ \(PARSE_ERROR\): broken\.jsonl, line 3: not valid JSON/,
      );
      const store = await openStore(database.config);
      try {
        const rows = await store.db
          .selectFrom('quarantined_files')
          .select([
            'filename',
            'status',
            'error_type',
            'error_details',
            'content',
            'scanner_type',
            'file_size',
          ])
          .where('tenant_id', '=', 'gamma')
          .execute();
        expect(rows).toHaveLength(1);
        const [row] = rows;
        expect(row).toMatchObject({
          filename: 'broken.jsonl',
          status: 'PENDING',
          error_type: 'PARSE_ERROR',
          content,
          scanner_type: 'nmap',
        });
        expect(Number(row!.file_size)).toBe(Buffer.byteLength(content));
        const details =
          typeof row!.error_details === 'string' ? JSON.parse(row!.error_details) : row!.error_details;
        expect(details.problems).toMatchObject([{ line: 3, index: 2, code: 'PARSE_ERROR' }]);
      } finally {
        await store.close();
      }
      expect((await counts('gamma')).events).toBe(0);
    });

    it('refuses a run without a tenant or with a missing file', async () => {
      const noTenant = await runCli(['ingest', scanFile], database.config);
      expect(noTenant).toMatchObject({ code: 2, stderr: expect.stringContaining('--tenant is required') });
      const missing = await runCli(
        ['ingest', path.join(dir, 'nope.jsonl'), '--tenant', 'acme'],
        database.config,
      );
      expect(missing).toMatchObject({ code: 2, stderr: expect.stringContaining('not a readable file') });
    });
  });
}
