/** Opens the store on either engine: one Kysely<Database> for reads and a serialized writer for writes. */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBPreparedStatement,
  type DuckDBValue,
} from '@duckdb/node-api';
import { type Dialect, Kysely, sql, type Transaction } from 'kysely';
import { DuckDbDialect } from 'kysely-duckdb';
import pg from 'pg';
import type { DatabaseConfig, Engine } from '../config.ts';
import { DomainError } from '../domain.ts';
import { CurrentSchemaPostgresDialect } from './postgres-introspector.ts';
import { MAX_PAGE_SIZE } from './repositories/pagination.ts';
import { CommitGate, SerialQueue } from './serial-queue.ts';
import type { Database } from './tables.ts';
import { type StoreObserver, type StoreStats, StoreTelemetry } from './telemetry.ts';

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
  /**
   * Reports every statement, and on DuckDB every wait for the writer, to observer until the returned
   * function is called.
   */
  observe(observer: StoreObserver): () => void;
  /** The connection pool and the writer queue as they are now. */
  stats(): StoreStats;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** DuckDB reader connections. */
  readers?: number;
  /** Prepared statements kept per connection for reads; 0 prepares none. Overrides the configuration's. */
  statementCacheSize?: number;
  /** Told when a DuckDB file's WAL had to be replayed by attaching the file (openDuckDbInstance()). */
  onWalRecovered?: (reason: string) => void;
  /**
   * Told of each message a PostgreSQL server sends besides results (NOTICE, WARNING, and the plans that
   * auto_explain sends at its log_level notice); DuckDB sends none.
   */
  onNotice?: (notice: ServerNotice) => void;
}

/** A message from the database server that is neither a result nor an error. */
export interface ServerNotice {
  /** NOTICE, WARNING, INFO, DEBUG or LOG. */
  severity: string;
  message: string;
}

export async function openStore(config: DatabaseConfig, options: StoreOptions = {}): Promise<Store> {
  return config.engine === 'duckdb'
    ? openDuckDb(config, options)
    : openPostgres(
        requirePostgresUrl(config),
        config.queryTimeoutMs,
        options.statementCacheSize ?? config.statementCacheSize ?? POSTGRES_STATEMENT_CACHE_SIZE,
        options.onNotice,
      );
}

/** A read ran longer than the configured query timeout and was cancelled. */
export class QueryTimeoutError extends DomainError {
  override name = 'QueryTimeoutError';
  constructor(readonly timeoutMs: number) {
    super('QUERY_TIMEOUT', queryTimeoutMessage(timeoutMs));
  }
}

/**
 * DuckDB could not commit a write for want of memory or disk, or failed inside. DuckDB 1.5 may then keep
 * a table in memory that no longer matches its file (its next checkpoint fails with "Corrupted in-memory
 * column", a FATAL error), so the store takes no more reads or writes until the process opens it again.
 * Nothing committed is lost: the WAL holds every committed transaction, and opening replays it (see
 * openDuckDbInstance()).
 */
export class StoreFailedError extends DomainError {
  override name = 'StoreFailedError';
  constructor(cause: Error) {
    super(
      'STORE_FAILED',
      `the database could not commit a write (${firstLine(cause.message)}); this gateway takes no more reads or writes until it is restarted, and committed data is kept`,
    );
    this.cause = cause;
  }
}

const firstLine = (text: string) => text.split('\n', 1)[0]!.trim();

/**
 * A COMMIT that failed and left DuckDB unfit for use: any failure but a constraint violation or a
 * write-write conflict, which DuckDB rolls back cleanly.
 */
function isUnsafeCommitFailure(error: unknown): boolean {
  return !/^(Constraint Error|TransactionContext Error: Catalog write-write conflict|TransactionContext Error: Conflict)/.test(
    (error as Error | null)?.message ?? '',
  );
}

