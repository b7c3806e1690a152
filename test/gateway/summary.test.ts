import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/ingest/ingest.ts';
import { ENGINES } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';
import { openTestGateway, type TestGateway } from '../helpers/gateway.ts';

const SUMMARY = `
  query Summary($filter: ExposureFilter) {
    exposureSummary(filter: $filter) { total open closed info low medium high critical }
  }`;

const GROUPS = `
  query Groups($filter: ExposureFilter, $groupBy: [ExposureGroupBy!]!) {
    exposureGroups(filter: $filter, groupBy: $groupBy) {
      officeId severity status exposureClass protocol dstPort count maxRiskScore
    }
  }`;

interface Group {
  officeId: string | null;
  severity: string | null;
  status: string | null;
  exposureClass: string | null;
  protocol: string | null;
  dstPort: number | null;
  count: number;
  maxRiskScore: number | null;
}

/** A group with only the given fields set. */
const group = (fields: Partial<Group> & Pick<Group, 'count' | 'maxRiskScore'>): Group => ({
  officeId: null,
  severity: null,
  status: null,
  exposureClass: null,
  protocol: null,
  dstPort: null,
  ...fields,
});

const zeroSummary = { total: 0, open: 0, closed: 0, info: 0, low: 0, medium: 0, high: 0, critical: 0 };

