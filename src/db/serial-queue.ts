/** Runs tasks one after another in the order they were queued. */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task, task);
    // A failed task must not stop the ones queued behind it.
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
