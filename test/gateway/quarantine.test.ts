/** Scan-file uploads, the quarantine and its mutations through the GraphQL endpoint, on both engines. */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import type { ExposureChanges } from '../../src/ingest/changes.ts';
import { createGateway, type Gateway } from '../../src/yoga.ts';
import { ENGINES } from '../helpers/engines.ts';
import { type EventInput, eventInput } from '../helpers/events.ts';
import { type GraphQLResponse, openTestGateway, TEST_SECRET, type TestGateway } from '../helpers/gateway.ts';

const FILE_FIELDS = /* GraphQL */ `
  fragment FileFields on QuarantinedFile {
    id filename fileSize fileHash errorType errorMessage errorDetails scannerType officeId status
    contentStored replayCount discardReason quarantinedAt resolvedAt
  }
`;

const OUTCOME = /* GraphQL */ `
  fragment Outcome on ScanFileResult {
    ingest { eventsInserted eventsDuplicate exposuresInserted exposuresUpdated totalProcessed rejected { index } }
    quarantinedFile { ...FileFields }
  }
  ${FILE_FIELDS}
`;

const UPLOAD = /* GraphQL */ `
  mutation Upload($file: File!, $officeId: ID!, $scannerType: String!) {
    ingestScanFile(file: $file, officeId: $officeId, scannerType: $scannerType) { ...Outcome }
  }
  ${OUTCOME}
`;

const REPLAY = /* GraphQL */ `
  mutation Replay($id: ID!) { replayQuarantinedFile(id: $id) { ...Outcome } }
  ${OUTCOME}
`;

const DISCARD = /* GraphQL */ `
  mutation Discard($id: ID!, $reason: String!) { discardQuarantinedFile(id: $id, reason: $reason) { ...FileFields } }
  ${FILE_FIELDS}
`;

const REPORT = /* GraphQL */ `
  mutation Report($input: QuarantineFileInput!) { quarantineFile(input: $input) { ...FileFields } }
  ${FILE_FIELDS}
`;

const LIST = /* GraphQL */ `
  query List($filter: QuarantineFilter, $first: Int, $after: String) {
    quarantinedFiles(filter: $filter, first: $first, after: $after) {
      totalCount
      edges { cursor node { id filename status officeId } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`;

interface QuarantinedFile {
  id: string;
  filename: string;
  fileSize: number;
  fileHash: string;
  errorType: string;
  errorMessage: string;
  errorDetails: {
    format: string;
    events: number;
    problemCount: number;
    problems: {
      line: number | null;
      index: number | null;
      field: string | null;
      code: string;
      message: string;
    }[];
    attempt?: number;
  };
  scannerType: string | null;
  officeId: string | null;
  status: string;
  contentStored: boolean;
  replayCount: number;
  discardReason: string | null;
  quarantinedAt: string;
  resolvedAt: string | null;
}

interface Outcome {
  ingest: {
    eventsInserted: number;
    eventsDuplicate: number;
    exposuresInserted: number;
    exposuresUpdated: number;
    totalProcessed: number;
    rejected: { index: number }[];
  } | null;
  quarantinedFile: QuarantinedFile | null;
}

interface ListData {
  quarantinedFiles: {
    totalCount: number;
    edges: {
      cursor: string;
      node: { id: string; filename: string; status: string; officeId: string | null };
    }[];
    pageInfo: {
      hasNextPage: boolean;
      hasPreviousPage: boolean;
      startCursor: string | null;
      endCursor: string | null;
    };
  };
}

const CHUNK_SIZE = 3;
const MAX_CONTENT_BYTES = 4096;
const UPLOAD_MAX_BYTES = 64 * 1024;

