/** ExposureEvent: one entry of the append-only event log, and the events query. */

import type { GatewayContext } from '../context.ts';
import {
  countEvents,
  type EventRecord,
  eventCursor,
  findEvents,
  findEventsByIds,
} from '../db/repositories/events.ts';
import { inBatch } from './batch.ts';
import { builder } from './builder.ts';
import { Exposure, exposureNodeKey } from './exposure.ts';
import { exposureFields } from './exposure-fields.ts';
import { EventFilterInput, toEventFilter } from './filters.ts';
import { connectionOf, pageArgs } from './node.ts';

export const ExposureEvent = builder.loadableNodeRef('ExposureEvent', {
  id: {
    description: 'Global id of the event, for node(id).',
    resolve: (event: EventRecord) => event.eventId,
  },
  load: (eventIds: string[], context: GatewayContext) =>
    inBatch(context, 'ExposureEvent', eventIds.length, () =>
      findEventsByIds(context.store.db, context.scope, eventIds),
    ),
  toKey: (event) => event.eventId,
  sort: true,
  cacheResolved: true,
});

ExposureEvent.implement({
  description: 'One observation of an exposure by a scanner, as ingested; never changed afterwards.',
  fields: (t) => ({
    ...exposureFields(t, 'event'),
    eventId: t.exposeString('eventId', {
      description: 'Idempotency key of the event, unique in the tenant.',
    }),
    timestamp: t.expose('timestamp', {
      type: 'DateTime',
      description: 'When the scanner saw it.',
    }),
    officeId: t.exposeID('officeId', {
      description: 'The office whose scanner reported it.',
    }),
    exposureId: t.exposeString('exposureId', {
      description: 'The exposure it is about, unique in its office.',
    }),
    exposure: t.field({
      type: Exposure,
      nullable: true,
      description: 'The current state of the exposure this event is about.',
      resolve: (event) => exposureNodeKey(event.officeId, event.exposureId),
    }),
    scanRunId: t.exposeString('scanRunId', { nullable: true, description: 'The scan run that produced it.' }),
    actor: t.exposeString('actor', {
      nullable: true,
      description:
        "Who wrote it: the token's subject or the API key's name (local:USER from the command line); null for events written before it was recorded.",
    }),
    dedupeKey: t.exposeString('dedupeKey', {
      nullable: true,
      description: 'Deduplication key, unique per office when set.',
    }),
    rawPayload: t.expose('rawPayload', {
      type: 'JSON',
      nullable: true,
      description: 'The scanner output the event was made from.',
    }),
    ingestedAt: t.expose('ingestedAt', {
      type: 'DateTime',
      description: 'When the gateway stored it.',
    }),
  }),
});

export const ExposureEventConnection = builder.connectionObject(
  {
    type: ExposureEvent,
    name: 'ExposureEventConnection',
    description: 'A page of events, newest first.',
  },
  { description: 'An event and its cursor.' },
);

builder.queryField('events', (t) =>
  t.field({
    type: ExposureEventConnection,
    description: 'Events that match the filter, newest first (by timestamp, then event id).',
    args: {
      filter: t.arg({
        type: EventFilterInput,
        description: 'Only events that match; all of them when absent.',
      }),
      ...pageArgs(t.arg),
    },
    resolve: async (_root, args, context) => {
      const filter = toEventFilter(args.filter);
      const { db } = context.store;
      return connectionOf(await findEvents(db, context.scope, filter, args), eventCursor, () =>
        countEvents(db, context.scope, filter),
      );
    },
  }),
);
