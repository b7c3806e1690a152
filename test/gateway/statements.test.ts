import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/ingest/ingest.ts';
import { ENGINES } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';
import { openTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { type CountingGateway, countingGateway } from '../helpers/sql-log.ts';

const EXPOSURES_WITH_EVENTS = `query ($first: Int!) {
  exposures(first: $first) {
    totalCount
    edges {
      node {
        exposureId
        events(first: 5) { totalCount edges { node { eventId exposure { exposureId } } } }
      }
    }
  }
}`;

interface ExposuresWithEvents {
  exposures: {
    totalCount: number;
    edges: {
      node: {
        exposureId: string;
        events: {
          totalCount: number;
          edges: { node: { eventId: string; exposure: { exposureId: string } } }[];
        };
      };
    }[];
  };
}

const EVENTS_WITH_EXPOSURES = `query ($first: Int!) {
  events(first: $first) {
    edges { node { eventId exposure { exposureId events(first: 5) { edges { node { eventId } } } } } }
  }
}`;

const EXPOSURES = 60;
const EVENTS_PER_EXPOSURE = 7;

for (const engine of ENGINES) {
  describe(`SQL statements per request on ${engine}`, () => {
    let g: TestGateway;
    let counted: CountingGateway;

    beforeAll(async () => {
      g = await openTestGateway(engine);
      const events = Array.from({ length: EXPOSURES * EVENTS_PER_EXPOSURE }, (_, i) =>
        eventInput({
          eventId: `e-${i}`,
          timestamp: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
          officeId: i % 2 === 0 ? 'berlin' : 'paris',
          exposureId: `x-${i % EXPOSURES}`,
        }),
      );
      await ingest(
        { store: g.store, config: g.config.ingest },
        { tenantId: 'acme', officeIds: 'all' },
        { events },
      );
      counted = await countingGateway(g);
    });
    afterAll(async () => g.close());

    it("serves a page of exposures with their latest events and each event's exposure in a fixed number of statements", async () => {
      const statementsFor = async (first: number) => {
        const { response, statements } = await counted.graphql<ExposuresWithEvents>(EXPOSURES_WITH_EVENTS, {
          first,
        });
        expect(response.errors).toBeUndefined();
        const edges = response.data!.exposures.edges;
        expect(edges).toHaveLength(first);
        expect(response.data!.exposures.totalCount).toBe(EXPOSURES);
        for (const { node } of edges) {
          expect(node.events.totalCount).toBe(EVENTS_PER_EXPOSURE);
          expect(node.events.edges).toHaveLength(5);
          for (const event of node.events.edges) expect(event.node.exposure.exposureId).toBe(node.exposureId);
        }
        return statements;
      };
      const five = await statementsFor(5);
      const fifty = await statementsFor(50);
      // The exposure page and its count, every exposure's events and their counts: one statement each.
      // Each event's exposure comes from the page already loaded.
      expect(five).toHaveLength(4);
      expect(fifty).toEqual(five);
    });

    it('loads the exposures of a page of events in one statement per level', async () => {
      const statementsFor = async (first: number) => {
        const { response, statements } = await counted.graphql(EVENTS_WITH_EXPOSURES, { first });
        expect(response.errors).toBeUndefined();
        return statements;
      };
      const five = await statementsFor(5);
      // The events, their exposures, those exposures' events.
      expect(five).toHaveLength(3);
      expect(await statementsFor(50)).toEqual(five);
    });

    it('counts only when totalCount is selected', async () => {
      const { statements } = await counted.graphql(
        '{ exposures(first: 50) { edges { node { events(first: 5) { edges { node { eventId } } } } } } }',
      );
      expect(statements).toHaveLength(2);
    });
  });
}
