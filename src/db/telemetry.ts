/**
 * Query telemetry: the store reports every statement it runs to its observers (the gateway's metrics and
 * traces), with the repository function that ran it. A repository names its statements by running them
 * through `attributed(db, itself)`: a Kysely plugin tags each statement's query id, which the observed
 * driver reads back. That costs a WeakMap entry per statement; no stack is ever captured.
 */
import type {
  CompiledQuery,
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely,
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryCompiler,
  QueryId,
  QueryResult,
  RootOperationNode,
  TransactionSettings,
  UnknownRow,
} from 'kysely';
import type { Engine } from '../config.ts';
import type { WriteTransaction } from './database.ts';
import type { Database } from './tables.ts';

/** What a statement does, from its query node or its leading keyword. */
export type StatementKind =
  | 'select'
  | 'insert'
  | 'update'
  | 'delete'
  | 'merge'
  | 'begin'
  | 'commit'
  | 'rollback'
  | 'set'
  | 'ddl'
  | 'other';

/** ok, failed, or cancelled by the query timeout. */
export type StatementOutcome = 'ok' | 'error' | 'timeout';

/** Statements run outside any repository function: transaction control, session settings, migrations. */
export const NO_REPOSITORY = 'none';

export interface StatementRecord {
  engine: Engine;
  /** The repository function that ran it, or NO_REPOSITORY. */
  repository: string;
  kind: StatementKind;
  outcome: StatementOutcome;
  /** performance.now() when it was sent and when its answer (or error) came back. */
  started: number;
  ended: number;
  /** Rows it returned, or for a write without RETURNING the rows it changed; 0 when it failed. */
  rows: number;
}

/** Told of every statement of a store, and on DuckDB of every wait for the single writer. */
export interface StoreObserver {
  statement?(record: StatementRecord): void;
  /** A write waited this many milliseconds before the writer took it (DuckDB). */
  writerWait?(ms: number): void;
}

export interface StoreStats {
  /** The connections reads run on: PostgreSQL's pool, DuckDB's reader connections. */
  pool: { total: number; idle: number; waiting: number };
  /** Writes queued behind the single writer and not started yet; undefined on PostgreSQL. */
  writerQueue?: number;
}

/** The observers of one store, and the driver wrapper that reports its statements to them. */
export class StoreTelemetry {
  #observers: readonly StoreObserver[] = [];

  constructor(
    readonly engine: Engine,
    private readonly isTimeout: (error: unknown) => boolean,
  ) {}

  /** Reports to observer until the returned function is called. */
  observe(observer: StoreObserver): () => void {
    this.#observers = [...this.#observers, observer];
    return () => {
      this.#observers = this.#observers.filter((o) => o !== observer);
    };
  }

  get observed(): boolean {
    return this.#observers.length > 0;
  }

  writerWait(ms: number): void {
    for (const observer of this.#observers) observer.writerWait?.(ms);
  }

  /** The dialect with its driver's statements reported. */
  dialect(inner: Dialect): Dialect {
    return new ObservedDialect(inner, this);
  }

  report(query: CompiledQuery, outcome: StatementOutcome, started: number, rows: number): void {
    const record: StatementRecord = {
      engine: this.engine,
      repository: repositories.get(query.queryId) ?? NO_REPOSITORY,
      kind: kindOf(query),
      outcome,
      started,
      ended: performance.now(),
      rows,
    };
    for (const observer of this.#observers) observer.statement?.(record);
  }

  outcomeOf(error: unknown): StatementOutcome {
    return this.isTimeout(error) ? 'timeout' : 'error';
  }
}

class ObservedDialect implements Dialect {
  constructor(
    private readonly inner: Dialect,
    private readonly telemetry: StoreTelemetry,
  ) {}
  createAdapter(): DialectAdapter {
    return this.inner.createAdapter();
  }
  createDriver(): Driver {
    return new ObservedDriver(this.inner.createDriver(), this.telemetry);
  }
  createQueryCompiler(): QueryCompiler {
    return this.inner.createQueryCompiler();
  }
  // biome-ignore lint/suspicious/noExplicitAny: Dialect's own signature.
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return this.inner.createIntrospector(db);
  }
}

/**
 * The engine's driver with its connections wrapped. Transaction control goes through the wrapped
 * connection too (both engines' drivers send BEGIN, COMMIT and ROLLBACK as statements), so a DuckDB
 * commit that waits for readers shows up; releasing hands the driver back its own connection.
 */
class ObservedDriver implements Driver {
  readonly #wrapped = new WeakMap<DatabaseConnection, ObservedConnection>();

  constructor(
    private readonly inner: Driver,
    private readonly telemetry: StoreTelemetry,
  ) {}

