/**
 * PostgreSQL: every merge into exposures_current changes last_seen and often status or severity. While
 * an index holds one of them, no update is HOT: each writes a new entry in every index of the table
 * (at 1.5M events, 1,400 ms to upsert 1,500 stored rows, against 45 ms when no indexed column changes),
 * so ingest slowed with the size of the table. Without those two indexes, and with room left on each
 * page for the new versions (fillfactor), an update rewrites the row within its page and no index.
 * The reads they served sort or count the tenant's matching rows instead (bench/results/scale-explain.txt).
 */
import { type Kysely, PostgresAdapter, sql } from 'kysely';

const isPostgres = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter;

export async function up(db: Kysely<any>): Promise<void> {
  if (!isPostgres(db)) return;
  await sql`drop index if exists exposures_current_last_seen`.execute(db);
  await sql`drop index if exists exposures_current_status_severity`.execute(db);
  await sql`alter table exposures_current set (fillfactor = 70)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (!isPostgres(db)) return;
  await sql`alter table exposures_current reset (fillfactor)`.execute(db);
  await sql`create index if not exists exposures_current_status_severity on exposures_current (tenant_id, status, severity)`.execute(
    db,
  );
  await sql`create index if not exists exposures_current_last_seen on exposures_current (tenant_id, last_seen)`.execute(
    db,
  );
}