/** What a client is told of a cancelled read, on either engine. */
export const queryTimeoutMessage = (timeoutMs: number | undefined) =>
  `the query ran longer than ${timeoutMs} ms: narrow its filter or page size`;

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
 * DuckDB worker threads when DUCKDB_THREADS is unset. With 1, DuckDB runs each query on the thread that
 * submitted it, with no hand-off to workers: on the dashboard mix (4 readers, 8 clients, 2 cores) that
 * costs 11-14% less CPU per request than 2 (DuckDB's default here, one per core), and an ingest chunk of
 * the demo data 20% less.
 */
export const DUCKDB_DEFAULT_THREADS = 1;

/** Prepared statements kept per DuckDB reader connection, by SQL text. */
export const STATEMENT_CACHE_SIZE = 256;

/**
 * Session settings of the reader connections. A page of exposures is a top-N of the scope's rows; DuckDB
 * sorts only the sort columns and fetches the rest of the page's rows afterwards by row id (late
 * materialization) when the limit is at most late_materialization_max_rows, and the fetch skips the row
 * groups without them when the row ids are at most dynamic_or_filter_threshold (an IN filter on the
 * scan). Both default to 50, which a page of 50 (a limit of 51) already exceeds: it then sorts every
 * column of every match, 78-83 ms against 44-59 ms for 1.1M exposures. So both cover the largest page.
 */
const READER_SETTINGS = [
  `SET late_materialization_max_rows = ${MAX_PAGE_SIZE + 1}`,
  `SET dynamic_or_filter_threshold = ${MAX_PAGE_SIZE + 1}`,
];

/** Starts or ends a transaction: kysely-duckdb sends BEGIN TRANSACTION, COMMIT and ROLLBACK. */
const BEGIN = /^\s*(begin|start\s+transaction)\b/i;
const END = /^\s*(commit|end|rollback|abort)\b/i;
const COMMIT = /^\s*(commit|end)\b/i;

export interface DuckDbConnectionOptions {
  /** Shared by the writer and the readers of one instance. */
  gate: CommitGate;
  /**
   * A reader runs its statements from a cache of prepared statements, each within the gate's reads;
   * the writer prepares every statement afresh and passes what makes data visible through the gate.
   */
  role: 'reader' | 'writer';
  /** Readers' statements running longer are interrupted. */
  timeoutMs?: number;
  /** Readers' cached statements; 0 prepares every statement afresh. */
  cacheSize: number;
}

interface CachedStatement {
  statement: DuckDBPreparedStatement;
  /** The gate's version when it was prepared. */
  version: number;
}

/**
 * A @duckdb/node-api connection that runs one statement at a time: kysely-duckdb gives each query
 * a connection, but a transaction body may still start two statements at once on it.
 *
 * Readers keep the statements they prepared, least recently used first: DuckDB plans a statement again
 * on every run with parameters otherwise (0.8-2 ms each). But DuckDB plans with the tables' statistics
 * and runs a prepared statement again with that plan after the data changed: wrong answers (a filter
 * pruned as if no row could match) and crashes (strings longer than the plan allows). So a cached
 * statement is used only while no commit happened since it was prepared (the gate's version), and the
 * gate keeps commits from landing between a read's prepare and its run: a commit waits for the reads
 * under way (at most the query timeout each), and reads that arrive meanwhile wait for the commit.
 * Catalog changes (an ALTER TABLE) are commits too; DuckDB would rebind for those by itself.
 */
export class SerialDuckDbConnection {
  readonly #queue = new SerialQueue();
  readonly #statements = new Map<string, CachedStatement>();
  /** The writer's explicit transaction is open: its statements publish nothing before COMMIT. */
  #inTransaction = false;
  constructor(
    readonly raw: DuckDBConnection,
    private readonly options: DuckDbConnectionOptions,
  ) {}
  run(text: string, values?: DuckDBValue[]) {
    return this.#queue.run(() =>
      this.options.role === 'writer'
        ? this.#write(text, values)
        : this.options.gate.read(() => this.#read(text, values)),
    );
  }
  /** Not cached: a streaming result is read after the statement returns, while others may run. */
  stream(text: string, values?: DuckDBValue[]) {
    return this.#queue.run(() =>
      this.options.role === 'writer'
        ? this.raw.stream(text, values)
        : this.options.gate.read(() => this.raw.stream(text, values)),
    );
  }
  /** Runs work that talks to the raw connection (the appender) in turn with the statements. */
  exclusive<T>(work: (raw: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.#queue.run(() => work(this.raw));
  }
  /** The SQL texts of the cached statements, least recently used first. */
  cachedStatements(): string[] {
    return [...this.#statements.keys()];
  }
  /** Connections are owned by the pool, so kysely-duckdb's release must not close them. */
  closeSync() {}
  close() {
    for (const { statement } of this.#statements.values()) statement.destroySync();
    this.#statements.clear();
    this.raw.closeSync();
  }

  /**
   * A COMMIT, or any statement outside a transaction, makes data visible: it passes through the gate. A
   * COMMIT that fails unsafely closes the gate (StoreFailedError); the ROLLBACK that Kysely sends then
   * (outside the transaction, so through the gate) fails with the same error, where DuckDB, which has
   * ended the transaction itself, would answer "no transaction is active" and hide why.
   */
  async #write(text: string, values?: DuckDBValue[]) {
    const { gate } = this.options;
    const commits = COMMIT.test(text);
    const publishes = !this.#inTransaction || commits;
    if (BEGIN.test(text)) this.#inTransaction = true;
    else if (END.test(text)) this.#inTransaction = false;
    if (!publishes) return this.raw.run(text, values);
    try {
      return await gate.commit(() => this.raw.run(text, values));
    } catch (error) {
      if (commits && isUnsafeCommitFailure(error)) throw gate.close(new StoreFailedError(error as Error));
      throw error;
    }
  }

  async #read(text: string, values?: DuckDBValue[]) {
    const { timeoutMs } = this.options;
    if (!timeoutMs) return this.#execute(text, values);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.raw.interrupt();
    }, timeoutMs);
    try {
      return await this.#execute(text, values);
    } catch (error) {
      throw timedOut ? new QueryTimeoutError(timeoutMs) : error;
    } finally {
      clearTimeout(timer);
    }
  }

  async #execute(text: string, values: DuckDBValue[] = []) {
    if (this.options.cacheSize === 0) return this.raw.run(text, values);
    let statement = this.#cached(text);
    if (!statement) {
      statement = await this.#prepare(text);
      // A string of several statements: run them all, as raw.run does, without caching.
      if (!statement) return this.raw.run(text, values);
    }
    try {
      statement.clearBindings();
      statement.bind(values);
      return await statement.run();
    } catch (error) {
      // Whatever went wrong, the next run starts from a fresh statement.
      this.#forget(text);
      throw error;
    }
  }

  /** The statement for text if it was prepared since the last commit, as the most recently used. */
  #cached(text: string): DuckDBPreparedStatement | undefined {
    const entry = this.#statements.get(text);
    if (!entry) return undefined;
    this.#statements.delete(text);
    if (entry.version !== this.options.gate.version) {
      entry.statement.destroySync();
      return undefined;
    }
    this.#statements.set(text, entry);
    return entry.statement;
  }

  async #prepare(text: string): Promise<DuckDBPreparedStatement | undefined> {
    const { version } = this.options.gate;
    const extracted = await this.raw.extractStatements(text);
    if (extracted.count !== 1) return undefined;
    const statement = await extracted.prepare(0);
    if (this.#statements.size >= this.options.cacheSize) {
      const [oldest] = this.#statements.keys();
      this.#forget(oldest!);
    }
    this.#statements.set(text, { statement, version });
    return statement;
  }

  #forget(text: string) {
    this.#statements.get(text)?.statement.destroySync();
    this.#statements.delete(text);
  }
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
    options: DuckDbConnectionOptions,
  ): Promise<DuckDbConnectionPool> {
    const pool = new DuckDbConnectionPool();
    for (let i = 0; i < size; i++) {
      const raw = await instance.connect();
      // Timestamps come back as UTC text whatever the process TZ is.
      await raw.run("SET TimeZone = 'UTC'");
      if (options.role === 'reader') {
        for (const setting of READER_SETTINGS) await raw.run(setting);
      }
      const connection = new SerialDuckDbConnection(raw, options);
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

  stats(): StoreStats['pool'] {
    return { total: this.connections.length, idle: this.#idle.length, waiting: this.#waiting.length };
  }

  closeAll() {
    for (const connection of this.connections) connection.close();
  }

  /** kysely-duckdb closes its "instance" on destroy; the pool's owner closes connections itself. */
  closeSync() {}
}

function duckDbKysely(pool: DuckDbConnectionPool, telemetry: StoreTelemetry): Kysely<Database> {
  // The pool stands in for a DuckDBInstance: kysely-duckdb only calls connect() and closeSync().
  const database = async () => pool as unknown as DuckDBInstance;
  const dialect = new DuckDbDialect({ database, tableMappings: {} });
  // kysely-duckdb's typings point at Kysely's CommonJS build; at run time both are the same module.
  return new Kysely<Database>({ dialect: telemetry.dialect(dialect as unknown as Dialect) });
}

async function openDuckDb(config: DatabaseConfig, options: StoreOptions): Promise<Store> {
  const file = config.duckdbPath;
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const instance = await openDuckDbInstance(file, options);
  try {
    await applyDuckDbSettings(instance, config);
  } catch (error) {
    instance.closeSync();
    throw error;
  }
  const gate = new CommitGate();
  const writerPool = await DuckDbConnectionPool.create(instance, 1, { gate, role: 'writer', cacheSize: 0 });
  const readerPool = await DuckDbConnectionPool.create(instance, options.readers ?? 4, {
    gate,
    role: 'reader',
    timeoutMs: config.queryTimeoutMs,
    cacheSize: options.statementCacheSize ?? config.statementCacheSize ?? STATEMENT_CACHE_SIZE,
  });
  const writerConnection = writerPool.connections[0]!;
  const telemetry = new StoreTelemetry('duckdb', isQueryTimeout);
  const writerDb = duckDbKysely(writerPool, telemetry);
  const readerDb = duckDbKysely(readerPool, telemetry);
  // The single writer: one transaction at a time on the one writer connection.
  const writes = new SerialQueue();
  const queued = <T>(work: () => Promise<T>): Promise<T> => {
    const since = performance.now();
    return writes.run(() => {
      telemetry.writerWait(performance.now() - since);
      return work();
    });
  };
  const checkpoints = CheckpointThreshold.ofFile(file);
  await checkpoints.apply(writerConnection.raw);

  return {
    engine: 'duckdb',
    db: readerDb,
    write: (work) =>
      queued(async () => {
        const result = await writerDb.transaction().execute((trx) =>
          work({
            engine: 'duckdb',
            db: trx,
            bulkInsert: (table, columns, rows) =>
              writerConnection.exclusive((raw) => appendRows(raw, table, columns, rows)),
          }),
        );
        await checkpoints.afterWrite(writerConnection.raw);
        return result;
      }),
    exclusive: (work) => queued(() => work(writerDb)),
    observe: (observer) => telemetry.observe(observer),
    stats: () => ({ pool: readerPool.stats(), writerQueue: writes.waiting }),
    async close() {
      await writes.run(async () => {
        await writerDb.destroy();
        await readerDb.destroy();
        // After a failed commit the checkpoint would write the broken table (a FATAL error): the WAL
        // keeps what was committed, for the next open to replay.
        if (!gate.closedBy) await writerConnection.raw.run('CHECKPOINT');
        writerPool.closeAll();
        readerPool.closeAll();
        instance.closeSync();
      });
    },
  };
}

/**
 * DuckDB's WAL size that triggers a checkpoint, kept at a share of the database file. DuckDB 1.5 writes
 * every ART index whole at each checkpoint (duckdb/duckdb#24848: the work is in proportion to the index,
 * not to what changed), and its default threshold of 16 MB comes about every 18,000 events here: with the
 * log's indexes at millions of rows, each checkpoint would cost seconds and each event a share of the
 * history. A threshold that grows with the file makes checkpoints rarer as they get dearer, so their
 * cost per event stays flat; the WAL to replay at start stays a fixed share of the file.
 */
export class CheckpointThreshold {
  static readonly SHARE = 1 / 8;
  static readonly MIN_BYTES = 16 * 2 ** 20;
  /** Writes between two looks at the file size. */
  static readonly EVERY = 32;
  #writes = 0;
  #bytes = 0;

  /** `size`: the database's size in bytes now; by default its file's (0 in memory). */
  constructor(private readonly size: () => number) {}

  static ofFile(file: string): CheckpointThreshold {
    return new CheckpointThreshold(() =>
      file === ':memory:' || !fs.existsSync(file) ? 0 : fs.statSync(file).size,
    );
  }

  /** The threshold for the database as it is now. */
  target(): number {
    return Math.max(CheckpointThreshold.MIN_BYTES, Math.round(this.size() * CheckpointThreshold.SHARE));
  }

  async apply(connection: DuckDBConnection): Promise<void> {
    const bytes = this.target();
    // Set again only when it moved by a quarter: SET is cheap, but not free.
    if (Math.abs(bytes - this.#bytes) < this.#bytes / 4) return;
    await connection.run(`SET GLOBAL checkpoint_threshold = '${Math.ceil(bytes / 2 ** 20)}MiB'`);
    this.#bytes = bytes;
  }

  async afterWrite(connection: DuckDBConnection): Promise<void> {
    this.#writes = (this.#writes + 1) % CheckpointThreshold.EVERY;
    if (this.#writes === 0) await this.apply(connection);
  }
}

/** What an operator is told when openDuckDbInstance() had to replay the WAL by attaching the file. */
export const WAL_RECOVERED =
  "the DuckDB file's write-ahead log was replayed by attaching the file, as DuckDB could not replay it when opening the file; every committed write is kept";

/**
 * Opens the file. After a commit that failed (StoreFailedError), DuckDB 1.5 cannot replay the WAL when it
 * opens the file as its main database (an INTERNAL error: "GetDefaultDatabase with no default database
 * set"), though the WAL is sound: attached to another database, the file replays it. So such a file is
 * attached to an in-memory database and checkpointed there, which moves the WAL into the file, then opened.
 */
async function openDuckDbInstance(file: string, options: StoreOptions): Promise<DuckDBInstance> {
  try {
    return await DuckDBInstance.create(file);
  } catch (error) {
    const reason = (error as Error).message;
    if (file === ':memory:' || !reason.includes('Failure while replaying WAL')) throw error;
    const helper = await DuckDBInstance.create(':memory:');
    try {
      const connection = await helper.connect();
      try {
        await connection.run(`ATTACH '${file.replaceAll("'", "''")}' AS recovered`);
        await connection.run('CHECKPOINT recovered');
        await connection.run('DETACH recovered');
      } finally {
        connection.closeSync();
      }
    } finally {
      helper.closeSync();
    }
    options.onWalRecovered?.(firstLine(reason));
    return DuckDBInstance.create(file);
  }
}

/** Instance-wide settings: every connection of the instance shares them. */
async function applyDuckDbSettings(instance: DuckDBInstance, config: DatabaseConfig): Promise<void> {
  const threads = config.duckdbThreads ?? DUCKDB_DEFAULT_THREADS;
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`invalid DuckDB threads: ${threads}`);
  const connection = await instance.connect();
  try {
    await connection.run(`SET GLOBAL threads = ${threads}`);
    // FSST-compressed strings are slow to fetch by row: the merge reads ~1,500 stored rows of
    // exposures_current per chunk through the key-hash index, 270 ms with FSST and 27 ms without at 100k
    // exposures (and the row groups come out smaller, as most strings there are short or repeat). The
    // log takes about twice the space for it.
    await connection.run(`SET GLOBAL disabled_compression_methods = 'fsst'`);
    if (config.duckdbMemoryLimit !== undefined) {
      // SET takes no parameters: quote the value as a string literal.
      await connection.run(`SET GLOBAL memory_limit = '${config.duckdbMemoryLimit.replaceAll("'", "''")}'`);
    }
  } finally {
    connection.closeSync();
  }
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

/**
 * The URL with the gateway's session settings ahead of any the URL's `options` has, so an operator's
 * own still win. jit=off: PostgreSQL compiles a plan whose estimated cost passes jit_above_cost, and a
 * summary over 236k exposures spent 279 ms of its 708 ms compiling; dashboard reads are short and
 * many, and none gains from it.
 */
function withSessionDefaults(url: string): string {
  const parsed = new URL(url);
  const own = parsed.searchParams.get('options');
  parsed.searchParams.set('options', ['-c jit=off', own].filter(Boolean).join(' '));
  return parsed.toString();
}

/**
 * Prepared statements kept per PostgreSQL connection: as PostGraphile keeps. Each holds its plan in the
 * server's backend.
 */
export const POSTGRES_STATEMENT_CACHE_SIZE = 100;

/**
 * Runs a connection's reads (a SELECT or WITH with parameters, outside a transaction) as named prepared
 * statements, the name a digest of the SQL text, and keeps the `cacheSize` most recently used, deallocating
 * the others. PostgreSQL then parses each read once per connection, and after five runs may keep a generic
 * plan (plan_cache_mode auto: only when its estimated cost is no worse than the custom plans'): on the
 * dashboard mix at demo size, PostgreSQL's CPU per request fell from 1.15-1.28 ms to 0.46-0.51 ms (0.85-1.03
 * ms with custom plans only). Writes keep unnamed statements: they run in transactions, once per batch.
 */
function prepareReads(client: pg.PoolClient, cacheSize: number): void {
  // The pool's clients are pg.Client: query() takes (text, values) as Kysely calls it, and other forms
  // (a config object, a cursor) that pass through untouched.
  const query = client.query.bind(client) as (config: unknown, values?: unknown) => Promise<pg.QueryResult>;
  const parsed = (client as unknown as { connection: { parsedStatements: Record<string, string> } })
    .connection.parsedStatements;
  /** Names prepared on this connection, least recently used first. */
  const names = new Set<string>();
  let inTransaction = false;
  const prepared = async (text: string, values: unknown[]) => {
    const name = `q${createHash('sha1').update(text).digest('hex').slice(0, 30)}`;
    if (names.delete(name)) names.add(name);
    else {
      if (names.size >= cacheSize) {
        const [oldest] = names;
        names.delete(oldest!);
        // Awaited before the next statement: pg would send a name it believes parsed without Parse.
        await query(`deallocate ${oldest}`);
        delete parsed[oldest!];
      }
      names.add(name);
    }
    try {
      return await query({ name, text, values });
    } catch (error) {
      if (!isStalePlan(error)) throw error;
      // A migration changed what the statement returns (another gateway's, during a rolling upgrade):
      // PostgreSQL refuses to run the old plan. Prepared again, it reads the table as it is now.
      await query(`deallocate ${name}`);
      delete parsed[name];
      return query({ name, text, values });
    }
  };
  (client as { query: unknown }).query = (config: unknown, values?: unknown) => {
    if (typeof config !== 'string' || !Array.isArray(values)) return query(config, values);
    if (BEGIN.test(config)) inTransaction = true;
    else if (END.test(config)) inTransaction = false;
    return !inTransaction && values.length > 0 && READ.test(config)
      ? prepared(config, values)
      : query(config, values);
  };
}

const READ = /^\s*(select|with)\b/i;

/** PostgreSQL's refusal to run a prepared statement whose result columns a schema change altered. */
const isStalePlan = (error: unknown) =>
  (error as { code?: unknown } | null)?.code === '0A000' &&
  /cached plan must not change result type/.test((error as Error).message);

async function openPostgres(
  url: string,
  queryTimeoutMs: number | undefined,
  cacheSize: number,
  onNotice: StoreOptions['onNotice'],
): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: withSessionDefaults(url),
    max: 10,
    ...(queryTimeoutMs ? { statement_timeout: queryTimeoutMs } : {}),
  });
  if (cacheSize > 0) pool.on('connect', (client) => prepareReads(client, cacheSize));
  if (onNotice) {
    pool.on('connect', (client) =>
      client.on('notice', (notice) =>
        onNotice({ severity: notice.severity ?? 'NOTICE', message: notice.message ?? '' }),
      ),
    );
  }
  const telemetry = new StoreTelemetry('postgres', isQueryTimeout);
  const db = new Kysely<Database>({ dialect: telemetry.dialect(new CurrentSchemaPostgresDialect({ pool })) });
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
          // One parameter per column: unnest() turns the arrays back into rows server-side. It runs on
          // this.db, so a repository's handle of the transaction (telemetry.ts, attributed) names it.
          // A column that is null in every row is left to its default, null: its array of nulls cost
          // as much to send and parse as any other (inferred events set 8 of 37 columns).
          async bulkInsert(table, columns, rows) {
            const sent = columns.flatMap((column, i) => {
              const values = rows.map((row) => row[i] ?? null);
              return values.some((value) => value !== null) ? [{ column, values }] : [];
            });
            if (sent.length === 0) {
              await sql`insert into ${sql.table(table)} select from generate_series(1, ${rows.length})`.execute(
                this.db,
              );
              return;
            }
            const arrays = sent.map(
              ({ column, values }) => sql`${values}::${sql.raw(POSTGRES_ARRAY_TYPES[column.type])}`,
            );
            await sql`insert into ${sql.table(table)} (${sql.join(sent.map(({ column }) => sql.ref(column.name)))})
              select * from unnest(${sql.join(arrays)})`.execute(this.db);
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
    observe: (observer) => telemetry.observe(observer),
    stats: () => ({ pool: { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount } }),
    close: () => db.destroy(),
  };
}
