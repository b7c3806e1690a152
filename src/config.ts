/** Environment -> typed configuration. The only module that reads process.env. */
import path from 'node:path';
import { z } from 'zod';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** `key=value,key2=value2` with percent-encoded values, as OpenTelemetry's list variables are written. */
const keyValueList = z.string().transform((text, ctx) => {
  const entries: Record<string, string> = {};
  for (const item of text.split(',')) {
    if (item.trim() === '') continue;
    const at = item.indexOf('=');
    const key = item.slice(0, at).trim();
    try {
      if (at <= 0 || key === '') throw new Error();
      entries[key] = decodeURIComponent(item.slice(at + 1).trim());
    } catch {
      ctx.addIssue({ code: 'custom', message: `"${item.trim()}" is not key=value (values percent-encoded)` });
    }
  }
  return entries;
});

const TRACE_EXPORTERS = ['otlp', 'console', 'none'] as const;
type TraceExporter = (typeof TRACE_EXPORTERS)[number];
const TRACE_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
const otlpProtocol = z.enum(['http/protobuf', 'http/json'], {
  error: 'must be http/protobuf or http/json (grpc is not available)',
});

/** Metrics and traces: METRICS_TOKEN, and the standard OpenTelemetry variables the gateway reads. */
const telemetryEnv = {
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  OTEL_SDK_DISABLED: z.string().optional(),
  OTEL_TRACES_EXPORTER: z
    .string()
    .transform((text, ctx) => {
      const names = text.split(',').map((name) => name.trim());
      for (const name of names.filter((n) => !(TRACE_EXPORTERS as readonly string[]).includes(n))) {
        ctx.addIssue({ code: 'custom', message: `"${name}" is not otlp, console or none (comma-separated)` });
      }
      return names as TraceExporter[];
    })
    .optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().url().optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: otlpProtocol.optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: otlpProtocol.optional(),
  OTEL_EXPORTER_OTLP_HEADERS: keyValueList.optional(),
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: keyValueList.optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default('exposure-gateway'),
  OTEL_RESOURCE_ATTRIBUTES: keyValueList.optional(),
  OTEL_TRACES_SAMPLER: z.enum(TRACE_SAMPLERS).default('parentbased_always_on'),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
};

const schema = z
  .object({
    DB_TYPE: z.enum(['duckdb', 'postgres']).default('duckdb'),
    DB_PATH: z.string().min(1).default('./data/exposures.duckdb'),
    DATABASE_URL: z.string().url().optional(),
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\/\S+$/, 'must be a redis:// or rediss:// URL')
      .optional(),
    HOST: z.string().min(1).default('127.0.0.1'),
    PORT: z.coerce.number().int().min(0).max(65535).default(4000),
    AUTH_JWT_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
    AUTH_JWKS_FILE: z.string().min(1).optional(),
    DEMO_MODE: z.enum(['true', 'false', '1', '0']).default('false'),
    // 2,000: on DuckDB a commit per 500 events spends most of its time per statement (bench/results/ingest.txt).
    INGEST_CHUNK_SIZE: positiveInt(2000),
    INGEST_MAX_EVENTS: positiveInt(10_000),
    INGEST_MAX_FUTURE_SKEW_SECONDS: z.coerce.number().int().min(0).default(300),
    QUARANTINE_MAX_CONTENT_BYTES: positiveInt(10 * 1024 * 1024),
    UPLOAD_MAX_BYTES: positiveInt(100 * 1024 * 1024),
    QUERY_TIMEOUT_MS: positiveInt(10_000),
    TIMELINE_MAX_BUCKETS: positiveInt(1000),
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
    GRAPHQL_MAX_DEPTH: positiveInt(10),
    GRAPHQL_MAX_ALIASES: positiveInt(20),
    GRAPHQL_MAX_TOKENS: positiveInt(2000),
    GRAPHQL_MAX_COST: positiveInt(20_000),
    REQUEST_MAX_BYTES: positiveInt(16 * 1024 * 1024),
    PERSISTED_OPERATIONS_ONLY: z.enum(['true', 'false', '1', '0']).default('false'),
    NODE_ENV: z.string().optional(),
    SHUTDOWN_GRACE_MS: positiveInt(10_000),
    RATE_LIMIT_REQUESTS: z.coerce.number().int().min(0).default(1200),
    RATE_LIMIT_WINDOW_SECONDS: positiveInt(60),
    RATE_LIMIT_STORE: z.enum(['memory', 'postgres', 'redis']).default('memory'),
    REQUESTS_MAX_IN_FLIGHT: positiveInt(64),
    REQUESTS_MAX_QUEUED: z.coerce.number().int().min(0).default(1024),
    REQUESTS_QUEUE_TIMEOUT_MS: positiveInt(10_000),
    DUCKDB_THREADS: z.coerce.number().int().positive().optional(),
    STATEMENT_CACHE_SIZE: z.coerce.number().int().min(0).optional(),
    DUCKDB_MEMORY_LIMIT: z
      .string()
      .regex(/^\d+(\.\d+)?\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)$/i, 'must be a size such as 512MB or 2GB')
      .optional(),
  })
  .extend(telemetryEnv)
  .superRefine((env, ctx) => {
    if (env.DB_TYPE === 'postgres' && !env.DATABASE_URL) {
      ctx.addIssue({ code: 'custom', path: ['DATABASE_URL'], message: 'is required when DB_TYPE=postgres' });
    }
    if (env.RATE_LIMIT_STORE === 'postgres' && env.DB_TYPE !== 'postgres') {
      ctx.addIssue({
        code: 'custom',
        path: ['RATE_LIMIT_STORE'],
        message: 'postgres keeps the counts in the database, so it needs DB_TYPE=postgres',
      });
    }
    if (env.RATE_LIMIT_STORE === 'redis' && !env.REDIS_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_URL'],
        message: 'is required when RATE_LIMIT_STORE=redis',
      });
    }
  });

