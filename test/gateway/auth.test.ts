import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../../src/auth/api-keys.ts';
import { readJwksFile } from '../../src/auth/jwks.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { ingest } from '../../src/ingest/ingest.ts';
import { createGateway, type Gateway } from '../../src/yoga.ts';
import { ENGINES } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';
import { openTestGateway, type TestGateway } from '../helpers/gateway.ts';

const OFFICES = '{ offices { id } }';
const CLAIMS = { tenant_id: 'acme', office_ids: ['*'], roles: ['viewer'] };

interface Body {
  data?: unknown;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

async function post(yoga: Gateway, token: string, query = OFFICES): Promise<Body & { status: number }> {
  const response = await yoga.fetch('http://gateway/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  return { status: response.status, ...((await response.json()) as Body) };
}

/** An RS256 and an ES256 key pair, and a JWKS file with their public halves. */
async function writeJwks(dir: string) {
  const rsa = await generateKeyPair('RS256');
  const ec = await generateKeyPair('ES256');
  const publicJwk = async (key: CryptoKey, kid: string, alg: string): Promise<JWK> => ({
    ...(await exportJWK(key)),
    kid,
    alg,
    use: 'sig',
  });
  const file = path.join(dir, 'jwks.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      keys: [
        await publicJwk(rsa.publicKey, 'rsa-1', 'RS256'),
        await publicJwk(ec.publicKey, 'ec-1', 'ES256'),
      ],
    }),
  );
  return { file, rsa, ec };
}

function sign(
  key: CryptoKey | Uint8Array,
  alg: string,
  kid?: string,
  claims: object = CLAIMS,
  expires = '5m',
) {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg, ...(kid ? { kid } : {}) })
    .setIssuedAt()
    .setExpirationTime(expires)
    .sign(key);
}