  init() {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await this.inner.acquireConnection();
    let wrapped = this.#wrapped.get(connection);
    if (!wrapped) {
      wrapped = new ObservedConnection(connection, this.telemetry);
      this.#wrapped.set(connection, wrapped);
    }
    return wrapped;
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings) {
    return this.inner.beginTransaction(connection, settings);
  }

  commitTransaction(connection: DatabaseConnection) {
    return this.inner.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection) {
    return this.inner.rollbackTransaction(connection);
  }

  releaseConnection(connection: DatabaseConnection) {
    return this.inner.releaseConnection((connection as ObservedConnection).inner);
  }

  destroy() {
    return this.inner.destroy();
  }
}

class ObservedConnection implements DatabaseConnection {
  constructor(
    readonly inner: DatabaseConnection,
    private readonly telemetry: StoreTelemetry,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (!this.telemetry.observed) return this.inner.executeQuery<R>(query);
    const started = performance.now();
    let result: QueryResult<R>;
    try {
      result = await this.inner.executeQuery<R>(query);
    } catch (error) {
      this.telemetry.report(query, this.telemetry.outcomeOf(error), started, 0);
      throw error;
    }
    const rows = result.rows.length > 0 ? result.rows.length : Number(result.numAffectedRows ?? 0);
    this.telemetry.report(query, 'ok', started, rows);
    return result;
  }

  // The gateway streams no statement; a stream would go unreported.
  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

const NODE_KINDS: Partial<Record<RootOperationNode['kind'], StatementKind>> = {
  SelectQueryNode: 'select',
  InsertQueryNode: 'insert',
  UpdateQueryNode: 'update',
  DeleteQueryNode: 'delete',
  MergeQueryNode: 'merge',
};

const KEYWORD_KINDS = new Map<string, StatementKind>([
  ['select', 'select'],
  ['values', 'select'],
  ['insert', 'insert'],
  ['update', 'update'],
  ['delete', 'delete'],
  ['merge', 'merge'],
  ['begin', 'begin'],
  ['start', 'begin'],
  ['commit', 'commit'],
  ['end', 'commit'],
  ['rollback', 'rollback'],
  ['abort', 'rollback'],
  ['set', 'set'],
  ['reset', 'set'],
  ['create', 'ddl'],
  ['alter', 'ddl'],
  ['drop', 'ddl'],
]);

const LEADING_WORD = /^[\s(]*([a-z]+)/i;
/** Parentheses, and the keywords that can start the statement that follows a WITH clause. */
const WITH_BODY = /[()]|\b(select|insert|update|delete|merge)\b/gi;

function kindOf(query: CompiledQuery): StatementKind {
  const byNode = NODE_KINDS[query.query.kind];
  if (byNode) return byNode;
  const word = LEADING_WORD.exec(query.sql)?.[1]?.toLowerCase();
  if (word === 'with') return withKind(query.sql);
  return (word === undefined ? undefined : KEYWORD_KINDS.get(word)) ?? 'other';
}

/** The statement after a raw WITH clause: the first of its keywords outside the CTEs' parentheses. */
function withKind(text: string): StatementKind {
  let depth = 0;
  for (const match of text.matchAll(WITH_BODY)) {
    if (match[0] === '(') depth++;
    else if (match[0] === ')') depth--;
    else if (depth === 0) return KEYWORD_KINDS.get(match[0].toLowerCase()) ?? 'other';
  }
  return 'other';
}

/** The repository function each tagged statement belongs to, by query id. */
const repositories = new WeakMap<QueryId, string>();

class RepositoryName implements KyselyPlugin {
  constructor(readonly name: string) {}

  transformQuery({ node, queryId }: PluginTransformQueryArgs): RootOperationNode {
    repositories.set(queryId, this.name);
    return node;
  }

  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return result;
  }
}

const plugins = new Map<string, RepositoryName>();
const handles = new WeakMap<Kysely<Database>, Map<string, Kysely<Database>>>();

/**
 * The handle whose statements count for the repository function `fn` (by its name), for query
 * telemetry. Inside it, a repository called with the handle names its own statements: the innermost
 * name wins. Handles are kept per database and name, so a read costs no new Kysely instance.
 */
export function attributed<T extends Kysely<Database> | WriteTransaction>(
  target: T,
  fn: (...args: never[]) => unknown,
): T {
  if ('bulkInsert' in target) return { ...target, db: attributed(target.db, fn) };
  let byName = handles.get(target);
  if (!byName) {
    byName = new Map();
    handles.set(target, byName);
  }
  let handle = byName.get(fn.name);
  if (!handle) {
    let plugin = plugins.get(fn.name);
    if (!plugin) {
      plugin = new RepositoryName(fn.name);
      plugins.set(fn.name, plugin);
    }
    handle = target.withPlugin(plugin);
    byName.set(fn.name, handle);
  }
  return handle as T;
}
