/** API keys for ingestion workers: random, shown once, stored only as a SHA-256 hash, revocable. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../db/database.ts';
import {
  type ApiKey,
  findApiKeyCredentials,
  findApiKeys,
  insertApiKey,
  revokeApiKey as revokeApiKeyRow,
} from '../db/repositories/api-keys.ts';
import type { Role } from '../domain.ts';
import { clientError } from '../errors.ts';
import type { Principal } from './principal.ts';

export type { ApiKey } from '../db/repositories/api-keys.ts';

/** Every key starts with this, so a bearer token is told apart from a JWT without trying both. */
export const API_KEY_PREFIX = 'egk_';

// egk_<id>_<secret>: the id finds the row, the secret (32 random bytes) is what the hash proves.
const API_KEY_FORMAT = /^egk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function isApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}

function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

export interface ApiKeyGrant {
  tenantId: string;
  name: string;
  roles: readonly Role[];
  officeIds: 'all' | readonly string[];
}

/** Creates a key and returns it with its record: the only time the key itself is seen. */
export async function createApiKey(
  store: Store,
  grant: ApiKeyGrant,
): Promise<{ key: string; record: ApiKey }> {
  const id = randomBytes(8).toString('hex');
  const key = `${API_KEY_PREFIX}${id}_${randomBytes(32).toString('base64url')}`;
  const createdAt = new Date().toISOString();
  const record = {
    id,
    tenantId: grant.tenantId,
    name: grant.name,
    roles: [...grant.roles],
    officeIds: grant.officeIds === 'all' ? ('all' as const) : [...grant.officeIds],
  };
  await store.write((trx) =>
    insertApiKey(trx.db, { ...record, keyHash: hashApiKey(key).toString('hex'), createdAt }),
  );
  return { key, record: { ...record, createdAt: new Date(createdAt), revokedAt: null } };
}

export function listApiKeys(store: Store, tenantId: string): Promise<ApiKey[]> {
  return findApiKeys(store.db, tenantId);
}

/** Revokes the key; undefined when the tenant has no key with that id. */
export function revokeApiKey(store: Store, tenantId: string, id: string): Promise<ApiKey | undefined> {
  return store.write((trx) => revokeApiKeyRow(trx.db, tenantId, id, new Date().toISOString()));
}

/** The principal of a presented key, or UNAUTHENTICATED saying why not. */
export async function authenticateApiKey(db: Store['db'], token: string): Promise<Principal> {
  const match = API_KEY_FORMAT.exec(token);
  if (!match?.[1]) {
    throw clientError('UNAUTHENTICATED', 'the API key is malformed', { reason: 'API_KEY_INVALID' });
  }
  const presented = hashApiKey(token);
  // Constant-time comparison: how long a mismatch takes says nothing about the stored hash.
  const found = (await findApiKeyCredentials(db, match[1])).find(({ keyHash }) =>
    timingSafeEqual(Buffer.from(keyHash, 'hex'), presented),
  );
  if (!found) throw clientError('UNAUTHENTICATED', 'the API key is not valid', { reason: 'API_KEY_INVALID' });
  const { key } = found;
  if (key.revokedAt) {
    throw clientError(
      'UNAUTHENTICATED',
      `the API key "${key.name}" was revoked on ${key.revokedAt.toISOString()}`,
      {
        reason: 'API_KEY_REVOKED',
      },
    );
  }
  return {
    subject: `api-key:${key.id}`,
    actor: key.name,
    kind: 'api-key',
    tenantId: key.tenantId,
    officeIds: key.officeIds,
    roles: key.roles,
  };
}
