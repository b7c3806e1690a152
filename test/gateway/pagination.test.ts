import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/ingest/ingest.ts';
import { ENGINES } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';
import { openTestGateway, type TestGateway } from '../helpers/gateway.ts';

interface Connection<Node> {
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
  edges: { cursor: string; node: Node }[];
}
interface ExposureNode {
  officeId: string;
  exposureId: string;
  lastSeen: string;
}
interface EventNode {
  eventId: string;
  timestamp: string;
}

const EXPOSURES = `query ($first: Int, $after: String, $last: Int, $before: String) {
  exposures(first: $first, after: $after, last: $last, before: $before) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { officeId exposureId lastSeen } }
  }
}`;
const EVENTS = `query ($first: Int, $after: String, $last: Int, $before: String) {
  events(first: $first, after: $after, last: $last, before: $before) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { eventId timestamp } }
  }
}`;

const hour = (n: number) => new Date(Date.UTC(2026, 1, 1) + n * 3_600_000).toISOString();
const PAGE = 7;

/** Position in the default exposure order (last seen first, then office and exposure id descending). */
const exposureKey = (n: ExposureNode) => [n.lastSeen, n.officeId, n.exposureId] as const;
const eventKey = (n: EventNode) => [n.timestamp, n.eventId] as const;

/** An id that sorts right after `id` (byte order), made unique by `tag`. */
const above = (id: string, tag: string) => `${id}~${tag}`;
/** An id that sorts right before `id`: its last character one lower, made unique by `tag`. */
const below = (id: string, tag: string) =>
  `${id.slice(0, -1)}${String.fromCharCode(id.charCodeAt(id.length - 1) - 1)}~${tag}`;

/** Each element of `keys` sorts strictly after the one before it, in descending order. */
function expectStrictlyDescending(keys: readonly (readonly string[])[]) {
  for (let i = 1; i < keys.length; i++) {
    const [previous, current] = [keys[i - 1]!.join('\u0000'), keys[i]!.join('\u0000')];
    expect(current < previous, `${keys[i]} after ${keys[i - 1]}`).toBe(true);
  }
}

