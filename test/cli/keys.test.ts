import { jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openStore } from '../../src/db/database.ts';
import { ChangeFeed } from '../../src/ingest/changes.ts';
import { createGateway } from '../../src/yoga.ts';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/engines.ts';
import { runCli } from './process.ts';

const SECRET = 'cli-test-secret-long-enough';

for (const engine of ENGINES) {
  describe(`keys command on ${engine}`, () => {
    let database: TestDatabase;
    beforeAll(async () => {
      database = await createTestDatabase(engine);
    });
    afterAll(async () => database.drop());

    /** Asks a gateway on the same database who the key's holder is (the CLI has exited, so DuckDB is free). */
    async function officesSeenWith(key: string) {
      const store = await openStore(database.config);
      try {
        const config = loadConfig({ AUTH_JWT_SECRET: SECRET, LOG_LEVEL: 'silent' });
        const yoga = createGateway({ config, store, changes: new ChangeFeed() });
        const response = await yoga.fetch('http://gateway/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ query: '{ offices { id } }' }),
        });
        return { status: response.status, ...((await response.json()) as object) } as {
          status: number;
          data?: unknown;
          errors?: { message: string; extensions: Record<string, unknown> }[];
        };
      } finally {
        await store.close();
      }
    }

    it('creates a key shown once, lists keys without secrets, and revokes them', async () => {
      const created = await runCli(
        [
          'keys',
          'create',
          '--tenant',
          'acme',
          '--name',
          'berlin scanner',
          '--roles',
          'ingestor,viewer',
          '--offices',
          'berlin,paris',
        ],
        database.config,
      );
      expect(created.stderr).toContain('shown only this once');
      expect(created.code).toBe(0);
      const key = created.stdout.trim();
      expect(key).toMatch(/^egk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
      const id = key.slice(4, 20);

      const listed = await runCli(['keys', 'list', '--tenant', 'acme'], database.config);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toContain(`${id}\tberlin scanner\tingestor,viewer\tberlin,paris\tcreated `);
      expect(listed.stdout).toContain('\tactive');
      expect(listed.stdout).not.toContain(key.slice(21));
      expect((await runCli(['keys', 'list', '--tenant', 'globex'], database.config)).stdout).toBe('');

      // No offices ingested yet: the key authenticates and sees an empty list.
      expect(await officesSeenWith(key)).toEqual({ status: 200, data: { offices: [] } });

      const otherTenant = await runCli(['keys', 'revoke', id, '--tenant', 'globex'], database.config);
      expect(otherTenant.code).toBe(2);
      expect(otherTenant.stderr).toContain(`tenant globex has no API key ${id}`);

      const revoked = await runCli(['keys', 'revoke', id, '--tenant', 'acme'], database.config);
      expect(revoked.code).toBe(0);
      expect(revoked.stdout).toContain(`revoked API key ${id} (berlin scanner)`);
      expect((await runCli(['keys', 'list', '--tenant', 'acme'], database.config)).stdout).toContain(
        '\trevoked ',
      );

      const refused = await officesSeenWith(key);
      expect(refused.status).toBe(401);
      expect(refused.data).toBeUndefined();
      expect(refused.errors?.[0]?.extensions).toMatchObject({
        code: 'UNAUTHENTICATED',
        reason: 'API_KEY_REVOKED',
      });
    });

    if (engine === 'duckdb') {
      it('says so when a running server holds the DuckDB file', async () => {
        const store = await openStore(database.config);
        try {
          const locked = await runCli(['keys', 'list', '--tenant', 'acme'], database.config);
          expect(locked.code).toBe(1);
          expect(locked.stderr).toContain('Stop the process that has the DuckDB file open');
        } finally {
          await store.close();
        }
      });
    }

    it('explains bad arguments with exit code 2', async () => {
      const badRole = await runCli(
        ['keys', 'create', '--tenant', 'acme', '--name', 'x', '--roles', 'root'],
        database.config,
      );
      expect(badRole.code).toBe(2);
      expect(badRole.stderr).toContain('--roles must list viewer, ingestor, analyst, admin');
      const noTenant = await runCli(['keys', 'list'], database.config);
      expect(noTenant).toMatchObject({ code: 2, stderr: expect.stringContaining('--tenant is required') });
      const unknown = await runCli(['keys', 'rotate', '--tenant', 'acme'], database.config);
      expect(unknown).toMatchObject({
        code: 2,
        stderr: expect.stringContaining('use create, list or revoke'),
      });
      const badOption = await runCli(['keys', 'list', '--tenant', 'acme', '--colour'], database.config);
      expect(badOption).toMatchObject({
        code: 2,
        stderr: expect.stringContaining("Unknown option '--colour'"),
      });
    });
  });
}

describe('token command', () => {
  it('prints a JWT signed with AUTH_JWT_SECRET carrying the given claims', async () => {
    const result = await runCli(
      ['token', '--tenant', 'acme', '--offices', '*', '--roles', 'viewer,ingestor', '--expires', '2h'],
      undefined,
      { AUTH_JWT_SECRET: SECRET },
    );
    expect(result.code).toBe(0);
    const { payload, protectedHeader } = await jwtVerify(
      result.stdout.trim(),
      new TextEncoder().encode(SECRET),
    );
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload).toMatchObject({ tenant_id: 'acme', office_ids: ['*'], roles: ['viewer', 'ingestor'] });
    expect(payload.exp! - payload.iat!).toBe(7200);
  });

  it('refuses without a secret or with a bad lifetime', async () => {
    const noSecret = await runCli(['token', '--tenant', 'acme', '--roles', 'viewer'], undefined);
    expect(noSecret).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('AUTH_JWT_SECRET must be set'),
    });
    const badExpiry = await runCli(
      ['token', '--tenant', 'acme', '--roles', 'viewer', '--expires', 'soon'],
      undefined,
      {
        AUTH_JWT_SECRET: SECRET,
      },
    );
    expect(badExpiry).toMatchObject({ code: 2, stderr: expect.stringContaining('--expires "soon"') });
  });
});
