/** The HTTP server: migrate, listen, and drain on SIGTERM/SIGINT. Only the CLI starts it. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import onHeaders from 'on-headers';
import { Admission } from './admission.ts';
import { type Config, ConfigError } from './config.ts';
import { openStore, type Store, WAL_RECOVERED } from './db/database.ts';
import { migrateToLatest } from './db/migrate.ts';
import { refusal } from './errors.ts';
import { ChangeFeed } from './ingest/changes.ts';
import { PostgresChangeFeed } from './ingest/changes-postgres.ts';
import { RedisChangeFeed } from './ingest/changes-redis.ts';
import { createLogger, type Logger } from './log.ts';
import { Metrics } from './metrics.ts';
import { startTracing } from './tracing.ts';
import { createGateway, type GatewayOptions } from './yoga.ts';

/** Production refuses to start without a way to verify tokens; demo mode brings its own secret. */
export function assertAuthConfigured(config: Config): void {
  if (config.auth.jwtSecret || config.auth.jwksFile || config.auth.demoMode) return;
  throw new ConfigError(
    'refusing to start without authentication: set AUTH_JWT_SECRET (HS256, at least 16 characters) or ' +
      'AUTH_JWKS_FILE (RS256/ES256 public keys), or DEMO_MODE=true for a local demo',
  );
}

/**
 * Probes and scrapes stay fast under any load (an overload is when they matter most): they never take
 * a turn.
 */
function takesATurn(request: http.IncomingMessage): boolean {
  const path = request.url?.split('?')[0];
  return path !== '/health' && path !== '/ready' && path !== '/metrics';
}

/** OVERLOADED: HTTP 503 with Retry-After; the request's body is never read. */
function overloaded(response: http.ServerResponse): void {
  const { status, headers, body } = refusal(
    'OVERLOADED',
    'the gateway is serving as many requests as it can and its queue is full: retry later',
    { retryAfterSeconds: 1 },
  );
  // The unread body would stay on a kept-alive connection.
  response.writeHead(status, { ...headers, connection: 'close' }).end(body);
}

/**
 * The change feed for the store: in-process on DuckDB (one process serves the file); shared by every
 * gateway on the PostgreSQL database, through Redis when REDIS_URL is set, else LISTEN/NOTIFY.
 */
export async function openChangeFeed(config: Config, store: Store, logger: Logger): Promise<ChangeFeed> {
  if (store.engine === 'duckdb') return new ChangeFeed();
  const { redisUrl } = config.changeFeed;
  try {
    return redisUrl
      ? await RedisChangeFeed.open(redisUrl, store, logger)
      : await PostgresChangeFeed.open(store, config.database.postgresUrl ?? '', logger);
  } catch (error) {
    const source = redisUrl ? 'Redis at REDIS_URL' : 'PostgreSQL at DATABASE_URL';
    throw new ConfigError(`cannot listen for changes on ${source}: ${(error as Error).message}`);
  }
}

export interface RunningServer {
  /** http://host:port, with the port actually bound (PORT=0 picks a free one). */
  url: string;
  /**
   * Stops accepting, waits for in-flight requests (at most config.shutdownGraceMs), closes the change
   * feed and the store.
   */
  shutdown(): Promise<void>;
}

