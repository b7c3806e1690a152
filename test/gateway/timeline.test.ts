import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/ingest/ingest.ts';
import { ENGINES } from '../helpers/engines.ts';
import { type EventInput, eventInput } from '../helpers/events.ts';
import { openTestGateway, type TestGateway } from '../helpers/gateway.ts';

const TIMELINE = `
  query Timeline($filter: EventFilter!, $bucket: TimeBucket!, $groupBy: EventGroupBy, $timeZone: String) {
    eventTimeline(filter: $filter, bucket: $bucket, groupBy: $groupBy, timeZone: $timeZone) { start group count }
  }`;

interface Bucket {
  start: string;
  group: string | null;
  count: number;
}

const at = (iso: string) => new Date(iso).toISOString();
/** Ungrouped buckets from [start, count] pairs. */
const buckets = (pairs: [string, number][]): Bucket[] =>
  pairs.map(([start, count]) => ({ start: at(start), group: null, count }));
/** Grouped buckets of 2026-03-02 from [UTC time, group, count] triples. */
const march2 = (triples: [string, string | null, number][]): Bucket[] =>
  triples.map(([start, group, count]) => ({ start: at(`2026-03-02T${start}Z`), group, count }));

// Events of tenant acme in separate time windows, one window per kind of bucket.
const ACME_EVENTS: EventInput[] = [
  // 2026-03-02, around 10:00Z: five-minute and hour buckets.
  { timestamp: '2026-03-02T09:59:59Z', officeId: 'berlin', severity: 'LOW', eventAction: 'created' },
  { timestamp: '2026-03-02T10:01:00Z', officeId: 'berlin', severity: 'HIGH', eventAction: 'created' },
  { timestamp: '2026-03-02T10:03:00Z', officeId: 'berlin', severity: 'LOW' },
  { timestamp: '2026-03-02T10:12:00Z', officeId: 'paris', severity: 'HIGH', eventAction: 'closed' },
  { timestamp: '2026-03-02T10:19:59.999Z', officeId: 'paris', severity: 'CRITICAL', eventAction: 'created' },
  { timestamp: '2026-03-02T10:20:00Z', officeId: 'berlin', severity: 'HIGH', eventAction: 'created' },
  // Around the start of summer time in Berlin (Sunday 2026-03-29, 02:00 CET -> 03:00 CEST).
  { timestamp: '2026-03-28T22:59:00Z', officeId: 'berlin' }, // Sat 28 Mar 23:59 CET
  { timestamp: '2026-03-28T23:30:00Z', officeId: 'berlin' }, // Sun 29 Mar 00:30 CET
  { timestamp: '2026-03-29T21:59:00Z', officeId: 'paris' }, // Sun 29 Mar 23:59 CEST
  { timestamp: '2026-03-29T22:00:00Z', officeId: 'paris' }, // Mon 30 Mar 00:00 CEST
  // Around the end of summer time in Berlin (Sunday 2026-10-25, 03:00 CEST -> 02:00 CET).
  { timestamp: '2026-10-24T22:00:00Z', officeId: 'berlin' }, // Sun 25 Oct 00:00 CEST
  { timestamp: '2026-10-25T22:30:00Z', officeId: 'berlin' }, // Sun 25 Oct 23:30 CET
  { timestamp: '2026-10-25T23:00:00Z', officeId: 'berlin' }, // Mon 26 Oct 00:00 CET
  // Chile starts summer time at midnight (Sunday 2026-09-06, 00:00 -04 -> 01:00 -03): no local midnight.
  { timestamp: '2026-09-06T03:59:00Z', officeId: 'paris' }, // Sat 5 Sep 23:59 -04
  { timestamp: '2026-09-06T04:00:00Z', officeId: 'paris' }, // Sun 6 Sep 01:00 -03
  { timestamp: '2026-09-07T02:59:00Z', officeId: 'paris' }, // Sun 6 Sep 23:59 -03
  { timestamp: '2026-09-07T03:00:00Z', officeId: 'paris' }, // Mon 7 Sep 00:00 -03
  // Around the turn of January in Tokyo (UTC+9, no DST).
  { timestamp: '2026-01-31T14:00:00Z', officeId: 'berlin' }, // 31 Jan 23:00 JST
  { timestamp: '2026-01-31T16:00:00Z', officeId: 'berlin' }, // 1 Feb 01:00 JST
  { timestamp: '2026-02-19T00:00:00Z', officeId: 'paris' },
];

