import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/tokens.ts';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/engines.ts';
import { heldRequest } from '../helpers/http.ts';
import { logLines, runCli, type ServerProcess, startServer } from './process.ts';

const SECRET = 'serve-test-secret-long-enough';

for (const engine of ENGINES) {
  describe(`serve on ${engine}`, () => {
    let database: TestDatabase;
    let server: ServerProcess | undefined;
    beforeAll(async () => {
      database = await createTestDatabase(engine);
    });
    afterAll(async () => {
      server?.child.kill('SIGKILL');
      await database.drop();
    });

    it('migrates, answers /health, /ready and queries, and drains in-flight requests on SIGTERM', async () => {
      server = await startServer(['serve'], database.config, { AUTH_JWT_SECRET: SECRET });
      expect(server.stderr()).toContain('"msg":"migration applied"');

      const health = await fetch(`${server.url}/health`);
      expect(health.status).toBe(200);
      const ready = await fetch(`${server.url}/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({
        status: 'ready',
        database: engine,
        // Several gateways share a PostgreSQL database: their changes go through it by default.
        changeFeed: { transport: engine === 'duckdb' ? 'in-process' : 'postgres', connected: true },
      });

      const token = await signToken(SECRET, { tenantId: 'acme', officeIds: ['*'], roles: ['viewer'] });
      const query = JSON.stringify({ query: 'query Offices { offices { id } }' });
      const answered = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: query,
      });
      expect(await answered.json()).toEqual({ data: { offices: [] } });
      const unauthenticated = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: query,
      });
      expect(unauthenticated.status).toBe(401);

      const held = heldRequest(server.url, token, query);
      // Let the server read the request head, so the request is in flight when the signal comes.
      await new Promise((resolve) => setTimeout(resolve, 300));
      server.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 300));
      held.finish();
      const response = await held.response;
      expect(response).toMatch(/^HTTP\/1\.1 200 OK/);
      expect(response).toContain('{"data":{"offices":[]}}');
      expect(await server.exited).toBe(0);

      const logs = logLines(server.stderr());
      expect(logs).toContainEqual(
        expect.objectContaining({
          msg: 'request',
          method: 'POST',
          path: '/graphql',
          status: 200,
          operation: 'Offices',
        }),
      );
      expect(logs.map((line) => line.msg)).toEqual(expect.arrayContaining(['draining', 'stopped']));
      await expect(fetch(`${server.url}/health`)).rejects.toThrow();
      server = undefined;
    });
  });
}

describe('serve without authentication configured', () => {
  it('refuses to start unless DEMO_MODE=true', async () => {
    const database = await createTestDatabase('duckdb');
    try {
      const refused = await runCli(['serve'], database.config, { PORT: '0' });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('refusing to start without authentication');
      expect(refused.stderr).toContain('AUTH_JWT_SECRET');

      const demo = await startServer(['serve'], database.config, { DEMO_MODE: 'true' });
      try {
        const token = demo.stdout().split('\n')[1] ?? '';
        const response = await fetch(`${demo.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: '{ offices { id } }' }),
        });
        expect(await response.json()).toEqual({ data: { offices: [] } });
      } finally {
        demo.child.kill('SIGTERM');
        expect(await demo.exited).toBe(0);
      }
    } finally {
      await database.drop();
    }
  });
});
