/** /metrics: what each metric counts after queries, ingests and the quarantine, on both engines. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics, OPERATION_NAMES_MAX } from '../../src/metrics.ts';
import { createGateway } from '../../src/yoga.ts';
import { ENGINES } from '../helpers/engines.ts';
import { type EventInput, eventInput } from '../helpers/events.ts';
import { type GraphQLResponse, openTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { type Scrape, scrape } from '../helpers/metrics.ts';

const METRICS_TOKEN = 'metrics-token-long-enough';

const INGEST = /* GraphQL */ `
  mutation Ingest($input: IngestExposureEventsInput!) {
    ingestExposureEvents(input: $input) { eventsInserted eventsDuplicate rejected { index } }
  }
`;

const OUTCOME = /* GraphQL */ `
  fragment Outcome on ScanFileResult {
    ingest { eventsInserted }
    quarantinedFile { id status replayCount }
  }
`;

const UPLOAD = /* GraphQL */ `
  mutation Upload($file: File!, $officeId: ID!, $scannerType: String!) {
    ingestScanFile(file: $file, officeId: $officeId, scannerType: $scannerType) { ...Outcome }
  }
  ${OUTCOME}
`;

const REPLAY = /* GraphQL */ `
  mutation Replay($id: ID!, $file: File) { replayQuarantinedFile(id: $id, file: $file) { ...Outcome } }
  ${OUTCOME}
`;

interface Outcome {
  ingest: { eventsInserted: number } | null;
  quarantinedFile: { id: string; status: string; replayCount: number } | null;
}

/** How far each sample moved between two scrapes. */
const moved =
  (before: Scrape, after: Scrape) =>
  (name: string, labels: Record<string, string> = {}) =>
    after.value(name, labels) - before.value(name, labels);

/** A GraphQL multipart request carrying `content` as variables.file, as an upload client sends it. */
async function withFile<T>(
  g: TestGateway,
  token: string,
  query: string,
  variables: Record<string, unknown>,
  content: string,
): Promise<GraphQLResponse<T>> {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables: { ...variables, file: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new File([content], 'scan.jsonl'));
  const response = await g.yoga.fetch('http://gateway/graphql', {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'x-graphql-yoga-csrf': '1' },
    body: form,
  });
  return { status: response.status, ...((await response.json()) as object) } as GraphQLResponse<T>;
}

