/**
 * LISTEN on a PostgreSQL channel over a connection of its own. A listening session must stay open to
 * receive anything, so it is never a pooled connection that queries borrow and hand back.
 */
import pg from 'pg';

/** What pg_stat_activity shows as the application of a listening connection, followed by its feed's id. */
export const LISTENER_APPLICATION_NAME = 'exposure-gateway changes';

export interface ChannelListener {
  /** Ends the connection; `lost` is not called for it. */
  close(): Promise<void>;
}

export interface ChannelHandlers {
  /** A payload notified on the channel, in commit order. */
  message(payload: string): void;
  /** The connection is gone (terminated, network, server restart); called once, and nothing arrives after. */
  lost(error: Error): void;
}

/** Connects and listens; rejects when the connection or the LISTEN fails. `id` names it to operators. */
export async function listenToChannel(
  url: string,
  channel: string,
  id: string,
  handlers: ChannelHandlers,
): Promise<ChannelListener> {
  // keepAlive: a connection whose peer vanished without a word (a dropped route) is found dead by TCP.
  const client = new pg.Client({
    connectionString: url,
    // At most 63 bytes: PostgreSQL cuts a longer name.
    application_name: `${LISTENER_APPLICATION_NAME} ${id}`.slice(0, 63),
    keepAlive: true,
  });
  // Only a listening connection can be lost: a failure before that rejects the promise instead.
  let listening = false;
  let closing = false;
  let lastError: Error | undefined;
  const lose = () => {
    if (!listening || closing) return;
    listening = false;
    handlers.lost(lastError ?? new Error('the listening connection ended'));
  };
  // A terminated backend reports its FATAL error first, then the connection ends.
  client.on('error', (error) => {
    lastError = error;
    lose();
  });
  client.on('end', lose);
  client.on('notification', (notification) => {
    if (notification.channel === channel) handlers.message(notification.payload ?? '');
  });
  try {
    await client.connect();
    await client.query(`listen ${client.escapeIdentifier(channel)}`);
    listening = true;
  } catch (error) {
    closing = true;
    await client.end().catch(() => {});
    throw error;
  }
  return {
    async close() {
      closing = true;
      await client.end();
    },
  };
}
