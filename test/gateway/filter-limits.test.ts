/** Filters that would reach a database limit or hold text the engines store differently: coded errors. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_FILTER_VALUES } from '../../src/schema/filters.ts';
import { ENGINES } from '../helpers/engines.ts';
import { openTestGateway, type TestGateway } from '../helpers/gateway.ts';

const READS = {
  exposures: 'query ($filter: ExposureFilter) { exposures(filter: $filter, first: 1) { totalCount } }',
  summary: 'query ($filter: ExposureFilter) { exposureSummary(filter: $filter) { total } }',
  events: 'query ($filter: EventFilter) { events(filter: $filter, first: 1) { totalCount } }',
  timeline: `query ($filter: EventFilter!) {
    eventTimeline(bucket: DAY, filter: $filter) { count }
  }`,
};
const RANGE = { from: '2026-03-01T00:00:00Z', to: '2026-03-03T00:00:00Z' };
const ids = (n: number) => Array.from({ length: n }, (_, i) => `exp-${i}`);

for (const engine of ENGINES) {
  describe(`filter limits on ${engine}`, () => {
    let g: TestGateway;
    beforeAll(async () => {
      g = await openTestGateway(engine);
    });
    afterAll(async () => g.close());

    const code = async (read: keyof typeof READS, filter: Record<string, unknown>) => {
      const eventRead = read === 'events' || read === 'timeline';
      const response = await g.graphql(READS[read], { filter: eventRead ? { ...RANGE, ...filter } : filter });
      return response.errors?.[0]?.extensions ?? response.data;
    };

    it.each(Object.keys(READS) as (keyof typeof READS)[])(
      'bounds every list of %s filters, by the field, before any statement runs',
      async (read) => {
        expect(await code(read, { exposureIds: ids(70_000) })).toMatchObject({
          code: 'FILTER_LIST_TOO_LONG',
          field: 'filter.exposureIds',
          limit: MAX_FILTER_VALUES,
        });
        expect(await code(read, { officeIds: ids(MAX_FILTER_VALUES + 1) })).toMatchObject({
          code: 'FILTER_LIST_TOO_LONG',
          field: 'filter.officeIds',
        });
        // At the limit the read runs.
        expect(await code(read, { exposureIds: ids(MAX_FILTER_VALUES) })).not.toHaveProperty('code');
      },
    );

    it.each([
      ['exposures', { exposureIds: ['a\u0000'] }, 'filter.exposureIds'],
      ['exposures', { search: 'x\u0000' }, 'filter.search'],
      ['summary', { assetIds: ['\uD800'] }, 'filter.assetIds'],
      ['events', { eventActions: ['created\u0000'] }, 'filter.eventActions'],
      ['timeline', { officeIds: ['berlin\u0000'] }, 'filter.officeIds'],
    ] as const)('refuses unstorable text in %s filters (%j)', async (read, filter, field) => {
      expect(await code(read, filter)).toMatchObject({ code: 'INVALID_CHARACTERS', field });
    });
  });
}
