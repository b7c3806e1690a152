/**
 * bench:peer end to end in its smoke form (--quick, 20k events): it finishes, both servers answered every
 * operation alike at both sizes (the bench stops when an answer differs), and the report has a number for
 * every figure. Times are not checked: this machine is shared, and a missed target is a finding.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { cells } from '../helpers/report.ts';

const SIZES = ['demo sample', '20,000 events'];
const OPERATIONS = ['offices', 'exposureSummary', 'exposures page', 'events page'];
const SERVERS = ['gateway', 'PostGraphile'];
const NUMBER = /^\d[\d,]*(\.\d+)?$/;
const SPREAD = /^\d+(\.\d+)? \/ \d+(\.\d+)? \/ \d+(\.\d+)?$/;
// About half a minute of CPU; on a machine shared with other builds it may take a few times that.
const RUN_MS = 300_000;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-peer-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it(
  'compares the gateway with PostGraphile at both sizes and reports every figure',
  async () => {
    const out = path.join(dir, 'peer.txt');
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', path.resolve('bench/peer.ts'), '--quick', '--events', '20k', '--out', out],
        { timeout: RUN_MS, maxBuffer: 64 * 1024 * 1024 },
        (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
      );
    });
    expect(code, stderr.slice(-2000)).toBe(0);

    const report = fs.readFileSync(out, 'utf8');
    for (const size of SIZES) {
      expect(cells(report, size, true)[3], size).toMatch(/^(met|MISSED)$/);
      const section = report.split(/^## /m).find((s) => s.startsWith(`${size}\n`));
      expect(section, `a section for ${size}`).toBeDefined();
      for (const operation of OPERATIONS) {
        const [, answer, gateway, postgraphile] = cells(section!, operation, true);
        expect(answer, `${size}: ${operation}`).not.toBe('');
        expect(gateway, `${size}: ${operation}`).toMatch(NUMBER);
        expect(postgraphile, `${size}: ${operation}`).toMatch(NUMBER);
      }
      // Both pages were compared whole, not just their ids.
      expect(cells(section!, 'exposures page', true)[1]).toMatch(
        /^totalCount [\d,]+, 25 rows on the first page/,
      );
      expect(cells(section!, 'events page', true)[1]).toMatch(/^25 rows on the first page/);
      for (const server of SERVERS) {
        const [, rps, p50, p99, statements] = cells(section!, server, true);
        for (const figure of [rps, p50, p99, statements])
          expect(figure, `${size}: ${server}`).toMatch(SPREAD);
      }
    }
  },
  RUN_MS + 10_000,
);
