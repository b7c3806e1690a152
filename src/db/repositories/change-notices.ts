/**
 * Change notices between gateways on PostgreSQL: NOTIFY on the channel of the database and schema, and
 * the change sets too large for a NOTIFY payload, stored in change_notices and read back by key.
 */
import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../tables.ts';

/**
 * PostgreSQL refuses a NOTIFY payload of 8000 bytes or more (with its default 8 kB pages): a larger
 * message goes through change_notices.
 */
export const NOTIFY_MAX_BYTES = 7999;

/** How long a stored change set is kept: receivers read it back within moments of its notice. */
const NOTICE_RETENTION_SECONDS = 600;

/**
 * The channel of the store's database and schema, so that deployments sharing a PostgreSQL server (or a
 * Redis) in other databases or schemas never hear each other. A hash: a channel name has at most 63 bytes.
 */
export async function changeChannel(db: Kysely<Database>): Promise<string> {
  const { rows } = await sql<{ database: string; schema: string }>`
    select current_database() as database, current_schema() as schema`.execute(db);
  const identity = rows[0];
  if (!identity) throw new Error('the database did not name itself');
  const digest = createHash('sha256').update(`${identity.database}\u001f${identity.schema}`).digest('hex');
  return `exposure_changes_${digest.slice(0, 24)}`;
}

/** Sends the message to every session listening on the channel; they get it once the statement commits. */
export async function notify(db: Kysely<Database>, channel: string, message: string): Promise<void> {
  await sql`select pg_notify(${channel}, ${message})`.execute(db);
}

/**
 * Stores a change set and notifies its key in one statement, so one commits with the other: a receiver
 * always finds the row its notice names.
 */
export async function notifyStoredNotice(
  db: Kysely<Database>,
  channel: string,
  notice: { tenantId: string; noticeId: string; payload: string },
  message: string,
): Promise<void> {
  await sql`with stored as (
      insert into change_notices (tenant_id, notice_id, payload)
      values (${notice.tenantId}, ${notice.noticeId}, cast(${notice.payload} as jsonb))
    )
    select pg_notify(${channel}, ${message})`.execute(db);
}

/** The payload of a stored change set; undefined when it is gone (deleted after NOTICE_RETENTION_SECONDS). */
export async function findNotice(
  db: Kysely<Database>,
  tenantId: string,
  noticeId: string,
): Promise<unknown | undefined> {
  const row = await db
    .selectFrom('change_notices')
    .select('payload')
    .where('tenant_id', '=', tenantId)
    .where('notice_id', '=', noticeId)
    .executeTakeFirst();
  return row?.payload;
}

/** Deletes the change sets older than the retention, every tenant's: no receiver still needs them. */
export async function deleteExpiredNotices(db: Kysely<Database>): Promise<void> {
  await db
    .deleteFrom('change_notices')
    .where('created_at', '<', sql<Date>`now() - make_interval(secs => ${NOTICE_RETENTION_SECONDS})`)
    .execute();
}
