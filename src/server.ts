/** The HTTP server: migrate, listen, and drain on SIGTERM/SIGINT. Only the CLI starts it. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Config, ConfigError } from './config.ts';
import { openStore, type Store } from './db/database.ts';
import { migrateToLatest } from './db/migrate.ts';
import { ChangeFeed } from './ingest/changes.ts';
import { createLogger, type Logger } from './log.ts';
import { startTracing } from './tracing.ts';
import { createGateway } from './yoga.ts';

/** Production refuses to start without a way to verify tokens; demo mode brings its own secret. */
export function assertAuthConfigured(config: Config): void {
  if (config.auth.jwtSecret || config.auth.jwksFile || config.auth.demoMode) return;
  throw new ConfigError(
    'refusing to start without authentication: set AUTH_JWT_SECRET (HS256, at least 16 characters) or ' +
      'AUTH_JWKS_FILE (RS256/ES256 public keys), or DEMO_MODE=true for a local demo',
  );
}

export interface RunningServer {
  /** http://host:port, with the port actually bound (PORT=0 picks a free one). */
  url: string;
  /** Stops accepting, waits for in-flight requests (at most config.shutdownGraceMs), closes the store. */
  shutdown(): Promise<void>;
}

/** Listens with the gateway on an open, migrated store; the store is closed by shutdown(). */
export async function listen(config: Config, store: Store, logger: Logger): Promise<RunningServer> {
  const tracing = config.tracing ? await startTracing(config.tracing, { logger }) : undefined;
  const gateway = createGateway(
    { config, store, changes: new ChangeFeed(), ...(tracing ? { tracing } : {}) },
    { logger },
  );
  const server = http.createServer(gateway);
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
        logger.warn({ msg: 'grace period over: closing the remaining connections' });
        server.closeAllConnections();
      }, config.shutdownGraceMs);
      await closed;
      clearTimeout(deadline);
      await gateway.dispose();
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
  /** Called once the server listens, e.g. to print where. */
  onListening?: (url: string) => void;
}

/** Runs migrations, serves until SIGTERM/SIGINT, then drains and returns. */
export async function serve(config: Config, options: ServeOptions = {}): Promise<void> {
  assertAuthConfigured(config);
  const logger = options.logger ?? createLogger(config.logLevel);
  const store = options.store ?? (await openStore(config.database));
  let running: RunningServer;
  try {
    const { results = [] } = await migrateToLatest(store);
    for (const result of results) logger.info({ msg: 'migration applied', migration: result.migrationName });
    running = await listen(config, store, logger);
  } catch (error) {
    await store.close();
    throw error;
  }
  const stopped = nextStopSignal();
  logger.info({ msg: 'listening', url: `${running.url}/graphql`, engine: store.engine });
  options.onListening?.(running.url);
  const signal = await stopped;
  logger.info({ msg: 'draining', signal });
  await running.shutdown();
  logger.info({ msg: 'stopped' });
}
