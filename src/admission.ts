/**
 * REQUESTS_MAX_IN_FLIGHT, REQUESTS_MAX_QUEUED, REQUESTS_QUEUE_TIMEOUT_MS: how many requests the gateway
 * serves at once, and how many wait for a turn. Past that, a request is refused at once (OVERLOADED)
 * instead of holding memory and database connections it would only wait for.
 */
import type { AdmissionConfig } from './config.ts';

interface Waiting {
  admit(): void;
  timer: NodeJS.Timeout;
}

/** Counts requests in flight and queues the next ones, first come first served, with a bound. */
export class Admission {
  #inFlight = 0;
  readonly #queue = new Set<Waiting>();

  constructor(readonly config: AdmissionConfig) {}

  get inFlight(): number {
    return this.#inFlight;
  }

  get queued(): number {
    return this.#queue.size;
  }

  /**
   * Resolves with the function that ends the request's turn once it may run, or with undefined when the
   * queue is full or the wait passed REQUESTS_QUEUE_TIMEOUT_MS. `abandoned` takes a waiting request
   * out of the queue (its client went away).
   */
  enter(abandoned: AbortSignal): Promise<(() => void) | undefined> {
    if (this.#inFlight < this.config.maxInFlight) return Promise.resolve(this.#start());
    if (this.#queue.size >= this.config.maxQueued || abandoned.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const leave = () => {
        clearTimeout(waiting.timer);
        this.#queue.delete(waiting);
        abandoned.removeEventListener('abort', onAbandoned);
      };
      const onAbandoned = () => {
        leave();
        resolve(undefined);
      };
      const waiting: Waiting = {
        admit: () => {
          leave();
          resolve(this.#start());
        },
        timer: setTimeout(onAbandoned, this.config.queueTimeoutMs),
      };
      abandoned.addEventListener('abort', onAbandoned, { once: true });
      this.#queue.add(waiting);
    });
  }

  #start(): () => void {
    this.#inFlight += 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#inFlight -= 1;
      // A Set iterates in insertion order: the longest waiting goes first.
      const [next] = this.#queue;
      next?.admit();
    };
  }
}
