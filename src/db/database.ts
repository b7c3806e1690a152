/** Opens the store on either engine: one Kysely<Database> for reads and a serialized writer for writes. */
import fs from 'node:fs';
import path from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { type Dialect, Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
import { DuckDbDialect } from 'kysely-duckdb';
import pg from 'pg';
import type { DatabaseConfig, Engine } from '../config.ts';
import { SerialQueue } from './serial-queue.ts';
import type { Database } from './tables.ts';

/** A write transaction: Kysely for ordinary statements, plus the engine's bulk loader for staging tables. */
export interface WriteTransaction {
  readonly engine: Engine;
  readonly db: Transaction<Database>;
  /** Appends rows to a temp table through the engine's bulk path (DuckDB appender / PostgreSQL unnest). */
  bulkInsert(
    table: string,
    columns: readonly BulkColumn[],
    rows: readonly (readonly unknown[])[],
  ): Promise<void>;
}

export type BulkColumnType = 'text' | 'timestamptz' | 'integer' | 'double' | 'json' | 'boolean';
export interface BulkColumn {
  name: string;
  type: BulkColumnType;
}

export interface Store {
  readonly engine: Engine;
  /** For reads. On DuckDB, never write through it: use write(). */
  readonly db: Kysely<Database>;
  /** Runs work in one transaction; on DuckDB all writes are serialized through one connection. */
  write<T>(work: (trx: WriteTransaction) => Promise<T>): Promise<T>;
  /** Runs work that manages its own transactions (migrations) with the writer, alone. */
  exclusive<T>(work: (db: Kysely<Database>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function openStore(config: DatabaseConfig, options: { readers?: number } = {}): Promise<Store> {
  return config.engine === 'duckdb'
    ? openDuckDb(config.duckdbPath, options.readers ?? 4, config.queryTimeoutMs)
    : openPostgres(requirePostgresUrl(config), config.queryTimeoutMs);
}

/** A read ran longer than the configured query timeout and was cancelled. */
export class QueryTimeoutError extends Error {
  override name = 'QueryTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`the query ran longer than ${timeoutMs} ms and was cancelled`);
  }
}

/** True for a read cancelled by the query timeout on either engine. */
export function isQueryTimeout(error: unknown): boolean {
  // 57014 query_canceled: what PostgreSQL raises when statement_timeout fires.
  return error instanceof QueryTimeoutError || (error as { code?: unknown } | null)?.code === '57014';
}

function requirePostgresUrl(config: DatabaseConfig): string {
  if (!config.postgresUrl) throw new Error('DATABASE_URL is required when DB_TYPE=postgres');
  return config.postgresUrl;
}

/**
 * A @duckdb/node-api connection that runs one statement at a time: kysely-duckdb gives each query
 * a connection, but a transaction body may still start two statements at once on it.
 */
class SerialDuckDbConnection {
  readonly #queue = new SerialQueue();
  constructor(
    readonly raw: DuckDBConnection,
    private readonly timeoutMs?: number,
  ) {}
  run(text: string, values?: unknown) {
    return this.#queue.run(async () => {
      if (!this.timeoutMs) return this.raw.run(text, values as never);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        this.raw.interrupt();
      }, this.timeoutMs);
      try {
        return await this.raw.run(text, values as never);
      } catch (error) {
        throw timedOut ? new QueryTimeoutError(this.timeoutMs) : error;
      } finally {
        clearTimeout(timer);
      }
    });
  }
  stream(text: string, values?: unknown) {
    return this.#queue.run(() => this.raw.stream(text, values as never));
  }
  /** Runs work that talks to the raw connection (the appender) in turn with the statements. */
  exclusive<T>(work: (raw: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.#queue.run(() => work(this.raw));
  }
  /** Connections are owned by the pool, so kysely-duckdb's release must not close them. */
  closeSync() {}
}

/** What kysely-duckdb uses of a connection. */
type DuckDbLease = Pick<SerialDuckDbConnection, 'run' | 'stream' | 'closeSync'>;

/** A fixed set of DuckDB connections handed out one caller at a time, in place of a DuckDBInstance. */
class DuckDbConnectionPool {
  readonly connections: SerialDuckDbConnection[] = [];
  readonly #idle: SerialDuckDbConnection[] = [];
  readonly #waiting: ((connection: SerialDuckDbConnection) => void)[] = [];

  static async create(
    instance: DuckDBInstance,
    size: number,
    timeoutMs?: number,
  ): Promise<DuckDbConnectionPool> {
    const pool = new DuckDbConnectionPool();
    for (let i = 0; i < size; i++) {
      const raw = await instance.connect();
      // Timestamps come back as UTC text whatever the process TZ is.
      await raw.run("SET TimeZone = 'UTC'");
      const connection = new SerialDuckDbConnection(raw, timeoutMs);
      pool.connections.push(connection);
      pool.#idle.push(connection);
    }
    return pool;
  }

