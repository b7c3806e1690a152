/**
 * Group commit: while the store is busy writing, calls that arrive wait and are then written together in
 * one transaction, up to a number of events. Many scanners sending small batches at once then cost one
 * commit per group instead of one per call. Each call keeps its own result, idempotency key and errors:
 * a call refused for its key refuses only itself, and when a group's transaction fails, each of its calls
 * is tried again alone, so one bad call never fails the others.
 */
import type { Store, WriteTransaction } from '../db/database.ts';
import { appendEvents } from '../db/repositories/event-log.ts';
import { findBatch, lockIdempotencyKey, saveBatch } from '../db/repositories/ingest-batches.ts';
import type { ExposureEvent, ExposureKey, IngestResult, RejectedEvent } from '../domain.ts';

/** A validated call, ready to write. */
export interface WriteCall {
  tenantId: string;
  /** The events to write: valid and allowed. */
  events: readonly ExposureEvent[];
  /** Events the caller sent, including rejected ones. */
  received: number;
  rejected: RejectedEvent[];
  idempotency: { key: string; requestHash: string } | null;
}

export interface WriteOutcome extends IngestResult {
  /** An idempotency key matched an earlier call, whose result this is. */
  replayed: boolean;
  changed: ExposureKey[];
}

/** The call's idempotency key was used before for a different request. */
export class IdempotencyKeyReusedError extends Error {
  override name = 'IdempotencyKeyReusedError';
  constructor(readonly key: string) {
    super(`idempotency key "${key}" was already used for a different batch`);
  }
}

interface Pending {
  call: WriteCall;
  resolve(outcome: WriteOutcome): void;
  reject(error: unknown): void;
}

export interface GroupCommitOptions {
  /** Most events one group may hold; a call larger than this is written alone. 0 turns grouping off. */
  maxEvents: number;
  /** Groups written at once: 1 on DuckDB (one writer); more on PostgreSQL, whose merge needs no lock. */
  concurrency: number;
}

/** PostgreSQL errors after which the same transaction may succeed: deadlock, serialization, and a
 * dedupe key inserted by a concurrent transaction (found as a duplicate on the next try). */
const RETRYABLE = new Set(['40P01', '40001', '23505']);
const ATTEMPTS = 3;

export class GroupCommit {
  readonly #queue: Pending[] = [];
  #running = 0;

  constructor(
    private readonly store: Store,
    private readonly options: GroupCommitOptions,
  ) {}

  /** Writes the call, alone or with others that wait at the same time. */
  write(call: WriteCall): Promise<WriteOutcome> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ call, resolve, reject });
      this.#pump();
    });
  }

  #pump() {
    while (this.#running < this.options.concurrency && this.#queue.length > 0) {
      const group = this.#takeGroup();
      this.#running++;
      void this.#commit(group).finally(() => {
        this.#running--;
        this.#pump();
      });
    }
  }

  /** The first waiting call, and the calls after it of the same tenant that fit, in arrival order. */
  #takeGroup(): Pending[] {
    const first = this.#queue.shift() as Pending;
    const group = [first];
    const keys = new Set(first.call.idempotency ? [first.call.idempotency.key] : []);
    let events = first.call.events.length;
    for (let i = 0; i < this.#queue.length; i++) {
      const { call } = this.#queue[i]!;
      if (call.tenantId !== first.call.tenantId || events + call.events.length > this.options.maxEvents) {
        continue;
      }
      // Two calls with one key must see each other's result: the later waits for the next group.
      if (call.idempotency && keys.has(call.idempotency.key)) continue;
      if (call.idempotency) keys.add(call.idempotency.key);
      events += call.events.length;
      group.push(...this.#queue.splice(i--, 1));
    }
    return group;
  }

  async #commit(group: Pending[]) {
    try {
      const outcomes = await this.#transaction(group.map((p) => p.call));
      group.forEach((pending, i) => {
        const outcome = outcomes[i]!;
        if (outcome instanceof Error) pending.reject(outcome);
        else pending.resolve(outcome);
      });
    } catch (error) {
      if (group.length === 1) {
        group[0]!.reject(error);
        return;
      }
      for (const pending of group) await this.#commit([pending]);
    }
  }

  async #transaction(calls: WriteCall[]): Promise<(WriteOutcome | Error)[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.store.write((trx) => writeCalls(trx, calls));
      } catch (error) {
        const code = (error as { code?: unknown } | null)?.code;
        if (attempt >= ATTEMPTS || typeof code !== 'string' || !RETRYABLE.has(code)) throw error;
      }
    }
  }
}

/** One transaction for calls of one tenant: idempotency keys first, then the events of the rest. */
async function writeCalls(
  trx: WriteTransaction,
  calls: readonly WriteCall[],
): Promise<(WriteOutcome | Error)[]> {
  const tenantId = calls[0]!.tenantId;
  const outcomes: (WriteOutcome | Error | undefined)[] = calls.map(() => undefined);
  // Keys in one order in every transaction, so two groups never wait for each other's locks.
  const keyed = calls
    .map((call, i) => ({ call, i }))
    .filter(({ call }) => call.idempotency !== null)
    .sort((a, b) => (a.call.idempotency!.key < b.call.idempotency!.key ? -1 : 1));
  for (const { call, i } of keyed) {
    const { key, requestHash } = call.idempotency!;
    await lockIdempotencyKey(trx, tenantId, key);
    const earlier = await findBatch(trx, tenantId, key);
    if (earlier && earlier.requestHash !== requestHash) outcomes[i] = new IdempotencyKeyReusedError(key);
    else if (earlier) outcomes[i] = { ...earlier.result, replayed: true, changed: [] };
  }

  const toWrite = calls.map((call, i) => ({ call, i })).filter(({ i }) => outcomes[i] === undefined);
  const written = await appendEvents(
    trx,
    tenantId,
    toWrite.map(({ call }) => call.events),
  );
  for (const [n, { call, i }] of toWrite.entries()) {
    const { changed, ...counts } = written[n]!;
    // Rejected events count as processed: the caller sent them and gets them back in `rejected`.
    const result: IngestResult = { ...counts, totalProcessed: call.received, rejected: call.rejected };
    if (call.idempotency) {
      await saveBatch(trx, tenantId, call.idempotency.key, {
        requestHash: call.idempotency.requestHash,
        result,
      });
    }
    outcomes[i] = { ...result, replayed: false, changed };
  }
  return outcomes as (WriteOutcome | Error)[];
}
