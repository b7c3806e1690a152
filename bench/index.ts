/** Runs every benchmark, one after another, each in a process of its own. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

/** Add new benchmarks here; they run in this order. scale.ts loads 10M events per engine: by far the longest. */
const BENCHMARKS = ['ingest.ts', 'ingest-graphql.ts', 'query.ts', 'peer.ts', 'scale.ts'];

let failed = 0;
for (const script of BENCHMARKS) {
  console.log(`\n== bench/${script}\n`);
  const { status } = spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(import.meta.dirname, script)],
    {
      stdio: 'inherit',
    },
  );
  if (status !== 0) {
    console.error(`bench/${script} failed (exit ${status})`);
    failed += 1;
  }
}
process.exitCode = failed > 0 ? 1 : 0;
