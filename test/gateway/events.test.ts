import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/ingest/ingest.ts';
import { ENGINES } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';
import { openTestGateway, type TestGateway } from '../helpers/gateway.ts';

interface EventsData {
  events: {
    totalCount: number;
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean };
    edges: { node: { eventId: string } }[];
  };
}

const EVENTS = `query ($filter: EventFilter, $first: Int) {
  events(filter: $filter, first: $first) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage }
    edges { node { eventId } }
  }
}`;

// Newest first: a-3 (01-05), c-2 (01-04), c-1 and a-2 (both 01-03: the larger event id first), b-1, a-1.
const SEED = [
  eventInput({
    eventId: 'a-1',
    timestamp: '2026-01-01T00:00:00Z',
    officeId: 'berlin',
    exposureId: 'exp-a',
    scanRunId: 'run-1',
    eventAction: 'detected',
  }),
  eventInput({
    eventId: 'a-2',
    timestamp: '2026-01-03T00:00:00Z',
    officeId: 'berlin',
    exposureId: 'exp-a',
    status: 'CLOSED',
    scanRunId: 'run-2',
    eventAction: 'resolved',
  }),
  eventInput({
    eventId: 'a-3',
    timestamp: '2026-01-05T00:00:00Z',
    officeId: 'berlin',
    exposureId: 'exp-a',
    scanRunId: 'run-3',
    eventAction: 'detected',
  }),
  eventInput({
    eventId: 'b-1',
    timestamp: '2026-01-02T00:00:00Z',
    officeId: 'berlin',
    exposureId: 'exp-b',
    exposureClass: 'weak_tls',
    severity: 'LOW',
    assetId: 'host-2',
    scanRunId: 'run-1',
  }),
  eventInput({ eventId: 'c-1', timestamp: '2026-01-03T00:00:00Z', officeId: 'paris', exposureId: 'exp-c' }),
  eventInput({
    eventId: 'c-2',
    timestamp: '2026-01-04T00:00:00Z',
    officeId: 'paris',
    exposureId: 'exp-c',
    eventKind: 'alert',
    assetId: 'web-1',
    assetHostname: 'web.example',
    assetIp: '2001:db8::7',
    riskScore: 42.5,
    confidence: 0.75,
    dstIp: '2001:db8::7',
    dstPort: 443,
    protocol: 'tcp',
    scannerType: 'nmap',
    dedupeKey: 'paris-web-443',
    serviceName: 'https',
    serviceProduct: 'nginx',
    serviceVersion: '1.25',
    resource: { url: 'https://web.example/' },
    dispositionStatus: 'triaged',
    dispositionReason: 'owner notified',
    rawPayload: { port: 443, banner: 'nginx/1.25' },
  }),
];