for (const engine of ENGINES) {
  describe(`exposureSummary and exposureGroups on ${engine}`, () => {
    let g: TestGateway;
    const summary = async (filter?: Record<string, unknown>, token?: string) => {
      const result = await g.graphql<{ exposureSummary: unknown }>(SUMMARY, { filter }, token);
      expect(result.errors).toBeUndefined();
      return result.data?.exposureSummary;
    };
    const groups = async (groupBy: string[], filter?: Record<string, unknown>, token?: string) => {
      const result = await g.graphql<{ exposureGroups: Group[] }>(GROUPS, { groupBy, filter }, token);
      expect(result.errors).toBeUndefined();
      return result.data?.exposureGroups;
    };

    beforeAll(async () => {
      g = await openTestGateway(engine);
      const deps = { store: g.store, config: g.config.ingest };
      await ingest(
        deps,
        { tenantId: 'acme', officeIds: 'all' },
        {
          events: [
            eventInput({ officeId: 'berlin', exposureId: 'a', severity: 'HIGH', riskScore: 70 }),
            eventInput({
              officeId: 'berlin',
              exposureId: 'b',
              exposureClass: 'weak_tls',
              severity: 'MEDIUM',
              riskScore: 40,
              dstPort: 443,
            }),
            eventInput({
              officeId: 'berlin',
              exposureId: 'c',
              severity: 'CRITICAL',
              riskScore: 95,
              dstPort: 22,
            }),
            // c is closed by a later event without a score: the score of the first one stays.
            eventInput({
              officeId: 'berlin',
              exposureId: 'c',
              severity: 'CRITICAL',
              status: 'CLOSED',
              timestamp: '2026-01-11T10:00:00Z',
              dstPort: 22,
            }),
            eventInput({
              officeId: 'paris',
              exposureId: 'd',
              severity: 'HIGH',
              protocol: 'udp',
              dstPort: 161,
            }),
            eventInput({
              officeId: 'paris',
              exposureId: 'e',
              exposureClass: 'expired_certificate',
              severity: 'LOW',
              riskScore: 10,
              protocol: undefined,
              dstPort: undefined,
            }),
            eventInput({
              officeId: 'paris',
              exposureId: 'f',
              severity: 'INFO',
              status: 'CLOSED',
              riskScore: 5,
            }),
          ],
        },
      );
      await ingest(
        deps,
        { tenantId: 'globex', officeIds: 'all' },
        {
          events: [eventInput({ officeId: 'berlin', exposureId: 'g', severity: 'CRITICAL', riskScore: 99 })],
        },
      );
    });
    afterAll(async () => g.close());

    it('counts exposures by status and severity', async () => {
      expect(await summary()).toEqual({
        total: 6,
        open: 4,
        closed: 2,
        info: 1,
        low: 1,
        medium: 1,
        high: 2,
        critical: 1,
      });
      expect(await summary({ exposureClasses: ['open_port'] })).toEqual({
        total: 4,
        open: 2,
        closed: 2,
        info: 1,
        low: 0,
        medium: 0,
        high: 2,
        critical: 1,
      });
      expect(await summary({ exposureClasses: [] })).toEqual(zeroSummary);
    });

    it('counts only the offices of the token and the tenant of the token', async () => {
      const paris = await g.token({ officeIds: ['paris'] });
      expect(await summary(undefined, paris)).toEqual({
        total: 3,
        open: 2,
        closed: 1,
        info: 1,
        low: 1,
        medium: 0,
        high: 1,
        critical: 0,
      });
      expect(await summary({ officeIds: ['berlin'] }, paris)).toEqual(zeroSummary);
      expect(await summary(undefined, await g.token({ tenantId: 'globex' }))).toEqual({
        ...zeroSummary,
        total: 1,
        open: 1,
        critical: 1,
      });
      expect(await summary(undefined, await g.token({ tenantId: 'initech' }))).toEqual(zeroSummary);
    });

    it('groups by one field, largest group first, ties by value', async () => {
      expect(await groups(['EXPOSURE_CLASS'])).toEqual([
        group({ exposureClass: 'open_port', count: 4, maxRiskScore: 95 }),
        group({ exposureClass: 'expired_certificate', count: 1, maxRiskScore: 10 }),
        group({ exposureClass: 'weak_tls', count: 1, maxRiskScore: 40 }),
      ]);
      // Severity ties run from CRITICAL down; a group's missing scores do not hide the others.
      expect(await groups(['SEVERITY'])).toEqual([
        group({ severity: 'HIGH', count: 2, maxRiskScore: 70 }),
        group({ severity: 'CRITICAL', count: 1, maxRiskScore: 95 }),
        group({ severity: 'MEDIUM', count: 1, maxRiskScore: 40 }),
        group({ severity: 'LOW', count: 1, maxRiskScore: 10 }),
        group({ severity: 'INFO', count: 1, maxRiskScore: 5 }),
      ]);
      expect(await groups(['STATUS', 'STATUS'], { minSeverity: 'HIGH' })).toEqual([
        group({ status: 'OPEN', count: 2, maxRiskScore: 70 }),
        group({ status: 'CLOSED', count: 1, maxRiskScore: 95 }),
      ]);
    });

    it('groups by several fields, with null groups last', async () => {
      expect(await groups(['OFFICE', 'SEVERITY'])).toEqual([
        group({ officeId: 'berlin', severity: 'CRITICAL', count: 1, maxRiskScore: 95 }),
        group({ officeId: 'berlin', severity: 'HIGH', count: 1, maxRiskScore: 70 }),
        group({ officeId: 'berlin', severity: 'MEDIUM', count: 1, maxRiskScore: 40 }),
        group({ officeId: 'paris', severity: 'HIGH', count: 1, maxRiskScore: null }),
        group({ officeId: 'paris', severity: 'LOW', count: 1, maxRiskScore: 10 }),
        group({ officeId: 'paris', severity: 'INFO', count: 1, maxRiskScore: 5 }),
      ]);
      expect(await groups(['PROTOCOL', 'DST_PORT'])).toEqual([
        group({ protocol: 'tcp', dstPort: 3389, count: 2, maxRiskScore: 70 }),
        group({ protocol: 'tcp', dstPort: 22, count: 1, maxRiskScore: 95 }),
        group({ protocol: 'tcp', dstPort: 443, count: 1, maxRiskScore: 40 }),
        group({ protocol: 'udp', dstPort: 161, count: 1, maxRiskScore: null }),
        group({ protocol: null, dstPort: null, count: 1, maxRiskScore: 10 }),
      ]);
    });

    it('groups only the offices of the token and the tenant of the token', async () => {
      const paris = await g.token({ officeIds: ['paris'] });
      expect(await groups(['OFFICE'], undefined, paris)).toEqual([
        group({ officeId: 'paris', count: 3, maxRiskScore: 10 }),
      ]);
      expect(await groups(['OFFICE'], { officeIds: ['berlin'] }, paris)).toEqual([]);
      expect(await groups(['OFFICE'], undefined, await g.token({ tenantId: 'globex' }))).toEqual([
        group({ officeId: 'berlin', count: 1, maxRiskScore: 99 }),
      ]);
    });

    it('refuses an empty groupBy list', async () => {
      const result = await g.graphql(GROUPS, { groupBy: [] });
      expect(result.data?.exposureGroups ?? null).toBeNull();
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'groupBy' });
      expect(result.errors?.[0]?.message).toContain('groupBy');
    });
  });
}
