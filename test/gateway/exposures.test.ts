import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/ingest/ingest.ts';
import { ENGINES } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';
import { openTestGateway, type TestGateway } from '../helpers/gateway.ts';

interface ExposuresData {
  exposures: {
    totalCount: number;
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string | null };
    edges: { cursor: string; node: { exposureId: string } }[];
  };
}

const EXPOSURES = `query ($filter: ExposureFilter, $orderBy: ExposureOrder, $first: Int, $after: String) {
  exposures(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { exposureId } }
  }
}`;

// Six exposures of tenant acme; the comments give the values the filters and orders below rely on.
const SEED = [
  // a: berlin, HIGH, risk 80, 10.0.0.5, first 01-01, last 01-05
  eventInput({
    eventId: 'a-1',
    timestamp: '2026-01-01T00:00:00Z',
    officeId: 'berlin',
    exposureId: 'exp-a',
    severity: 'MEDIUM',
    riskScore: 80,
    confidence: 0.9,
    assetId: 'host-1',
    assetHostname: 'DB-Server.corp',
    assetIp: '10.0.0.5',
    serviceName: 'rdp',
    serviceProduct: 'Microsoft Terminal Services',
    serviceVersion: '10.0',
    resource: { path: '/admin', tags: ['edge', 'prod'] },
    dispositionStatus: 'open',
    dispositionReason: 'new finding',
    eventAction: 'detected',
    eventKind: 'alert',
  }),
  eventInput({
    eventId: 'a-2',
    timestamp: '2026-01-05T00:00:00Z',
    officeId: 'berlin',
    exposureId: 'exp-a',
    severity: 'HIGH',
    eventAction: 'redetected',
  }),
  // b: berlin, MEDIUM, CLOSED, no risk, 2001:db8::1, weak_tls, 443
  eventInput({
    eventId: 'b-1',
    timestamp: '2026-01-02T00:00:00Z',
    officeId: 'berlin',
    exposureId: 'exp-b',
    exposureClass: 'weak_tls',
    status: 'CLOSED',
    severity: 'MEDIUM',
    dstIp: '2001:db8::1',
    dstPort: 443,
    assetId: 'host-2',
  }),
  // c: paris, CRITICAL, risk 95.5, 192.168.1.10, udp 8443, asset "web_1%"
  eventInput({
    eventId: 'c-1',
    timestamp: '2026-01-03T00:00:00Z',
    officeId: 'paris',
    exposureId: 'exp-c',
    exposureClass: 'expired_certificate',
    severity: 'CRITICAL',
    riskScore: 95.5,
    dstIp: '192.168.1.10',
    dstPort: 8443,
    protocol: 'udp',
    assetId: 'web_1%',
    assetHostname: 'web.example',
  }),
  // d: paris, LOW, risk 10, 10.1.2.3, port 22; its id has an underscore
  eventInput({
    eventId: 'd-1',
    timestamp: '2026-01-04T00:00:00Z',
    officeId: 'paris',
    exposureId: 'exp_d',
    severity: 'LOW',
    riskScore: 10,
    dstIp: '10.1.2.3',
    dstPort: 22,
    assetId: 'host-4',
  }),
  // e: london, INFO, risk 30, 2001:db9::5 (outside 2001:db8::/32), port 80
  eventInput({
    eventId: 'e-1',
    timestamp: '2026-01-06T00:00:00Z',
    officeId: 'london',
    exposureId: 'exp-e',
    severity: 'INFO',
    riskScore: 30,
    dstIp: '2001:db9::5',
    dstPort: 80,
  }),
  // f: london, HIGH like a, risk 80 like a, seen later than a; no destination
  eventInput({
    eventId: 'f-1',
    timestamp: '2026-01-07T00:00:00Z',
    officeId: 'london',
    exposureId: 'exp-f',
    severity: 'HIGH',
    riskScore: 80,
    dstIp: undefined,
    dstPort: undefined,
    protocol: undefined,
  }),
];

