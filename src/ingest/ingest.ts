/** One ingest call: validate, authorize offices, then write in one transaction and publish the changes. */
import { createHash } from 'node:crypto';
import type { IngestConfig } from '../config.ts';
import type { Store } from '../db/database.ts';
import { ScanRunCompletedError } from '../db/repositories/scan-runs.ts';
import type { ExposureEvent, IngestResult, RejectedEvent } from '../domain.ts';
import { DomainError, type Scope, scopeIncludesOffice } from '../domain.ts';
import type { Metrics } from '../metrics.ts';
import type { ChangeFeed } from './changes.ts';
import { GroupCommit, IdempotencyKeyReusedError, type WriteCall, type WriteOutcome } from './group-commit.ts';
import { canonicalJson, validateEvents } from './validate.ts';

/** Events per group commit when the caller does not say: INGEST_CHUNK_SIZE's default. */
const DEFAULT_CHUNK_SIZE = 2000;
/** Transactions one gateway runs at once on PostgreSQL, well under its pool of 10 connections. */
const POSTGRES_CONCURRENT_GROUPS = 4;

export interface IngestRequest {
  events: readonly unknown[];
  idempotencyKey?: string | null;
  /** false: one invalid event rejects the whole call and nothing is written. */
  skipInvalid?: boolean;
  /** Who writes the events, recorded on each: the caller's token subject or API key name. */
  actor?: string | null;
}

/** The batch was refused as a whole: nothing was written. */
export class IngestRejectedError extends DomainError {
  override name = 'IngestRejectedError';
  constructor(
    code: 'INVALID_EVENTS' | 'TOO_MANY_EVENTS' | 'IDEMPOTENCY_KEY_REUSED' | 'SCAN_RUN_COMPLETED',
    message: string,
    readonly rejected: RejectedEvent[] = [],
    details: Record<string, unknown> = {},
  ) {
    // Every problem goes back to the caller, with its index, field and code.
    super(code, message, rejected.length > 0 ? { rejected, ...details } : details);
  }
}

export interface IngestOutcome extends IngestResult {
  /** True when an idempotency key matched an earlier call and its result was returned. */
  replayed: boolean;
}

export interface IngestDeps {
  store: Store;
  config: Pick<IngestConfig, 'maxEventsPerCall' | 'maxFutureSkewSeconds'> &
    Partial<Pick<IngestConfig, 'chunkSize'>>;
  changes?: ChangeFeed;
  /** Where the calls are written; by default the store's shared group-commit writer. */
  writer?: GroupCommit;
  /** Counts the events inserted, duplicate and rejected. */
  metrics?: Metrics;
}

/** Validates, authorizes and writes one batch for the scope's tenant. */
export async function ingest(deps: IngestDeps, scope: Scope, request: IngestRequest): Promise<IngestOutcome> {
  const { events } = request;
  if (events.length > deps.config.maxEventsPerCall) {
    throw new IngestRejectedError(
      'TOO_MANY_EVENTS',
      `a call may carry at most ${deps.config.maxEventsPerCall} events, got ${events.length}; split the batch`,
      [],
      { maxEvents: deps.config.maxEventsPerCall },
    );
  }
  const { valid, rejected } = validateEvents(events, {
    maxFutureSkewSeconds: deps.config.maxFutureSkewSeconds,
  });
  const allowed: ExposureEvent[] = [];
  for (const { index, event } of valid) {
    if (scopeIncludesOffice(scope, event.officeId)) allowed.push({ ...event, actor: request.actor ?? null });
    else
      rejected.push({
        index,
        field: 'officeId',
        code: 'OFFICE_NOT_ALLOWED',
        message: `officeId: the caller may not write to office "${event.officeId}"`,
      });
  }
  rejected.sort((a, b) => a.index - b.index);
  // An event with several problems is one rejected event.
  const rejectedEvents = new Set(rejected.map((r) => r.index)).size;
  if (rejected.length > 0 && !request.skipInvalid) {
    deps.metrics?.ingested({ inserted: 0, duplicate: 0, rejected: rejectedEvents });
    throw new IngestRejectedError(
      'INVALID_EVENTS',
      `${rejectedEvents} of ${events.length} events are invalid; nothing was written`,
      rejected,
    );
  }

  const key = request.idempotencyKey;
  const call: WriteCall = {
    tenantId: scope.tenantId,
    events: allowed,
    received: events.length,
    rejected,
    idempotency: key ? { key, requestHash: batchHash([events, request.skipInvalid ?? false]) } : null,
  };
  let outcome: WriteOutcome;
  try {
    outcome = await (deps.writer ?? sharedWriter(deps.store, deps.config.chunkSize)).write(call);
  } catch (error) {
    if (error instanceof ScanRunCompletedError) throw completedRunRejection(error, valid);
    if (!(error instanceof IdempotencyKeyReusedError)) throw error;
    throw new IngestRejectedError('IDEMPOTENCY_KEY_REUSED', error.message);
  }
  // A replayed call wrote nothing: its counts are the first call's, counted then.
  if (!outcome.replayed) {
    deps.metrics?.ingested({
      inserted: outcome.eventsInserted,
      duplicate: outcome.eventsDuplicate,
      rejected: rejectedEvents,
    });
  }
  // Only after commit: subscribers must never see a change that was rolled back.
  deps.changes?.publish({ tenantId: scope.tenantId, exposures: outcome.changed });
  const { changed: _changed, ...result } = outcome;
  return result;
}

/** The refusal of a new event for a completed run, naming the event by its index in the call. */
function completedRunRejection(
  error: ScanRunCompletedError,
  valid: readonly { index: number; event: ExposureEvent }[],
): IngestRejectedError {
  const index = valid.find((v) => v.event.eventId === error.eventId)?.index ?? null;
  const message = `${index === null ? '' : `event ${index}: `}${error.message}; nothing was written`;
  const rejected: RejectedEvent[] =
    index === null ? [] : [{ index, field: 'scanRunId', code: error.code, message: error.message }];
  return new IngestRejectedError('SCAN_RUN_COMPLETED', message, rejected, { ...error.details, index });
}

const writers = new WeakMap<Store, GroupCommit>();

/** The store's group-commit writer, shared by every ingest on it in this process. */
function sharedWriter(store: Store, chunkSize = DEFAULT_CHUNK_SIZE): GroupCommit {
  let writer = writers.get(store);
  if (!writer) {
    writer = new GroupCommit(store, {
      maxEvents: chunkSize,
      concurrency: store.engine === 'duckdb' ? 1 : POSTGRES_CONCURRENT_GROUPS,
    });
    writers.set(store, writer);
  }
  return writer;
}

/** Hash of a batch's content, to tell a retry of an idempotency key from a different batch. */
export function batchHash(events: readonly unknown[]): string {
  return createHash('sha256').update(canonicalJson(events)).digest('hex');
}
