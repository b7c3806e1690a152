/** API keys of a tenant: stored as a SHA-256 hash with the roles and offices they grant. */
import type { Kysely } from 'kysely';
import type { Role } from '../../domain.ts';
import type { ApiKeyRow, Database } from '../tables.ts';
import { attributed } from '../telemetry.ts';

export interface ApiKey {
  id: string;
  tenantId: string;
  name: string;
  officeIds: 'all' | string[];
  roles: Role[];
  createdAt: Date;
  revokedAt: Date | null;
}

export interface NewApiKey extends Omit<ApiKey, 'createdAt' | 'revokedAt'> {
  keyHash: string;
  /** ISO instant. */
  createdAt: string;
}

function toApiKey(row: Omit<ApiKeyRow, 'key_hash'>): ApiKey {
  const officeIds = JSON.parse(row.office_ids) as string[];
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    officeIds: officeIds.includes('*') ? 'all' : officeIds,
    roles: JSON.parse(row.roles) as Role[],
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

const COLUMNS = ['id', 'tenant_id', 'name', 'office_ids', 'roles', 'created_at', 'revoked_at'] as const;

export async function insertApiKey(db: Kysely<Database>, key: NewApiKey): Promise<void> {
  db = attributed(db, insertApiKey);
  await db
    .insertInto('api_keys')
    .values({
      tenant_id: key.tenantId,
      id: key.id,
      name: key.name,
      key_hash: key.keyHash,
      office_ids: JSON.stringify(key.officeIds === 'all' ? ['*'] : key.officeIds),
      roles: JSON.stringify(key.roles),
      created_at: key.createdAt,
    })
    .execute();
}

/** The tenant's keys, oldest first; never their hashes. */
export async function findApiKeys(db: Kysely<Database>, tenantId: string): Promise<ApiKey[]> {
  db = attributed(db, findApiKeys);
  const rows = await db
    .selectFrom('api_keys')
    .select(COLUMNS)
    .where('tenant_id', '=', tenantId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(toApiKey);
}

/** Marks the key revoked (once: the first revocation time stays); undefined when the tenant has no such key. */
export async function revokeApiKey(
  db: Kysely<Database>,
  tenantId: string,
  id: string,
  revokedAt: string,
): Promise<ApiKey | undefined> {
  db = attributed(db, revokeApiKey);
  await db
    .updateTable('api_keys')
    .set({ revoked_at: revokedAt })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .execute();
  const row = await db
    .selectFrom('api_keys')
    .select(COLUMNS)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
  return row && toApiKey(row);
}

/**
 * The keys with this id and their hashes, for authentication. Unlike every other read this one is not
 * confined to a tenant: the tenant is what the key is being asked for.
 */
export async function findApiKeyCredentials(
  db: Kysely<Database>,
  id: string,
): Promise<{ key: ApiKey; keyHash: string }[]> {
  db = attributed(db, findApiKeyCredentials);
  const rows = await db
    .selectFrom('api_keys')
    .select([...COLUMNS, 'key_hash'])
    .where('id', '=', id)
    .execute();
  return rows.map((row) => ({ key: toApiKey(row), keyHash: row.key_hash }));
}