export type Engine = 'duckdb' | 'postgres';

export interface DatabaseConfig {
  engine: Engine;
  /** DuckDB file (':memory:' allowed); ignored on PostgreSQL. */
  duckdbPath: string;
  postgresUrl?: string;
  /** Reads running longer are cancelled (DuckDB interrupt, PostgreSQL statement_timeout); writes are not. */
  queryTimeoutMs?: number;
  /** DuckDB worker threads for the whole instance; unset: DUCKDB_DEFAULT_THREADS (src/db/database.ts). */
  duckdbThreads?: number;
  /** DuckDB memory limit such as '2GB'; unset: DuckDB's default, 80% of RAM. */
  duckdbMemoryLimit?: string;
  /**
   * Prepared statements kept per connection for reads, by SQL text; 0 prepares none. Unset: each engine's
   * default (src/db/database.ts).
   */
  statementCacheSize?: number;
}

export interface IngestConfig {
  chunkSize: number;
  maxEventsPerCall: number;
  maxFutureSkewSeconds: number;
  quarantineMaxContentBytes: number;
  uploadMaxBytes: number;
}

/** Requests per caller (an API key, a token subject) and window; shared by instances with a store. */
export interface RateLimitConfig {
  /** 0: no limit. */
  requests: number;
  windowSeconds: number;
  store: 'memory' | 'postgres' | 'redis';
  redisUrl?: string;
}

/** How many requests run at once, how many wait for a turn and how long, before OVERLOADED. */
export interface AdmissionConfig {
  maxInFlight: number;
  maxQueued: number;
  queueTimeoutMs: number;
}

/** How the changes of committed ingests reach the subscriptions of every instance. */
export interface ChangeFeedConfig {
  /** Redis pub/sub between instances; unset on PostgreSQL: LISTEN/NOTIFY. DuckDB: always in-process. */
  redisUrl?: string;
}

export interface Config {
  database: DatabaseConfig;
  changeFeed: ChangeFeedConfig;
  host: string;
  port: number;
  auth: { jwtSecret?: string; jwksFile?: string; demoMode: boolean };
  ingest: IngestConfig;
  /** Most buckets one eventTimeline call may return per group. */
  timelineMaxBuckets: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Request limits; multipart uploads are bounded by ingest.uploadMaxBytes instead of requestMaxBytes. */
  limits: {
    maxDepth: number;
    maxAliases: number;
    maxTokens: number;
    requestMaxBytes: number;
    /** Most a document may cost (see schema/builder.ts): QUERY_TOO_COSTLY beyond. */
    maxCost: number;
    /** "Did you mean ..." in validation errors: they map the schema for anyone, so development only. */
    fieldSuggestions: boolean;
  };
  /** Only operations of the codegen manifest (src/gql/persisted-documents.json) are executed. */
  persistedOperationsOnly: boolean;
  /** How long SIGTERM waits for in-flight requests before closing their connections. */
  shutdownGraceMs: number;
  rateLimit: RateLimitConfig;
  admission: AdmissionConfig;
  /** When set, /metrics answers only requests with `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string;
  /** Set when an OTEL_* variable names a trace exporter or an OTLP endpoint; tracing is off otherwise. */
  tracing?: TracingConfig;
}

export type TraceSampler = (typeof TRACE_SAMPLERS)[number];

