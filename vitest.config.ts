import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Node loads graphql 16 as CommonJS (it has no exports map); Vite would pick its .mjs build and give
  // the process two copies of graphql. Resolve it the way Node does.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // A file per core (vitest's default leaves one core out, so one file at a time on two): the suite
    // spends most of its time waiting on PostgreSQL, DuckDB and the processes it starts. Each file works
    // in a database or schema of its own.
    maxWorkers: availableParallelism(),
    projects: [
      { extends: true, test: { name: 'utc', include: ['test/**/*.test.ts'], env: { TZ: 'UTC' } } },
      // The storage suite again in a zone far from UTC: timestamps must not shift with the process zone.
      {
        extends: true,
        test: { name: 'tokyo', include: ['test/storage/**/*.test.ts'], env: { TZ: 'Asia/Tokyo' } },
      },
    ],
  },
});
