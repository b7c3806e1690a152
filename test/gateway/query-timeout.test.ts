import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/engines.ts';
import { openTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { scrape } from '../helpers/metrics.ts';

/** Enough exposures that a search over all of them takes far longer than the timeout (DuckDB scans in parallel). */
const EXPOSURES = { duckdb: 2_000_000, postgres: 300_000 };

for (const engine of ENGINES) {
  describe(`query timeout through the gateway on ${engine}`, () => {
    let g: TestGateway;
    beforeAll(async () => {
      g = await openTestGateway(engine, { QUERY_TIMEOUT_MS: '20' });
      const series =
        engine === 'postgres'
          ? sql`generate_series(1, ${EXPOSURES.postgres})`
          : sql`range(${EXPOSURES.duckdb})`;
      const n = sql.ref('s.n');
      await g.store.write((trx) =>
        sql`insert into exposures_current (tenant_id, office_id, exposure_id, exposure_class, status, severity,
            severity_rank, asset_hostname, first_seen, last_seen, last_event_id)
          select 'acme', 'berlin', 'exp-' || cast(${n} as varchar), 'open_port', 'OPEN', 'LOW', 1,
            'host-' || cast(${n} as varchar), cast('2026-01-01T00:00:00Z' as timestamptz),
            cast('2026-01-01T00:00:00Z' as timestamptz), 'e' || cast(${n} as varchar)
          from ${series} as s(n)`.execute(trx.db),
      );
    }, 120_000);
    afterAll(async () => g.close());

    it('answers a read that runs too long with QUERY_TIMEOUT, and serves the next request', async () => {
      const slow = await g.graphql('{ exposures(filter: { search: "no-such-host" }) { totalCount } }');
      expect(slow.errors?.[0]?.extensions?.code).toBe('QUERY_TIMEOUT');
      expect(slow.errors?.[0]?.message).toContain('20 ms');
      const next = await g.graphql('{ offices { id } }');
      expect(next.errors).toBeUndefined();

      // /metrics counts the request by its code, and the cancelled statement as a timeout of the
      // repository function that ran it.
      const metrics = await scrape(g.yoga);
      expect(
        metrics.value('exposure_gateway_graphql_requests_total', {
          operation: 'anonymous',
          outcome: 'QUERY_TIMEOUT',
        }),
      ).toBe(1);
      const timeouts = metrics.matching('exposure_gateway_sql_statements_total', { outcome: 'timeout' });
      expect(timeouts.reduce((sum, sample) => sum + sample.value, 0)).toBeGreaterThan(0);
      for (const { labels } of timeouts) {
        expect(labels).toMatchObject({
          repository: expect.stringMatching(/^(findExposures|countExposures)$/),
          kind: 'select',
        });
      }
    });
  });
}
