/**
 * Notice of exposures changed by committed ingests; subscriptions listen to it. ChangeFeed delivers within
 * the process, which is all a DuckDB file needs (one process serves it). RelayedChangeFeed also carries
 * every change set to the other gateways of a deployment, through PostgreSQL LISTEN/NOTIFY
 * (changes-postgres.ts) or Redis pub/sub (changes-redis.ts), and tells subscribers when changes may have
 * been missed instead of leaving them waiting.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { DomainError, type ExposureKey } from '../domain.ts';
import type { Logger } from '../log.ts';

export interface ExposureChanges {
  tenantId: string;
  exposures: ExposureKey[];
}

/** Changes may have been missed: the subscription ends, and its client reads again and resubscribes. */
export class ChangeFeedInterruptedError extends DomainError {
  override name = 'ChangeFeedInterruptedError';
  constructor(reason: string) {
    super(
      'CHANGE_FEED_INTERRUPTED',
      `live updates were interrupted (${reason}): changes may have been missed; read the current state again and resubscribe`,
    );
  }
}

export interface ChangeFeedHealth {
  /** How changes reach the other gateways: not at all (in-process), PostgreSQL NOTIFY or Redis. */
  transport: 'in-process' | 'postgres' | 'redis';
  /** False while a lost connection is being made again: the changes of other gateways do not arrive. */
  connected: boolean;
}

export type ChangeListener = (changes: ExposureChanges) => void;
export type InterruptionListener = (error: ChangeFeedInterruptedError) => void;

export class ChangeFeed {
  readonly #emitter = new EventEmitter().setMaxListeners(0);
  /** Set while the feed is down: a subscriber that comes then is told at once. */
  #down: ChangeFeedInterruptedError | null = null;

  /** Tells this process's subscribers; a relayed feed tells the other gateways too. Call after commit. */
  publish(changes: ExposureChanges): void {
    if (changes.exposures.length > 0) this.deliver(changes);
  }

  /**
   * Calls `listener` with every change set. `interrupted` is called when changes may have been missed (a
   * lost connection, a change set that could not be read): nothing tells which, so the subscription
   * should end there. While the feed is down, a new subscriber is told at once.
   */
  subscribe(listener: ChangeListener, interrupted?: InterruptionListener): () => void {
    this.#emitter.on('changes', listener);
    if (interrupted) {
      this.#emitter.on('interrupted', interrupted);
      const down = this.#down;
      if (down) queueMicrotask(() => interrupted(down));
    }
    return () => {
      this.#emitter.off('changes', listener);
      if (interrupted) this.#emitter.off('interrupted', interrupted);
    };
  }

  health(): ChangeFeedHealth {
    return { transport: 'in-process', connected: true };
  }

  /** Ends the feed's connections, once what it was sending is sent; in-process there are none. */
  async close(): Promise<void> {}

  protected deliver(changes: ExposureChanges): void {
    this.#emitter.emit('changes', changes);
  }

  /** Tells every subscriber that changes may have been missed; `down`: new subscribers too, until resume(). */
  protected interrupt(reason: string, down: boolean): void {
    const error = new ChangeFeedInterruptedError(reason);
    if (down) this.#down = error;
    this.#emitter.emit('interrupted', error);
  }

  protected resume(): void {
    this.#down = null;
  }
}

/**
 * A change set as it travels between gateways, as JSON: the keys themselves, or (PostgreSQL, when they
 * do not fit a NOTIFY) the key of a stored notice, or word that the origin could not send some of its
 * changes. `origin` names the sending feed, which has delivered its own changes to its own subscribers.
 */
export type ChangeMessage =
  | { origin: string; tenantId: string; exposures: [officeId: string, exposureId: string][] }
  | { origin: string; tenantId: string; notice: string }
  | { origin: string; lost: true };

export function encodeChangeMessage(message: ChangeMessage): string {
  return JSON.stringify(message);
}

/** The message, or undefined when the text is not one. */
export function decodeChangeMessage(text: string): ChangeMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!value || typeof value !== 'object') return undefined;
  const m = value as Record<string, unknown>;
  if (typeof m.origin !== 'string') return undefined;
  if (m.lost === true) return { origin: m.origin, lost: true };
  if (typeof m.tenantId !== 'string') return undefined;
  if (typeof m.notice === 'string') return { origin: m.origin, tenantId: m.tenantId, notice: m.notice };
  const exposures = exposurePairs(m.exposures);
  return exposures ? { origin: m.origin, tenantId: m.tenantId, exposures } : undefined;
}

