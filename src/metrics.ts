/**
 * The gateway's Prometheus metrics (README, "Metrics"). Each gateway has a registry of its own, never
 * prom-client's global one, so any number of gateways live in one process. No label carries a tenant, an
 * office, a token or query text: operations are labelled by the client's operation name, bounded.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Store } from './db/database.ts';
import type { StatementRecord, StoreObserver } from './db/telemetry.ts';

const PREFIX = 'exposure_gateway_';

/** Most distinct operation names labelled per gateway; later new names count as OTHER_OPERATION. */
export const OPERATION_NAMES_MAX = 100;
const OPERATION_NAME_MAX_LENGTH = 100;
export const ANONYMOUS_OPERATION = 'anonymous';
export const OTHER_OPERATION = 'other';
/** The request never had a parsed document: malformed, refused before parsing (CSRF), or not JSON. */
export const UNKNOWN_OPERATION = 'unknown';

const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export type GraphQLPhase = 'parse' | 'validate' | 'execute' | 'subscribe';
export type IngestedEvents = Record<'inserted' | 'duplicate' | 'rejected', number>;
const QUARANTINE_ACTIONS = ['quarantined', 'replayed', 'replay_failed', 'discarded'] as const;
export type QuarantineAction = (typeof QUARANTINE_ACTIONS)[number];

export class Metrics implements StoreObserver {
  readonly registry = new Registry();
  #processMetrics = false;
  readonly #operations = new Set<string>();

  readonly #requests = new Counter({
    name: `${PREFIX}graphql_requests_total`,
    help: 'GraphQL requests by operation name and outcome: ok, or the code of the first error.',
    labelNames: ['operation', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly #phases = new Histogram({
    name: `${PREFIX}graphql_phase_duration_seconds`,
    help: 'Time spent parsing, validating, executing (or subscribing) a GraphQL operation.',
    labelNames: ['phase', 'operation'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly #statements = new Counter({
    name: `${PREFIX}sql_statements_total`,
    help: 'SQL statements by repository function, kind and outcome (ok, error, timeout).',
    labelNames: ['repository', 'kind', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly #statementSeconds = new Histogram({
    name: `${PREFIX}sql_statement_duration_seconds`,
    help: 'SQL statement time, from sending it to its answer, failed ones included.',
    labelNames: ['repository', 'kind'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly #statementRows = new Histogram({
    name: `${PREFIX}sql_statement_rows`,
    help: 'Rows a successful SQL statement returned, or changed when it returned none.',
    labelNames: ['repository', 'kind'] as const,
    buckets: [0, 1, 10, 100, 1000, 10_000, 100_000],
    registers: [this.registry],
  });
  readonly #events = new Counter({
    name: `${PREFIX}ingest_events_total`,
    help: 'Ingested events by result: inserted, duplicate, or rejected by validation or authorization.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly #quarantine = new Counter({
    name: `${PREFIX}quarantine_files_total`,
    help: 'Quarantine events: a file quarantined, replayed, failing its replay again, or discarded.',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
  readonly #writerWait?: Histogram;

  readonly #overloaded = new Counter({
    name: `${PREFIX}http_overloaded_total`,
    help: 'Requests answered 503 OVERLOADED: the queue was full, or they waited longer than its timeout.',
    registers: [this.registry],
  });

