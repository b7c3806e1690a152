/** ingestExposureEvents through the GraphQL endpoint, on both engines. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExposureChanges } from '../../src/ingest/changes.ts';
import { ENGINES } from '../helpers/engines.ts';
import { type EventInput, eventInput } from '../helpers/events.ts';
import { openTestGateway, type TestGateway } from '../helpers/gateway.ts';

const INGEST = /* GraphQL */ `
  mutation Ingest($input: IngestExposureEventsInput!) {
    ingestExposureEvents(input: $input) {
      eventsInserted
      eventsDuplicate
      exposuresInserted
      exposuresUpdated
      totalProcessed
      rejected { index field code message }
    }
  }
`;

const STATE = /* GraphQL */ `
  query State($officeId: ID!, $exposureId: String!) {
    exposure(officeId: $officeId, exposureId: $exposureId) {
      status severity riskScore dstIp firstSeen lastSeen
    }
    events { totalCount }
  }
`;

interface IngestData {
  ingestExposureEvents: {
    eventsInserted: number;
    eventsDuplicate: number;
    exposuresInserted: number;
    exposuresUpdated: number;
    totalProcessed: number;
    rejected: { index: number; field: string | null; code: string; message: string }[];
  };
}

interface StateData {
  exposure: Record<string, unknown> | null;
  events: { totalCount: number };
}

const MAX_EVENTS = 50;

