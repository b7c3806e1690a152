/**
 * Open streaks, SLA and triage through the GraphQL endpoint, on both engines, with the gateway's clock
 * set by the test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/tokens.ts';
import { ENGINES } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';
import { openTestGateway, TEST_SECRET, type TestGateway } from '../helpers/gateway.ts';

const INGEST = `mutation ($input: IngestExposureEventsInput!) {
  ingestExposureEvents(input: $input) { eventsInserted }
}`;
const EXPOSURE = `query ($exposureId: String!) {
  exposure(officeId: "berlin", exposureId: $exposureId) {
    status severity firstSeen openSince slaDueAt overdue eventKind
    dispositionStatus dispositionReason dispositionExpiresAt dispositionActive
    events(first: 1) { edges { node { eventKind actor dispositionStatus } } }
  }
}`;
const TRIAGE = `mutation ($input: TriageExposureInput!) {
  triageExposure(input: $input) { exposureId status dispositionStatus dispositionActive dispositionExpiresAt }
}`;
const MATCHING = `query ($filter: ExposureFilter) {
  exposures(filter: $filter, first: 50) { edges { node { exposureId } } }
  exposureSummary(filter: $filter) { total overdue dispositioned }
}`;
const SET_POLICY = `mutation ($input: SlaPolicyInput!) { setSlaPolicy(input: $input) { critical high medium low info } }`;

const day = (n: number, hour = 0) => new Date(Date.UTC(2026, 0, n, hour)).toISOString();

interface ExposureView {
  status: string;
  openSince: string | null;
  slaDueAt: string | null;
  overdue: boolean;
  eventKind: string | null;
  dispositionStatus: string | null;
  dispositionReason: string | null;
  dispositionExpiresAt: string | null;
  dispositionActive: boolean;
  events: {
    edges: { node: { eventKind: string; actor: string | null; dispositionStatus: string | null } }[];
  };
}

for (const engine of ENGINES) {
  describe(`lifecycle on ${engine}`, () => {
    let g: TestGateway;
    let ingestor: string;
    let analyst: string;
    let admin: string;

    beforeAll(async () => {
      g = await openTestGateway(engine);
      ingestor = await g.token({ roles: ['ingestor'] });
      admin = await g.token({ roles: ['admin'] });
      analyst = await signToken(TEST_SECRET, {
        tenantId: 'acme',
        officeIds: ['berlin'],
        roles: ['analyst'],
        subject: 'ana@example.com',
      });
      g.clock.at = new Date(day(20));
      const events = [
        eventInput({ exposureId: 'reopened', timestamp: day(1), severity: 'CRITICAL' }),
        eventInput({ exposureId: 'reopened', timestamp: day(3), status: 'CLOSED', severity: 'CRITICAL' }),
        eventInput({ exposureId: 'reopened', timestamp: day(5), severity: 'CRITICAL' }),
        eventInput({ exposureId: 'reopened', timestamp: day(6), severity: 'CRITICAL' }),
        eventInput({ exposureId: 'closed', timestamp: day(2), status: 'CLOSED', severity: 'CRITICAL' }),
        eventInput({ exposureId: 'info', timestamp: day(1), severity: 'INFO' }),
      ];
      const response = await g.graphql(INGEST, { input: { events } }, ingestor);
      expect(response.errors).toBeUndefined();
    });
    afterAll(async () => g.close());

    const exposure = async (exposureId: string) => {
      const response = await g.graphql<{ exposure: ExposureView }>(EXPOSURE, { exposureId });
      expect(response.errors).toBeUndefined();
      return response.data!.exposure;
    };
    const matching = async (filter: Record<string, unknown>) => {
      const response = await g.graphql<{
        exposures: { edges: { node: { exposureId: string } }[] };
        exposureSummary: { total: number; overdue: number; dispositioned: number };
      }>(MATCHING, { filter });
      expect(response.errors).toBeUndefined();
      return {
        ids: response.data!.exposures.edges.map((e) => e.node.exposureId).sort(),
        summary: response.data!.exposureSummary,
      };
    };

    it('starts openSince anew after a reopen and clears it while CLOSED', async () => {
      expect(await exposure('reopened')).toMatchObject({ status: 'OPEN', openSince: day(5) });
      expect(await exposure('closed')).toMatchObject({ openSince: null, slaDueAt: null, overdue: false });
      expect((await matching({ openSinceFrom: day(4), openSinceTo: day(6) })).ids).toEqual(['reopened']);
    });

    it('computes slaDueAt from the policy and flips overdue when the clock passes it', async () => {
      const policy = await g.graphql('{ slaPolicy { critical high medium low info } }');
      expect(policy.data).toEqual({ slaPolicy: { critical: 7, high: 30, medium: 90, low: 180, info: null } });
      g.clock.at = new Date(day(12));
      expect(await exposure('reopened')).toMatchObject({ slaDueAt: day(12), overdue: false });
      expect(await exposure('info')).toMatchObject({ slaDueAt: null, overdue: false });
      expect((await matching({ overdue: true })).summary.overdue).toBe(0);
      g.clock.at = new Date(day(12, 1));
      expect(await exposure('reopened')).toMatchObject({ overdue: true });
      expect(await matching({ overdue: true })).toMatchObject({ ids: ['reopened'], summary: { overdue: 1 } });
      expect((await matching({ overdue: false })).ids).toEqual(['closed', 'info']);

      const set = await g.graphql(SET_POLICY, { input: { critical: 10, info: 10 } }, admin);
      expect(set.data).toEqual({ setSlaPolicy: { critical: 10, high: 30, medium: 90, low: 180, info: 10 } });
      expect(await exposure('reopened')).toMatchObject({ slaDueAt: day(15), overdue: false });
      expect(await matching({ overdue: true })).toMatchObject({ ids: ['info'], summary: { overdue: 1 } });
      const cleared = await g.graphql(SET_POLICY, { input: { info: null } }, admin);
      expect(cleared.data).toMatchObject({ setSlaPolicy: { critical: 10, info: null } });
    });

    it('refuses a policy with days out of range, naming the field, and from anyone but an admin', async () => {
      const bad = await g.graphql(SET_POLICY, { input: { high: 0 } }, admin);
      expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.high' });
      const byAnalyst = await g.graphql(SET_POLICY, { input: { high: 3 } }, analyst);
      expect(byAnalyst.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    });

    it('records a decision with its actor, which lapses at its expiry and is cleared by "none"', async () => {
      g.clock.at = new Date(day(20));
      const triaged = await g.graphql(
        TRIAGE,
        {
          input: {
            officeId: 'berlin',
            exposureId: 'reopened',
            dispositionStatus: 'accepted_risk',
            dispositionReason: 'lab host',
            expiresAt: day(25),
          },
        },
        analyst,
      );
      expect(triaged.errors).toBeUndefined();
      expect(triaged.data).toEqual({
        triageExposure: {
          exposureId: 'reopened',
          status: 'OPEN',
          dispositionStatus: 'accepted_risk',
          dispositionActive: true,
          dispositionExpiresAt: day(25),
        },
      });
      // The decision carried the state over: still OPEN, the same streak.
      expect(await exposure('reopened')).toMatchObject({
        status: 'OPEN',
        openSince: day(5),
        eventKind: 'triage',
        dispositionReason: 'lab host',
        events: {
          edges: [
            { node: { eventKind: 'triage', actor: 'ana@example.com', dispositionStatus: 'accepted_risk' } },
          ],
        },
      });
      expect(await matching({ dispositionStatuses: ['accepted_risk'] })).toMatchObject({
        ids: ['reopened'],
        summary: { dispositioned: 1 },
      });
      expect((await matching({ dispositionStatuses: ['none'] })).ids).toEqual(['closed', 'info']);

      g.clock.at = new Date(day(25));
      expect(await exposure('reopened')).toMatchObject({
        dispositionStatus: 'accepted_risk',
        dispositionActive: false,
      });
      expect(await matching({ dispositionStatuses: ['accepted_risk'] })).toMatchObject({
        ids: [],
        summary: { dispositioned: 0 },
      });
      expect((await matching({ dispositionStatuses: ['none'] })).ids).toEqual(['closed', 'info', 'reopened']);

      // A later decision without an expiry does not inherit the earlier one's; "none" clears it.
      const input = { officeId: 'berlin', exposureId: 'reopened', dispositionReason: 'reviewed' };
      await g.graphql(TRIAGE, { input: { ...input, dispositionStatus: 'false_positive' } }, admin);
      expect(await exposure('reopened')).toMatchObject({
        dispositionStatus: 'false_positive',
        dispositionExpiresAt: null,
        dispositionActive: true,
      });
      g.clock.at = new Date(day(26));
      await g.graphql(TRIAGE, { input: { ...input, dispositionStatus: 'none' } }, analyst);
      expect(await exposure('reopened')).toMatchObject({
        dispositionStatus: 'none',
        dispositionActive: false,
      });
      expect((await matching({ dispositionStatuses: ['false_positive'] })).ids).toEqual([]);
    });

    it('refuses triage by a viewer, of an unknown exposure, and past the expiry rules', async () => {
      const input = {
        officeId: 'berlin',
        exposureId: 'reopened',
        dispositionStatus: 'mitigated',
        dispositionReason: 'patched',
      };
      const byViewer = await g.graphql(TRIAGE, { input });
      expect(byViewer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const unknown = await g.graphql(TRIAGE, { input: { ...input, exposureId: 'nope' } }, analyst);
      expect(unknown.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'input.exposureId' });
      const expired = await g.graphql(TRIAGE, { input: { ...input, expiresAt: day(1) } }, analyst);
      expect(expired.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'input.expiresAt',
      });
      const empty = await g.graphql(TRIAGE, { input: { ...input, dispositionStatus: '' } }, analyst);
      expect(empty.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'input.dispositionStatus',
      });
    });

    it('lets an analyst read but not ingest', async () => {
      const read = await g.graphql('{ exposures(first: 1) { totalCount } }', {}, analyst);
      expect(read.errors).toBeUndefined();
      const write = await g.graphql(
        INGEST,
        { input: { events: [eventInput({ timestamp: day(19) })] } },
        analyst,
      );
      expect(write.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    });
  });
}