  constructor(store: Pick<Store, 'engine' | 'stats'>) {
    const registers = [this.registry];
    // Fixed label sets start at 0, so a rate over them exists before the first event.
    for (const result of ['inserted', 'duplicate', 'rejected']) this.#events.inc({ result }, 0);
    for (const action of QUARANTINE_ACTIONS) this.#quarantine.inc({ action }, 0);
    new Gauge({
      name: `${PREFIX}info`,
      help: 'Always 1; the engine label names the storage engine.',
      labelNames: ['engine'] as const,
      registers,
    }).set({ engine: store.engine }, 1);
    // Read when scraped: the pool as it is at that moment.
    const pool = (
      name: string,
      help: string,
      read: (p: { total: number; idle: number; waiting: number }) => number,
    ) =>
      new Gauge({
        name: `${PREFIX}db_pool_${name}`,
        help,
        registers,
        collect() {
          this.set(read(store.stats().pool));
        },
      });
    pool(
      'total',
      'Connections of the pool reads run on (PostgreSQL: every connection; DuckDB: the readers).',
      (p) => p.total,
    );
    pool('idle', 'Connections of the pool not in use.', (p) => p.idle);
    pool('waiting', 'Requests waiting for a connection of the pool.', (p) => p.waiting);
    if (store.engine === 'duckdb') {
      new Gauge({
        name: `${PREFIX}db_writer_queue_depth`,
        help: "Writes waiting for DuckDB's single writer.",
        registers,
        collect() {
          this.set(store.stats().writerQueue ?? 0);
        },
      });
      this.#writerWait = new Histogram({
        name: `${PREFIX}db_writer_wait_seconds`,
        help: "How long a write waited for DuckDB's single writer before it started.",
        buckets: SECONDS,
        registers,
      });
    }
  }

  /** Requests running and waiting for a turn (REQUESTS_MAX_*), read when scraped. */
  admission(source: { readonly inFlight: number; readonly queued: number }): void {
    const registers = [this.registry];
    new Gauge({
      name: `${PREFIX}http_requests_in_flight`,
      help: 'Requests being computed, a subscription until its stream starts; probes and scrapes are not counted.',
      registers,
      collect() {
        this.set(source.inFlight);
      },
    });
    new Gauge({
      name: `${PREFIX}http_requests_queued`,
      help: 'Requests waiting for a turn.',
      registers,
      collect() {
        this.set(source.queued);
      },
    });
  }

  overloaded(): void {
    this.#overloaded.inc();
  }

  /**
   * The label for an operation name. Only operations that ran (authenticated and valid) bring a new name,
   * at most OPERATION_NAMES_MAX of them and none longer than OPERATION_NAME_MAX_LENGTH, so neither clients
   * without a token nor clients that invent names can grow the series; other names count as "other".
   */
  operation(name: string | null, ran: boolean): string {
    if (name === null) return ANONYMOUS_OPERATION;
    if (this.#operations.has(name)) return name;
    if (!ran || this.#operations.size >= OPERATION_NAMES_MAX || name.length > OPERATION_NAME_MAX_LENGTH) {
      return OTHER_OPERATION;
    }
    this.#operations.add(name);
    return name;
  }

  request(operation: string, outcome: string): void {
    this.#requests.inc({ operation, outcome });
  }

  phase(phase: GraphQLPhase, operation: string, seconds: number): void {
    this.#phases.observe({ phase, operation }, seconds);
  }

  statement(record: StatementRecord): void {
    const { repository, kind } = record;
    this.#statements.inc({ repository, kind, outcome: record.outcome });
    this.#statementSeconds.observe({ repository, kind }, (record.ended - record.started) / 1000);
    if (record.outcome === 'ok') this.#statementRows.observe({ repository, kind }, record.rows);
  }

  writerWait(ms: number): void {
    this.#writerWait?.observe(ms / 1000);
  }

  ingested(events: IngestedEvents): void {
    for (const [result, count] of Object.entries(events)) if (count > 0) this.#events.inc({ result }, count);
  }

  quarantine(action: QuarantineAction): void {
    this.#quarantine.inc({ action });
  }

  /**
   * The exposition text. Process metrics start with the first scrape: each collection keeps a GC observer
   * and an event-loop monitor for good, which gateways nobody scrapes (tests make hundreds) should not pay.
   */
  async scrape(): Promise<string> {
    if (!this.#processMetrics) {
      collectDefaultMetrics({ register: this.registry });
      this.#processMetrics = true;
    }
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