for (const engine of ENGINES) {
  describe(`ingestExposureEvents on ${engine}`, () => {
    let g: TestGateway;
    let tenants = 0;

    /** Tokens of a tenant of the test's own, so tests share one database without seeing each other. */
    async function newTenant(officeIds = ['*']) {
      const tenantId = `ingest-${++tenants}`;
      return {
        tenantId,
        ingestor: await g.token({ tenantId, officeIds, roles: ['ingestor'] }),
        viewer: await g.token({ tenantId, roles: ['viewer'] }),
      };
    }

    const send = (token: string, events: EventInput[], options: Record<string, unknown> = {}) =>
      g.graphql<IngestData>(INGEST, { input: { events, ...options } }, token);

    const state = async (viewer: string, exposureId = 'exp-1', officeId = 'berlin') => {
      const response = await g.graphql<StateData>(STATE, { officeId, exposureId }, viewer);
      expect(response.errors).toBeUndefined();
      return response.data!;
    };

    beforeAll(async () => {
      g = await openTestGateway(engine, { INGEST_MAX_EVENTS: String(MAX_EVENTS) });
    });
    afterAll(async () => g.close());

    it('writes a batch and reports what it wrote', async () => {
      const t = await newTenant();
      const response = await send(t.ingestor, [
        eventInput({ exposureId: 'a' }),
        eventInput({ exposureId: 'b', dstIp: '2001:DB8:0:0::1' }),
      ]);
      expect(response.errors).toBeUndefined();
      expect(response.data?.ingestExposureEvents).toEqual({
        eventsInserted: 2,
        eventsDuplicate: 0,
        exposuresInserted: 2,
        exposuresUpdated: 0,
        totalProcessed: 2,
        rejected: [],
      });
      const b = await state(t.viewer, 'b');
      // IPv6 is stored in its canonical form.
      expect(b.exposure).toMatchObject({ status: 'OPEN', severity: 'HIGH', dstIp: '2001:db8::1' });
      expect(b.events.totalCount).toBe(2);
    });

    it('is open to ingestors and admins only', async () => {
      const t = await newTenant();
      const asViewer = await send(t.viewer, [eventInput()]);
      expect(asViewer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const admin = await g.token({ tenantId: t.tenantId, roles: ['admin'] });
      expect((await send(admin, [eventInput()])).data?.ingestExposureEvents.eventsInserted).toBe(1);
      expect((await state(t.viewer)).events.totalCount).toBe(1);
    });

    it('keeps the later of two events for one exposure sent in reverse time order', async () => {
      const t = await newTenant();
      const response = await send(t.ingestor, [
        eventInput({
          timestamp: '2026-01-12T08:00:00+01:00',
          status: 'CLOSED',
          severity: 'LOW',
          riskScore: null,
        }),
        eventInput({
          timestamp: '2026-01-11T07:00:00Z',
          status: 'OPEN',
          severity: 'CRITICAL',
          riskScore: 95,
        }),
      ]);
      expect(response.data?.ingestExposureEvents).toMatchObject({
        eventsInserted: 2,
        exposuresInserted: 1,
        exposuresUpdated: 0,
      });
      expect((await state(t.viewer)).exposure).toEqual({
        status: 'CLOSED',
        severity: 'LOW',
        // A null never erases a known value: the score comes from the earlier event.
        riskScore: 95,
        dstIp: '10.0.0.5',
        firstSeen: '2026-01-11T07:00:00.000Z',
        lastSeen: '2026-01-12T07:00:00.000Z',
      });
    });

    it('writes nothing the second time the same batch is sent', async () => {
      const t = await newTenant();
      // Without event ids: the ids derived from the content make the resend a duplicate too.
      const batch = [
        eventInput({ eventId: undefined, exposureId: 'a' }),
        eventInput({ eventId: undefined, exposureId: 'b', timestamp: '2026-01-10T11:00:00Z' }),
      ];
      const first = await send(t.ingestor, batch);
      expect(first.data?.ingestExposureEvents).toMatchObject({ eventsInserted: 2, exposuresInserted: 2 });
      const second = await send(t.ingestor, batch);
      expect(second.data?.ingestExposureEvents).toEqual({
        eventsInserted: 0,
        eventsDuplicate: 2,
        exposuresInserted: 0,
        exposuresUpdated: 0,
        totalProcessed: 2,
        rejected: [],
      });
      expect((await state(t.viewer, 'a')).events.totalCount).toBe(2);
    });

    it('answers a retried idempotency key with the first result and refuses it for other events', async () => {
      const t = await newTenant();
      const batch = [eventInput({ exposureId: 'a' }), eventInput({ exposureId: 'b' })];
      const first = await send(t.ingestor, batch, { idempotencyKey: 'upload-7' });
      expect(first.data?.ingestExposureEvents).toMatchObject({ eventsInserted: 2, exposuresInserted: 2 });
      const retry = await send(t.ingestor, batch, { idempotencyKey: 'upload-7' });
      // The first call's result, not a duplicate count: the retry did nothing at all.
      expect(retry.data).toEqual(first.data);

      const other = await send(t.ingestor, [eventInput({ exposureId: 'c' })], { idempotencyKey: 'upload-7' });
      expect(other.data).toBeNull();
      expect(other.errors?.[0]?.extensions?.code).toBe('IDEMPOTENCY_KEY_REUSED');
      expect(other.errors?.[0]?.message).toContain('upload-7');
      expect((await state(t.viewer, 'c')).exposure).toBeNull();
      expect((await state(t.viewer, 'c')).events.totalCount).toBe(2);
    });

    it('writes nothing when the last event is invalid, and lists every problem', async () => {
      const t = await newTenant();
      const response = await send(t.ingestor, [
        eventInput({ exposureId: 'a' }),
        eventInput({ exposureId: 'b' }),
        eventInput({ exposureId: 'c', riskScore: 150, confidence: 1.5, dstPort: 70000 }),
      ]);
      expect(response.data).toBeNull();
      const error = response.errors?.[0];
      expect(error?.extensions?.code).toBe('INVALID_EVENTS');
      expect(error?.message).toBe('1 of 3 events are invalid; nothing was written');
      expect(error?.extensions?.rejected).toEqual([
        {
          index: 2,
          field: 'riskScore',
          code: 'OUT_OF_RANGE',
          message: 'riskScore: must be between 0 and 100',
        },
        {
          index: 2,
          field: 'confidence',
          code: 'OUT_OF_RANGE',
          message: 'confidence: must be between 0 and 1',
        },
        { index: 2, field: 'dstPort', code: 'OUT_OF_RANGE', message: 'dstPort: must be between 0 and 65535' },
      ]);
      expect((await state(t.viewer, 'a')).events.totalCount).toBe(0);
    });

    it('refuses text neither engine can store alike, by event and field, and writes nothing', async () => {
      const t = await newTenant();
      const deep: Record<string, unknown> = {};
      let level = deep;
      for (let i = 0; i < 3000; i++) level = level.child = {} as Record<string, unknown>;
      const response = await send(t.ingestor, [
        eventInput({ exposureId: 'a' }),
        eventInput({ exposureId: 'b', serviceName: 'ht\u0000tp' }),
        eventInput({ exposureId: 'c', assetHostname: 'host\uD800' }),
        eventInput({ exposureId: 'd', rawPayload: { banner: '\u0000' } }),
        eventInput({ exposureId: 'e', resource: deep }),
      ]);
      expect(response.errors?.[0]?.extensions?.code).toBe('INVALID_EVENTS');
      const rejected = response.errors?.[0]?.extensions?.rejected as {
        index: number;
        field: string;
        code: string;
      }[];
      expect(rejected.map(({ index, field, code }) => [index, field, code])).toEqual([
        [1, 'serviceName', 'INVALID_CHARACTERS'],
        [2, 'assetHostname', 'INVALID_CHARACTERS'],
        [3, 'rawPayload', 'INVALID_CHARACTERS'],
        [4, 'resource', 'TOO_DEEP'],
      ]);
      expect((await state(t.viewer, 'a')).events.totalCount).toBe(0);
    });

    it('writes the valid events with skipInvalid and returns the others', async () => {
      const t = await newTenant();
      const future = new Date(Date.now() + 3600_000).toISOString();
      const response = await send(
        t.ingestor,
        [
          eventInput({ exposureId: 'a' }),
          eventInput({ exposureId: 'b', timestamp: future }),
          eventInput({ exposureId: 'c', exposureClass: 'x'.repeat(3000) }),
          eventInput({ exposureId: 'd', resource: { blob: 'x'.repeat(70 * 1024) } }),
          eventInput({ exposureId: 'e', exposureClass: '' }),
        ],
        { skipInvalid: true },
      );
      expect(response.errors).toBeUndefined();
      const result = response.data!.ingestExposureEvents;
      expect(result).toMatchObject({ eventsInserted: 1, exposuresInserted: 1, totalProcessed: 5 });
      expect(result.rejected.map((r) => [r.index, r.field, r.code])).toEqual([
        [1, 'timestamp', 'FUTURE_TIMESTAMP'],
        [2, 'exposureClass', 'TOO_LONG'],
        [3, 'resource', 'TOO_LARGE'],
        [4, 'exposureClass', 'REQUIRED'],
      ]);
      expect((await state(t.viewer, 'a')).events.totalCount).toBe(1);
    });

    it('refuses values that do not fit their GraphQL types as a whole, naming each one', async () => {
      const t = await newTenant();
      const response = await send(
        t.ingestor,
        [
          eventInput({ exposureId: 'a' }),
          eventInput({ exposureId: 'b', dstIp: '010.0.0.1' }),
          eventInput({ exposureId: 'c', assetIp: '10.0.0.0/8' }),
          eventInput({ exposureId: 'd', timestamp: '2026-01-10T10:00:00' }),
          eventInput({ exposureId: 'e', severity: 'SEVERE' }),
          eventInput({ exposureId: 'f', dstPort: 22.5 }),
        ],
        { skipInvalid: true },
      );
      expect(response.data).toBeUndefined();
      const messages = response.errors?.map((e) => e.message) ?? [];
      expect(messages).toHaveLength(5);
      expect(messages[0]).toContain('input.events[1].dstIp');
      expect(messages[1]).toContain('input.events[2].assetIp');
      expect(messages[2]).toContain('input.events[3].timestamp');
      expect(messages[3]).toContain('input.events[4].severity');
      expect(messages[4]).toContain('input.events[5].dstPort');
      expect((await state(t.viewer, 'a')).events.totalCount).toBe(0);
    });

    it("rejects events for an office outside the token, such as another tenant's office id", async () => {
      const other = await newTenant();
      await send(other.ingestor, [eventInput({ officeId: 'tokyo', exposureId: 'theirs' })]);
      const t = await newTenant(['berlin']);
      const batch = [
        eventInput({ exposureId: 'a' }),
        eventInput({ officeId: 'tokyo', exposureId: 'theirs' }),
      ];

      const strict = await send(t.ingestor, batch);
      expect(strict.errors?.[0]?.extensions).toMatchObject({
        code: 'INVALID_EVENTS',
        rejected: [{ index: 1, field: 'officeId', code: 'OFFICE_NOT_ALLOWED' }],
      });
      const skipped = await send(t.ingestor, batch, { skipInvalid: true });
      expect(skipped.data?.ingestExposureEvents).toMatchObject({
        eventsInserted: 1,
        rejected: [{ index: 1, field: 'officeId', code: 'OFFICE_NOT_ALLOWED' }],
      });
      // The other tenant's office kept its one event and its state.
      expect((await state(other.viewer, 'theirs', 'tokyo')).events.totalCount).toBe(1);
      expect((await state(t.viewer, 'theirs', 'tokyo')).exposure).toBeNull();
    });

    it('writes an office id of another tenant into the caller’s own tenant only', async () => {
      const other = await newTenant();
      await send(other.ingestor, [eventInput({ officeId: 'tokyo', exposureId: 'x', severity: 'LOW' })]);
      const t = await newTenant();
      const response = await send(t.ingestor, [
        eventInput({
          officeId: 'tokyo',
          exposureId: 'x',
          severity: 'CRITICAL',
          timestamp: '2026-02-01T00:00:00Z',
        }),
      ]);
      expect(response.data?.ingestExposureEvents).toMatchObject({ eventsInserted: 1, exposuresInserted: 1 });
      expect((await state(other.viewer, 'x', 'tokyo')).exposure).toMatchObject({ severity: 'LOW' });
      expect((await state(t.viewer, 'x', 'tokyo')).exposure).toMatchObject({ severity: 'CRITICAL' });
    });

    it('refuses more events than a call may carry', async () => {
      const t = await newTenant();
      const events = Array.from({ length: MAX_EVENTS + 1 }, (_, i) => eventInput({ exposureId: `e${i}` }));
      const response = await send(t.ingestor, events);
      expect(response.errors?.[0]?.extensions).toMatchObject({
        code: 'TOO_MANY_EVENTS',
        maxEvents: MAX_EVENTS,
      });
      expect(response.errors?.[0]?.message).toContain(`at most ${MAX_EVENTS} events`);
      expect((await state(t.viewer)).events.totalCount).toBe(0);
    });

    it('publishes the changed exposures after a commit, and nothing for a refused or rolled-back call', async () => {
      const t = await newTenant();
      const published: ExposureChanges[] = [];
      const unsubscribe = g.changes.subscribe((changes) => {
        if (changes.tenantId === t.tenantId) published.push(changes);
      });
      try {
        await send(
          t.ingestor,
          [
            eventInput({ exposureId: 'a' }),
            eventInput({ exposureId: 'b', officeId: 'paris' }),
            eventInput({ exposureId: 'a', timestamp: '2026-01-10T11:00:00Z' }),
          ],
          { idempotencyKey: 'k1' },
        );
        expect(published).toHaveLength(1);
        const keys = published[0]!.exposures.map((k) => `${k.officeId}/${k.exposureId}`).sort();
        expect(keys).toEqual(['berlin/a', 'paris/b']);

        // Invalid: refused before the transaction.
        const invalid = await send(t.ingestor, [eventInput({ exposureId: 'c', riskScore: -1 })]);
        expect(invalid.errors?.[0]?.extensions?.code).toBe('INVALID_EVENTS');
        // A reused key fails inside the transaction, which rolls back.
        const reused = await send(t.ingestor, [eventInput({ exposureId: 'd' })], { idempotencyKey: 'k1' });
        expect(reused.errors?.[0]?.extensions?.code).toBe('IDEMPOTENCY_KEY_REUSED');
        // Only duplicates: committed, but nothing changed.
        const none = await send(t.ingestor, [eventInput({ exposureId: 'e', eventId: 'dup' })]);
        expect(none.data?.ingestExposureEvents.eventsInserted).toBe(1);
        await send(t.ingestor, [eventInput({ exposureId: 'e', eventId: 'dup' })]);
        expect(published.map((p) => p.exposures.map((k) => k.exposureId))).toEqual([
          expect.arrayContaining(['a', 'b']),
          ['e'],
        ]);
      } finally {
        unsubscribe();
      }
    });
  });
}
