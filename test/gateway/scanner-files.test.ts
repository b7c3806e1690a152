/**
 * Scanner output (nmap XML, nuclei JSON Lines) uploaded through the GraphQL endpoint, on both engines:
 * each file is one run, completed once its events are in; a broken file is quarantined in its format
 * and replays once corrected.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentStates, foldedStates, storedEvents } from '../helpers/current.ts';
import { ENGINES } from '../helpers/engines.ts';
import { type GraphQLResponse, openTestGateway, type TestGateway } from '../helpers/gateway.ts';

const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'scanners');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');

const OUTCOME = /* GraphQL */ `
  fragment Outcome on ScanFileResult {
    ingest { eventsInserted eventsDuplicate totalProcessed }
    quarantinedFile { id status format errorType errorDetails replayCount }
    scanRun { scanRunId scannerType startedAt completedAt eventsObserved exposuresObserved exposuresNew exposuresClosed }
  }
`;

const UPLOAD = /* GraphQL */ `
  mutation Upload($file: File!, $officeId: ID!, $scannerType: String!, $format: ScanFileFormat) {
    ingestScanFile(file: $file, officeId: $officeId, scannerType: $scannerType, format: $format) { ...Outcome }
  }
  ${OUTCOME}
`;

const REPLAY = /* GraphQL */ `
  mutation Replay($id: ID!, $file: File) { replayQuarantinedFile(id: $id, file: $file) { ...Outcome } }
  ${OUTCOME}
`;

interface Outcome {
  ingest: { eventsInserted: number; eventsDuplicate: number; totalProcessed: number } | null;
  quarantinedFile: {
    id: string;
    status: string;
    format: string;
    errorType: string;
    errorDetails: { format: string; problems: { line: number; element: string; code: string }[] };
    replayCount: number;
  } | null;
  scanRun: {
    scanRunId: string;
    scannerType: string;
    startedAt: string;
    completedAt: string;
    eventsObserved: number;
    exposuresObserved: number;
    exposuresNew: number;
    exposuresClosed: number;
  } | null;
}

/** Sends a document with one file, by the GraphQL multipart request spec. */
async function withFile<T>(
  g: TestGateway,
  token: string,
  query: string,
  variables: Record<string, unknown>,
  file: { content: string; name: string } | null,
): Promise<GraphQLResponse<T>> {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables: { ...variables, file: null } }));
  form.append('map', JSON.stringify(file ? { 0: ['variables.file'] } : {}));
  if (file) form.append('0', new File([file.content], file.name));
  const encoded = new Response(form);
  const body = Buffer.from(await encoded.arrayBuffer());
  const response = await g.yoga.fetch('http://gateway/graphql', {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': encoded.headers.get('content-type') ?? '',
      'content-length': String(body.byteLength),
      'x-graphql-yoga-csrf': '1',
    },
    body,
  });
  return { status: response.status, ...((await response.json()) as object) } as GraphQLResponse<T>;
}

