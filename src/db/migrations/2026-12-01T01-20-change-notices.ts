/**
 * change_notices: change sets too large for a PostgreSQL NOTIFY payload (under 8000 bytes). The
 * publishing gateway stores the set here and notifies only its key; the other gateways read it back.
 * Rows are needed for moments and are deleted after a while (repositories/change-notices.ts), so the
 * table stays small: no index beyond the key. DuckDB serves a file from one process, whose changes
 * never leave it, so it has no such table.
 */
import { type Kysely, PostgresAdapter, sql } from 'kysely';

const isPostgres = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter;

export async function up(db: Kysely<any>): Promise<void> {
  if (!isPostgres(db)) return;
  await sql`create table if not exists change_notices (
    tenant_id text collate "C" not null,
    notice_id uuid not null,
    payload jsonb not null,
    created_at timestamptz not null default now(),
    primary key (tenant_id, notice_id)
  )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (!isPostgres(db)) return;
  await sql`drop table if exists change_notices`.execute(db);
}
