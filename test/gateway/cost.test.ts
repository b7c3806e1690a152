/** A cost limit on documents, with page sizes (even from variables) as multipliers. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/engines.ts';
import { openTestGateway, type TestGateway } from '../helpers/gateway.ts';

const NESTED = `query ($outer: Int, $inner: Int) {
  exposures(first: $outer) { edges { node { exposureId events(first: $inner) { edges { node { eventId } } } } } }
}`;

for (const engine of ENGINES) {
  describe(`query cost on ${engine}`, () => {
    let g: TestGateway;
    beforeAll(async () => {
      g = await openTestGateway(engine, { GRAPHQL_MAX_COST: '5000' });
    });
    afterAll(async () => g.close());

    it('refuses a document over the limit with its cost and the limit, before it runs', async () => {
      const response = await g.graphql(NESTED, { outer: 100, inner: 100 });
      // Refused as the operation starts: no resolver ran, so there is no data.
      expect(response.data ?? null).toBeNull();
      expect(response.errors).toHaveLength(1);
      expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COSTLY', limit: 5000 });
      const cost = response.errors?.[0]?.extensions?.cost as number;
      // 100 exposures, each with its id and a page of 100 events of one field.
      expect(cost).toBeGreaterThan(100 * 100);
      expect(response.errors?.[0]?.message).toContain(`costs ${cost}, more than the limit of 5000`);
    });

    it('counts page sizes from variables, and runs what stays within the limit', async () => {
      const small = await g.graphql(NESTED, { outer: 10, inner: 10 });
      expect(small.errors).toBeUndefined();
      const costOf = async (outer: number, inner: number) =>
        (await g.graphql(NESTED, { outer, inner })).errors?.[0]?.extensions?.cost as number | undefined;
      expect(await costOf(20, 100)).toBeGreaterThan(5000);
      expect(await costOf(15, 100)).toBeUndefined();
    });
  });
}