/** [officeId, exposureId] pairs, or undefined when the value is not a list of them. */
export function exposurePairs(value: unknown): [string, string][] | undefined {
  if (!Array.isArray(value)) return undefined;
  const isPair = (pair: unknown): pair is [string, string] =>
    Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string' && typeof pair[1] === 'string';
  return value.every(isPair) ? value : undefined;
}

export const toPairs = (exposures: readonly ExposureKey[]): [string, string][] =>
  exposures.map((key) => [key.officeId, key.exposureId]);
const toKeys = (pairs: readonly [string, string][]): ExposureKey[] =>
  pairs.map(([officeId, exposureId]) => ({ officeId, exposureId }));

/** Reconnection waits double from the first to the longest, each shortened by up to half at random. */
const RECONNECT_FIRST_MS = 100;
const RECONNECT_LONGEST_MS = 10_000;

/**
 * The change sets of each tenant as one, each exposure once, in the order they first came: what
 * subscribers read back is the current state, which is the same for every change that named it.
 */
export function mergeChanges(batch: readonly ExposureChanges[]): ExposureChanges[] {
  const byTenant = new Map<string, Map<string, ExposureKey>>();
  for (const { tenantId, exposures } of batch) {
    const keys = byTenant.get(tenantId) ?? new Map<string, ExposureKey>();
    byTenant.set(tenantId, keys);
    for (const key of exposures) keys.set(`${key.officeId}\u001f${key.exposureId}`, key);
  }
  return [...byTenant].map(([tenantId, keys]) => ({ tenantId, exposures: [...keys.values()] }));
}

/**
 * A feed shared by every gateway of a deployment. A publish is delivered here at once and sent to the
 * others, which skip their own messages by origin: each gateway delivers each change set once. One send
 * runs at a time; the change sets published meanwhile go out after it, merged per tenant, so a busy
 * gateway sends a message per round trip, not per ingest. A lost connection ends the current
 * subscriptions with CHANGE_FEED_INTERRUPTED, refuses new ones the same way until it is back, and is
 * made again with backoff. A send that fails is logged; once one goes through again, the others are
 * told to interrupt their subscribers, as they missed changes.
 */
export abstract class RelayedChangeFeed extends ChangeFeed {
  readonly origin = randomUUID();
  #connected = false;
  #closed = false;
  /** Counts the connections made; a loss reported for an older one is ignored. */
  #generation = 0;
  #lostGeneration = -1;
  #attempt = 0;
  #retry: NodeJS.Timeout | undefined;
  #reconnecting: Promise<void> = Promise.resolve();
  /** Some change set could not be sent: the others must be told. */
  #unsent = false;
  /** Published, not yet sent. */
  #pending: ExposureChanges[] = [];
  #sending: Promise<void> | undefined;
  #receiving: Promise<void> = Promise.resolve();

  protected constructor(
    readonly transport: 'postgres' | 'redis',
    protected readonly logger: Logger,
  ) {
    super();
  }

  /** Connects to the other gateways; `lost` is called once when the connection goes. */
  protected abstract connect(lost: (error: Error) => void): Promise<void>;
  /** Ends whatever is left of the connection, without calling its `lost`. */
  protected abstract disconnect(): Promise<void>;
  /** Sends the text to every gateway (this one hears its own messages and skips them). */
  protected abstract send(text: string): Promise<void>;

  /** Sends a change set; a transport with a size limit stores a large one and sends its key. */
  protected sendChanges(changes: ExposureChanges): Promise<void> {
    return this.send(
      encodeChangeMessage({
        origin: this.origin,
        tenantId: changes.tenantId,
        exposures: toPairs(changes.exposures),
      }),
    );
  }

  /** The exposures of a stored notice; undefined when it cannot be found. Only PostgreSQL stores them. */
  protected async readNotice(_tenantId: string, _noticeId: string): Promise<ExposureKey[] | undefined> {
    return undefined;
  }