for (const engine of ENGINES) {
  describe(`exposures on ${engine}`, () => {
    let g: TestGateway;
    const ids = async (filter: Record<string, unknown> | null, orderBy?: Record<string, unknown>) => {
      const result = await g.graphql<ExposuresData>(EXPOSURES, { filter, orderBy });
      expect(result.errors).toBeUndefined();
      return result.data!.exposures.edges.map((e) => e.node.exposureId);
    };

    beforeAll(async () => {
      g = await openTestGateway(engine);
      const deps = { store: g.store, config: g.config.ingest };
      await ingest(deps, { tenantId: 'acme', officeIds: 'all' }, { events: SEED });
      // Another tenant with the same office and exposure ids: never visible to acme.
      await ingest(
        deps,
        { tenantId: 'globex', officeIds: 'all' },
        {
          events: [
            eventInput({ eventId: 'g-1', officeId: 'berlin', exposureId: 'exp-a', severity: 'CRITICAL' }),
            eventInput({ eventId: 'g-2', officeId: 'berlin', exposureId: 'exp-z' }),
          ],
        },
      );
    });
    afterAll(async () => g.close());

    it('lists the last seen first by default, with an exact totalCount', async () => {
      const result = await g.graphql<ExposuresData>(EXPOSURES, { first: 4 });
      expect(result.data?.exposures).toMatchObject({
        totalCount: 6,
        pageInfo: { hasNextPage: true, hasPreviousPage: false },
      });
      expect(result.data?.exposures.edges.map((e) => e.node.exposureId)).toEqual([
        'exp-f',
        'exp-e',
        'exp-a',
        'exp_d',
      ]);
    });

    it('maps every field of an exposure', async () => {
      const result = await g.graphql(`{
        exposure(officeId: "berlin", exposureId: "exp-a") {
          officeId exposureId exposureClass status severity riskScore confidence dstIp dstPort protocol
          assetId assetHostname assetIp serviceName serviceProduct serviceVersion resource
          dispositionStatus dispositionReason eventAction eventKind firstSeen lastSeen
        }
      }`);
      expect(result.errors).toBeUndefined();
      expect(result.data?.exposure).toEqual({
        officeId: 'berlin',
        exposureId: 'exp-a',
        exposureClass: 'open_port',
        status: 'OPEN',
        severity: 'HIGH',
        riskScore: 80,
        confidence: 0.9,
        dstIp: '10.0.0.5',
        dstPort: 3389,
        protocol: 'tcp',
        assetId: 'host-1',
        assetHostname: 'DB-Server.corp',
        assetIp: '10.0.0.5',
        serviceName: 'rdp',
        serviceProduct: 'Microsoft Terminal Services',
        serviceVersion: '10.0',
        resource: { path: '/admin', tags: ['edge', 'prod'] },
        dispositionStatus: 'open',
        dispositionReason: 'new finding',
        eventAction: 'redetected',
        // From the latest event, which has none: only optional state fields keep older values.
        eventKind: null,
        firstSeen: '2026-01-01T00:00:00.000Z',
        lastSeen: '2026-01-05T00:00:00.000Z',
      });
    });

    it.each([
      [{ officeIds: ['paris'] }, ['exp_d', 'exp-c']],
      [{ officeIds: [] }, []],
      [{ exposureIds: ['exp-a', 'exp-b', 'exp-z'] }, ['exp-a', 'exp-b']],
      [{ exposureClasses: ['weak_tls', 'expired_certificate'] }, ['exp-c', 'exp-b']],
      [{ statuses: ['CLOSED'] }, ['exp-b']],
      [{ severities: ['HIGH', 'LOW'] }, ['exp-f', 'exp-a', 'exp_d']],
      [{ minSeverity: 'HIGH' }, ['exp-f', 'exp-a', 'exp-c']],
      [{ minSeverity: 'LOW' }, ['exp-f', 'exp-a', 'exp_d', 'exp-c', 'exp-b']],
      [{ minSeverity: 'INFO' }, ['exp-f', 'exp-e', 'exp-a', 'exp_d', 'exp-c', 'exp-b']],
      [{ assetIds: ['host-1', 'host-4'] }, ['exp-a', 'exp_d']],
      [{ protocols: ['udp'] }, ['exp-c']],
      [{ dstPorts: [22, 443] }, ['exp_d', 'exp-b']],
      [{ dstIpIn: '10.0.0.0/8' }, ['exp-a', 'exp_d']],
      [{ dstIpIn: '10.0.0.0/16' }, ['exp-a']],
      [{ dstIpIn: '192.168.1.10' }, ['exp-c']],
      [{ dstIpIn: '2001:db8::/32' }, ['exp-b']],
      [{ dstIpIn: '2001:d00::/24' }, ['exp-e', 'exp-b']],
      [{ dstIpIn: '0.0.0.0/0' }, ['exp-a', 'exp_d', 'exp-c']],
      [{ minRiskScore: 80 }, ['exp-f', 'exp-a', 'exp-c']],
      [{ minRiskScore: 95.6 }, []],
      [{ firstSeenFrom: '2026-01-03T00:00:00Z', firstSeenTo: '2026-01-06T00:00:00Z' }, ['exp_d', 'exp-c']],
      [{ lastSeenFrom: '2026-01-05T00:00:00Z', lastSeenTo: '2026-01-07T00:00:00Z' }, ['exp-e', 'exp-a']],
      [{ lastSeenFrom: '2026-01-05T01:00:00+01:00' }, ['exp-f', 'exp-e', 'exp-a']],
      [{ search: 'db-SERVER' }, ['exp-a']],
      [{ search: 'EXP_' }, ['exp_d']],
      [{ search: '_1%' }, ['exp-c']],
      [{ search: '%' }, ['exp-c']],
      [{ search: '2001:DB8' }, ['exp-b']],
      [{ search: '10.1.' }, ['exp_d']],
      [{ officeIds: ['berlin', 'paris'], minSeverity: 'MEDIUM', statuses: ['OPEN'] }, ['exp-a', 'exp-c']],
    ])('filters by %j', async (filter, expected) => {
      expect(await ids(filter)).toEqual(expected);
      const counted = await g.graphql<ExposuresData>(EXPOSURES, { filter, first: 1 });
      expect(counted.data?.exposures.totalCount).toBe(expected.length);
    });

    it('refuses a dstIpIn that is not a CIDR', async () => {
      const result = await g.graphql(EXPOSURES, { filter: { dstIpIn: '10.0.0.0/33' } });
      expect(result.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'filter.dstIpIn',
      });
    });

    it.each([
      ['LAST_SEEN', 'DESC', ['exp-f', 'exp-e', 'exp-a', 'exp_d', 'exp-c', 'exp-b']],
      ['LAST_SEEN', 'ASC', ['exp-b', 'exp-c', 'exp_d', 'exp-a', 'exp-e', 'exp-f']],
      ['FIRST_SEEN', 'ASC', ['exp-a', 'exp-b', 'exp-c', 'exp_d', 'exp-e', 'exp-f']],
      ['FIRST_SEEN', 'DESC', ['exp-f', 'exp-e', 'exp_d', 'exp-c', 'exp-b', 'exp-a']],
      // Equal severity or score: the one seen last comes first when descending.
      ['SEVERITY', 'DESC', ['exp-c', 'exp-f', 'exp-a', 'exp-b', 'exp_d', 'exp-e']],
      ['SEVERITY', 'ASC', ['exp-e', 'exp_d', 'exp-b', 'exp-a', 'exp-f', 'exp-c']],
      // No score sorts below every score.
      ['RISK_SCORE', 'DESC', ['exp-c', 'exp-f', 'exp-a', 'exp-e', 'exp_d', 'exp-b']],
      ['RISK_SCORE', 'ASC', ['exp-b', 'exp_d', 'exp-e', 'exp-a', 'exp-f', 'exp-c']],
    ])('orders by %s %s, on one page and across pages', async (field, direction, expected) => {
      const orderBy = { field, direction };
      expect(await ids(null, orderBy)).toEqual(expected);
      const walked: string[] = [];
      let after: string | null = null;
      for (let page = 0; page < 4; page++) {
        const result: { data?: ExposuresData } = await g.graphql<ExposuresData>(EXPOSURES, {
          orderBy,
          first: 2,
          after,
        });
        const connection = result.data!.exposures;
        walked.push(...connection.edges.map((e) => e.node.exposureId));
        after = connection.pageInfo.endCursor;
        if (!connection.pageInfo.hasNextPage) break;
      }
      expect(walked).toEqual(expected);
    });

    it('finds one exposure by key or by global id, and nothing of another tenant or office', async () => {
      const byKey = await g.graphql<{ a: { id: string; severity: string }; b: { id: string } }>(
        '{ a: exposure(officeId: "berlin", exposureId: "exp-a") { id severity } b: exposure(officeId: "berlin", exposureId: "exp-b") { id } }',
      );
      expect(byKey.data?.a.severity).toBe('HIGH');
      const { id } = byKey.data!.a;
      const nodeQuery = 'query ($id: ID!) { node(id: $id) { id ... on Exposure { exposureId severity } } }';
      expect((await g.graphql(nodeQuery, { id })).data).toEqual({
        node: { id, exposureId: 'exp-a', severity: 'HIGH' },
      });

      const globex = await g.token({ tenantId: 'globex' });
      expect((await g.graphql(nodeQuery, { id: byKey.data!.b.id }, globex)).data).toEqual({ node: null });
      // The tenant comes from the token: globex's own berlin/exp-a, never acme's.
      expect((await g.graphql(nodeQuery, { id }, globex)).data).toEqual({
        node: { id, exposureId: 'exp-a', severity: 'CRITICAL' },
      });
      const absent = await g.graphql('{ exposure(officeId: "berlin", exposureId: "exp-z") { id } }');
      expect(absent.data).toEqual({ exposure: null });

      const parisOnly = await g.token({ officeIds: ['paris'] });
      expect((await g.graphql(nodeQuery, { id }, parisOnly)).data).toEqual({ node: null });
      const hidden = await g.graphql(
        '{ exposure(officeId: "berlin", exposureId: "exp-a") { id } }',
        {},
        parisOnly,
      );
      expect(hidden.data).toEqual({ exposure: null });
      const listed = await g.graphql<ExposuresData>(EXPOSURES, {}, parisOnly);
      expect(listed.data?.exposures.totalCount).toBe(2);
      expect(listed.data?.exposures.edges.map((e) => e.node.exposureId)).toEqual(['exp_d', 'exp-c']);
    });

    it('refuses a global id that is not an exposure id, with a code', async () => {
      const forged = Buffer.from('Exposure:not-a-key').toString('base64');
      const result = await g.graphql('query ($id: ID!) { node(id: $id) { id } }', { id: forged });
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    });
  });
}
