/**
 * OpenTelemetry traces (README, "Tracing"), on only when the configuration names an exporter. Every
 * OpenTelemetry package is imported here, dynamically, once tracing starts: without OTEL_* variables none
 * is loaded. The tracer provider and its context are the gateway's own, never registered globally, so
 * gateways in one process do not see each other's spans.
 */
import type { Attributes, Context, ContextManager, Span, TextMapGetter } from '@opentelemetry/api';
import type { Sampler, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { TracingConfig } from './config.ts';
import { NO_REPOSITORY, type StatementRecord, type StoreObserver } from './db/telemetry.ts';
import type { Logger } from './log.ts';

/** Spans found again from inside them: the HTTP request's and the GraphQL operation's. */
export type SpanRole = 'request' | 'operation';

export interface SpanStart {
  /** server for the HTTP request; internal by default. */
  kind?: 'server' | 'internal';
  attributes?: Attributes;
  role?: SpanRole;
  /** The incoming request's headers: its traceparent, when it has one, is the span's parent. */
  headers?: Headers;
}

/** The gateway's tracer; as a store observer it turns every SQL statement into a span. */
export interface Tracing extends StoreObserver {
  /**
   * Runs work inside a new span, child of the active one. The span ends when work returns, or when the
   * promise it returns settles; it is marked failed when work throws or the promise rejects.
   */
  inSpan<T>(name: string, start: SpanStart, work: () => T): T;
  /** The innermost active span of the role. */
  current(role: SpanRole): Span | undefined;
  /** Marks a span failed, with a reason such as an error code (never a message: it may hold data). */
  fail(span: Span, reason: string): void;
  /** Exports the spans still buffered and stops. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** In place of the configuration's exporters; tests record spans in memory. */
  spanProcessors?: SpanProcessor[];
  /** Where failed exports are reported; OpenTelemetry would drop them silently. */
  logger?: Logger;
}

const HEADERS: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

export async function startTracing(config: TracingConfig, options: TracingOptions = {}): Promise<Tracing> {
  const [
    api,
    { AsyncLocalStorageContextManager },
    { ExportResultCode, W3CTraceContextPropagator },
    resources,
    sdk,
  ] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-base'),
  ]);
  const reported = (exporter: SpanExporter): SpanExporter => ({
    export: (spans, done) =>
      exporter.export(spans, (result) => {
        if (result.code !== ExportResultCode.SUCCESS) {
          options.logger?.warn({ spans: spans.length, error: result.error?.message }, 'trace export failed');
        }
        done(result);
      }),
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  });
  const spanProcessors =
    options.spanProcessors ??
    (await exportersOf(config)).map((exporter) => new sdk.BatchSpanProcessor(reported(exporter)));
  const provider = new sdk.BasicTracerProvider({
    resource: resources.defaultResource().merge(
      resources.resourceFromAttributes({
        ...config.resourceAttributes,
        'service.name': config.serviceName,
      }),
    ),
    sampler: samplerOf(config, sdk),
    spanProcessors,
  });
  const tracer = provider.getTracer('exposure-gateway');
  const contextManager: ContextManager = new AsyncLocalStorageContextManager().enable();
  const propagator = new W3CTraceContextPropagator();
  const roles: Record<SpanRole, symbol> = {
    request: api.createContextKey('exposure-gateway request span'),
    operation: api.createContextKey('exposure-gateway operation span'),
  };
  const fail = (span: Span, reason: string) =>
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: reason });
  const failed = (span: Span, error: unknown) => {
    fail(span, error instanceof Error ? error.name : 'error');
    span.end();
  };

  return {
    inSpan(name, start, work) {
      const active = contextManager.active();
      const parent: Context = start.headers ? propagator.extract(active, start.headers, HEADERS) : active;
      const span = tracer.startSpan(
        name,
        {
          kind: start.kind === 'server' ? api.SpanKind.SERVER : api.SpanKind.INTERNAL,
          ...(start.attributes ? { attributes: start.attributes } : {}),
        },
        parent,
      );
      let context = api.trace.setSpan(parent, span);
      if (start.role) context = context.setValue(roles[start.role], span);
      let result: ReturnType<typeof work>;
      try {
        result = contextManager.with(context, work);
      } catch (error) {
        failed(span, error);
        throw error;
      }
      // yoga's own promises are not always native ones.
      if (!isPromiseLike(result)) {
        span.end();
        return result;
      }
      return result.then(
        (value) => {
          span.end();
          return value;
        },
        (error: unknown) => {
          failed(span, error);
          throw error;
        },
      ) as typeof result;
    },

    current: (role) => contextManager.active().getValue(roles[role]) as Span | undefined,

    fail,

    statement(record: StatementRecord) {
      const operation = record.kind.toUpperCase();
      const system = record.engine === 'postgres' ? 'postgresql' : 'duckdb';
      // Reported once the statement is done, from the code that awaited it: the active span is its parent.
      const repository = record.repository === NO_REPOSITORY ? undefined : record.repository;
      const span = tracer.startSpan(
        repository ? `${operation} ${repository}` : operation,
        {
          kind: api.SpanKind.CLIENT,
          startTime: performance.timeOrigin + record.started,
          attributes: {
            'db.system': system,
            'db.system.name': system,
            'db.operation.name': operation,
            ...(repository ? { 'code.function.name': repository } : {}),
            ...(record.outcome === 'ok' ? { 'db.response.returned_rows': record.rows } : {}),
          },
        },
        contextManager.active(),
      );
      if (record.outcome !== 'ok') fail(span, record.outcome === 'timeout' ? 'QUERY_TIMEOUT' : 'error');
      span.end(performance.timeOrigin + record.ended);
    },

    async shutdown() {
      // A failed export has been reported as it failed; stopping the gateway must not fail for it.
      await provider.shutdown().catch(() => undefined);
      contextManager.disable();
    },
  };
}

const isPromiseLike = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as { then?: unknown } | null)?.then === 'function';

async function exportersOf(config: TracingConfig): Promise<SpanExporter[]> {
  const exporters: SpanExporter[] = [];
  if (config.otlp) {
    const { url, headers, protocol } = config.otlp;
    if (protocol === 'http/json') {
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
      exporters.push(new OTLPTraceExporter({ url, headers }));
    } else {
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
      exporters.push(new OTLPTraceExporter({ url, headers }));
    }
  }
  if (config.console) {
    const { ConsoleSpanExporter } = await import('@opentelemetry/sdk-trace-base');
    exporters.push(new ConsoleSpanExporter());
  }
  return exporters;
}

function samplerOf(config: TracingConfig, sdk: typeof import('@opentelemetry/sdk-trace-base')): Sampler {
  const ratio = () => new sdk.TraceIdRatioBasedSampler(config.samplerRatio);
  switch (config.sampler) {
    case 'always_on':
      return new sdk.AlwaysOnSampler();
    case 'always_off':
      return new sdk.AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_on':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new sdk.ParentBasedSampler({ root: ratio() });
  }
}
