/** In-process notice of exposures changed by a committed ingest; subscriptions listen to it. */
import { EventEmitter } from 'node:events';
import type { ExposureKey } from '../domain.ts';

export interface ExposureChanges {
  tenantId: string;
  exposures: ExposureKey[];
}

export class ChangeFeed {
  readonly #emitter = new EventEmitter().setMaxListeners(0);

  publish(changes: ExposureChanges): void {
    if (changes.exposures.length > 0) this.#emitter.emit('changes', changes);
  }

  subscribe(listener: (changes: ExposureChanges) => void): () => void {
    this.#emitter.on('changes', listener);
    return () => this.#emitter.off('changes', listener);
  }
}
