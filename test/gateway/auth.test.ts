import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/ingest/ingest.ts';
import { ENGINES } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';
import { openTestGateway, type TestGateway } from '../helpers/gateway.ts';

for (const engine of ENGINES) {
  describe(`authentication on ${engine}`, () => {
    let g: TestGateway;
    beforeAll(async () => {
      g = await openTestGateway(engine);
      const deps = { store: g.store, config: g.config.ingest };
      await ingest(
        deps,
        { tenantId: 'acme', officeIds: 'all' },
        { events: [eventInput({ officeId: 'berlin' }), eventInput({ officeId: 'paris' })] },
      );
    });
    afterAll(async () => g.close());

    it('lists the offices of the token', async () => {
      const all = await g.graphql('{ offices { id openExposures } }');
      expect(all.data).toEqual({
        offices: [
          { id: 'berlin', openExposures: 1 },
          { id: 'paris', openExposures: 1 },
        ],
      });
      const one = await g.graphql('{ offices { id } }', {}, await g.token({ officeIds: ['paris'] }));
      expect(one.data).toEqual({ offices: [{ id: 'paris' }] });
      const other = await g.graphql('{ offices { id } }', {}, await g.token({ tenantId: 'globex' }));
      expect(other.data).toEqual({ offices: [] });
    });

    it('refuses a missing, forged or expired token with a code and no data', async () => {
      const response = await g.yoga.fetch('http://gateway/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ offices { id } }' }),
      });
      expect(response.status).toBe(401);
      const body = (await response.json()) as { data?: unknown; errors: { extensions: { code: string } }[] };
      expect(body.data).toBeUndefined();
      expect(body.errors[0]?.extensions.code).toBe('UNAUTHENTICATED');

      const forged = `${(await g.token()).slice(0, -4)}AAAA`;
      expect((await g.graphql('{ offices { id } }', {}, forged)).errors?.[0]?.extensions?.code).toBe(
        'UNAUTHENTICATED',
      );
      const expired = await g.token({ expiresIn: '-1m' });
      const result = await g.graphql('{ offices { id } }', {}, expired);
      expect(result.errors?.[0]?.extensions).toMatchObject({
        code: 'UNAUTHENTICATED',
        reason: 'TOKEN_EXPIRED',
      });
      expect(result.data).toBeUndefined();
    });

    it('refuses queries to a role without viewer', async () => {
      const result = await g.graphql('{ offices { id } }', {}, await g.token({ roles: ['ingestor'] }));
      expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(result.data?.offices ?? null).toBeNull();
    });
  });
}