/** A line of a scan file: the office comes from the upload unless the event names one. */
const line = (overrides: EventInput = {}) =>
  JSON.stringify(eventInput({ officeId: undefined, ...overrides }));
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Runs a document against a gateway as the holder of `token`. */
async function call<T>(yoga: Gateway, query: string, variables: Record<string, unknown>, token: string) {
  const response = await yoga.fetch('http://gateway/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, ...((await response.json()) as object) } as GraphQLResponse<T>;
}

/** Sends a file with the GraphQL multipart request spec, as an upload client does. */
async function upload(
  g: TestGateway,
  token: string,
  content: string,
  variables: { officeId: string; scannerType: string },
  filename = 'scan.jsonl',
): Promise<GraphQLResponse<{ ingestScanFile: Outcome }>> {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query: UPLOAD, variables: { ...variables, file: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new File([content], filename));
  // Encoded up front so the request carries its length, like the bodies of real upload clients.
  const encoded = new Response(form);
  const body = Buffer.from(await encoded.arrayBuffer());
  const response = await g.yoga.fetch('http://gateway/graphql', {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': encoded.headers.get('content-type') ?? '',
      'content-length': String(body.byteLength),
      // CSRF prevention: a browser form cannot set this header.
      'x-graphql-yoga-csrf': '1',
    },
    body,
  });
  return { status: response.status, ...((await response.json()) as object) } as GraphQLResponse<{
    ingestScanFile: Outcome;
  }>;
}

