/** TimelineBucket: event counts over time for dashboards, with the TimeBucket and EventGroupBy enums. */
import {
  type EventGroupBy as EventGroupByValue,
  findEventTimeline,
  type TimeBucket as TimeBucketValue,
  type TimelineBucket as TimelineBucketRow,
} from '../db/repositories/analytics.ts';
import { builder } from './builder.ts';
import { EventFilterInput, toEventFilter } from './filters.ts';

export const TimeBucket = builder.enumType('TimeBucket', {
  description:
    'The width of a timeline bucket. FIVE_MINUTES and HOUR are fixed lengths aligned to UTC; DAY, WEEK and MONTH start at local midnight in the requested time zone, so across a DST change a day lasts 23 or 25 hours.',
  values: {
    FIVE_MINUTES: { description: 'Five minutes, starting at :00, :05, ... UTC.' },
    HOUR: { description: 'One hour, starting on the full UTC hour.' },
    DAY: { description: 'One calendar day, from local midnight.' },
    WEEK: { description: 'One ISO week, from local midnight on Monday.' },
    MONTH: { description: 'One calendar month, from local midnight on the first.' },
  } satisfies Record<TimeBucketValue, { description: string }>,
});

export const EventGroupBy = builder.enumType('EventGroupBy', {
  description: 'The event field a timeline is split by; the value lands in TimelineBucket.group.',
  values: {
    SEVERITY: { description: 'The event severity (INFO ... CRITICAL).' },
    STATUS: { description: 'The event status (OPEN or CLOSED).' },
    EXPOSURE_CLASS: { description: 'The exposure class, e.g. open_port.' },
    EVENT_ACTION: { description: 'The event action; events without one form the null group.' },
    OFFICE: { description: 'The office id.' },
  } satisfies Record<EventGroupByValue, { description: string }>,
});

export const TimelineBucket = builder.objectRef<TimelineBucketRow>('TimelineBucket').implement({
  description:
    'How many events fall in one bucket (and group). Every bucket of the range appears, empty ones with count 0. Grouped, every group seen anywhere in the range appears in every bucket, so a range without events has no rows.',
  fields: (t) => ({
    start: t.expose('start', {
      type: 'DateTime',
      description:
        'Where the bucket starts (inclusive); it ends where the next one starts. The first bucket may start before filter.from.',
    }),
    group: t.exposeString('group', {
      nullable: true,
      description:
        'The value of the groupBy field; null when the timeline is not grouped, or for events without a value in that field.',
    }),
    count: t.exposeInt('count', {
      description:
        'Events in the bucket (and group) that match the filter, counting only [filter.from, filter.to).',
    }),
  }),
});

builder.queryField('eventTimeline', (t) =>
  t.field({
    type: [TimelineBucket],
    description:
      'Event counts per time bucket over [filter.from, filter.to) (both required), ordered by start and then group (null last). At most TIMELINE_MAX_BUCKETS buckets (1,000 by default) per group; more is a TOO_MANY_BUCKETS error that says how many the range needs.',
    args: {
      filter: t.arg({ type: EventFilterInput, required: true }),
      bucket: t.arg({ type: TimeBucket, required: true }),
      groupBy: t.arg({ type: EventGroupBy, description: 'Split every bucket by this field.' }),
      timeZone: t.arg.string({
        description:
          'IANA time zone deciding where DAY, WEEK and MONTH buckets start, e.g. Europe/Berlin. Default UTC.',
      }),
    },
    resolve: async (_root, args, context) => {
      return await findEventTimeline(context.store.db, context.scope, toEventFilter(args.filter) ?? {}, {
        bucket: args.bucket,
        groupBy: args.groupBy ?? null,
        timeZone: args.timeZone ?? 'UTC',
        maxBuckets: context.config.timelineMaxBuckets,
      });
    },
  }),
);
