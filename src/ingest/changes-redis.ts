/**
 * The change feed over Redis pub/sub (REDIS_URL), for gateways sharing a PostgreSQL database: a
 * subscribed connection receives, another publishes (a subscribed connection can do nothing else). Both
 * are made again together when either is lost, with the feed's own backoff rather than ioredis's, so
 * that subscribers are told of every loss. Messages are the ones NOTIFY carries, never over its size
 * limit here, and go to the channel of the database and schema.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Store } from '../db/database.ts';
import { changeChannel } from '../db/repositories/change-notices.ts';
import type { Logger } from '../log.ts';
import { RelayedChangeFeed } from './changes.ts';

export class RedisChangeFeed extends RelayedChangeFeed {
  #subscriber: Redis | undefined;
  #publisher: Redis | undefined;

  private constructor(
    private readonly url: string,
    readonly channel: string,
    logger: Logger,
  ) {
    super('redis', logger);
  }

  /** Subscribes to the channel of the store's database and schema; rejects when Redis cannot be reached. */
  static async open(url: string, store: Store, logger: Logger): Promise<RedisChangeFeed> {
    const feed = new RedisChangeFeed(url, await changeChannel(store.db), logger);
    await feed.start();
    return feed;
  }

  protected async connect(lost: (error: Error) => void): Promise<void> {
    const options: RedisOptions = {
      lazyConnect: true,
      // The feed reconnects, and tells subscribers: ioredis would resubscribe behind their back.
      retryStrategy: () => null,
      autoResubscribe: false,
      // A publish while disconnected fails at once instead of waiting in a queue of unknown length.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // CLIENT LIST shows the channel and the feed of each connection.
      connectionName: `${this.channel}:${this.origin}`,
    };
    const subscriber = new Redis(this.url, options);
    const publisher = new Redis(this.url, options);
    this.#subscriber = subscriber;
    this.#publisher = publisher;
    // A connection that closes before both are up fails the attempt; after, it is a loss.
    let state = 'connecting' as 'connecting' | 'up' | 'gone';
    let lastError: Error | undefined;
    for (const connection of [subscriber, publisher]) {
      connection.on('error', (error: Error) => {
        lastError = error;
      });
      connection.on('close', () => {
        const was = state;
        state = 'gone';
        if (was === 'up') lost(lastError ?? new Error('the Redis connection closed'));
      });
    }
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.received(message);
    });
    await Promise.all([subscriber.connect(), publisher.connect()]);
    await subscriber.subscribe(this.channel);
    if (state === 'gone') throw lastError ?? new Error('the Redis connection closed while it was made');
    state = 'up';
  }

  protected async disconnect(): Promise<void> {
    const connections = [this.#subscriber, this.#publisher];
    this.#subscriber = undefined;
    this.#publisher = undefined;
    for (const connection of connections) {
      connection?.removeAllListeners('close');
      connection?.disconnect();
    }
  }

  protected async send(text: string): Promise<void> {
    if (!this.#publisher) throw new Error('the Redis connection is being made again');
    await this.#publisher.publish(this.channel, text);
  }
}