for (const engine of ENGINES) {
  describe(`keyset pagination on ${engine}`, () => {
    let g: TestGateway;
    const acme = { tenantId: 'acme', officeIds: 'all' as const };
    const write = (events: Record<string, unknown>[]) =>
      ingest({ store: g.store, config: g.config.ingest }, acme, { events });

    /** Walks every page forward or backward, calling `between` with the page just read before the next request. */
    async function walk<Node>(
      document: string,
      direction: 'forward' | 'backward',
      between: (page: Connection<Node>) => Promise<void>,
    ): Promise<Node[]> {
      const seen: Node[] = [];
      let cursor: string | null = null;
      for (let request = 0; request < 100; request++) {
        const variables: Record<string, unknown> =
          direction === 'forward' ? { first: PAGE, after: cursor } : { last: PAGE, before: cursor };
        const result = await g.graphql<Record<string, Connection<Node>>>(document, variables);
        expect(result.errors).toBeUndefined();
        const page = Object.values(result.data!)[0]!;
        const nodes = page.edges.map((e) => e.node);
        expect(page.edges.length).toBeLessThanOrEqual(PAGE);
        if (direction === 'forward') {
          seen.push(...nodes);
          expect(page.pageInfo.hasPreviousPage).toBe(cursor !== null);
          if (!page.pageInfo.hasNextPage) return seen;
          cursor = page.pageInfo.endCursor;
        } else {
          seen.unshift(...nodes);
          expect(page.pageInfo.hasNextPage).toBe(cursor !== null);
          if (!page.pageInfo.hasPreviousPage) return seen;
          cursor = page.pageInfo.startCursor;
        }
        expect(page.edges.length).toBe(PAGE);
        await between(page);
      }
      throw new Error('the walk did not end');
    }

    beforeAll(async () => {
      g = await openTestGateway(engine);
      // 30 exposures in two offices, three to an hour: ties on last_seen are broken by office and exposure id.
      await write(
        Array.from({ length: 30 }, (_, i) =>
          eventInput({
            eventId: `seed-${i}`,
            timestamp: hour(100 + Math.floor(i / 3)),
            officeId: i % 2 === 0 ? 'berlin' : 'paris',
            exposureId: `x-${String(i).padStart(2, '0')}`,
          }),
        ),
      );
    });
    afterAll(async () => g.close());

    const allExposures = async () =>
      (
        await g.graphql<{ exposures: Connection<ExposureNode> }>(EXPOSURES, { first: 500 })
      ).data!.exposures.edges.map((e) => e.node);
    const allEvents = async () =>
      (await g.graphql<{ events: Connection<EventNode> }>(EVENTS, { first: 500 })).data!.events.edges.map(
        (e) => e.node,
      );

    it('walks exposures forward once each, in order, while exposures are added ahead of and behind the cursor', async () => {
      const before = (await allExposures()).map((n) => n.exposureId);
      let round = 0;
      const ahead: string[] = [];
      const behind: string[] = [];
      const walked = await walk<ExposureNode>(EXPOSURES, 'forward', async (page) => {
        round += 1;
        const cursor = page.edges.at(-1)!.node;
        const tag = `fwd-${round}`;
        // Newer than everything, or tied with the cursor row and first among the ties: already passed.
        const passed = [`newest-${tag}`, above(cursor.exposureId, tag)];
        // Older than everything, or tied with the cursor row and after it: still to come.
        const toCome = [`oldest-${tag}`, below(cursor.exposureId, tag)];
        ahead.push(...passed);
        behind.push(...toCome);
        await write([
          eventInput({ timestamp: hour(1000 + round), officeId: 'berlin', exposureId: passed[0] }),
          eventInput({ timestamp: cursor.lastSeen, officeId: cursor.officeId, exposureId: passed[1] }),
          eventInput({ timestamp: hour(-round), officeId: 'berlin', exposureId: toCome[0] }),
          eventInput({ timestamp: cursor.lastSeen, officeId: cursor.officeId, exposureId: toCome[1] }),
        ]);
      });
      const ids = walked.map((n) => n.exposureId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.filter((id) => before.includes(id))).toEqual(before);
      expect(ids.filter((id) => ahead.includes(id))).toEqual([]);
      expect(ids.filter((id) => behind.includes(id)).sort()).toEqual([...behind].sort());
      expectStrictlyDescending(walked.map(exposureKey));
      expect(round).toBeGreaterThanOrEqual(4);
    });

    it('walks exposures backward once each, in order, while exposures are added on both sides of the cursor', async () => {
      const before = (await allExposures()).map((n) => n.exposureId);
      let round = 0;
      const skipped: string[] = [];
      const reached: string[] = [];
      const walked = await walk<ExposureNode>(EXPOSURES, 'backward', async (page) => {
        round += 1;
        const cursor = page.edges[0]!.node;
        const tag = `bwd-${round}`;
        // Backward, the rows after the cursor are the ones passed.
        const passed = [`oldest-${tag}`, below(cursor.exposureId, tag)];
        const toCome = [`newest-${tag}`, above(cursor.exposureId, tag)];
        skipped.push(...passed);
        reached.push(...toCome);
        await write([
          eventInput({ timestamp: hour(-100 - round), officeId: 'paris', exposureId: passed[0] }),
          eventInput({ timestamp: cursor.lastSeen, officeId: cursor.officeId, exposureId: passed[1] }),
          eventInput({ timestamp: hour(2000 + round), officeId: 'paris', exposureId: toCome[0] }),
          eventInput({ timestamp: cursor.lastSeen, officeId: cursor.officeId, exposureId: toCome[1] }),
        ]);
      });
      const ids = walked.map((n) => n.exposureId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.filter((id) => before.includes(id))).toEqual(before);
      expect(ids.filter((id) => skipped.includes(id))).toEqual([]);
      expect(ids.filter((id) => reached.includes(id)).sort()).toEqual([...reached].sort());
      expectStrictlyDescending(walked.map(exposureKey));
    });

    it('walks events forward and backward once each, newest first, while events are added', async () => {
      for (const direction of ['forward', 'backward'] as const) {
        const before = (await allEvents()).map((n) => n.eventId);
        let round = 0;
        const skipped: string[] = [];
        const reached: string[] = [];
        const walked = await walk<EventNode>(EVENTS, direction, async (page) => {
          round += 1;
          const cursor = direction === 'forward' ? page.edges.at(-1)!.node : page.edges[0]!.node;
          const tag = `${direction}-${round}`;
          // Each walk goes further out than the one before, so "newest" and "oldest" hold for it.
          const far = (direction === 'forward' ? 3000 : 4000) + round;
          // Newest first: newer events, and ties with a larger event id, sort before the cursor.
          const beforeCursor = [`newest-${tag}`, above(cursor.eventId, tag)];
          const afterCursor = [`oldest-${tag}`, below(cursor.eventId, tag)];
          skipped.push(...(direction === 'forward' ? beforeCursor : afterCursor));
          reached.push(...(direction === 'forward' ? afterCursor : beforeCursor));
          await write([
            eventInput({ eventId: beforeCursor[0], timestamp: hour(far), exposureId: 'walk' }),
            eventInput({ eventId: beforeCursor[1], timestamp: cursor.timestamp, exposureId: 'walk' }),
            eventInput({ eventId: afterCursor[0], timestamp: hour(-far), exposureId: 'walk' }),
            eventInput({ eventId: afterCursor[1], timestamp: cursor.timestamp, exposureId: 'walk' }),
          ]);
        });
        const ids = walked.map((n) => n.eventId);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids.filter((id) => before.includes(id))).toEqual(before);
        expect(ids.filter((id) => skipped.includes(id))).toEqual([]);
        expect(ids.filter((id) => reached.includes(id)).sort()).toEqual([...reached].sort());
        expectStrictlyDescending(walked.map(eventKey));
      }
    });

    it('returns the rows strictly between after and before', async () => {
      const all = await g.graphql<{ exposures: Connection<ExposureNode> }>(EXPOSURES, { first: 10 });
      const edges = all.data!.exposures.edges;
      const between = await g.graphql<{ exposures: Connection<ExposureNode> }>(EXPOSURES, {
        after: edges[2]!.cursor,
        before: edges[7]!.cursor,
      });
      expect(between.data!.exposures.edges.map((e) => e.node)).toEqual(edges.slice(3, 7).map((e) => e.node));
    });

    it.each([
      ['garbage', { first: 2, after: 'not a cursor' }, 'INVALID_CURSOR'],
      [
        'a cursor of valid JSON with the wrong shape',
        { first: 2, after: Buffer.from('[1,2,3]').toString('base64url') },
        'INVALID_CURSOR',
      ],
      ['a cursor of the events connection', { first: 2, after: 'EVENT_CURSOR' }, 'INVALID_CURSOR'],
      ['first and last together', { first: 2, last: 2 }, 'BAD_USER_INPUT'],
      ['a negative first', { first: -1 }, 'BAD_USER_INPUT'],
      ['a page over the maximum', { last: 501 }, 'BAD_USER_INPUT'],
    ])('refuses %s with a clear error and a code', async (_name, variables, code) => {
      const eventCursor = (await g.graphql<{ events: Connection<EventNode> }>(EVENTS, { first: 1 })).data!
        .events.pageInfo.endCursor;
      const args = Object.fromEntries(
        Object.entries(variables).map(([k, v]) => [k, v === 'EVENT_CURSOR' ? eventCursor : v]),
      );
      const result = await g.graphql(EXPOSURES, args);
      expect(result.data?.exposures ?? null).toBeNull();
      expect(result.errors).toHaveLength(1);
      expect(result.errors?.[0]?.extensions?.code).toBe(code);
      expect(result.errors?.[0]?.message).toMatch(/cursor|first|last/);
    });
  });
}