for (const engine of ENGINES) {
  describe(`authentication on ${engine}`, () => {
    let g: TestGateway;
    let dir: string;
    let keys: Awaited<ReturnType<typeof writeJwks>>;
    let jwksGateway: TestGateway;
    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exposure-gateway-auth-'));
      keys = await writeJwks(dir);
      g = await openTestGateway(engine);
      jwksGateway = await openTestGateway(engine, { AUTH_JWKS_FILE: keys.file });
      const deps = { store: g.store, config: g.config.ingest };
      await ingest(
        deps,
        { tenantId: 'acme', officeIds: 'all' },
        { events: [eventInput({ officeId: 'berlin' }), eventInput({ officeId: 'paris' })] },
      );
      await ingest(
        { store: jwksGateway.store, config: g.config.ingest },
        { tenantId: 'acme', officeIds: 'all' },
        { events: [eventInput({ officeId: 'berlin' })] },
      );
    });
    afterAll(async () => {
      await g.close();
      await jwksGateway.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('lists the offices of the token', async () => {
      const all = await g.graphql('{ offices { id openExposures } }');
      expect(all.data).toEqual({
        offices: [
          { id: 'berlin', openExposures: 1 },
          { id: 'paris', openExposures: 1 },
        ],
      });
      const one = await g.graphql(OFFICES, {}, await g.token({ officeIds: ['paris'] }));
      expect(one.data).toEqual({ offices: [{ id: 'paris' }] });
      const other = await g.graphql(OFFICES, {}, await g.token({ tenantId: 'globex' }));
      expect(other.data).toEqual({ offices: [] });
    });

    it('refuses a missing, forged or expired token with a code and no data', async () => {
      const response = await g.yoga.fetch('http://gateway/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: OFFICES }),
      });
      expect(response.status).toBe(401);
      const body = (await response.json()) as Body;
      expect(body.data).toBeUndefined();
      expect(body.errors?.[0]?.extensions).toMatchObject({
        code: 'UNAUTHENTICATED',
        reason: 'TOKEN_MISSING',
      });

      const forged = await post(g.yoga, `${(await g.token()).slice(0, -4)}AAAA`);
      expect(forged).toMatchObject({ status: 401, errors: [{ extensions: { reason: 'TOKEN_INVALID' } }] });
      expect(forged.data).toBeUndefined();

      const expired = await post(g.yoga, await g.token({ expiresIn: '-1m' }));
      expect(expired.status).toBe(401);
      expect(expired.errors?.[0]?.extensions).toMatchObject({
        code: 'UNAUTHENTICATED',
        reason: 'TOKEN_EXPIRED',
      });
      expect(expired.data).toBeUndefined();
    });

    it('stops accepting a token it has already verified once it expires', async () => {
      const token = await g.token({ expiresIn: '2s' });
      expect((await post(g.yoga, token)).status).toBe(200);
      expect((await post(g.yoga, token)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      const expired = await post(g.yoga, token);
      expect(expired).toMatchObject({ status: 401, errors: [{ extensions: { reason: 'TOKEN_EXPIRED' } }] });
      expect(expired.data).toBeUndefined();
    });

    it('refuses a token without exp or with claims of the wrong shape', async () => {
      const secret = new TextEncoder().encode(g.config.auth.jwtSecret);
      const noExp = await new SignJWT(CLAIMS).setProtectedHeader({ alg: 'HS256' }).sign(secret);
      expect((await post(g.yoga, noExp)).errors?.[0]?.extensions).toMatchObject({ reason: 'TOKEN_CLAIMS' });
      const badRoles = await sign(secret, 'HS256', undefined, { ...CLAIMS, roles: ['root'] });
      const result = await post(g.yoga, badRoles);
      expect(result).toMatchObject({ status: 401, errors: [{ extensions: { reason: 'TOKEN_CLAIMS' } }] });
      expect(result.errors?.[0]?.message).toContain('roles');
    });

    it('refuses queries to a role without viewer', async () => {
      const result = await g.graphql(OFFICES, {}, await g.token({ roles: ['ingestor'] }));
      expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(result.data?.offices ?? null).toBeNull();
    });

    it('accepts RS256 and ES256 tokens signed by a key of the JWKS file, besides HS256', async () => {
      for (const token of [
        await sign(keys.rsa.privateKey, 'RS256', 'rsa-1'),
        await sign(keys.ec.privateKey, 'ES256', 'ec-1'),
        await jwksGateway.token(),
      ]) {
        const result = await post(jwksGateway.yoga, token);
        expect(result).toEqual({ status: 200, data: { offices: [{ id: 'berlin' }] } });
      }
    });

    it('refuses JWKS tokens signed by another key, expired, or with an algorithm not accepted', async () => {
      const stranger = await generateKeyPair('RS256');
      const forged = await post(jwksGateway.yoga, await sign(stranger.privateKey, 'RS256', 'rsa-1'));
      expect(forged).toMatchObject({ status: 401, errors: [{ extensions: { reason: 'TOKEN_INVALID' } }] });
      expect(forged.data).toBeUndefined();

      const expired = await post(
        jwksGateway.yoga,
        await sign(keys.ec.privateKey, 'ES256', 'ec-1', CLAIMS, '-1m'),
      );
      expect(expired.errors?.[0]?.extensions).toMatchObject({ reason: 'TOKEN_EXPIRED' });

      // Without AUTH_JWT_SECRET an HS256 token is refused by its algorithm, whoever made it.
      const jwksOnly = createGateway(
        {
          config: loadConfig({ AUTH_JWKS_FILE: keys.file, LOG_LEVEL: 'silent' }),
          store: jwksGateway.store,
          changes: jwksGateway.changes,
        },
        {},
      );
      const hs256 = await post(jwksOnly, await jwksGateway.token());
      expect(hs256).toMatchObject({ status: 401, errors: [{ extensions: { reason: 'TOKEN_ALGORITHM' } }] });
      expect(hs256.errors?.[0]?.message).toContain('RS256, ES256');
      expect((await post(jwksOnly, await sign(keys.rsa.privateKey, 'RS256', 'rsa-1'))).data).toEqual({
        offices: [{ id: 'berlin' }],
      });
    });

    it('authenticates API keys by their hash and refuses them once revoked', async () => {
      const worker = await createApiKey(g.store, {
        tenantId: 'acme',
        name: 'paris scanner',
        roles: ['viewer', 'ingestor'],
        officeIds: ['paris'],
      });
      expect(worker.key).toMatch(/^egk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
      expect(await post(g.yoga, worker.key)).toEqual({ status: 200, data: { offices: [{ id: 'paris' }] } });

      const stored = await g.store.db
        .selectFrom('api_keys')
        .selectAll()
        .where('id', '=', worker.record.id)
        .execute();
      expect(stored).toHaveLength(1);
      expect(JSON.stringify(stored)).not.toContain(worker.key.slice(21));

      // The same id with another secret is not the key.
      const guessed = `${worker.key.slice(0, 21)}${'A'.repeat(43)}`;
      expect((await post(g.yoga, guessed)).errors?.[0]?.extensions).toMatchObject({
        reason: 'API_KEY_INVALID',
      });
      expect((await post(g.yoga, 'egk_short')).errors?.[0]?.extensions).toMatchObject({
        reason: 'API_KEY_INVALID',
      });

      await revokeApiKey(g.store, 'acme', worker.record.id);
      const revoked = await post(g.yoga, worker.key);
      expect(revoked.status).toBe(401);
      expect(revoked.data).toBeUndefined();
      expect(revoked.errors?.[0]?.extensions).toMatchObject({
        code: 'UNAUTHENTICATED',
        reason: 'API_KEY_REVOKED',
      });
      expect(revoked.errors?.[0]?.message).toContain('paris scanner');
    });

    it('gives an ingestor key no read access and another tenant nothing', async () => {
      const ingestor = await createApiKey(g.store, {
        tenantId: 'acme',
        name: 'ingest only',
        roles: ['ingestor'],
        officeIds: 'all',
      });
      expect((await post(g.yoga, ingestor.key)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const globex = await createApiKey(g.store, {
        tenantId: 'globex',
        name: 'g',
        roles: ['viewer'],
        officeIds: 'all',
      });
      expect(await post(g.yoga, globex.key)).toEqual({ status: 200, data: { offices: [] } });
      // Revoking by id works only inside the key's own tenant.
      expect(await revokeApiKey(g.store, 'acme', globex.record.id)).toBeUndefined();
      expect((await post(g.yoga, globex.key)).status).toBe(200);
    });
  });
}

describe('JWKS file', () => {
  it('must hold public keys only, in a key set', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exposure-gateway-jwks-'));
    try {
      const { privateKey } = await generateKeyPair('ES256', { extractable: true });
      const file = path.join(dir, 'private.json');
      fs.writeFileSync(file, JSON.stringify({ keys: [await exportJWK(privateKey)] }));
      expect(() => readJwksFile(file)).toThrow(ConfigError);
      expect(() => readJwksFile(file)).toThrow(/public keys only/);
      fs.writeFileSync(file, '{"keys": []}');
      expect(() => readJwksFile(file)).toThrow(/JSON Web Key Set/);
      expect(() => readJwksFile(path.join(dir, 'missing.json'))).toThrow(/cannot read/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
