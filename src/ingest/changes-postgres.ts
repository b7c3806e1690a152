/**
 * The change feed of gateways sharing a PostgreSQL database: NOTIFY to publish, LISTEN on a connection of
 * its own to receive.
 *
 * The notice is sent after the ingest's transaction commits, as a statement of its own, rather than with
 * pg_notify inside that transaction (which PostgreSQL would also deliver only at commit, and atomically
 * with it, so that not even a crash between the two could drop a notice). At commit, a transaction that
 * notified takes a lock that is one for the whole server ("database 0") and holds it until its commit is
 * flushed, so that notices queue in commit order: ingest transactions, up to four at once per gateway,
 * would commit one at a time across every gateway while holding their row locks, and every writer
 * (ingest, scan run completion, triage, the group commit's retries) would have to carry the feed into
 * its transaction. Sent afterwards, the lock is held only by the notice's own short transaction. A
 * gateway that dies between its commit and its notice loses that notice, as it loses its subscribers: a
 * subscription is a live view, not a log, and its clients read the state again when they resubscribe.
 */
import { randomUUID } from 'node:crypto';
import { type ChannelListener, listenToChannel } from '../db/change-listener.ts';
import type { Store } from '../db/database.ts';
import {
  changeChannel,
  deleteExpiredNotices,
  findNotice,
  NOTIFY_MAX_BYTES,
  notify,
  notifyStoredNotice,
} from '../db/repositories/change-notices.ts';
import type { ExposureKey } from '../domain.ts';
import type { Logger } from '../log.ts';
import {
  type ExposureChanges,
  encodeChangeMessage,
  exposurePairs,
  RelayedChangeFeed,
  toPairs,
} from './changes.ts';

/** Stored change sets are deleted at most this often by each gateway, on its way to store another. */
const DELETE_EXPIRED_EVERY_MS = 60_000;

export class PostgresChangeFeed extends RelayedChangeFeed {
  #listener: ChannelListener | undefined;
  #expiredDeletedAt = 0;

  private constructor(
    private readonly store: Store,
    private readonly url: string,
    readonly channel: string,
    logger: Logger,
  ) {
    super('postgres', logger);
  }

  /** Listens on the channel of the store's database and schema; rejects when it cannot. */
  static async open(store: Store, url: string, logger: Logger): Promise<PostgresChangeFeed> {
    const feed = new PostgresChangeFeed(store, url, await changeChannel(store.db), logger);
    await feed.start();
    return feed;
  }

  protected async connect(lost: (error: Error) => void): Promise<void> {
    this.#listener = await listenToChannel(this.url, this.channel, this.origin, {
      message: (payload) => this.received(payload),
      lost,
    });
  }

  protected async disconnect(): Promise<void> {
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.close().catch(() => {});
  }

  protected send(text: string): Promise<void> {
    return notify(this.store.db, this.channel, text);
  }

  protected override async sendChanges(changes: ExposureChanges): Promise<void> {
    const exposures = toPairs(changes.exposures);
    const text = encodeChangeMessage({ origin: this.origin, tenantId: changes.tenantId, exposures });
    if (Buffer.byteLength(text) <= NOTIFY_MAX_BYTES) return this.send(text);
    const noticeId = randomUUID();
    await notifyStoredNotice(
      this.store.db,
      this.channel,
      { tenantId: changes.tenantId, noticeId, payload: JSON.stringify(exposures) },
      encodeChangeMessage({ origin: this.origin, tenantId: changes.tenantId, notice: noticeId }),
    );
    if (Date.now() - this.#expiredDeletedAt >= DELETE_EXPIRED_EVERY_MS) {
      this.#expiredDeletedAt = Date.now();
      await deleteExpiredNotices(this.store.db);
    }
  }

  protected override async readNotice(
    tenantId: string,
    noticeId: string,
  ): Promise<ExposureKey[] | undefined> {
    const pairs = exposurePairs(await findNotice(this.store.db, tenantId, noticeId));
    return pairs?.map(([officeId, exposureId]) => ({ officeId, exposureId }));
  }
}