  /** Connects the first time; the caller sees the error, so a bad address stops the start. */
  protected async start(): Promise<void> {
    try {
      await this.#connectOnce();
    } catch (error) {
      await this.disconnect();
      throw error;
    }
    this.logger.info({ transport: this.transport }, 'change feed connected');
  }

  override publish(changes: ExposureChanges): void {
    if (changes.exposures.length === 0) return;
    this.deliver(changes);
    this.#pending.push(changes);
    this.#send();
  }

  override health(): ChangeFeedHealth {
    return { transport: this.transport, connected: this.#connected };
  }

  override async close(): Promise<void> {
    this.#closed = true;
    this.#connected = false;
    clearTimeout(this.#retry);
    await this.#reconnecting;
    await this.#sending;
    await this.#receiving;
    await this.disconnect();
  }

  /** For the transport: a message heard on the channel. */
  protected received(text: string): void {
    const message = decodeChangeMessage(text);
    if (message?.origin === this.origin) return;
    // In arrival order, even when a stored notice has to be read first.
    this.#receiving = this.#receiving.then(() => this.#handle(message));
  }

  async #handle(message: ChangeMessage | undefined): Promise<void> {
    if (!message) {
      this.logger.warn({ transport: this.transport }, 'change feed: a message that is not a change set');
      this.interrupt('a change notice could not be read', false);
    } else if ('lost' in message) {
      this.interrupt('another gateway could not send its changes', false);
    } else if ('exposures' in message) {
      this.deliver({ tenantId: message.tenantId, exposures: toKeys(message.exposures) });
    } else {
      let exposures: ExposureKey[] | undefined;
      try {
        exposures = await this.readNotice(message.tenantId, message.notice);
      } catch (error) {
        this.logger.warn(
          { notice: message.notice, err: error },
          'change feed: a stored change set could not be read',
        );
      }
      if (exposures) this.deliver({ tenantId: message.tenantId, exposures });
      else this.interrupt('a change notice could not be read', false);
    }
  }

  /** Sends what is pending, unless a send is running: that one sends it when it is done. */
  #send(): void {
    if (this.#sending) return;
    this.#sending = (async () => {
      while (this.#unsent || this.#pending.length > 0) {
        const batch = this.#pending.splice(0);
        try {
          if (this.#unsent) {
            await this.send(encodeChangeMessage({ origin: this.origin, lost: true }));
            this.#unsent = false;
          }
          for (const changes of mergeChanges(batch)) await this.sendChanges(changes);
        } catch (error) {
          this.#unsent = true;
          this.logger.error(
            { transport: this.transport, err: error },
            'change feed: changes could not be sent to the other gateways',
          );
          return;
        }
      }
    })().finally(() => {
      this.#sending = undefined;
    });
  }

  async #connectOnce(): Promise<void> {
    const generation = ++this.#generation;
    await this.connect((error) => this.#lost(generation, error));
    // Lost while connecting: the connection never served.
    if (this.#lostGeneration === generation) throw new Error('the connection was lost as it was made');
    if (this.#closed) return;
    this.#connected = true;
    this.#attempt = 0;
    this.resume();
  }

  #lost(generation: number, error: Error): void {
    this.#lostGeneration = generation;
    if (generation !== this.#generation || !this.#connected || this.#closed) return;
    this.#connected = false;
    this.logger.warn({ transport: this.transport, err: error }, 'change feed connection lost: reconnecting');
    this.interrupt('the gateway lost its change feed connection', true);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    const longest = Math.min(RECONNECT_FIRST_MS * 2 ** this.#attempt, RECONNECT_LONGEST_MS);
    this.#attempt++;
    this.#retry = setTimeout(
      () => {
        this.#reconnecting = this.#reconnect();
      },
      longest * (0.5 + Math.random() / 2),
    );
  }

  async #reconnect(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.disconnect();
      await this.#connectOnce();
    } catch (error) {
      if (this.#closed) return;
      this.logger.warn(
        { transport: this.transport, attempt: this.#attempt, err: error },
        'change feed: reconnection failed',
      );
      this.#scheduleReconnect();
      return;
    }
    this.logger.info({ transport: this.transport }, 'change feed reconnected');
    // Changes published while the connection was down may not have reached the others.
    this.#send();
  }
}