/** Where traces go and which are kept; see src/tracing.ts. */
export interface TracingConfig {
  serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES, beside service.name. */
  resourceAttributes: Record<string, string>;
  /** An OTLP/HTTP collector's traces URL, how to speak to it and the headers to send. */
  otlp?: { url: string; protocol: 'http/protobuf' | 'http/json'; headers: Record<string, string> };
  /** Spans printed on stdout. */
  console: boolean;
  sampler: TraceSampler;
  /** The share of traces the traceidratio samplers keep. */
  samplerRatio: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment once; a bad value throws a ConfigError naming the variable and what it allows. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid environment:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return {
    database: {
      engine: e.DB_TYPE,
      duckdbPath: e.DB_PATH === ':memory:' ? e.DB_PATH : path.resolve(e.DB_PATH),
      ...(e.DATABASE_URL ? { postgresUrl: e.DATABASE_URL } : {}),
      queryTimeoutMs: e.QUERY_TIMEOUT_MS,
      ...(e.DUCKDB_THREADS ? { duckdbThreads: e.DUCKDB_THREADS } : {}),
      ...(e.DUCKDB_MEMORY_LIMIT ? { duckdbMemoryLimit: e.DUCKDB_MEMORY_LIMIT } : {}),
      ...(e.STATEMENT_CACHE_SIZE !== undefined ? { statementCacheSize: e.STATEMENT_CACHE_SIZE } : {}),
    },
    changeFeed: e.REDIS_URL ? { redisUrl: e.REDIS_URL } : {},
    host: e.HOST,
    port: e.PORT,
    auth: {
      ...(e.AUTH_JWT_SECRET ? { jwtSecret: e.AUTH_JWT_SECRET } : {}),
      ...(e.AUTH_JWKS_FILE ? { jwksFile: e.AUTH_JWKS_FILE } : {}),
      demoMode: e.DEMO_MODE === 'true' || e.DEMO_MODE === '1',
    },
    ingest: {
      chunkSize: e.INGEST_CHUNK_SIZE,
      maxEventsPerCall: e.INGEST_MAX_EVENTS,
      maxFutureSkewSeconds: e.INGEST_MAX_FUTURE_SKEW_SECONDS,
      quarantineMaxContentBytes: e.QUARANTINE_MAX_CONTENT_BYTES,
      uploadMaxBytes: e.UPLOAD_MAX_BYTES,
    },
    timelineMaxBuckets: e.TIMELINE_MAX_BUCKETS,
    logLevel: e.LOG_LEVEL,
    limits: {
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxAliases: e.GRAPHQL_MAX_ALIASES,
      maxTokens: e.GRAPHQL_MAX_TOKENS,
      maxCost: e.GRAPHQL_MAX_COST,
      requestMaxBytes: e.REQUEST_MAX_BYTES,
      fieldSuggestions: e.NODE_ENV === 'development',
    },
    persistedOperationsOnly: e.PERSISTED_OPERATIONS_ONLY === 'true' || e.PERSISTED_OPERATIONS_ONLY === '1',
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    rateLimit: {
      requests: e.RATE_LIMIT_REQUESTS,
      windowSeconds: e.RATE_LIMIT_WINDOW_SECONDS,
      store: e.RATE_LIMIT_STORE,
      ...(e.REDIS_URL ? { redisUrl: e.REDIS_URL } : {}),
    },
    admission: {
      maxInFlight: e.REQUESTS_MAX_IN_FLIGHT,
      maxQueued: e.REQUESTS_MAX_QUEUED,
      queueTimeoutMs: e.REQUESTS_QUEUE_TIMEOUT_MS,
    },
    ...(e.METRICS_TOKEN ? { metricsToken: e.METRICS_TOKEN } : {}),
    ...tracingConfig(e),
  };
}

/** OTLP/HTTP's default collector address. */
const DEFAULT_OTLP_TRACES_URL = 'http://localhost:4318/v1/traces';

/**
 * Tracing is on when OTEL_TRACES_EXPORTER names an exporter, or when an OTLP endpoint is set (OTLP being
 * the default exporter), unless OTEL_SDK_DISABLED=true.
 */
function tracingConfig(e: z.infer<typeof schema>): { tracing?: TracingConfig } {
  if (e.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return {};
  const endpoint =
    e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (e.OTEL_EXPORTER_OTLP_ENDPOINT && `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`);
  const exporters = new Set<TraceExporter>(e.OTEL_TRACES_EXPORTER ?? (endpoint ? ['otlp'] : []));
  if (!exporters.has('otlp') && !exporters.has('console')) return {};
  return {
    tracing: {
      serviceName: e.OTEL_SERVICE_NAME,
      resourceAttributes: e.OTEL_RESOURCE_ATTRIBUTES ?? {},
      ...(exporters.has('otlp')
        ? {
            otlp: {
              url: endpoint || DEFAULT_OTLP_TRACES_URL,
              protocol:
                e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
              headers: { ...e.OTEL_EXPORTER_OTLP_HEADERS, ...e.OTEL_EXPORTER_OTLP_TRACES_HEADERS },
            },
          }
        : {}),
      console: exporters.has('console'),
      sampler: e.OTEL_TRACES_SAMPLER,
      samplerRatio: e.OTEL_TRACES_SAMPLER_ARG,
    },
  };
}
