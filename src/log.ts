/**
 * Structured logs with pino: one JSON object per line on stderr, so stdout stays free for command
 * output. Every line logged while a request is served carries its request id, whichever component logs
 * it: the id lives in the request's async context, not in the logger a caller happens to hold.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { pino } from 'pino';
import type { Config } from './config.ts';

export type Logger = pino.Logger;

/** What the log knows of the request being served. */
export interface RequestScope {
  readonly requestId: string;
  /** performance.now() when the request came in. */
  readonly started: number;
  operation?: string;
  tenant?: string;
  subject?: string;
}

const requests = new AsyncLocalStorage<RequestScope>();

/** Runs `serve` (and everything it starts) as the request `scope`. */
export function withRequestScope<T>(scope: RequestScope, serve: () => T): T {
  return requests.run(scope, serve);
}

/** The request being served, when there is one. */
export function currentRequest(): RequestScope | undefined {
  return requests.getStore();
}

/**
 * Secrets never reach a log line, whatever object a caller passes: bearer headers, tokens, API keys
 * and the JWT secret, at the top level and one level down (headers, config objects).
 */
const REDACTED = ['authorization', 'token', 'apiKey', 'jwtSecret', 'secret', 'password'].flatMap((key) => [
  key,
  `*.${key}`,
]);

/**
 * Also yoga's logger: it reports unexpected (masked) errors through error(). `destination` is where
 * lines go (stderr by default, synchronously, so the last lines before an exit are not lost).
 */
export function createLogger(
  level: Config['logLevel'],
  destination: pino.DestinationStream = pino.destination({ dest: 2, sync: true }),
): Logger {
  return pino(
    {
      level,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED, censor: '[redacted]' },
      mixin: () => {
        const request = requests.getStore();
        return request ? { requestId: request.requestId } : {};
      },
    },
    destination,
  );
}
