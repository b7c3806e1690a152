/** serve's /metrics and traces in a real process: what it loads, what it exports, over real HTTP. */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/tokens.ts';
import type { Engine } from '../../src/config.ts';
import { createTestDatabase, ENGINES, type TestDatabase } from '../helpers/engines.ts';
import { Scrape } from '../helpers/metrics.ts';
import { type ServerProcess, startServer } from './process.ts';

const SECRET = 'telemetry-test-secret-long-enough';
const METRICS_TOKEN = 'telemetry-metrics-token';
const RECORD_IMPORTS = path.resolve('test/helpers/opentelemetry-imports.mjs');

/** An OTLP/HTTP collector that keeps what it is sent, and answers with `status`. */
async function startCollector(status = 200) {
  const received: { path: string; headers: http.IncomingHttpHeaders; body: Buffer }[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks) });
      response.writeHead(status, { 'content-type': request.headers['content-type'] ?? 'application/json' });
      response.end(request.headers['content-type'] === 'application/json' ? '{}' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received, close: () => new Promise((r) => server.close(r)) };
}

/** Runs serve with env, asks it for its offices, then stops it with SIGTERM; the packages it loaded. */
async function serveOnce(
  database: TestDatabase,
  dir: string,
  env: Record<string, string>,
  during: (server: ServerProcess, token: string) => Promise<void> = async () => {},
): Promise<{ loaded: string[]; stderr: string }> {
  const imports = path.join(dir, `imports-${Date.now()}.json`);
  const server = await startServer(['serve'], database.config, {
    AUTH_JWT_SECRET: SECRET,
    NODE_OPTIONS: `--import ${RECORD_IMPORTS}`,
    OPENTELEMETRY_IMPORTS_FILE: imports,
    ...env,
  });
  try {
    const token = await signToken(SECRET, { tenantId: 'acme', officeIds: ['*'], roles: ['viewer'] });
    const answered = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: 'query Offices { offices { id } }' }),
    });
    expect(await answered.json()).toEqual({ data: { offices: [] } });
    await during(server, token);
  } finally {
    server.child.kill('SIGTERM');
  }
  expect(await server.exited).toBe(0);
  return { loaded: JSON.parse(fs.readFileSync(imports, 'utf8')), stderr: server.stderr() };
}

/** Checks what a collector received, OTLP JSON or protobuf: the spans of the request and the resource. */
function expectExported(body: Buffer, engine: Engine) {
  // Protobuf keeps strings as they are, so the same names show in both encodings.
  const text = body.toString('latin1');
  for (const name of ['POST /graphql', 'query Offices', 'graphql.execute', 'SELECT findOffices']) {
    expect(text).toContain(name);
  }
  expect(text).toContain(engine === 'postgres' ? 'postgresql' : 'duckdb');
  expect(text).toContain('gateway-under-test');
  expect(text).toContain('deployment.environment');
}

for (const engine of ENGINES) {
  describe(`serve's metrics and traces on ${engine}`, () => {
    let database: TestDatabase;
    let dir: string;
    beforeAll(async () => {
      database = await createTestDatabase(engine);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exposure-gateway-telemetry-'));
    });
    afterAll(async () => {
      await database.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('serves /metrics behind METRICS_TOKEN, and loads no OpenTelemetry SDK without OTEL_* variables', async () => {
      const { loaded } = await serveOnce(database, dir, { METRICS_TOKEN }, async (server) => {
        expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
        const metrics = await fetch(`${server.url}/metrics`, {
          headers: { authorization: `Bearer ${METRICS_TOKEN}` },
        });
        expect(metrics.status).toBe(200);
        const scrape = new Scrape(await metrics.text());
        expect(
          scrape.value('exposure_gateway_graphql_requests_total', { operation: 'Offices', outcome: 'ok' }),
        ).toBe(1);
        expect(scrape.value('exposure_gateway_sql_statements_total', { repository: 'findOffices' })).toBe(1);
        expect(scrape.has('process_resident_memory_bytes')).toBe(true);
      });
      // prom-client requires the API package itself (for exemplars); no SDK, exporter or context manager.
      expect(loaded).toEqual(['@opentelemetry/api']);
    });

    it('exports its spans over OTLP/HTTP protobuf when OTEL_EXPORTER_OTLP_ENDPOINT is set', async () => {
      const collector = await startCollector();
      try {
        const { loaded, stderr } = await serveOnce(database, dir, {
          OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
          OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-key=key%20of%20the%20test',
          OTEL_SERVICE_NAME: 'gateway-under-test',
          OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test',
        });
        expect(loaded).toContain('@opentelemetry/exporter-trace-otlp-proto');
        expect(loaded).not.toContain('@opentelemetry/exporter-trace-otlp-http');
        // The batch is sent when the server shuts down, if not before.
        expect(collector.received.length).toBeGreaterThan(0);
        for (const { path: sent, headers } of collector.received) {
          expect(sent).toBe('/v1/traces');
          expect(headers['content-type']).toBe('application/x-protobuf');
          expect(headers['x-collector-key']).toBe('key of the test');
        }
        expectExported(Buffer.concat(collector.received.map((r) => r.body)), engine);
        expect(stderr).not.toContain('trace export failed');
      } finally {
        await collector.close();
      }
    });
  });
}

describe('serve exporting traces on duckdb', () => {
  let database: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    database = await createTestDatabase('duckdb');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exposure-gateway-telemetry-'));
  });
  afterAll(async () => {
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const otel = (collector: { url: string }) => ({
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${collector.url}/traces`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: 'gateway-under-test',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test',
  });

  it('exports its spans as OTLP JSON with OTEL_EXPORTER_OTLP_PROTOCOL=http/json', async () => {
    const collector = await startCollector();
    try {
      await serveOnce(database, dir, otel(collector));
      expect(collector.received.map((r) => [r.path, r.headers['content-type']])).toContainEqual([
        '/traces',
        'application/json',
      ]);
      const bodies = collector.received.map((r) => JSON.parse(r.body.toString('utf8')));
      expect(bodies[0]).toHaveProperty('resourceSpans');
      expectExported(Buffer.from(JSON.stringify(bodies)), 'duckdb');
    } finally {
      await collector.close();
    }
  });

  it('logs the exports its collector refuses, and still stops cleanly', async () => {
    const collector = await startCollector(400);
    try {
      const { stderr } = await serveOnce(database, dir, otel(collector));
      expect(collector.received.length).toBeGreaterThan(0);
      expect(stderr).toMatch(/"level":"warn".*"msg":"trace export failed"/);
    } finally {
      await collector.close();
    }
  });
});
