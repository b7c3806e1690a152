/** Ordering primitives of the store: a queue of tasks, and a gate between reads and commits. */

/** Runs tasks one after another in the order they were queued. */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();
  #waiting = 0;

  /** Tasks queued that have not started yet. */
  get waiting(): number {
    return this.#waiting;
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    this.#waiting++;
    const start = () => {
      this.#waiting--;
      return task();
    };
    const result = this.#tail.then(start, start);
    // A failed task must not stop the ones queued behind it.
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/**
 * Keeps reads and commits apart: a commit waits for the reads under way and holds back the reads that
 * arrive meanwhile, and `version` counts the commits. So a read runs entirely between two commits, and a
 * reader can tell whether any commit happened since it last looked. Commits come one at a time.
 *
 * Once closed (a commit failed in a way that leaves the database unfit for use), every read and commit
 * that comes after fails with the error it was closed with.
 */
export class CommitGate {
  #reads = 0;
  #commit: Promise<void> | undefined;
  #drained: (() => void) | undefined;
  #version = 0;
  #closedBy: Error | undefined;

  /** Commits so far. */
  get version(): number {
    return this.#version;
  }

  /** The error the gate was closed with, if it was. */
  get closedBy(): Error | undefined {
    return this.#closedBy;
  }

  /** Refuses every read and commit from now on with `error`, which it returns. */
  close<E extends Error>(error: E): E {
    this.#closedBy ??= error;
    return error;
  }

  /** Throws the error the gate was closed with, if it was. */
  #assertOpen(): void {
    if (this.#closedBy) throw this.#closedBy;
  }

  async read<T>(work: () => Promise<T>): Promise<T> {
    while (this.#commit) await this.#commit;
    this.#assertOpen();
    this.#reads++;
    try {
      return await work();
    } finally {
      this.#reads--;
      if (this.#reads === 0) this.#drained?.();
    }
  }

  async commit<T>(work: () => Promise<T>): Promise<T> {
    this.#assertOpen();
    let done!: () => void;
    this.#commit = new Promise((resolve) => {
      done = resolve;
    });
    try {
      if (this.#reads > 0) {
        await new Promise<void>((resolve) => {
          this.#drained = resolve;
        });
      }
      return await work();
    } finally {
      this.#drained = undefined;
      this.#version++;
      this.#commit = undefined;
      done();
    }
  }
}
