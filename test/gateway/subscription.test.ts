import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/ingest/ingest.ts';
import { ENGINES } from '../helpers/engines.ts';
import { eventInput } from '../helpers/events.ts';
import { openTestGateway, type TestGateway } from '../helpers/gateway.ts';

const SUBSCRIPTION = `subscription ($filter: ExposureFilter) {
  exposureChanged(filter: $filter) { officeId exposureId severity status }
}`;

/** Opens a subscription over server-sent events and returns a reader of its next payloads. */
async function subscribe(g: TestGateway, token: string, filter: Record<string, unknown> = {}) {
  const controller = new AbortController();
  const response = await g.yoga.fetch('http://gateway/graphql', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ query: SUBSCRIPTION, variables: { filter } }),
    signal: controller.signal,
  });
  expect(response.status).toBe(200);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  return {
    /** The next `count` data payloads. */
    async next(count: number): Promise<unknown[]> {
      const payloads: unknown[] = [];
      while (payloads.length < count) {
        const boundary = buffer.indexOf('\n\n');
        if (boundary >= 0) {
          const message = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          const data = message.split('\n').find((line) => line.startsWith('data: '));
          if (data) payloads.push(JSON.parse(data.slice('data: '.length)));
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended');
        buffer += value;
      }
      return payloads;
    },
    close: () => controller.abort(),
  };
}

for (const engine of ENGINES) {
  describe(`exposureChanged on ${engine}`, () => {
    let g: TestGateway;
    beforeAll(async () => {
      g = await openTestGateway(engine);
    });
    afterAll(async () => g.close());

    it("pushes the new state of matching exposures after each commit, never another tenant's or office's", async () => {
      const deps = { store: g.store, config: g.config.ingest, changes: g.changes };
      const stream = await subscribe(g, await g.token({ officeIds: ['berlin'] }), { minSeverity: 'HIGH' });
      // Another tenant, another office, and an exposure below the filter: none of them may arrive.
      await ingest(
        deps,
        { tenantId: 'globex', officeIds: 'all' },
        { events: [eventInput({ exposureId: 'g1' })] },
      );
      await ingest(
        deps,
        { tenantId: 'acme', officeIds: 'all' },
        { events: [eventInput({ officeId: 'paris', exposureId: 'p1' })] },
      );
      await ingest(
        deps,
        { tenantId: 'acme', officeIds: 'all' },
        {
          events: [
            eventInput({ exposureId: 'low', severity: 'LOW' }),
            eventInput({ exposureId: 'rdp', severity: 'CRITICAL' }),
          ],
        },
      );
      // A push carries the state when it is delivered: the next commit waits for this one's.
      expect(await stream.next(1)).toEqual([
        {
          data: {
            exposureChanged: { officeId: 'berlin', exposureId: 'rdp', severity: 'CRITICAL', status: 'OPEN' },
          },
        },
      ]);
      await ingest(
        deps,
        { tenantId: 'acme', officeIds: 'all' },
        {
          events: [
            eventInput({
              exposureId: 'rdp',
              status: 'CLOSED',
              severity: 'HIGH',
              timestamp: '2026-01-11T00:00:00Z',
            }),
          ],
        },
      );
      expect(await stream.next(1)).toEqual([
        {
          data: {
            exposureChanged: { officeId: 'berlin', exposureId: 'rdp', severity: 'HIGH', status: 'CLOSED' },
          },
        },
      ]);
      stream.close();
    });

    it('refuses a subscription from a role without viewer when it opens', async () => {
      const response = await g.yoga.fetch('http://gateway/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          authorization: `Bearer ${await g.token({ roles: ['ingestor'] })}`,
        },
        body: JSON.stringify({ query: SUBSCRIPTION }),
      });
      expect(response.status).toBe(403);
      expect(await response.text()).toContain('FORBIDDEN');
    });
  });
}
