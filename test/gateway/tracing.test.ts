/** Traces: the spans of an HTTP request, its GraphQL operation, dataloader batches and SQL statements. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/tokens.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import { ChangeFeed } from '../../src/ingest/changes.ts';
import { startTracing, type Tracing } from '../../src/tracing.ts';
import { createGateway } from '../../src/yoga.ts';
import { ENGINES, openTestStore, type TestStore } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';
import { TEST_SECRET } from '../helpers/gateway.ts';

const TENANT = 'tracing-tenant-6d2f';
/** A caller's trace: its id and the id of the caller's span, as a W3C traceparent carries them. */
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN_ID = 'b7ad6b7169203331';

const INGEST = /* GraphQL */ `
  mutation Ingest($input: IngestExposureEventsInput!) { ingestExposureEvents(input: $input) { eventsInserted } }
`;

const EXPOSURES = /* GraphQL */ `
  query Exposures {
    exposures(first: 10) { edges { node { id events(first: 2) { edges { node { eventId } } } } } }
  }
`;

for (const engine of ENGINES) {
  describe(`traces on ${engine}`, () => {
    const exporter = new InMemorySpanExporter();
    let tracing: Tracing;
    let t: TestStore;
    let server: http.Server;
    let url: string;
    let config: Config;

    const post = async (
      query: string,
      variables: Record<string, unknown>,
      roles: ('viewer' | 'ingestor')[],
    ) => {
      const token = await signToken(TEST_SECRET, { tenantId: TENANT, officeIds: ['*'], roles });
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${token}`,
          traceparent: `00-${TRACE_ID}-${CALLER_SPAN_ID}-01`,
        },
        body: JSON.stringify({ query, variables }),
      });
      return (await response.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
    };

    beforeAll(async () => {
      config = loadConfig({
        AUTH_JWT_SECRET: TEST_SECRET,
        LOG_LEVEL: 'silent',
        OTEL_TRACES_EXPORTER: 'otlp',
      });
      // Spans are recorded in memory, each as it ends, in place of the configured OTLP exporter.
      tracing = await startTracing(config.tracing!, { spanProcessors: [new SimpleSpanProcessor(exporter)] });
      t = await openTestStore(engine);
      server = http.createServer(
        createGateway({ config, store: t.store, changes: new ChangeFeed(), tracing }),
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const events = ['a', 'b', 'c'].flatMap((exposureId) => [
        eventInput({ exposureId: `tracing-${exposureId}`, timestamp: '2026-01-10T10:00:00Z' }),
        eventInput({ exposureId: `tracing-${exposureId}`, timestamp: '2026-01-11T10:00:00Z' }),
      ]);
      const ingested = await post(INGEST, { input: { events } }, ['ingestor']);
      expect(ingested.errors).toBeUndefined();
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
      await tracing.shutdown();
      await t.close();
    });

    it('traces a request, its operation, its batches and its statements, each inside its parent', async () => {
      exporter.reset();
      const response = await post(EXPOSURES, {}, ['viewer']);
      expect(response.errors).toBeUndefined();
      const spans = exporter.getFinishedSpans();
      const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]));
      const parentOf = (span: ReadableSpan) => byId.get(span.parentSpanContext?.spanId ?? '');
      const ancestors = (span: ReadableSpan) => {
        const chain: string[] = [];
        for (let parent = parentOf(span); parent; parent = parentOf(parent)) chain.push(parent.name);
        return chain;
      };
      const one = (name: string) => {
        const named = spans.filter((span) => span.name === name);
        expect(named.map((span) => span.name)).toEqual([name]);
        return named[0]!;
      };

      // The request continues the caller's trace.
      const request = one('POST /graphql');
      expect(request.kind).toBe(SpanKind.SERVER);
      expect(request.parentSpanContext?.spanId).toBe(CALLER_SPAN_ID);
      expect(request.attributes).toMatchObject({
        'http.request.method': 'POST',
        'http.route': '/graphql',
        'http.response.status_code': 200,
      });
      for (const span of spans) expect(span.spanContext().traceId).toBe(TRACE_ID);

      const operation = one('query Exposures');
      expect(parentOf(operation)).toBe(request);
      expect(operation.attributes).toMatchObject({
        'graphql.operation.type': 'query',
        'graphql.operation.name': 'Exposures',
      });
      for (const phase of ['graphql.parse', 'graphql.validate', 'graphql.execute']) {
        expect(parentOf(one(phase))).toBe(operation);
      }

      const statements = spans.filter((span) => span.attributes['db.system'] !== undefined);
      expect(statements.map((span) => span.name).sort()).toEqual([
        'SELECT findEventsOfExposures',
        'SELECT findExposures',
      ]);
      for (const statement of statements) {
        expect(statement.kind).toBe(SpanKind.CLIENT);
        expect(statement.attributes).toMatchObject({
          'db.system': engine === 'postgres' ? 'postgresql' : 'duckdb',
          'db.operation.name': 'SELECT',
        });
        expect(ancestors(statement)).toContain('graphql.execute');
      }
      // The page of events is one batch for the three exposures, and its one statement runs inside it.
      const batch = one('batch Exposure.events');
      expect(batch.attributes['exposure_gateway.batch.keys']).toBe(3);
      expect(ancestors(batch)).toEqual(['graphql.execute', 'query Exposures', 'POST /graphql']);
      expect(parentOf(one('SELECT findEventsOfExposures'))).toBe(batch);
      expect(one('SELECT findExposures').attributes['db.response.returned_rows']).toBe(3);

      // Spans name what ran, never the data it ran on.
      const recorded = JSON.stringify(spans.map((span) => [span.name, span.attributes, span.status]));
      for (const value of [TENANT, 'tracing-a', 'berlin']) expect(recorded).not.toContain(value);
    });

    it('marks an operation that answered with an error, and the statements of a write', async () => {
      exporter.reset();
      const refused = await post(EXPOSURES.replace('query Exposures', 'query Refused'), {}, ['ingestor']);
      expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const spans = exporter.getFinishedSpans();
      const operation = spans.find((span) => span.name === 'query Refused');
      expect(operation?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'FORBIDDEN' });

      exporter.reset();
      await post(INGEST, { input: { events: [eventInput({ exposureId: 'tracing-d' })] } }, ['ingestor']);
      const written = exporter.getFinishedSpans();
      const names = written.filter((span) => span.attributes['db.system']).map((span) => span.name);
      expect(names).toContain('INSERT appendEvents');
      expect(names).toContain('COMMIT');
      const execute = written.find((span) => span.name === 'graphql.execute');
      for (const span of written.filter((s) => s.attributes['db.system'])) {
        expect(span.parentSpanContext?.spanId).toBe(execute?.spanContext().spanId);
      }
    });
  });
}