for (const engine of ENGINES) {
  describe(`events on ${engine}`, () => {
    let g: TestGateway;
    const eventIds = async (filter: Record<string, unknown> | null) => {
      const result = await g.graphql<EventsData>(EVENTS, { filter });
      expect(result.errors).toBeUndefined();
      return result.data!.events.edges.map((e) => e.node.eventId);
    };

    beforeAll(async () => {
      g = await openTestGateway(engine);
      const deps = { store: g.store, config: g.config.ingest };
      await ingest(deps, { tenantId: 'acme', officeIds: 'all' }, { events: SEED });
      await ingest(
        deps,
        { tenantId: 'globex', officeIds: 'all' },
        {
          events: [
            eventInput({
              eventId: 'g-1',
              timestamp: '2026-01-06T00:00:00Z',
              officeId: 'berlin',
              exposureId: 'exp-a',
            }),
          ],
        },
      );
    });
    afterAll(async () => g.close());

    it('lists events newest first, ties by event id, with an exact totalCount', async () => {
      const result = await g.graphql<EventsData>(EVENTS, { first: 4 });
      expect(result.data?.events).toEqual({
        totalCount: 6,
        pageInfo: { hasNextPage: true, hasPreviousPage: false },
        edges: ['a-3', 'c-2', 'c-1', 'a-2'].map((eventId) => ({ node: { eventId } })),
      });
    });

    it.each([
      [{ officeIds: ['paris'] }, ['c-2', 'c-1']],
      [{ exposureIds: ['exp-a'] }, ['a-3', 'a-2', 'a-1']],
      [{ exposureIds: [] }, []],
      [{ assetIds: ['host-2'] }, ['b-1']],
      [{ exposureClasses: ['weak_tls'] }, ['b-1']],
      [{ severities: ['LOW'] }, ['b-1']],
      [{ statuses: ['CLOSED'] }, ['a-2']],
      [{ eventActions: ['detected'] }, ['a-3', 'a-1']],
      [{ scanRunIds: ['run-1', 'run-3'] }, ['a-3', 'b-1', 'a-1']],
      // from is inclusive, to exclusive.
      [{ from: '2026-01-03T00:00:00Z', to: '2026-01-05T00:00:00Z' }, ['c-2', 'c-1', 'a-2']],
      [{ from: '2026-01-03T09:00:00+09:00' }, ['a-3', 'c-2', 'c-1', 'a-2']],
      [{ officeIds: ['berlin'], from: '2026-01-02T00:00:00Z', statuses: ['OPEN'] }, ['a-3', 'b-1']],
    ])('filters by %j', async (filter, expected) => {
      expect(await eventIds(filter)).toEqual(expected);
      const counted = await g.graphql<EventsData>(EVENTS, { filter, first: 0 });
      expect(counted.data?.events.totalCount).toBe(expected.length);
    });

    it('maps every field of an event and finds it by global id', async () => {
      const fields = `eventId timestamp officeId exposureId exposureClass status severity eventAction eventKind
        assetId assetHostname assetIp riskScore confidence dstIp dstPort protocol serviceName serviceProduct
        serviceVersion resource dispositionStatus dispositionReason scanRunId scannerType dedupeKey rawPayload`;
      const listed = await g.graphql<{ events: { edges: { node: { id: string } }[] } }>(
        `{ events(filter: { officeIds: ["paris"] }, first: 1) { edges { node { id ${fields} } } } }`,
      );
      const node = listed.data!.events.edges[0]!.node;
      expect(node).toEqual({
        id: node.id,
        eventId: 'c-2',
        timestamp: '2026-01-04T00:00:00.000Z',
        officeId: 'paris',
        exposureId: 'exp-c',
        exposureClass: 'open_port',
        status: 'OPEN',
        severity: 'HIGH',
        eventAction: null,
        eventKind: 'alert',
        assetId: 'web-1',
        assetHostname: 'web.example',
        assetIp: '2001:db8::7',
        riskScore: 42.5,
        confidence: 0.75,
        dstIp: '2001:db8::7',
        dstPort: 443,
        protocol: 'tcp',
        serviceName: 'https',
        serviceProduct: 'nginx',
        serviceVersion: '1.25',
        resource: { url: 'https://web.example/' },
        dispositionStatus: 'triaged',
        dispositionReason: 'owner notified',
        scanRunId: null,
        scannerType: 'nmap',
        dedupeKey: 'paris-web-443',
        rawPayload: { port: 443, banner: 'nginx/1.25' },
      });

      const nodeQuery = `query ($id: ID!) { node(id: $id) { ... on ExposureEvent { ${fields} } } }`;
      const { id, ...expected } = node;
      expect((await g.graphql(nodeQuery, { id })).data).toEqual({ node: expected });
      expect((await g.graphql(nodeQuery, { id }, await g.token({ tenantId: 'globex' }))).data).toEqual({
        node: null,
      });
      expect((await g.graphql(nodeQuery, { id }, await g.token({ officeIds: ['berlin'] }))).data).toEqual({
        node: null,
      });
    });

    it("keeps other tenants' and offices' events out of lists and counts", async () => {
      const globex = await g.graphql<EventsData>(EVENTS, {}, await g.token({ tenantId: 'globex' }));
      expect(globex.data?.events.totalCount).toBe(1);
      expect(globex.data?.events.edges).toEqual([{ node: { eventId: 'g-1' } }]);
      const paris = await g.graphql<EventsData>(EVENTS, {}, await g.token({ officeIds: ['paris'] }));
      expect(paris.data?.events.totalCount).toBe(2);
      // Asking for an office outside the token narrows to nothing rather than widening the scope.
      const outside = await g.graphql<EventsData>(
        EVENTS,
        { filter: { officeIds: ['berlin'] } },
        await g.token({ officeIds: ['paris'] }),
      );
      expect(outside.data?.events).toMatchObject({ totalCount: 0, edges: [] });
    });

    it("resolves an event's exposure", async () => {
      const result = await g.graphql(
        '{ events(filter: { exposureIds: ["exp-a", "exp-b"] }) { edges { node { eventId exposure { officeId exposureId status lastSeen } } } } }',
      );
      const exposureA = {
        officeId: 'berlin',
        exposureId: 'exp-a',
        status: 'OPEN',
        lastSeen: '2026-01-05T00:00:00.000Z',
      };
      const exposureB = {
        officeId: 'berlin',
        exposureId: 'exp-b',
        status: 'OPEN',
        lastSeen: '2026-01-02T00:00:00.000Z',
      };
      expect(result.data).toEqual({
        events: {
          edges: [
            { node: { eventId: 'a-3', exposure: exposureA } },
            { node: { eventId: 'a-2', exposure: exposureA } },
            { node: { eventId: 'b-1', exposure: exposureB } },
            { node: { eventId: 'a-1', exposure: exposureA } },
          ],
        },
      });
    });

    it("pages an exposure's events newest first, within a time window", async () => {
      const query = `query ($first: Int, $after: String, $from: DateTime, $to: DateTime) {
        exposure(officeId: "berlin", exposureId: "exp-a") {
          events(first: $first, after: $after, from: $from, to: $to) {
            totalCount
            pageInfo { hasNextPage hasPreviousPage endCursor }
            edges { node { eventId } }
          }
        }
      }`;
      type Data = {
        exposure: {
          events: {
            totalCount: number;
            pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string };
            edges: { node: { eventId: string } }[];
          };
        };
      };
      const first = await g.graphql<Data>(query, { first: 2 });
      expect(first.data?.exposure.events).toMatchObject({
        totalCount: 3,
        pageInfo: { hasNextPage: true, hasPreviousPage: false },
        edges: [{ node: { eventId: 'a-3' } }, { node: { eventId: 'a-2' } }],
      });
      const after = first.data!.exposure.events.pageInfo.endCursor;
      const second = await g.graphql<Data>(query, { first: 2, after });
      expect(second.data?.exposure.events).toMatchObject({
        totalCount: 3,
        pageInfo: { hasNextPage: false, hasPreviousPage: true },
        edges: [{ node: { eventId: 'a-1' } }],
      });
      const window = await g.graphql<Data>(query, {
        from: '2026-01-01T00:00:00Z',
        to: '2026-01-05T00:00:00Z',
      });
      expect(window.data?.exposure.events).toMatchObject({
        totalCount: 2,
        pageInfo: { hasNextPage: false },
        edges: [{ node: { eventId: 'a-2' } }, { node: { eventId: 'a-1' } }],
      });
      const bad = await g.graphql<Data>(query, { after: 'not-a-cursor' });
      expect(bad.errors?.[0]?.extensions?.code).toBe('INVALID_CURSOR');
    });

    it('gives every exposure of a page its own events, also under aliases with other arguments', async () => {
      const result = await g.graphql(`{
        exposures {
          edges {
            node {
              exposureId
              latest: events(first: 1) { totalCount edges { node { eventId } } }
              early: events(to: "2026-01-03T00:00:00Z") { totalCount edges { node { eventId } } }
            }
          }
        }
      }`);
      const events = (total: number, ids: string[]) => ({
        totalCount: total,
        edges: ids.map((eventId) => ({ node: { eventId } })),
      });
      expect(result.data).toEqual({
        exposures: {
          edges: [
            { node: { exposureId: 'exp-a', latest: events(3, ['a-3']), early: events(1, ['a-1']) } },
            { node: { exposureId: 'exp-c', latest: events(2, ['c-2']), early: events(0, []) } },
            { node: { exposureId: 'exp-b', latest: events(1, ['b-1']), early: events(1, ['b-1']) } },
          ],
        },
      });
    });
  });
}