for (const engine of ENGINES) {
  describe(`scanner files on ${engine}`, () => {
    let g: TestGateway;

    const tokens = async (tenantId: string) => ({
      ingestor: await g.token({ tenantId, roles: ['ingestor'] }),
      admin: await g.token({ tenantId, roles: ['admin'] }),
      viewer: await g.token({ tenantId, roles: ['viewer'] }),
    });
    const upload = async (
      token: string,
      name: string,
      format: string,
      scannerType: string,
      content = fixture(name),
    ) => {
      const response = await withFile<{ ingestScanFile: Outcome }>(
        g,
        token,
        UPLOAD,
        { officeId: 'paris', scannerType, format },
        { content, name },
      );
      expect(response.errors).toBeUndefined();
      return response.data!.ingestScanFile;
    };
    const exposures = async (viewer: string) => {
      const response = await g.graphql<{
        exposures: { edges: { node: { exposureId: string; status: string; eventAction: string | null } }[] };
      }>('{ exposures(first: 100) { edges { node { exposureId status eventAction } } } }', {}, viewer);
      return Object.fromEntries(response.data!.exposures.edges.map(({ node }) => [node.exposureId, node]));
    };

    beforeAll(async () => {
      g = await openTestGateway(engine);
    });
    afterAll(async () => g.close());

    it('ingests an nmap file as one completed run, and a later one closes the port that is gone', async () => {
      const t = await tokens('nmap-upload');
      const first = await upload(t.ingestor, 'nmap-paris-2026-03-02.xml', 'NMAP_XML', 'nmap');
      expect(first.quarantinedFile).toBeNull();
      expect(first.ingest!.eventsInserted).toBeGreaterThan(0);
      expect(first.scanRun).toMatchObject({
        scannerType: 'nmap',
        startedAt: '2026-03-02T09:00:00.000Z',
        completedAt: '2026-03-02T09:01:35.000Z',
        eventsObserved: first.ingest!.eventsInserted,
        exposuresNew: first.ingest!.eventsInserted,
        exposuresClosed: 0,
      });
      // The same file again: duplicates only, and the same completed run.
      const again = await upload(t.ingestor, 'nmap-paris-2026-03-02.xml', 'NMAP_XML', 'nmap');
      expect(again.ingest).toMatchObject({
        eventsInserted: 0,
        eventsDuplicate: first.ingest!.eventsInserted,
      });
      expect(again.scanRun).toEqual(first.scanRun);

      const later = await upload(t.ingestor, 'nmap-paris-2026-03-09.xml', 'NMAP_XML', 'nmap');
      expect(later.scanRun).toMatchObject({ exposuresClosed: 1, exposuresNew: 0 });
      const now = await exposures(t.viewer);
      expect(now['open_port/10.20.0.4/8080/tcp']).toMatchObject({
        status: 'CLOSED',
        eventAction: 'not_observed',
      });
      expect(Object.values(now).filter((e) => e.status === 'OPEN').length).toBe(
        first.ingest!.eventsInserted - 1,
      );

      // nuclei is another scanner: its run leaves nmap's exposures alone.
      const nuclei = await upload(t.ingestor, 'nuclei-paris-2026-03-02.jsonl', 'NUCLEI_JSONL', 'nuclei');
      expect(nuclei.scanRun).toMatchObject({ scannerType: 'nuclei', exposuresClosed: 0 });
      expect(nuclei.ingest!.eventsInserted).toBeGreaterThan(0);
      const after = await exposures(t.viewer);
      expect(Object.values(after).filter((e) => e.status === 'CLOSED').length).toBe(1);
      expect(await currentStates(g.store, 'nmap-upload')).toEqual(
        foldedStates(await storedEvents(g.store, 'nmap-upload')),
      );
    });

    it('quarantines a cut-short nmap file where it ends, and replays it once corrected', async () => {
      const t = await tokens('nmap-truncated');
      const outcome = await upload(t.ingestor, 'nmap-paris-truncated.xml', 'NMAP_XML', 'nmap');
      expect(outcome.ingest).toBeNull();
      const file = outcome.quarantinedFile!;
      expect(file).toMatchObject({ status: 'PENDING', format: 'NMAP_XML', errorType: 'PARSE_ERROR' });
      expect(file.errorDetails.format).toBe('nmap');
      expect(file.errorDetails.problems[0]).toMatchObject({ code: 'PARSE_ERROR', element: 'port', line: 48 });
      expect(await exposures(t.viewer)).toEqual({});

      // Replayed as stored it is still cut short, read as nmap again.
      const retry = await withFile<{ replayQuarantinedFile: Outcome }>(
        g,
        t.admin,
        REPLAY,
        { id: file.id },
        null,
      );
      expect(retry.errors).toBeUndefined();
      expect(retry.data!.replayQuarantinedFile.quarantinedFile).toMatchObject({
        status: 'PENDING',
        errorType: 'PARSE_ERROR',
        replayCount: 1,
      });
      const fixed = await withFile<{ replayQuarantinedFile: Outcome }>(
        g,
        t.admin,
        REPLAY,
        { id: file.id },
        { content: fixture('nmap-paris-2026-03-02.xml'), name: 'nmap-paris-2026-03-02.xml' },
      );
      expect(fixed.errors).toBeUndefined();
      const replayed = fixed.data!.replayQuarantinedFile;
      expect(replayed.quarantinedFile).toBeNull();
      expect(replayed.ingest!.eventsInserted).toBeGreaterThan(0);
      expect(replayed.scanRun?.completedAt).toBe('2026-03-02T09:01:35.000Z');
      const node = await g.graphql<{ node: { status: string } }>(
        'query ($id: ID!) { node(id: $id) { ... on QuarantinedFile { status } } }',
        { id: file.id },
        t.viewer,
      );
      expect(node.data!.node.status).toBe('REPLAYED');
    });

    it('quarantines a malformed nuclei file in its format', async () => {
      const t = await tokens('nuclei-malformed');
      const outcome = await upload(t.ingestor, 'nuclei-paris-malformed.jsonl', 'NUCLEI_JSONL', 'nuclei');
      expect(outcome.ingest).toBeNull();
      expect(outcome.quarantinedFile).toMatchObject({ status: 'PENDING', format: 'NUCLEI_JSONL' });
      expect(outcome.quarantinedFile!.errorDetails.format).toBe('nuclei');
      expect(outcome.quarantinedFile!.errorDetails.problems.length).toBeGreaterThan(0);
    });
  });
}