for (const engine of ENGINES) {
  describe(`metrics on ${engine}`, () => {
    let g: TestGateway;
    let tenants = 0;

    /** A tenant of its own for a test, with tokens; its ids are made to be found if they leak. */
    async function newTenant() {
      const tenantId = `metrics-tenant-${++tenants}-7f3a9c`;
      const token = (roles: ('viewer' | 'ingestor' | 'admin')[]) => g.token({ tenantId, roles });
      return {
        tenantId,
        viewer: await token(['viewer']),
        ingestor: await token(['ingestor']),
        admin: await token(['admin']),
      };
    }

    const ingest = (token: string, events: EventInput[], skipInvalid = false) =>
      g.graphql<{ ingestExposureEvents: { eventsInserted: number; eventsDuplicate: number } }>(
        INGEST,
        { input: { events, skipInvalid } },
        token,
      );

    beforeAll(async () => {
      g = await openTestGateway(engine, { METRICS_TOKEN });
    });
    afterAll(async () => g.close());

    it('answers /metrics only to the METRICS_TOKEN bearer token', async () => {
      const metrics = (init: RequestInit = {}) => g.yoga.fetch('http://gateway/metrics', init);
      const missing = await metrics();
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect(await missing.text()).not.toContain('exposure_gateway_');
      for (const authorization of [`Bearer ${METRICS_TOKEN}x`, METRICS_TOKEN, `Basic ${METRICS_TOKEN}`]) {
        expect((await metrics({ headers: { authorization } })).status).toBe(401);
      }
      const answered = await metrics({ headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      expect(answered.status).toBe(200);
      expect(answered.headers.get('content-type')).toContain('text/plain; version=0.0.4');
      expect(await answered.text()).toContain('exposure_gateway_info{engine="');
      const posted = await metrics({ method: 'POST', headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      expect(posted.status).toBe(405);
    });

    it('counts a query by operation and outcome, times its phases and attributes its statements', async () => {
      const t = await newTenant();
      await ingest(
        t.ingestor,
        ['a', 'b', 'c'].map((exposureId) => eventInput({ exposureId })),
      );
      const before = await scrape(g.yoga, METRICS_TOKEN);
      const query = await g.graphql(
        'query Dashboard { exposures(first: 10) { totalCount edges { node { id } } } }',
        {},
        t.viewer,
      );
      expect(query.errors).toBeUndefined();
      const forbidden = await g.graphql(INGEST, { input: { events: [eventInput()] } }, t.viewer);
      expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      await g.graphql('query Broken { exposures(', {}, t.viewer);
      await g.graphql('{ offices { id } }', {}, t.viewer);
      const after = await scrape(g.yoga, METRICS_TOKEN);
      const delta = moved(before, after);

      const requests = 'exposure_gateway_graphql_requests_total';
      expect(delta(requests, { operation: 'Dashboard', outcome: 'ok' })).toBe(1);
      expect(delta(requests, { operation: 'Ingest', outcome: 'FORBIDDEN' })).toBe(1);
      // A document that does not parse has no operation.
      expect(delta(requests, { operation: 'unknown', outcome: 'GRAPHQL_PARSE_FAILED' })).toBe(1);
      expect(delta(requests, { operation: 'anonymous', outcome: 'ok' })).toBe(1);
      expect(delta(requests)).toBe(4);

      const phases = 'exposure_gateway_graphql_phase_duration_seconds';
      for (const phase of ['parse', 'validate', 'execute']) {
        expect(delta(`${phases}_count`, { phase, operation: 'Dashboard' })).toBe(1);
        expect(delta(`${phases}_sum`, { phase, operation: 'Dashboard' })).toBeGreaterThan(0);
        expect(delta(`${phases}_bucket`, { phase, operation: 'Dashboard', le: '+Inf' })).toBe(1);
      }

      const page = { repository: 'findExposures', kind: 'select' };
      expect(delta('exposure_gateway_sql_statements_total', { ...page, outcome: 'ok' })).toBe(1);
      // totalCount, read from the exposure counts.
      const total = { repository: 'countExposuresByStatusAndSeverity', outcome: 'ok' };
      expect(delta('exposure_gateway_sql_statements_total', total)).toBe(1);
      expect(delta('exposure_gateway_sql_statement_duration_seconds_count', page)).toBe(1);
      expect(delta('exposure_gateway_sql_statement_duration_seconds_sum', page)).toBeGreaterThan(0);
      expect(delta('exposure_gateway_sql_statement_rows_count', page)).toBe(1);
      expect(delta('exposure_gateway_sql_statement_rows_sum', page)).toBe(3);
      expect(delta('exposure_gateway_sql_statement_rows_bucket', { ...page, le: '1' })).toBe(0);
      expect(delta('exposure_gateway_sql_statement_rows_bucket', { ...page, le: '10' })).toBe(1);
    });

    it('counts operation names only once an operation ran, anonymous ones as anonymous', async () => {
      const t = await newTenant();
      const document = 'query Probe { offices { id } }';
      const before = await scrape(g.yoga, METRICS_TOKEN);
      const refused = await g.graphql(document, {}, 'not-a-token');
      expect(refused.status).toBe(401);
      await g.graphql(document, {}, t.viewer);
      await g.graphql(document, {}, 'not-a-token');
      const delta = moved(before, await scrape(g.yoga, METRICS_TOKEN));
      const requests = 'exposure_gateway_graphql_requests_total';
      expect(delta(requests, { operation: 'other', outcome: 'UNAUTHENTICATED' })).toBe(1);
      expect(delta(requests, { operation: 'Probe', outcome: 'ok' })).toBe(1);
      expect(delta(requests, { operation: 'Probe', outcome: 'UNAUTHENTICATED' })).toBe(1);
    });

    it('bounds the operation names it labels', () => {
      const metrics = new Metrics(g.store);
      expect(metrics.operation(null, true)).toBe('anonymous');
      expect(metrics.operation('Invented', false)).toBe('other');
      expect(metrics.operation('x'.repeat(101), true)).toBe('other');
      for (let i = 0; i < OPERATION_NAMES_MAX; i++) expect(metrics.operation(`Op${i}`, true)).toBe(`Op${i}`);
      expect(metrics.operation('OneTooMany', true)).toBe('other');
      expect(metrics.operation('Op7', false)).toBe('Op7');
    });

    it('counts events inserted, duplicate and rejected, the writes and the pool', async () => {
      const t = await newTenant();
      const events = [eventInput({ exposureId: 'i-1' }), eventInput({ exposureId: 'i-2' })];
      const future = () => eventInput({ exposureId: 'i-3', timestamp: '2999-01-01T00:00:00Z' });
      const before = await scrape(g.yoga, METRICS_TOKEN);
      expect((await ingest(t.ingestor, events)).data?.ingestExposureEvents.eventsInserted).toBe(2);
      expect((await ingest(t.ingestor, events)).data?.ingestExposureEvents.eventsDuplicate).toBe(2);
      const skipped = await ingest(t.ingestor, [eventInput({ exposureId: 'i-4' }), future()], true);
      expect(skipped.data?.ingestExposureEvents.eventsInserted).toBe(1);
      const refused = await ingest(t.ingestor, [eventInput({ exposureId: 'i-5' }), future()]);
      expect(refused.errors?.[0]?.extensions?.code).toBe('INVALID_EVENTS');
      const after = await scrape(g.yoga, METRICS_TOKEN);
      const delta = moved(before, after);

      const events_ = 'exposure_gateway_ingest_events_total';
      expect(delta(events_, { result: 'inserted' })).toBe(3);
      expect(delta(events_, { result: 'duplicate' })).toBe(2);
      // One skipped with skipInvalid, one that refused its whole call.
      expect(delta(events_, { result: 'rejected' })).toBe(2);
      expect(delta('exposure_gateway_graphql_requests_total', { operation: 'Ingest', outcome: 'ok' })).toBe(
        3,
      );
      expect(
        delta('exposure_gateway_graphql_requests_total', { operation: 'Ingest', outcome: 'INVALID_EVENTS' }),
      ).toBe(1);
      expect(
        delta('exposure_gateway_sql_statements_total', { repository: 'appendEvents', kind: 'insert' }),
      ).toBeGreaterThan(0);
      expect(delta('exposure_gateway_sql_statements_total', { kind: 'commit', outcome: 'ok' })).toBe(3);

      const pool = after.value('exposure_gateway_db_pool_total');
      expect(pool).toBeGreaterThan(0);
      expect(after.value('exposure_gateway_db_pool_idle')).toBeLessThanOrEqual(pool);
      expect(after.value('exposure_gateway_db_pool_waiting')).toBe(0);
      if (engine === 'duckdb') {
        expect(pool).toBe(4);
        // One transaction per call that got past validation, each waiting its turn at the writer.
        expect(delta('exposure_gateway_db_writer_wait_seconds_count')).toBe(3);
        expect(after.value('exposure_gateway_db_writer_queue_depth')).toBe(0);
      } else {
        expect(after.has('exposure_gateway_db_writer_wait_seconds_count')).toBe(false);
      }
    });

    it('counts files quarantined, replayed, failing their replay again, and discarded', async () => {
      const t = await newTenant();
      const good = JSON.stringify(eventInput({ exposureId: 'q-1', officeId: undefined }));
      const before = await scrape(g.yoga, METRICS_TOKEN);
      const uploaded = await withFile<{ ingestScanFile: Outcome }>(
        g,
        t.ingestor,
        UPLOAD,
        { officeId: 'berlin', scannerType: 'nmap' },
        `${good}\nnot json`,
      );
      const file = uploaded.data!.ingestScanFile.quarantinedFile!;
      expect(file.status).toBe('PENDING');
      const failed = await g.graphql<{ replayQuarantinedFile: Outcome }>(REPLAY, { id: file.id }, t.admin);
      expect(failed.data?.replayQuarantinedFile.quarantinedFile?.replayCount).toBe(1);
      const replayed = await withFile<{ replayQuarantinedFile: Outcome }>(
        g,
        t.admin,
        REPLAY,
        { id: file.id },
        good,
      );
      expect(replayed.data?.replayQuarantinedFile.ingest?.eventsInserted).toBe(1);
      const reported = await g.graphql<{ quarantineFile: { id: string } }>(
        `mutation Report($input: QuarantineFileInput!) { quarantineFile(input: $input) { id } }`,
        {
          input: {
            filename: 'worker.jsonl',
            fileSize: 10,
            fileHash: 'a'.repeat(64),
            errorType: 'PARSE_ERROR',
            errorMessage: 'the worker could not read it',
            officeId: 'berlin',
          },
        },
        t.ingestor,
      );
      const discarded = await g.graphql(
        'mutation Discard($id: ID!) { discardQuarantinedFile(id: $id, reason: "a test file") { status } }',
        { id: reported.data!.quarantineFile.id },
        t.admin,
      );
      expect(discarded.errors).toBeUndefined();
      const delta = moved(before, await scrape(g.yoga, METRICS_TOKEN));

      const files = 'exposure_gateway_quarantine_files_total';
      expect(delta(files, { action: 'quarantined' })).toBe(2);
      expect(delta(files, { action: 'replay_failed' })).toBe(1);
      expect(delta(files, { action: 'replayed' })).toBe(1);
      expect(delta(files, { action: 'discarded' })).toBe(1);
      // The replayed file's event went through ingest like any other.
      expect(delta('exposure_gateway_ingest_events_total', { result: 'inserted' })).toBe(1);
      expect(
        delta('exposure_gateway_sql_statements_total', {
          repository: 'insertQuarantinedFile',
          outcome: 'ok',
        }),
      ).toBe(2);
      expect(delta('exposure_gateway_sql_statements_total', { repository: 'markReplayed' })).toBe(1);
    });

    it('puts no tenant, office, token, id or query text in a label', async () => {
      const t = await newTenant();
      const office = 'metrics-office-5b1e';
      const ids = ['metrics-exposure-91c4', 'metrics-event-2d8f'];
      await ingest(t.ingestor, [eventInput({ officeId: office, exposureId: ids[0], eventId: ids[1] })]);
      await g.graphql(
        'query Search($text: String!) { exposures(filter: { search: $text }) { totalCount } }',
        { text: 'metrics-needle-4e6a' },
        t.viewer,
      );
      await g.graphql(
        '{ exposures(filter: { search: "metrics-literal-0c3b" }) { totalCount } }',
        {},
        t.viewer,
      );
      await g.graphql(`{ exposure(officeId: "${office}", exposureId: "${ids[0]}") { id } }`, {}, t.viewer);
      const { text, samples } = await scrape(g.yoga, METRICS_TOKEN);
      const secrets = [t.tenantId, office, ...ids, 'metrics-needle-4e6a', 'metrics-literal-0c3b'];
      for (const secret of [...secrets, t.viewer, t.ingestor, METRICS_TOKEN])
        expect(text).not.toContain(secret);
      // Whatever the workload, label values come from a closed vocabulary.
      const vocabulary: Record<string, RegExp> = {
        operation: /^([A-Z][A-Za-z]*|anonymous|other|unknown)$/,
        outcome: /^(ok|error|timeout|[A-Z][A-Z_]*)$/,
        repository: /^([a-z][A-Za-z]*|none)$/,
        le: /^([0-9.e+-]+|\+Inf)$/,
      };
      for (const { name, labels } of samples.filter((s) => s.name.startsWith('exposure_gateway_'))) {
        for (const [label, value] of Object.entries(labels)) {
          const allowed = (vocabulary[label] ?? /^[a-z_]+$/).test(value);
          expect(allowed, `${name} ${label}="${value}"`).toBe(true);
        }
      }
    });

    it('attributes every statement of the tests above to a repository function, transaction control apart', async () => {
      const { samples } = await scrape(g.yoga, METRICS_TOKEN);
      const statements = samples.filter((s) => s.name === 'exposure_gateway_sql_statements_total');
      expect(statements.filter((s) => s.labels.repository !== 'none').length).toBeGreaterThan(10);
      const unattributed = statements
        .filter((s) => s.labels.repository === 'none' && s.value > 0)
        .map((s) => s.labels.kind);
      expect(unattributed.filter((kind) => !['begin', 'commit', 'rollback'].includes(kind!))).toEqual([]);
    });

    it('reports process metrics, and keeps a registry per gateway', async () => {
      const first = await scrape(g.yoga, METRICS_TOKEN);
      for (const name of [
        'process_cpu_user_seconds_total',
        'nodejs_heap_size_used_bytes',
        'nodejs_eventloop_lag_seconds',
      ]) {
        expect(first.has(name)).toBe(true);
      }
      expect(first.value('exposure_gateway_graphql_requests_total')).toBeGreaterThan(0);
      // A second gateway over the same store, in the same process: its own counts, from zero.
      const second = createGateway({ config: g.config, store: g.store, changes: g.changes });
      expect((await scrape(second, METRICS_TOKEN)).value('exposure_gateway_graphql_requests_total')).toBe(0);
      // Both count the statements of the store they share, until one is disposed.
      const statements = 'exposure_gateway_sql_statements_total';
      const offices = { repository: 'findOffices' };
      await g.graphql('{ offices { id } }');
      const counted = (await scrape(second, METRICS_TOKEN)).value(statements, offices);
      expect(counted).toBeGreaterThan(0);
      await second.dispose();
      await g.graphql('{ offices { id } }');
      expect((await scrape(second, METRICS_TOKEN)).value(statements, offices)).toBe(counted);
    });
  });
}
