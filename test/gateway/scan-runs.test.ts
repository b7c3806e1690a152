/** Scan runs through the GraphQL endpoint, on both engines: counts, completion, refusal, runs and diffs. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentStates, foldedStates, storedEvents } from '../helpers/current.ts';
import { ENGINES } from '../helpers/engines.ts';
import { type EventInput, eventInput } from '../helpers/events.ts';
import { openTestGateway, type TestGateway } from '../helpers/gateway.ts';

const RUN_FIELDS = /* GraphQL */ `
  fragment RunFields on ScanRun {
    id officeId scanRunId scannerType startedAt completedAt
    eventsObserved exposuresObserved exposuresNew exposuresReopened exposuresClosed
  }
`;

const COMPLETE = /* GraphQL */ `
  mutation Complete($input: CompleteScanRunInput!) { completeScanRun(input: $input) { ...RunFields } }
  ${RUN_FIELDS}
`;

const INGEST = /* GraphQL */ `
  mutation Ingest($input: IngestExposureEventsInput!) {
    ingestExposureEvents(input: $input) { eventsInserted eventsDuplicate }
  }
`;

const EXPOSURES = /* GraphQL */ `
  query Exposures($filter: ExposureFilter) {
    exposures(filter: $filter, first: 100) {
      edges { node { officeId exposureId status eventAction eventKind lastSeen scannerType } }
    }
  }
`;

const RUNS = /* GraphQL */ `
  query Runs($filter: ScanRunFilter, $first: Int, $after: String) {
    scanRuns(filter: $filter, first: $first, after: $after) {
      totalCount
      edges { cursor node { ...RunFields } }
      pageInfo { hasNextPage endCursor }
    }
  }
  ${RUN_FIELDS}
`;

const DIFF = /* GraphQL */ `
  query Diff($officeId: ID!, $scanRunId: String!, $against: String) {
    scanRunDiff(officeId: $officeId, scanRunId: $scanRunId, against: $against) {
      run { scanRunId }
      against { scanRunId }
      new(first: 10) { totalCount edges { node { exposureId } } }
      resolved(first: 1) { totalCount edges { node { exposureId } } pageInfo { hasNextPage endCursor } }
      persisting
    }
  }
`;

interface Run {
  id: string;
  scanRunId: string;
  startedAt: string | null;
  completedAt: string | null;
  eventsObserved: number;
  exposuresObserved: number;
  exposuresNew: number;
  exposuresReopened: number;
  exposuresClosed: number;
}

const SCOPE = { exposureClasses: ['open_port'], dstIpIn: ['10.0.0.0/24'], dstPortRanges: ['1-1024'] };

/** An nmap observation of exposure eN (10.0.0.N port 22) by a run. */
function seen(n: number, run: string, timestamp: string, overrides: EventInput = {}): EventInput {
  return eventInput({
    eventId: `${run}-e${n}`,
    exposureId: `e${n}`,
    timestamp,
    dstIp: `10.0.0.${n}`,
    dstPort: 22,
    scanRunId: run,
    scannerType: 'nmap',
    ...overrides,
  });
}