// Another tenant with events in the same windows: never counted for acme.
const GLOBEX_EVENTS: EventInput[] = [
  { timestamp: '2026-03-02T10:02:00Z', officeId: 'berlin' },
  { timestamp: '2026-03-28T23:30:00Z', officeId: 'berlin' },
];

for (const engine of ENGINES) {
  describe(`eventTimeline on ${engine}`, () => {
    let g: TestGateway;
    const timeline = async (variables: Record<string, unknown>, token?: string) => {
      const result = await g.graphql<{ eventTimeline: Bucket[] }>(TIMELINE, variables, token);
      expect(result.errors).toBeUndefined();
      return result.data?.eventTimeline;
    };
    const timelineError = async (variables: Record<string, unknown>) => {
      const result = await g.graphql(TIMELINE, variables);
      expect(result.data?.eventTimeline ?? null).toBeNull();
      return result.errors?.[0];
    };

    beforeAll(async () => {
      g = await openTestGateway(engine, { TIMELINE_MAX_BUCKETS: '100' });
      const deps = { store: g.store, config: g.config.ingest };
      const seed = (tenantId: string, events: EventInput[]) =>
        ingest(
          deps,
          { tenantId, officeIds: 'all' },
          { events: events.map((e, i) => eventInput({ exposureId: `exp-${i}`, ...e })) },
        );
      await seed('acme', ACME_EVENTS);
      await seed('globex', GLOBEX_EVENTS);
    });
    afterAll(async () => g.close());

    const morning = { from: '2026-03-02T10:00:00Z', to: '2026-03-02T10:20:00Z' };

    it('fills every five-minute bucket of [from, to), empty ones with zero', async () => {
      expect(await timeline({ filter: morning, bucket: 'FIVE_MINUTES' })).toEqual(
        buckets([
          ['2026-03-02T10:00:00Z', 2],
          ['2026-03-02T10:05:00Z', 0],
          ['2026-03-02T10:10:00Z', 1],
          ['2026-03-02T10:15:00Z', 1],
        ]),
      );
    });

    it('starts the first bucket before an unaligned from, counting only events from it on', async () => {
      const filter = { from: '2026-03-02T10:02:00Z', to: '2026-03-02T10:06:00Z' };
      expect(await timeline({ filter, bucket: 'FIVE_MINUTES' })).toEqual(
        buckets([
          ['2026-03-02T10:00:00Z', 1],
          ['2026-03-02T10:05:00Z', 0],
        ]),
      );
    });

    it('counts hours', async () => {
      const filter = { from: '2026-03-02T08:00:00Z', to: '2026-03-02T11:00:00Z' };
      expect(await timeline({ filter, bucket: 'HOUR' })).toEqual(
        buckets([
          ['2026-03-02T08:00:00Z', 0],
          ['2026-03-02T09:00:00Z', 1],
          ['2026-03-02T10:00:00Z', 5],
        ]),
      );
    });

    it('gives every group seen in the range a row in every bucket, nulls last', async () => {
      const byOffice = await timeline({ filter: morning, bucket: 'FIVE_MINUTES', groupBy: 'OFFICE' });
      expect(byOffice).toEqual(
        march2([
          ['10:00:00', 'berlin', 2],
          ['10:00:00', 'paris', 0],
          ['10:05:00', 'berlin', 0],
          ['10:05:00', 'paris', 0],
          ['10:10:00', 'berlin', 0],
          ['10:10:00', 'paris', 1],
          ['10:15:00', 'berlin', 0],
          ['10:15:00', 'paris', 1],
        ]),
      );
      const byAction = await timeline({ filter: morning, bucket: 'FIVE_MINUTES', groupBy: 'EVENT_ACTION' });
      expect(byAction).toEqual(
        march2([
          ['10:00:00', 'closed', 0],
          ['10:00:00', 'created', 1],
          ['10:00:00', null, 1],
          ['10:05:00', 'closed', 0],
          ['10:05:00', 'created', 0],
          ['10:05:00', null, 0],
          ['10:10:00', 'closed', 1],
          ['10:10:00', 'created', 0],
          ['10:10:00', null, 0],
          ['10:15:00', 'closed', 0],
          ['10:15:00', 'created', 1],
          ['10:15:00', null, 0],
        ]),
      );
      const hour = { from: '2026-03-02T09:00:00Z', to: '2026-03-02T11:00:00Z' };
      expect(await timeline({ filter: hour, bucket: 'HOUR', groupBy: 'SEVERITY' })).toEqual(
        march2([
          ['09:00:00', 'CRITICAL', 0],
          ['09:00:00', 'HIGH', 0],
          ['09:00:00', 'LOW', 1],
          ['10:00:00', 'CRITICAL', 1],
          ['10:00:00', 'HIGH', 3],
          ['10:00:00', 'LOW', 1],
        ]),
      );
    });

    it('has no rows for a grouped range without events', async () => {
      const filter = { from: '2026-05-01T00:00:00Z', to: '2026-05-03T00:00:00Z' };
      expect(await timeline({ filter, bucket: 'DAY', groupBy: 'STATUS' })).toEqual([]);
      expect(await timeline({ filter, bucket: 'DAY' })).toEqual(
        buckets([
          ['2026-05-01T00:00:00Z', 0],
          ['2026-05-02T00:00:00Z', 0],
        ]),
      );
    });

    it('starts Europe/Berlin days at local midnight across the March change to summer time', async () => {
      const filter = { from: '2026-03-27T23:00:00Z', to: '2026-03-31T22:00:00Z' };
      expect(await timeline({ filter, bucket: 'DAY', timeZone: 'Europe/Berlin' })).toEqual(
        buckets([
          ['2026-03-27T23:00:00Z', 1], // Sat 28 Mar
          ['2026-03-28T23:00:00Z', 2], // Sun 29 Mar: 23 hours
          ['2026-03-29T22:00:00Z', 1], // Mon 30 Mar
          ['2026-03-30T22:00:00Z', 0], // Tue 31 Mar
        ]),
      );
      // The same range in UTC days, for contrast.
      expect(await timeline({ filter, bucket: 'DAY' })).toEqual(
        buckets([
          ['2026-03-27T00:00:00Z', 0],
          ['2026-03-28T00:00:00Z', 2],
          ['2026-03-29T00:00:00Z', 2],
          ['2026-03-30T00:00:00Z', 0],
          ['2026-03-31T00:00:00Z', 0],
        ]),
      );
    });

    it('starts Europe/Berlin days at local midnight across the October change to winter time', async () => {
      const filter = { from: '2026-10-23T22:00:00Z', to: '2026-10-26T23:00:00Z' };
      expect(await timeline({ filter, bucket: 'DAY', timeZone: 'Europe/Berlin' })).toEqual(
        buckets([
          ['2026-10-23T22:00:00Z', 0], // Sat 24 Oct
          ['2026-10-24T22:00:00Z', 2], // Sun 25 Oct: 25 hours
          ['2026-10-25T23:00:00Z', 1], // Mon 26 Oct
        ]),
      );
    });

    it('starts a day without a local midnight at its first local instant', async () => {
      const filter = { from: '2026-09-05T04:00:00Z', to: '2026-09-08T03:00:00Z' };
      expect(await timeline({ filter, bucket: 'DAY', timeZone: 'America/Santiago' })).toEqual(
        buckets([
          ['2026-09-05T04:00:00Z', 1], // Sat 5 Sep 00:00 -04
          ['2026-09-06T04:00:00Z', 2], // Sun 6 Sep 01:00 -03: 23 hours
          ['2026-09-07T03:00:00Z', 1], // Mon 7 Sep 00:00 -03
        ]),
      );
    });

    it('starts weeks on Monday and months on the first, at local midnight of the zone', async () => {
      const weeks = { from: '2026-03-20T00:00:00Z', to: '2026-04-10T00:00:00Z' };
      expect(await timeline({ filter: weeks, bucket: 'WEEK', timeZone: 'Europe/Berlin' })).toEqual(
        buckets([
          ['2026-03-15T23:00:00Z', 0], // Mon 16 Mar CET
          ['2026-03-22T23:00:00Z', 3], // Mon 23 Mar CET
          ['2026-03-29T22:00:00Z', 1], // Mon 30 Mar CEST
          ['2026-04-05T22:00:00Z', 0], // Mon 6 Apr CEST
        ]),
      );
      expect(await timeline({ filter: weeks, bucket: 'WEEK' })).toEqual(
        buckets([
          ['2026-03-16T00:00:00Z', 0],
          ['2026-03-23T00:00:00Z', 4],
          ['2026-03-30T00:00:00Z', 0],
          ['2026-04-06T00:00:00Z', 0],
        ]),
      );
      const months = { from: '2026-01-15T00:00:00Z', to: '2026-02-20T00:00:00Z' };
      expect(await timeline({ filter: months, bucket: 'MONTH', timeZone: 'Asia/Tokyo' })).toEqual(
        buckets([
          ['2025-12-31T15:00:00Z', 1],
          ['2026-01-31T15:00:00Z', 2],
        ]),
      );
      expect(await timeline({ filter: months, bucket: 'MONTH' })).toEqual(
        buckets([
          ['2026-01-01T00:00:00Z', 2],
          ['2026-02-01T00:00:00Z', 1],
        ]),
      );
      const berlinMonths = { from: '2026-03-01T00:00:00Z', to: '2026-04-01T00:00:00Z' };
      expect(await timeline({ filter: berlinMonths, bucket: 'MONTH', timeZone: 'Europe/Berlin' })).toEqual(
        buckets([
          ['2026-02-28T23:00:00Z', 10], // March: the morning of the 2nd and the change to summer time
          ['2026-03-31T22:00:00Z', 0], // April
        ]),
      );
    });

    it('applies the filter and the offices of the token, and never counts another tenant', async () => {
      const filter = { ...morning, officeIds: ['paris'] };
      expect(await timeline({ filter, bucket: 'FIVE_MINUTES' })).toEqual(
        buckets([
          ['2026-03-02T10:00:00Z', 0],
          ['2026-03-02T10:05:00Z', 0],
          ['2026-03-02T10:10:00Z', 1],
          ['2026-03-02T10:15:00Z', 1],
        ]),
      );
      const highs = { ...morning, severities: ['HIGH'] };
      expect((await timeline({ filter: highs, bucket: 'FIVE_MINUTES' }))?.map((b) => b.count)).toEqual([
        1, 0, 1, 0,
      ]);
      const berlinOnly = await g.token({ officeIds: ['berlin'] });
      const seen = await timeline({ filter: morning, bucket: 'FIVE_MINUTES', groupBy: 'OFFICE' }, berlinOnly);
      expect(seen?.map((b) => [b.group, b.count])).toEqual([
        ['berlin', 2],
        ['berlin', 0],
        ['berlin', 0],
        ['berlin', 0],
      ]);
      // An office outside the token is not widened by the filter.
      const asked = await timeline({ filter, bucket: 'FIVE_MINUTES' }, berlinOnly);
      expect(asked?.map((b) => b.count)).toEqual([0, 0, 0, 0]);
      const globex = await timeline(
        { filter: morning, bucket: 'FIVE_MINUTES' },
        await g.token({ tenantId: 'globex' }),
      );
      expect(globex?.map((b) => b.count)).toEqual([1, 0, 0, 0]);
    });

    it('refuses a range without from or to, naming the field', async () => {
      const noFrom = await timelineError({ filter: { to: morning.to }, bucket: 'HOUR' });
      expect(noFrom?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.from' });
      expect(noFrom?.message).toContain('filter.from');
      const noTo = await timelineError({ filter: { from: morning.from }, bucket: 'HOUR' });
      expect(noTo?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.to' });
      const backwards = await timelineError({
        filter: { from: morning.to, to: morning.from },
        bucket: 'HOUR',
      });
      expect(backwards?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.to' });
    });

    it('refuses a time zone that is not an IANA name', async () => {
      for (const timeZone of ['Mars/Olympus_Mons', '+02:00', '']) {
        const error = await timelineError({ filter: morning, bucket: 'DAY', timeZone });
        expect(error?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'timeZone' });
        expect(error?.message).toContain('IANA time zone');
      }
    });

    it('refuses more buckets than the configured bound, saying how many are needed', async () => {
      const hundredHours = { from: '2026-03-01T00:00:00Z', to: '2026-03-05T04:00:00Z' };
      expect(await timeline({ filter: hundredHours, bucket: 'HOUR' })).toHaveLength(100);
      const more = { from: hundredHours.from, to: '2026-03-05T04:00:00.001Z' };
      const error = await timelineError({ filter: more, bucket: 'HOUR' });
      expect(error?.extensions).toMatchObject({ code: 'TOO_MANY_BUCKETS', needed: 101, limit: 100 });
      expect(error?.message).toContain('101');
      const day = { from: '2026-03-02T00:00:00Z', to: '2026-03-03T00:00:00Z' };
      const minutes = await timelineError({ filter: day, bucket: 'FIVE_MINUTES' });
      expect(minutes?.extensions).toMatchObject({ code: 'TOO_MANY_BUCKETS', needed: 288 });
      const years = { from: '2020-01-01T00:00:00Z', to: '2030-01-01T00:00:00Z' };
      const days = await timelineError({ filter: years, bucket: 'DAY', timeZone: 'Europe/Berlin' });
      expect(days?.extensions).toMatchObject({ code: 'TOO_MANY_BUCKETS', needed: 3654 });
      const months = await timelineError({ filter: years, bucket: 'MONTH', timeZone: 'Europe/Berlin' });
      expect(months?.extensions).toMatchObject({ code: 'TOO_MANY_BUCKETS', needed: 121 });
    });
  });
}