/** Listens with the gateway on an open, migrated store; the store is closed by shutdown(). */
export async function listen(
  config: Config,
  store: Store,
  logger: Logger,
  options: Pick<GatewayOptions, 'demoToken'> = {},
): Promise<RunningServer> {
  const log = logger.child({ component: 'server' });
  const tracing = config.tracing
    ? await startTracing(config.tracing, { logger: logger.child({ component: 'tracing' }) })
    : undefined;
  const changes = await openChangeFeed(config, store, logger.child({ component: 'changes' }));
  const admission = new Admission(config.admission);
  const metrics = new Metrics(store);
  metrics.admission(admission);
  const gateway = createGateway(
    { config, store, changes, metrics, ...(tracing ? { tracing } : {}) },
    { ...options, logger },
  );
  const server = http.createServer((request, response) => {
    if (!takesATurn(request)) return void gateway(request, response);
    // The client's going away ends its wait in the queue, or its turn. An answered request has nothing
    // left to abandon, and an abort costs an AbortError with its stack on every request.
    const gone = new AbortController();
    response.once('close', () => {
      if (!response.writableEnded) gone.abort();
    });
    void admission.enter(gone.signal).then((end) => {
      if (!end) {
        // A client that went away while it waited was not refused: there is no one to answer.
        if (gone.signal.aborted) return;
        metrics.overloaded();
        return overloaded(response);
      }
      // A turn ends when the answer starts: a query's once it is computed, a subscription's stream at
      // its start, so a listening subscriber holds no turn (whatever headers its request carried).
      onHeaders(response, end);
      response.once('close', end);
      if (gone.signal.aborted) end();
      else void gateway(request, response);
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const failed = (error: Error) =>
        reject(
          new ConfigError(`cannot listen on ${config.host}:${config.port} (HOST, PORT): ${error.message}`),
        );
      server.once('error', failed);
      server.listen(config.port, config.host, () => {
        server.off('error', failed);
        resolve();
      });
    });
  } catch (error) {
    await changes.close();
    await tracing?.shutdown();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    url: `http://${host}:${port}`,
    async shutdown() {
      // Resolves once every connection is gone; in-flight requests finish first.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections with no request in flight would hold close() open.
      server.closeIdleConnections();
      // Long requests (subscriptions, big uploads) get the grace period, then their connections go.
      const deadline = setTimeout(() => {
        log.warn('grace period over: closing the remaining connections');
        server.closeAllConnections();
      }, config.shutdownGraceMs);
      await closed;
      clearTimeout(deadline);
      await gateway.dispose();
      // Sends what is still queued for the other gateways (through the store), then ends its connection.
      await changes.close();
      // The spans of the last requests are still buffered.
      await tracing?.shutdown();
      // On DuckDB this checkpoints the file, so the next start does not replay the WAL.
      await store.close();
    },
  };
}

/** The first SIGTERM or SIGINT; a second one falls back to Node's default and ends the process at once. */
function nextStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve(signal);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

export interface ServeOptions {
  /** An already open store (the demo seeds it first); otherwise one is opened from the configuration. */
  store?: Store;
  logger?: Logger;
  /** In demo mode, the token GraphiQL opens with. */
  demoToken?: string;
  /** Called once the server listens, e.g. to print where. */
  onListening?: (url: string) => void;
}

/** Runs migrations, serves until SIGTERM/SIGINT, then drains and returns. */
export async function serve(config: Config, options: ServeOptions = {}): Promise<void> {
  assertAuthConfigured(config);
  const logger = options.logger ?? createLogger(config.logLevel);
  const log = logger.child({ component: 'server' });
  const databaseLog = logger.child({ component: 'database' });
  const store =
    options.store ??
    (await openStore(config.database, {
      onWalRecovered: (reason) => log.warn({ reason }, WAL_RECOVERED),
      // A WARNING says something went wrong; a NOTICE (such as "already exists, skipping") does not.
      onNotice: ({ severity, message }) =>
        databaseLog[severity === 'WARNING' ? 'warn' : 'debug']({ severity }, message),
    }));
  let running: RunningServer;
  try {
    const { results = [] } = await migrateToLatest(store);
    for (const result of results) log.info({ migration: result.migrationName }, 'migration applied');
    running = await listen(config, store, logger, options.demoToken ? { demoToken: options.demoToken } : {});
  } catch (error) {
    await store.close();
    throw error;
  }
  const stopped = nextStopSignal();
  log.info({ url: `${running.url}/graphql`, engine: store.engine }, 'listening');
  options.onListening?.(running.url);
  const signal = await stopped;
  log.info({ signal }, 'draining');
  await running.shutdown();
  log.info('stopped');
}
