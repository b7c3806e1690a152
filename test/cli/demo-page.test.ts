/** The demo's GraphiQL page in a real browser: its first query runs with one click, no typing. */
import fs from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/engines.ts';
import { type ServerProcess, startServer } from './process.ts';

/** Debian's chromium; `.ci/run` installs it when it is missing. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

for (const engine of ENGINES) {
  describe(`the demo page on ${engine}`, () => {
    let database: TestDatabase;
    let demo: ServerProcess;
    let browser: Browser;
    beforeAll(async () => {
      // Fail here, not skip: the page is part of what the demo promises.
      expect(fs.existsSync(CHROMIUM), `${CHROMIUM} is not installed`).toBe(true);
      database = await createTestDatabase(engine);
      demo = await startServer(
        engine === 'duckdb' ? ['demo', '--db', database.config.duckdbPath] : ['demo'],
        database.config,
      );
      // The sandbox needs a user namespace the test machine may not give to root.
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    }, 120_000);
    afterAll(async () => {
      await browser?.close();
      demo?.child.kill('SIGTERM');
      await demo?.exited;
      await database?.drop();
    });

    it('opens GraphiQL with the demo token, runs the first query with one click, and loads the docs', async () => {
      const page = await browser.newPage();
      await page.goto(`${demo.url}/graphql`);
      await page.getByRole('button', { name: /Execute query/ }).click();
      const response = page.locator('.graphiql-response');
      await expect.poll(() => response.textContent(), { timeout: 30_000 }).toContain('"openExposures"');
      const text = await response.textContent();
      expect(text).toContain('"berlin"');
      expect(text).not.toContain('"errors"');

      // The docs explorer reads the schema with the same headers.
      await page.getByRole('button', { name: /Show Documentation Explorer/ }).click();
      const docs = page.locator('.graphiql-doc-explorer');
      await expect.poll(() => docs.textContent(), { timeout: 30_000 }).toContain('Query');
      await expect.poll(() => docs.textContent()).toContain('Mutation');
    });
  });
}
