/** Idempotency keys of ingest calls and the results they returned, per tenant. */
import { sql } from 'kysely';
import type { IngestResult } from '../../domain.ts';
import type { WriteTransaction } from '../database.ts';
import { attributed } from '../telemetry.ts';

export interface StoredBatch {
  requestHash: string;
  result: IngestResult;
}

/**
 * Holds the key until the transaction ends, so a concurrent retry of the same key (from this gateway or
 * another instance) waits for the first call to commit and then finds its result instead of writing
 * again. DuckDB's single writer already runs one transaction at a time.
 */
export async function lockIdempotencyKey(
  trx: WriteTransaction,
  tenantId: string,
  key: string,
): Promise<void> {
  trx = attributed(trx, lockIdempotencyKey);
  if (trx.engine === 'postgres') {
    await sql`select pg_advisory_xact_lock(hashtext(${tenantId}), hashtext(${key}))`.execute(trx.db);
  }
}

export async function findBatch(
  trx: WriteTransaction,
  tenantId: string,
  key: string,
): Promise<StoredBatch | undefined> {
  trx = attributed(trx, findBatch);
  const row = await trx.db
    .selectFrom('ingest_batches')
    .select(['request_hash', 'result'])
    .where('tenant_id', '=', tenantId)
    .where('idempotency_key', '=', key)
    .executeTakeFirst();
  if (!row) return undefined;
  const result = (typeof row.result === 'string' ? JSON.parse(row.result) : row.result) as IngestResult;
  return { requestHash: row.request_hash, result };
}

export async function saveBatch(
  trx: WriteTransaction,
  tenantId: string,
  key: string,
  batch: StoredBatch,
): Promise<void> {
  trx = attributed(trx, saveBatch);
  await trx.db
    .insertInto('ingest_batches')
    .values({
      tenant_id: tenantId,
      idempotency_key: key,
      request_hash: batch.requestHash,
      result: JSON.stringify(batch.result),
      created_at: new Date().toISOString(),
    })
    .execute();
}
