/**
 * exposure_sort_keys, on PostgreSQL: the columns that exposure pages sort by (and the status and
 * severity that they most often filter by), one narrow row per exposure of the current state, with an
 * index for each order. A page walks the index of its order and reads the
 * exposures it keeps by primary key, instead of sorting every matching exposure of the tenant (at 10M
 * events: a parallel scan of 1.4 GB and a top-N of 170k rows, 400-630 ms per page).
 *
 * These indexes cannot live on exposures_current: every merge changes last_seen, and an index over it
 * would make no update of that wide table HOT (see 2026-12-01T00-50-postgres-indexes.ts). Here the rows
 * are small, and a row whose sort columns did not change is not written.
 *
 * Statement triggers keep it, as they keep exposure_counts: they see what each statement really wrote,
 * whichever writer came first. DuckDB sorts its columnar scan of the tenant's exposures instead (one
 * writer, no triggers, and ART indexes held in memory).
 */
import { type Kysely, PostgresAdapter, sql } from 'kysely';

const isPostgres = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter;

const KEY = 'tenant_id, office_id, exposure_id';
/** The sort columns as exposures_current holds them; risk as the pages sort it (-1 when unscored). */
const SORT_VALUES = 'status, severity_rank, last_seen, first_seen, coalesce(risk_score, -1)';

/** Writes the sort keys of `source` (rows of exposures_current), leaving rows that did not change. */
const upsertFrom = (source: string) => `
  insert into exposure_sort_keys (${KEY}, status, severity_rank, last_seen, first_seen, risk)
  select ${KEY}, ${SORT_VALUES} from ${source}
  order by ${KEY}
  on conflict (${KEY}) do update set
    status = excluded.status, severity_rank = excluded.severity_rank, last_seen = excluded.last_seen,
    first_seen = excluded.first_seen, risk = excluded.risk
  where (exposure_sort_keys.status, exposure_sort_keys.severity_rank, exposure_sort_keys.last_seen,
    exposure_sort_keys.first_seen, exposure_sort_keys.risk)
    is distinct from (excluded.status, excluded.severity_rank, excluded.last_seen, excluded.first_seen,
    excluded.risk);`;

export async function up(db: Kysely<any>): Promise<void> {
  if (!isPostgres(db)) return;
  await sql`create table if not exists exposure_sort_keys (
    tenant_id text collate "C" not null,
    office_id text collate "C" not null,
    exposure_id text collate "C" not null,
    status text not null,
    last_seen timestamptz not null,
    first_seen timestamptz not null,
    severity_rank smallint not null,
    risk double precision not null,
    primary key (tenant_id, office_id, exposure_id)
  )`.execute(db);
  // One index per order of ExposureOrderField, each ending in the key as the pages' sort does; a
  // backward scan serves the other direction. Status and severity come along, so a page skips the
  // exposures that the most common filters (and the caller's offices) leave out without reading them.
  for (const [name, columns] of [
    ['last_seen', 'last_seen'],
    ['first_seen', 'first_seen'],
    ['severity', 'severity_rank, last_seen'],
    ['risk', 'risk, last_seen'],
  ]) {
    await sql
      .raw(
        `create index if not exists exposure_sort_keys_${name} on exposure_sort_keys (tenant_id, ${columns}, office_id, exposure_id) include (status, severity_rank)`,
      )
      .execute(db);
  }
  await sql`delete from exposure_sort_keys`.execute(db);
  await sql.raw(upsertFrom('exposures_current')).execute(db);

  const triggers = [
    { event: 'insert', tables: 'new table as new_rows', body: upsertFrom('new_rows') },
    { event: 'update', tables: 'new table as new_rows', body: upsertFrom('new_rows') },
    {
      event: 'delete',
      tables: 'old table as old_rows',
      body: `delete from exposure_sort_keys k using old_rows o
        where k.tenant_id = o.tenant_id and k.office_id = o.office_id and k.exposure_id = o.exposure_id;`,
    },
  ];
  for (const { event, tables, body } of triggers) {
    await sql
      .raw(`create or replace function exposure_sort_keys_after_${event}() returns trigger
        language plpgsql as $$
        begin
          ${body}
          return null;
        end $$`)
      .execute(db);
    await sql.raw(`drop trigger if exists exposure_sort_keys_${event} on exposures_current`).execute(db);
    await sql
      .raw(`create trigger exposure_sort_keys_${event} after ${event} on exposures_current
        referencing ${tables} for each statement execute function exposure_sort_keys_after_${event}()`)
      .execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  if (!isPostgres(db)) return;
  for (const event of ['insert', 'update', 'delete']) {
    await sql.raw(`drop trigger if exists exposure_sort_keys_${event} on exposures_current`).execute(db);
    await sql.raw(`drop function if exists exposure_sort_keys_after_${event}()`).execute(db);
  }
  await sql`drop table if exists exposure_sort_keys`.execute(db);
}