for (const engine of ENGINES) {
  describe(`scan files and the quarantine on ${engine}`, () => {
    let g: TestGateway;
    let tenants = 0;

    async function newTenant(officeIds = ['*']) {
      const tenantId = `quarantine-${++tenants}`;
      const token = (roles: ('viewer' | 'ingestor' | 'admin')[], offices = officeIds) =>
        g.token({ tenantId, officeIds: offices, roles });
      return {
        tenantId,
        ingestor: await token(['ingestor']),
        viewer: await token(['viewer']),
        admin: await token(['admin'], ['*']),
        token,
      };
    }

    const eventCount = async (viewer: string) => {
      const response = await g.graphql<{ events: { totalCount: number } }>(
        '{ events { totalCount } }',
        {},
        viewer,
      );
      return response.data!.events.totalCount;
    };

    const quarantined = async (response: GraphQLResponse<{ ingestScanFile: Outcome }>) => {
      expect(response.errors).toBeUndefined();
      expect(response.data?.ingestScanFile.ingest).toBeNull();
      return response.data!.ingestScanFile.quarantinedFile!;
    };

    beforeAll(async () => {
      g = await openTestGateway(engine, {
        INGEST_CHUNK_SIZE: String(CHUNK_SIZE),
        QUARANTINE_MAX_CONTENT_BYTES: String(MAX_CONTENT_BYTES),
        UPLOAD_MAX_BYTES: String(UPLOAD_MAX_BYTES),
      });
    });
    afterAll(async () => g.close());

    it('ingests a JSON Lines file in chunks, filling in the office and scanner', async () => {
      const t = await newTenant();
      const published: ExposureChanges[] = [];
      const unsubscribe = g.changes.subscribe((changes) => {
        if (changes.tenantId === t.tenantId) published.push(changes);
      });
      const lines = Array.from({ length: 7 }, (_, i) =>
        line({ exposureId: `e${i % 5}`, timestamp: `2026-01-10T10:0${i}:00Z` }),
      );
      try {
        const response = await upload(g, t.ingestor, `${lines.join('\n')}\n`, {
          officeId: 'berlin',
          scannerType: 'nmap',
        });
        expect(response.errors).toBeUndefined();
        expect(response.data?.ingestScanFile).toEqual({
          ingest: {
            eventsInserted: 7,
            eventsDuplicate: 0,
            // Summed per chunk: e0 and e1 are new in the first chunk and updated in the third.
            exposuresInserted: 5,
            exposuresUpdated: 2,
            totalProcessed: 7,
            rejected: [],
          },
          quarantinedFile: null,
        });
      } finally {
        unsubscribe();
      }
      // One commit, and one notice, per chunk of three.
      expect(published.map((p) => p.exposures.length)).toEqual([3, 3, 1]);
      const events = await g.graphql<{
        events: { totalCount: number; edges: { node: Record<string, unknown> }[] };
      }>('{ events(first: 1) { totalCount edges { node { officeId scannerType } } } }', {}, t.viewer);
      expect(events.data?.events.totalCount).toBe(7);
      expect(events.data?.events.edges[0]?.node).toEqual({ officeId: 'berlin', scannerType: 'nmap' });

      // The same file again: every event is a duplicate.
      const again = await upload(g, t.ingestor, lines.join('\n'), {
        officeId: 'berlin',
        scannerType: 'nmap',
      });
      expect(again.data?.ingestScanFile.ingest).toMatchObject({ eventsInserted: 0, eventsDuplicate: 7 });
    });

    it('ingests a JSON array file', async () => {
      const t = await newTenant();
      const content = `[\n  ${line({ exposureId: 'a' })},\n  ${line({ exposureId: 'b', scannerType: 'nessus' })}\n]\n`;
      const response = await upload(
        g,
        t.ingestor,
        content,
        { officeId: 'berlin', scannerType: 'nmap' },
        'scan.json',
      );
      expect(response.data?.ingestScanFile.ingest).toMatchObject({ eventsInserted: 2, exposuresInserted: 2 });
      const scanners = await g.graphql<{
        events: { edges: { node: { exposureId: string; scannerType: string } }[] };
      }>('{ events { edges { node { exposureId scannerType } } } }', {}, t.viewer);
      const byExposure = Object.fromEntries(
        scanners.data!.events.edges.map(({ node }) => [node.exposureId, node.scannerType]),
      );
      // An event's own scanner wins over the upload's.
      expect(byExposure).toEqual({ a: 'nmap', b: 'nessus' });
    });

    it('quarantines a JSON Lines file with one broken line, writes nothing, and records a failed replay', async () => {
      const t = await newTenant();
      const content = [
        line({ exposureId: 'a' }),
        line({ exposureId: 'b' }),
        '{"exposureId": "c",',
        line({ exposureId: 'd' }),
      ].join('\n');
      const file = await quarantined(
        await upload(g, t.ingestor, content, { officeId: 'berlin', scannerType: 'nmap' }),
      );
      expect(file).toMatchObject({
        filename: 'scan.jsonl',
        fileSize: Buffer.byteLength(content),
        fileHash: sha256(content),
        errorType: 'PARSE_ERROR',
        scannerType: 'nmap',
        officeId: 'berlin',
        status: 'PENDING',
        contentStored: true,
        replayCount: 0,
        resolvedAt: null,
      });
      expect(file.errorMessage).toMatch(/^scan\.jsonl, line 3: not valid JSON/);
      expect(file.errorDetails).toMatchObject({ format: 'jsonl', events: 3, problemCount: 1 });
      expect(file.errorDetails.problems).toEqual([
        {
          line: 3,
          index: 2,
          field: null,
          code: 'PARSE_ERROR',
          message: expect.stringMatching(/^not valid JSON/),
        },
      ]);
      expect(await eventCount(t.viewer)).toBe(0);

      const replay = await g.graphql<{ replayQuarantinedFile: Outcome }>(REPLAY, { id: file.id }, t.admin);
      expect(replay.errors).toBeUndefined();
      const again = replay.data!.replayQuarantinedFile;
      expect(again.ingest).toBeNull();
      expect(again.quarantinedFile).toMatchObject({
        id: file.id,
        status: 'PENDING',
        errorType: 'PARSE_ERROR',
        replayCount: 1,
        resolvedAt: null,
      });
      expect(again.quarantinedFile?.errorDetails).toMatchObject({ attempt: 1, problems: [{ line: 3 }] });
      const second = await g.graphql<{ replayQuarantinedFile: Outcome }>(REPLAY, { id: file.id }, t.admin);
      expect(second.data?.replayQuarantinedFile.quarantinedFile).toMatchObject({
        replayCount: 2,
        errorDetails: { attempt: 2 },
      });
      expect(await eventCount(t.viewer)).toBe(0);
    });

    it('quarantines a file with invalid events, listing each with its line, index and field', async () => {
      const t = await newTenant();
      const content = `[\n${[
        line({ exposureId: 'a' }),
        line({ exposureId: 'b', dstIp: '010.0.0.1' }),
        line({ exposureId: 'c', dstPort: 70000, severity: 'SEVERE' }),
        line({ exposureId: 'd', officeId: 'paris' }),
      ].join(',\n')}\n]`;
      const file = await quarantined(
        await upload(g, t.ingestor, content, { officeId: 'berlin', scannerType: 'nmap' }, 'scan.json'),
      );
      expect(file.errorType).toBe('INVALID_EVENTS');
      expect(file.errorMessage).toBe(
        'scan.json, line 3: dstIp: must be an IPv4 or IPv6 address without prefix or leading zeros (and 3 more problems)',
      );
      expect(file.errorDetails.problems.map((p) => [p.line, p.index, p.field, p.code])).toEqual([
        [3, 1, 'dstIp', 'INVALID_IP'],
        [4, 2, 'severity', 'INVALID_VALUE'],
        [4, 2, 'dstPort', 'OUT_OF_RANGE'],
        [5, 3, 'officeId', 'OFFICE_MISMATCH'],
      ]);
      expect(await eventCount(t.viewer)).toBe(0);
    });

    it('replays a file whose problem has gone away, and marks it REPLAYED', async () => {
      const t = await newTenant();
      const inTwoHours = new Date(Date.now() + 2 * 3600_000).toISOString();
      const content = [line({ exposureId: 'a' }), line({ exposureId: 'b', timestamp: inTwoHours })].join(
        '\n',
      );
      const file = await quarantined(
        await upload(g, t.ingestor, content, { officeId: 'berlin', scannerType: 'nmap' }),
      );
      expect(file.errorDetails.problems).toMatchObject([
        { line: 2, index: 1, field: 'timestamp', code: 'FUTURE_TIMESTAMP' },
      ]);

      // The same store behind a gateway whose scanners may run a day ahead.
      const raised = createGateway({
        config: loadConfig({
          AUTH_JWT_SECRET: TEST_SECRET,
          INGEST_MAX_FUTURE_SKEW_SECONDS: '86400',
          LOG_LEVEL: 'silent',
        }),
        store: g.store,
        changes: g.changes,
      });
      const replay = await call<{ replayQuarantinedFile: Outcome }>(raised, REPLAY, { id: file.id }, t.admin);
      expect(replay.errors).toBeUndefined();
      expect(replay.data?.replayQuarantinedFile).toMatchObject({
        ingest: { eventsInserted: 2, exposuresInserted: 2, totalProcessed: 2 },
        quarantinedFile: null,
      });
      expect(await eventCount(t.viewer)).toBe(2);

      const list = await g.graphql<ListData>(LIST, {}, t.viewer);
      const node = await g.graphql<{ node: QuarantinedFile }>(
        `query Node($id: ID!) { node(id: $id) { ...FileFields } } ${FILE_FIELDS}`,
        { id: file.id },
        t.viewer,
      );
      expect(list.data?.quarantinedFiles.edges.map((e) => e.node.status)).toEqual(['REPLAYED']);
      expect(node.data?.node).toMatchObject({ status: 'REPLAYED', replayCount: 1 });
      expect(Date.parse(node.data!.node.resolvedAt!)).toBeGreaterThanOrEqual(Date.parse(file.quarantinedAt));

      const twice = await g.graphql(REPLAY, { id: file.id }, t.admin);
      expect(twice.errors?.[0]?.extensions?.code).toBe('ALREADY_RESOLVED');
    });

    it('quarantines an empty file', async () => {
      const t = await newTenant();
      const file = await quarantined(
        await upload(g, t.ingestor, '\n', { officeId: 'berlin', scannerType: 'nmap' }),
      );
      expect(file).toMatchObject({ errorType: 'EMPTY_FILE', errorMessage: 'scan.jsonl is empty' });
      // "[]" is a scan that found nothing, not a broken one.
      const none = await upload(g, t.ingestor, '[]', { officeId: 'berlin', scannerType: 'nmap' });
      expect(none.data?.ingestScanFile.ingest).toMatchObject({ eventsInserted: 0, totalProcessed: 0 });
    });

    it('keeps the content of a large file only in part, so its replay fails with CONTENT_UNAVAILABLE', async () => {
      const t = await newTenant();
      const lines = Array.from({ length: 40 }, (_, i) => line({ exposureId: `e${i}` }));
      lines.push('not json');
      const content = lines.join('\n');
      expect(Buffer.byteLength(content)).toBeGreaterThan(MAX_CONTENT_BYTES);
      const file = await quarantined(
        await upload(g, t.ingestor, content, { officeId: 'berlin', scannerType: 'nmap' }),
      );
      expect(file).toMatchObject({
        contentStored: false,
        fileSize: Buffer.byteLength(content),
        fileHash: sha256(content),
      });
      const replay = await g.graphql<{ replayQuarantinedFile: Outcome }>(REPLAY, { id: file.id }, t.admin);
      expect(replay.data?.replayQuarantinedFile.quarantinedFile).toMatchObject({
        errorType: 'CONTENT_UNAVAILABLE',
        replayCount: 1,
        status: 'PENDING',
      });
    });

    it('refuses an upload over the size limit, and one for an office outside the token', async () => {
      const t = await newTenant(['berlin']);
      const big = line().padEnd(UPLOAD_MAX_BYTES + 2 * 1024 * 1024, ' ');
      const tooBig = await upload(g, t.ingestor, big, { officeId: 'berlin', scannerType: 'nmap' });
      expect(tooBig.status).toBe(413);
      expect(tooBig.errors?.[0]?.extensions?.code).toBe('REQUEST_TOO_LARGE');
      // Within the request's room for the multipart envelope, but over the file limit itself.
      const justOver = await upload(g, t.ingestor, line().padEnd(UPLOAD_MAX_BYTES + 1, ' '), {
        officeId: 'berlin',
        scannerType: 'nmap',
      });
      expect(justOver.errors?.[0]?.extensions).toMatchObject({
        code: 'FILE_TOO_LARGE',
        limit: UPLOAD_MAX_BYTES,
      });

      const elsewhere = await upload(g, t.ingestor, line(), { officeId: 'paris', scannerType: 'nmap' });
      expect(elsewhere.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', field: 'officeId' });
      const asViewer = await upload(g, t.viewer, line(), { officeId: 'berlin', scannerType: 'nmap' });
      expect(asViewer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((await g.graphql<ListData>(LIST, {}, t.admin)).data?.quarantinedFiles.totalCount).toBe(0);
      expect(await eventCount(t.viewer)).toBe(0);
    });

    it('stores a worker’s report, which cannot be replayed without its content', async () => {
      const t = await newTenant(['berlin']);
      const input = {
        filename: 'export-17.json',
        fileSize: 1234,
        fileHash: 'AB'.repeat(32),
        errorType: 'UNSUPPORTED_FORMAT',
        errorMessage: 'the scanner wrote XML',
        errorDetails: { firstBytes: '<?xml' },
        scannerType: 'openvas',
        officeId: 'berlin',
      };
      const report = await g.graphql<{ quarantineFile: QuarantinedFile }>(REPORT, { input }, t.ingestor);
      expect(report.errors).toBeUndefined();
      expect(report.data?.quarantineFile).toMatchObject({
        ...input,
        fileHash: 'ab'.repeat(32),
        status: 'PENDING',
        contentStored: false,
        replayCount: 0,
      });

      const badHash = await g.graphql(REPORT, { input: { ...input, fileHash: 'abc' } }, t.ingestor);
      expect(badHash.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'input.fileHash',
      });
      const negative = await g.graphql(REPORT, { input: { ...input, fileSize: -1 } }, t.ingestor);
      expect(negative.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'input.fileSize',
      });
      // A file of no office would belong to the whole tenant, beyond this token's office.
      const noOffice = await g.graphql(REPORT, { input: { ...input, officeId: null } }, t.ingestor);
      expect(noOffice.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'input.officeId',
      });
      const elsewhere = await g.graphql(REPORT, { input: { ...input, officeId: 'paris' } }, t.ingestor);
      expect(elsewhere.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', field: 'input.officeId' });
      const asViewer = await g.graphql(REPORT, { input }, t.viewer);
      expect(asViewer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

      const replay = await g.graphql<{ replayQuarantinedFile: Outcome }>(
        REPLAY,
        { id: report.data!.quarantineFile.id },
        t.admin,
      );
      expect(replay.data?.replayQuarantinedFile.quarantinedFile).toMatchObject({
        errorType: 'CONTENT_UNAVAILABLE',
        errorMessage: 'export-17.json: the content was not stored; send the file again',
        replayCount: 1,
      });
      expect((await g.graphql<ListData>(LIST, {}, t.admin)).data?.quarantinedFiles.totalCount).toBe(1);
    });

    it('discards a file with a reason, for admins only and once', async () => {
      const t = await newTenant();
      const file = await quarantined(
        await upload(g, t.ingestor, 'nonsense', { officeId: 'berlin', scannerType: 'nmap' }),
      );
      const asIngestor = await g.graphql(DISCARD, { id: file.id, reason: 'test data' }, t.ingestor);
      expect(asIngestor.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const empty = await g.graphql(DISCARD, { id: file.id, reason: '  ' }, t.admin);
      expect(empty.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'reason' });

      const discarded = await g.graphql<{ discardQuarantinedFile: QuarantinedFile }>(
        DISCARD,
        { id: file.id, reason: 'test data from a lab scanner' },
        t.admin,
      );
      expect(discarded.data?.discardQuarantinedFile).toMatchObject({
        status: 'DISCARDED',
        discardReason: 'test data from a lab scanner',
        replayCount: 0,
      });
      expect(discarded.data?.discardQuarantinedFile.resolvedAt).not.toBeNull();
      for (const again of [
        await g.graphql(DISCARD, { id: file.id, reason: 'again' }, t.admin),
        await g.graphql(REPLAY, { id: file.id }, t.admin),
      ]) {
        expect(again.errors?.[0]?.extensions?.code).toBe('ALREADY_RESOLVED');
      }
      for (const id of ['nope', Buffer.from('Exposure:x').toString('base64')]) {
        const unknown = await g.graphql(DISCARD, { id, reason: 'x' }, t.admin);
        expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      }
    });

    it('lists files newest first, a page at a time, with an exact total, inside the scope only', async () => {
      const t = await newTenant();
      const report = (filename: string, officeId: string | null, scannerType: string) =>
        g.graphql<{ quarantineFile: QuarantinedFile }>(
          REPORT,
          {
            input: {
              filename,
              fileSize: 1,
              fileHash: sha256(filename),
              errorType: 'X',
              errorMessage: 'x',
              scannerType,
              officeId,
            },
          },
          t.ingestor,
        );
      const reported: QuarantinedFile[] = [];
      for (const [name, office, scanner] of [
        ['1.json', 'berlin', 'nmap'],
        ['2.json', 'paris', 'nmap'],
        ['3.json', 'berlin', 'nessus'],
        ['4.json', null, 'nmap'],
      ] as const) {
        reported.push((await report(name, office, scanner)).data!.quarantineFile);
      }
      await g.graphql(DISCARD, { id: reported[0]!.id, reason: 'old' }, t.admin);

      const first = await g.graphql<ListData>(LIST, { first: 3 }, t.viewer);
      const page1 = first.data!.quarantinedFiles;
      expect(page1.totalCount).toBe(4);
      expect(page1.edges.map((e) => e.node.filename)).toEqual(['4.json', '3.json', '2.json']);
      expect(page1.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
      const second = await g.graphql<ListData>(LIST, { first: 3, after: page1.pageInfo.endCursor }, t.viewer);
      expect(second.data?.quarantinedFiles.edges.map((e) => e.node.filename)).toEqual(['1.json']);
      expect(second.data?.quarantinedFiles.pageInfo).toMatchObject({
        hasNextPage: false,
        hasPreviousPage: true,
      });

      const filtered = async (filter: Record<string, unknown>, token = t.viewer) =>
        (await g.graphql<ListData>(LIST, { filter }, token)).data!.quarantinedFiles.edges.map(
          (e) => e.node.filename,
        );
      expect(await filtered({ statuses: ['PENDING'] })).toEqual(['4.json', '3.json', '2.json']);
      expect(await filtered({ statuses: ['DISCARDED'], officeIds: ['berlin'] })).toEqual(['1.json']);
      expect(await filtered({ scannerTypes: ['nessus'] })).toEqual(['3.json']);
      expect(await filtered({ statuses: [] })).toEqual([]);
      expect(await filtered({ from: reported[2]!.quarantinedAt })).toEqual(
        reported
          .filter((f) => f.quarantinedAt >= reported[2]!.quarantinedAt)
          .map((f) => f.filename)
          .reverse(),
      );
      expect(await filtered({ to: reported[0]!.quarantinedAt })).toEqual([]);

      // An office-bound token sees its office's files; a file of no office belongs to the whole tenant.
      expect(await filtered({}, await t.token(['viewer'], ['paris']))).toEqual(['2.json']);
      const stranger = await g.token({ tenantId: 'someone-else', roles: ['admin'] });
      expect(await filtered({}, stranger)).toEqual([]);
      const node = await g.graphql<{ node: unknown }>(
        'query($id: ID!) { node(id: $id) { id } }',
        { id: reported[1]!.id },
        stranger,
      );
      expect(node.data?.node).toBeNull();
      const replay = await g.graphql(REPLAY, { id: reported[1]!.id }, stranger);
      expect(replay.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

      const badCursor = await g.graphql(LIST, { after: 'garbage' }, t.viewer);
      expect(badCursor.errors?.[0]?.extensions?.code).toBe('INVALID_CURSOR');
    });
  });
}