  connect = async (): Promise<DuckDbLease> => {
    const connection = this.#idle.pop();
    if (connection) return this.#leased(connection);
    return new Promise((resolve) => this.#waiting.push((c) => resolve(this.#leased(c))));
  };

  #leased(connection: SerialDuckDbConnection): DuckDbLease {
    return {
      run: (text, values) => connection.run(text, values),
      stream: (text, values) => connection.stream(text, values),
      // kysely-duckdb closes a connection on release: hand it back to the pool instead.
      closeSync: () => this.#release(connection),
    };
  }

  #release(connection: SerialDuckDbConnection) {
    const next = this.#waiting.shift();
    if (next) next(connection);
    else this.#idle.push(connection);
  }

  closeAll() {
    for (const connection of this.connections) connection.raw.closeSync();
  }

  /** kysely-duckdb closes its "instance" on destroy; the pool's owner closes connections itself. */
  closeSync() {}
}

function duckDbKysely(pool: DuckDbConnectionPool): Kysely<Database> {
  // The pool stands in for a DuckDBInstance: kysely-duckdb only calls connect() and closeSync().
  const database = async () => pool as unknown as DuckDBInstance;
  const dialect = new DuckDbDialect({ database, tableMappings: {} });
  // kysely-duckdb's typings point at Kysely's CommonJS build; at run time both are the same module.
  return new Kysely<Database>({ dialect: dialect as unknown as Dialect });
}

async function openDuckDb(file: string, readers: number, queryTimeoutMs?: number): Promise<Store> {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const instance = await DuckDBInstance.create(file);
  const writerPool = await DuckDbConnectionPool.create(instance, 1);
  const readerPool = await DuckDbConnectionPool.create(instance, readers, queryTimeoutMs);
  const writerConnection = writerPool.connections[0]!;
  const writerDb = duckDbKysely(writerPool);
  const readerDb = duckDbKysely(readerPool);
  // The single writer: one transaction at a time on the one writer connection.
  const writes = new SerialQueue();

  return {
    engine: 'duckdb',
    db: readerDb,
    write: (work) =>
      writes.run(() =>
        writerDb.transaction().execute((trx) =>
          work({
            engine: 'duckdb',
            db: trx,
            bulkInsert: (table, columns, rows) =>
              writerConnection.exclusive((raw) => appendRows(raw, table, columns, rows)),
          }),
        ),
      ),
    exclusive: (work) => writes.run(() => work(writerDb)),
    async close() {
      await writes.run(async () => {
        await writerDb.destroy();
        await readerDb.destroy();
        await writerConnection.raw.run('CHECKPOINT');
        writerPool.closeAll();
        readerPool.closeAll();
        instance.closeSync();
      });
    },
  };
}

/** Appends rows to a temp table with the DuckDB appender, which joins the open transaction. */
async function appendRows(
  connection: DuckDBConnection,
  table: string,
  columns: readonly BulkColumn[],
  rows: readonly (readonly unknown[])[],
): Promise<void> {
  const appender = await connection.createAppender(table, 'main', 'temp');
  try {
    for (const row of rows) {
      columns.forEach((column, i) => {
        const value = row[i];
        if (value === null || value === undefined) appender.appendNull();
        else if (column.type === 'integer') appender.appendInteger(value as number);
        else if (column.type === 'double') appender.appendDouble(value as number);
        else if (column.type === 'boolean') appender.appendBoolean(value as boolean);
        // Text, ISO timestamps and serialized JSON: DuckDB casts the text to the column type.
        else appender.appendVarchar(value as string);
      });
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

const POSTGRES_ARRAY_TYPES: Record<BulkColumnType, string> = {
  text: 'text[]',
  timestamptz: 'timestamptz[]',
  integer: 'integer[]',
  double: 'double precision[]',
  json: 'jsonb[]',
  boolean: 'boolean[]',
};

async function openPostgres(url: string, queryTimeoutMs?: number): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    ...(queryTimeoutMs ? { statement_timeout: queryTimeoutMs } : {}),
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    engine: 'postgres',
    db,
    write: (work) =>
      db.transaction().execute(async (trx) => {
        // The query timeout is for reads: an ingest or a rebuild runs as long as it needs.
        if (queryTimeoutMs) await sql`set local statement_timeout = 0`.execute(trx);
        return work({
          engine: 'postgres',
          db: trx,
          // One parameter per column: unnest() turns the arrays back into rows server-side.
          bulkInsert: async (table, columns, rows) => {
            const arrays = columns.map(
              (column, i) =>
                sql`${rows.map((row) => row[i] ?? null)}::${sql.raw(POSTGRES_ARRAY_TYPES[column.type])}`,
            );
            await sql`insert into ${sql.table(table)} (${sql.join(columns.map((c) => sql.ref(c.name)))})
              select * from unnest(${sql.join(arrays)})`.execute(trx);
          },
        });
      }),
    // Migrations take as long as they take: one connection, the query timeout lifted while they run.
    exclusive: (work) =>
      db.connection().execute(async (connection) => {
        await sql`set statement_timeout = 0`.execute(connection);
        try {
          return await work(connection);
        } finally {
          await sql`reset statement_timeout`.execute(connection);
        }
      }),
    close: () => db.destroy(),
  };
}
