/** RATE_LIMIT_*: requests per caller and window, RATE_LIMITED (HTTP 429, Retry-After) beyond. */
import type { Plugin } from 'graphql-yoga';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  RateLimiterMemory,
  RateLimiterPostgres,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterStoreAbstract,
} from 'rate-limiter-flexible';
import type { Principal } from '../auth/principal.ts';
import type { Config } from '../config.ts';
import type { GatewayContext } from '../context.ts';
import { DomainError } from '../domain.ts';

const KEY_PREFIX = 'exposure-gateway';

/** The counts every instance shares, in PostgreSQL or Redis, with what has to be closed at the end. */
function sharedLimiter(config: Config, options: { points: number; duration: number }) {
  // A store that cannot be reached does not take the API down: each instance counts on its own until
  // the store answers again.
  const insuranceLimiter = new RateLimiterMemory({ ...options, keyPrefix: KEY_PREFIX });
  if (config.rateLimit.store === 'redis') {
    // No offline queue: while Redis is away a request falls back at once instead of waiting for it.
    const redis = new Redis(config.rateLimit.redisUrl ?? '', {
      enableOfflineQueue: false,
      lazyConnect: false,
    });
    const limiter = new RateLimiterRedis({
      ...options,
      keyPrefix: KEY_PREFIX,
      storeClient: redis,
      insuranceLimiter,
    });
    // Counted in Redis from the first request: until it answers (or fails), requests wait for it.
    const ready = new Promise<void>((resolve) => {
      redis.once('ready', resolve);
      redis.once('error', () => resolve());
    });
    return { limiter, ready, close: async () => void redis.disconnect() };
  }
  const pool = new pg.Pool({ connectionString: config.database.postgresUrl, max: 2 });
  let limiter!: RateLimiterStoreAbstract;
  // The library makes its table (rate_limits: key, points, expire) on first use of a database.
  const ready = new Promise<void>((resolve, reject) => {
    limiter = new RateLimiterPostgres(
      {
        ...options,
        keyPrefix: KEY_PREFIX,
        storeClient: pool,
        storeType: 'pool',
        tableName: 'rate_limits',
        insuranceLimiter,
      },
      (error?: Error) => (error ? reject(error) : resolve()),
    );
  });
  return { limiter, ready, close: () => pool.end() };
}

/**
 * Every operation costs its caller one request: an API key counts by its id, a JWT by its subject
 * (within its tenant). The count is kept in memory by default, one per instance; with
 * RATE_LIMIT_STORE=postgres or redis every instance shares it.
 */
export function useRateLimit(config: Config): Plugin<GatewayContext> {
  const { requests, windowSeconds, store } = config.rateLimit;
  if (requests === 0) return {};
  const options = { points: requests, duration: windowSeconds };
  const shared = store === 'memory' ? undefined : sharedLimiter(config, options);
  const limiter = shared?.limiter ?? new RateLimiterMemory({ ...options, keyPrefix: KEY_PREFIX });

  const consume = async (principal: Principal) => {
    await shared?.ready;
    try {
      await limiter.consume(`${principal.tenantId}:${principal.subject}`);
    } catch (refusal) {
      if (!(refusal instanceof RateLimiterRes)) throw refusal;
      const retryAfterSeconds = Math.max(1, Math.ceil(refusal.msBeforeNext / 1000));
      throw new DomainError(
        'RATE_LIMITED',
        `more than ${requests} requests in ${windowSeconds} s for this caller: retry in ${retryAfterSeconds} s`,
        { retryAfterSeconds, limit: requests, windowSeconds },
      );
    }
  };
  return {
    onExecute: ({ args }) => consume(args.contextValue.principal),
    onSubscribe: ({ args }) => consume(args.contextValue.principal),
    onDispose: () => shared?.close(),
  };
}
