/**
 * Temp staging tables: a batch goes into one through the engine's bulk path (WriteTransaction.bulkInsert),
 * and set-based statements read it from there.
 */
import { sql } from 'kysely';
import type { BulkColumn, BulkColumnType, WriteTransaction } from '../database.ts';

const COLUMN_TYPES: Record<'postgres' | 'duckdb', Record<BulkColumnType, string>> = {
  postgres: {
    text: 'text collate "C"',
    timestamptz: 'timestamptz',
    integer: 'integer',
    double: 'double precision',
    json: 'jsonb',
    boolean: 'boolean',
  },
  duckdb: {
    text: 'varchar',
    timestamptz: 'timestamptz',
    integer: 'integer',
    double: 'double',
    json: 'json',
    boolean: 'boolean',
  },
};

/** An empty temp table `table` with these columns, for this transaction's batch. */
export async function createStage(
  trx: WriteTransaction,
  table: string,
  columns: readonly BulkColumn[],
): Promise<void> {
  const types = COLUMN_TYPES[trx.engine];
  const definitions = sql.join(columns.map((c) => sql`${sql.ref(c.name)} ${sql.raw(types[c.type])}`));
  // Neither engine reclaims the rows deleted from a temp table: a stage emptied by DELETE kept every
  // event the connection ever staged (10M rows at 10M events), and each chunk scanned them all again.
  // PostgreSQL truncates it at every commit; DuckDB makes it anew.
  if (trx.engine === 'postgres') {
    await sql`create temp table if not exists ${sql.table(table)} (${definitions}) on commit delete rows`.execute(
      trx.db,
    );
    await sql`delete from ${sql.table(table)}`.execute(trx.db);
  } else {
    await sql`create or replace temp table ${sql.table(table)} (${definitions})`.execute(trx.db);
  }
}
