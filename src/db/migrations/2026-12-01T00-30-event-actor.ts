/** exposure_events.actor: who wrote the event (a token's subject or an API key's name); null before. */
import { type Kysely, PostgresAdapter, sql } from 'kysely';

// Frozen once landed: the indexes as they stand at this migration.
const DUCKDB_EVENT_INDEXES: Record<string, string> = {
  exposure_events_exposure_hash: 'exposure_events (exposure_hash)',
  exposure_events_dedupe_hash: 'exposure_events (dedupe_hash)',
};

/** DuckDB refuses to alter a table that has indexes: they are dropped around the change and made again. */
async function alterEvents(db: Kysely<any>, change: (postgres: boolean) => Promise<unknown>) {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  if (postgres) return change(postgres);
  for (const name of Object.keys(DUCKDB_EVENT_INDEXES)) {
    await sql`drop index if exists ${sql.ref(name)}`.execute(db);
  }
  await change(postgres);
  for (const [name, on] of Object.entries(DUCKDB_EVENT_INDEXES)) {
    await sql`create index if not exists ${sql.ref(name)} on ${sql.raw(on)}`.execute(db);
  }
}

export async function up(db: Kysely<any>): Promise<void> {
  await alterEvents(db, (postgres) =>
    sql`alter table exposure_events add column if not exists actor ${sql.raw(postgres ? 'text collate "C"' : 'varchar')}`.execute(
      db,
    ),
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await alterEvents(db, () => sql`alter table exposure_events drop column if exists actor`.execute(db));
}
