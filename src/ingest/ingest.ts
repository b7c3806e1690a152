/** One ingest call: validate, authorize offices, then write in one transaction and publish the changes. */
import type { IngestConfig } from '../config.ts';
import type { Store, WriteTransaction } from '../db/database.ts';
import { type Scope, scopeIncludesOffice } from '../scope.ts';
import type { ChangeFeed } from './changes.ts';
import type { ExposureEvent, IngestResult, RejectedEvent } from './event.ts';
import { validateEvents } from './validate.ts';
import { batchHash, lockTenant, writeEvents } from './writer.ts';

export interface IngestRequest {
  events: readonly unknown[];
  idempotencyKey?: string | null;
  /** false: one invalid event rejects the whole call and nothing is written. */
  skipInvalid?: boolean;
}

/** The batch was refused as a whole: nothing was written. */
export class IngestRejectedError extends Error {
  override name = 'IngestRejectedError';
  constructor(
    readonly code: 'INVALID_EVENTS' | 'TOO_MANY_EVENTS' | 'IDEMPOTENCY_KEY_REUSED',
    message: string,
    readonly rejected: RejectedEvent[] = [],
  ) {
    super(message);
  }
}

export interface IngestOutcome extends IngestResult {
  /** True when an idempotency key matched an earlier call and its result was returned. */
  replayed: boolean;
}

export interface IngestDeps {
  store: Store;
  config: Pick<IngestConfig, 'maxEventsPerCall' | 'maxFutureSkewSeconds'>;
  changes?: ChangeFeed;
}

/** Validates, authorizes and writes one batch for the scope's tenant. */
export async function ingest(deps: IngestDeps, scope: Scope, request: IngestRequest): Promise<IngestOutcome> {
  const { events } = request;
  if (events.length > deps.config.maxEventsPerCall) {
    throw new IngestRejectedError(
      'TOO_MANY_EVENTS',
      `a call may carry at most ${deps.config.maxEventsPerCall} events, got ${events.length}; split the batch`,
    );
  }
  const { valid, rejected } = validateEvents(events, {
    maxFutureSkewSeconds: deps.config.maxFutureSkewSeconds,
  });
  const allowed: ExposureEvent[] = [];
  for (const { index, event } of valid) {
    if (scopeIncludesOffice(scope, event.officeId)) allowed.push(event);
    else
      rejected.push({
        index,
        field: 'officeId',
        code: 'OFFICE_NOT_ALLOWED',
        message: `officeId: the caller may not write to office "${event.officeId}"`,
      });
  }
  rejected.sort((a, b) => a.index - b.index);
  if (rejected.length > 0 && !request.skipInvalid) {
    const count = new Set(rejected.map((r) => r.index)).size;
    throw new IngestRejectedError(
      'INVALID_EVENTS',
      `${count} of ${events.length} events are invalid; nothing was written`,
      rejected,
    );
  }

  const outcome = await deps.store.write(async (trx) => {
    const key = request.idempotencyKey;
    const hash = key ? batchHash([events, request.skipInvalid ?? false]) : '';
    if (key) {
      // Before the lookup: a concurrent retry of this key waits for the first call to commit, then
      // finds its result, instead of writing again and failing on the key.
      await lockTenant(trx, scope.tenantId);
      const earlier = await findBatch(trx, scope.tenantId, key);
      if (earlier && earlier.requestHash !== hash) {
        throw new IngestRejectedError(
          'IDEMPOTENCY_KEY_REUSED',
          `idempotency key "${key}" was already used for a different batch`,
        );
      }
      if (earlier) return { ...earlier.result, replayed: true, changed: [] };
    }
    const { changed, ...counts } = await writeEvents(trx, scope.tenantId, allowed);
    // Rejected events count as processed: the caller sent them and gets them back in `rejected`.
    const result: IngestResult = { ...counts, totalProcessed: events.length, rejected };
    if (key) await saveBatch(trx, scope.tenantId, key, hash, result);
    return { ...result, replayed: false, changed };
  });
  // Only after commit: subscribers must never see a change that was rolled back.
  deps.changes?.publish({ tenantId: scope.tenantId, exposures: outcome.changed });
  const { changed: _changed, ...result } = outcome;
  return result;
}

async function findBatch(trx: WriteTransaction, tenantId: string, key: string) {
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

async function saveBatch(
  trx: WriteTransaction,
  tenantId: string,
  key: string,
  hash: string,
  result: IngestResult,
) {
  await trx.db
    .insertInto('ingest_batches')
    .values({
      tenant_id: tenantId,
      idempotency_key: key,
      request_hash: hash,
      result: JSON.stringify(result),
      created_at: new Date().toISOString(),
    })
    .execute();
}