for (const engine of ENGINES) {
  describe(`scan runs on ${engine}`, () => {
    let g: TestGateway;
    let ingestor: string;
    let viewer: string;

    const send = async (events: EventInput[]) => g.graphql(INGEST, { input: { events } }, ingestor);
    const complete = async (input: Record<string, unknown>, token = ingestor) =>
      g.graphql<{ completeScanRun: Run }>(
        COMPLETE,
        { input: { officeId: 'berlin', scannerType: 'nmap', ...input } },
        token,
      );
    const states = async () => {
      const response = await g.graphql<{
        exposures: { edges: { node: Record<string, unknown> & { exposureId: string; officeId: string } }[] };
      }>(EXPOSURES, {}, viewer);
      return Object.fromEntries(
        response.data!.exposures.edges.map(({ node }) => [`${node.officeId}/${node.exposureId}`, node]),
      );
    };

    beforeAll(async () => {
      g = await openTestGateway(engine);
      ingestor = await g.token({ tenantId: 'runs', roles: ['ingestor'] });
      viewer = await g.token({ tenantId: 'runs', roles: ['viewer'] });
      // Open exposures outside run scopes: another scanner, outside the CIDR, the port range or the
      // classes, and another office.
      const outside = [
        seen(9, 'other', '2025-12-31T00:00:00Z', {
          exposureId: 'x-scanner',
          scanRunId: undefined,
          scannerType: 'nessus',
        }),
        seen(9, 'other', '2025-12-31T00:00:00Z', {
          exposureId: 'x-cidr',
          scanRunId: undefined,
          dstIp: '10.1.0.9',
        }),
        seen(8, 'other', '2025-12-31T00:00:00Z', {
          exposureId: 'x-port',
          scanRunId: undefined,
          dstPort: 8080,
        }),
        seen(6, 'other', '2025-12-31T00:00:00Z', {
          exposureId: 'x-class',
          scanRunId: undefined,
          exposureClass: 'weak_tls',
        }),
        seen(7, 'other', '2025-12-31T00:00:00Z', {
          exposureId: 'x-office',
          scanRunId: undefined,
          officeId: 'paris',
        }),
      ].map((e, i) => ({ ...e, eventId: `outside-${i}` }));
      expect((await send(outside)).errors).toBeUndefined();
    });
    afterAll(async () => g.close());

    it('counts what a run observes and closes what it did not see at completedAt', async () => {
      const run1 = [1, 2, 3, 4, 5].map((n) => seen(n, 'run-1', '2026-01-01T00:00:00Z'));
      // Sent twice and split: duplicates and a second batch count nothing twice.
      await send(run1.slice(0, 3));
      await send(run1);
      let response = await complete({
        scanRunId: 'run-1',
        completedAt: '2026-01-01T01:00:00Z',
        scope: SCOPE,
      });
      expect(response.errors).toBeUndefined();
      expect(response.data!.completeScanRun).toMatchObject({
        scanRunId: 'run-1',
        startedAt: '2026-01-01T00:00:00.000Z',
        completedAt: '2026-01-01T01:00:00.000Z',
        eventsObserved: 5,
        exposuresObserved: 5,
        exposuresNew: 5,
        exposuresReopened: 0,
        exposuresClosed: 0,
      });

      await send([1, 2, 3].map((n) => seen(n, 'run-2', '2026-01-02T00:00:00Z')));
      response = await complete({ scanRunId: 'run-2', completedAt: '2026-01-02T01:00:00Z', scope: SCOPE });
      expect(response.errors).toBeUndefined();
      const run2 = response.data!.completeScanRun;
      expect(run2).toMatchObject({
        eventsObserved: 3,
        exposuresObserved: 3,
        exposuresNew: 0,
        exposuresReopened: 0,
        exposuresClosed: 2,
      });

      const now = await states();
      for (const n of [4, 5]) {
        expect(now[`berlin/e${n}`]).toMatchObject({
          status: 'CLOSED',
          eventAction: 'not_observed',
          eventKind: 'inferred',
          lastSeen: '2026-01-02T01:00:00.000Z',
          scannerType: 'nmap',
        });
      }
      for (const key of ['berlin/e1', 'berlin/e2', 'berlin/e3']) expect(now[key]!.status).toBe('OPEN');
      for (const key of [
        'berlin/x-scanner',
        'berlin/x-cidr',
        'berlin/x-port',
        'berlin/x-class',
        'paris/x-office',
      ]) {
        expect(now[key]!.status, key).toBe('OPEN');
      }
      expect(await currentStates(g.store, 'runs')).toEqual(foldedStates(await storedEvents(g.store, 'runs')));
      const inferred = (await storedEvents(g.store, 'runs')).filter((e) => e.eventKind === 'inferred');
      expect(inferred.map((e) => e.exposureId).sort()).toEqual(['e4', 'e5']);
      const stored = await g.store.db
        .selectFrom('exposure_events')
        .select(['actor', 'scan_run_id', 'event_id'])
        .where('tenant_id', '=', 'runs')
        .where('event_kind', '=', 'inferred')
        .execute();
      expect(stored.every((e) => e.scan_run_id === 'run-2' && e.actor !== null)).toBe(true);

      // A second completion writes nothing and returns the same run.
      const events = (await storedEvents(g.store, 'runs')).length;
      const again = await complete({ scanRunId: 'run-2', completedAt: '2026-01-02T05:00:00Z' });
      expect(again.errors).toBeUndefined();
      expect(again.data!.completeScanRun).toEqual(run2);
      expect((await storedEvents(g.store, 'runs')).length).toBe(events);
    });

    it('refuses new events of a completed run and keeps resent ones duplicates', async () => {
      const resent = seen(1, 'run-2', '2026-01-02T00:00:00Z');
      const duplicate = await send([resent]);
      expect(duplicate.errors).toBeUndefined();
      expect(duplicate.data).toEqual({ ingestExposureEvents: { eventsInserted: 0, eventsDuplicate: 1 } });
      const refused = await send([resent, seen(6, 'run-2', '2026-01-02T00:30:00Z')]);
      expect(refused.errors?.[0]?.extensions).toMatchObject({
        code: 'SCAN_RUN_COMPLETED',
        index: 1,
        field: 'scanRunId',
        scanRunId: 'run-2',
      });
      expect(
        await g.store.db
          .selectFrom('exposures_current')
          .select('exposure_id')
          .where('exposure_id', '=', 'e6')
          .execute(),
      ).toEqual([]);
    });

    it('counts a reopen, and diffs a run against the one before it', async () => {
      await send([seen(1, 'run-3', '2026-01-03T00:00:00Z'), seen(4, 'run-3', '2026-01-03T00:00:00Z')]);
      const response = await complete({
        scanRunId: 'run-3',
        completedAt: '2026-01-03T01:00:00Z',
        scope: SCOPE,
      });
      expect(response.data!.completeScanRun).toMatchObject({
        exposuresObserved: 2,
        exposuresNew: 0,
        exposuresReopened: 1,
        exposuresClosed: 2,
      });
      const diff = await g.graphql<{
        scanRunDiff: {
          against: { scanRunId: string } | null;
          new: { totalCount: number; edges: { node: { exposureId: string } }[] };
          resolved: {
            totalCount: number;
            edges: { node: { exposureId: string } }[];
            pageInfo: { hasNextPage: boolean; endCursor: string };
          };
          persisting: number;
        };
      }>(DIFF, { officeId: 'berlin', scanRunId: 'run-3' }, viewer);
      expect(diff.errors).toBeUndefined();
      const d = diff.data!.scanRunDiff;
      expect(d.against).toEqual({ scanRunId: 'run-2' });
      expect(d.new.edges.map((e) => e.node.exposureId)).toEqual(['e4']);
      expect(d.new.totalCount).toBe(1);
      expect(d.resolved.totalCount).toBe(2);
      expect(d.resolved.pageInfo.hasNextPage).toBe(true);
      expect(d.persisting).toBe(1);
      const page2 = await g.graphql<{
        scanRunDiff: { resolved: { edges: { node: { exposureId: string } }[] } };
      }>(
        DIFF.replace('resolved(first: 1)', 'resolved(first: 1, after: $after)').replace(
          '$against: String)',
          '$against: String, $after: String)',
        ),
        { officeId: 'berlin', scanRunId: 'run-3', after: d.resolved.pageInfo.endCursor },
        viewer,
      );
      expect(page2.errors).toBeUndefined();
      const resolved = [
        d.resolved.edges[0]!.node.exposureId,
        page2.data!.scanRunDiff.resolved.edges[0]!.node.exposureId,
      ];
      expect(resolved.sort()).toEqual(['e2', 'e3']);

      const explicit = await g.graphql<{
        scanRunDiff: { new: { edges: { node: { exposureId: string } }[] }; persisting: number };
      }>(DIFF, { officeId: 'berlin', scanRunId: 'run-2', against: 'run-1' }, viewer);
      expect(explicit.data!.scanRunDiff.new.edges).toEqual([]);
      expect(explicit.data!.scanRunDiff.persisting).toBe(3);
      const first = await g.graphql<{ scanRunDiff: { against: null; resolved: { totalCount: number } } }>(
        DIFF,
        { officeId: 'berlin', scanRunId: 'run-1' },
        viewer,
      );
      expect(first.data!.scanRunDiff).toMatchObject({ against: null, resolved: { totalCount: 0 } });
      const missing = await g.graphql(DIFF, { officeId: 'berlin', scanRunId: 'nope' }, viewer);
      expect(missing.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'scanRunId' });
      expect(await currentStates(g.store, 'runs')).toEqual(foldedStates(await storedEvents(g.store, 'runs')));
    });

    it('lists runs newest first, a page at a time, with filters', async () => {
      const first = await g.graphql<{
        scanRuns: {
          totalCount: number;
          edges: { node: Run }[];
          pageInfo: { hasNextPage: boolean; endCursor: string };
        };
      }>(RUNS, { first: 2 }, viewer);
      expect(first.errors).toBeUndefined();
      expect(first.data!.scanRuns.totalCount).toBe(3);
      expect(first.data!.scanRuns.edges.map((e) => e.node.scanRunId)).toEqual(['run-3', 'run-2']);
      const next = await g.graphql<{
        scanRuns: { edges: { node: Run }[]; pageInfo: { hasNextPage: boolean } };
      }>(RUNS, { first: 2, after: first.data!.scanRuns.pageInfo.endCursor }, viewer);
      expect(next.data!.scanRuns.edges.map((e) => e.node.scanRunId)).toEqual(['run-1']);
      expect(next.data!.scanRuns.pageInfo.hasNextPage).toBe(false);

      const filtered = await g.graphql<{ scanRuns: { totalCount: number } }>(
        RUNS,
        {
          filter: {
            from: '2026-01-02T00:00:00Z',
            to: '2026-01-03T00:00:00Z',
            completed: true,
            scannerTypes: ['nmap'],
          },
        },
        viewer,
      );
      expect(filtered.data!.scanRuns.totalCount).toBe(1);
      const open = await g.graphql<{ scanRuns: { totalCount: number } }>(
        RUNS,
        { filter: { completed: false } },
        viewer,
      );
      expect(open.data!.scanRuns.totalCount).toBe(0);
      const node = await g.graphql<{ node: { scanRunId: string } | null }>(
        'query ($id: ID!) { node(id: $id) { ... on ScanRun { scanRunId } } }',
        { id: first.data!.scanRuns.edges[0]!.node.id },
        viewer,
      );
      expect(node.data!.node).toEqual({ scanRunId: 'run-3' });
    });

    it('checks who completes a run and what it names', async () => {
      const berlinOnly = await g.token({ tenantId: 'runs', officeIds: ['berlin'], roles: ['ingestor'] });
      const forbidden = await complete(
        { officeId: 'paris', scanRunId: 'p', completedAt: '2026-01-04T00:00:00Z' },
        berlinOnly,
      );
      expect(forbidden.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', field: 'input.officeId' });
      const asViewer = await complete({ scanRunId: 'v', completedAt: '2026-01-04T00:00:00Z' }, viewer);
      expect(asViewer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const badCidr = await complete({
        scanRunId: 'b',
        completedAt: '2026-01-04T00:00:00Z',
        scope: { dstIpIn: ['10.0.0.0/24', '10.0.0.0/99'] },
      });
      expect(badCidr.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'input.scope.dstIpIn[1]',
      });
      const badPorts = await complete({
        scanRunId: 'b',
        completedAt: '2026-01-04T00:00:00Z',
        scope: { dstPortRanges: ['90-80'] },
      });
      expect(badPorts.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'input.scope.dstPortRanges[0]',
      });
      const runs = await g.graphql<{ scanRuns: { totalCount: number } }>(RUNS, {}, viewer);
      expect(runs.data!.scanRuns.totalCount).toBe(3);
      const long = await g.graphql(
        RUNS,
        { filter: { officeIds: Array.from({ length: 1001 }, (_, i) => `o${i}`) } },
        viewer,
      );
      expect(long.errors?.[0]?.extensions).toMatchObject({
        code: 'FILTER_LIST_TOO_LONG',
        field: 'filter.officeIds',
      });
      const unstorable = await g.graphql(DIFF, { officeId: 'berlin', scanRunId: 'run\u0000' }, viewer);
      expect(unstorable.errors?.[0]?.extensions).toMatchObject({
        code: 'INVALID_CHARACTERS',
        field: 'scanRunId',
      });
    });
  });
}
