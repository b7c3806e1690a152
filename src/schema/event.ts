/** ExposureEvent: one entry of the append-only event log, and the events query. */

import type { GatewayContext } from '../context.ts';
import {
  countEvents,
  type EventRecord,
  eventCursor,
  findEvents,
  findEventsByIds,
} from '../db/repositories/events.ts';
import { builder } from './builder.ts';
import { ExposureStatus, Severity } from './enums.ts';
import { Exposure, exposureNodeKey } from './exposure.ts';
import { EventFilterInput, toEventFilter } from './filters.ts';
import { connectionOf, pageArgs, paged } from './node.ts';

export const ExposureEvent = builder.loadableNodeRef('ExposureEvent', {
  id: {
    description: 'Global id of the event, for node(id).',
    resolve: (event: EventRecord) => event.eventId,
  },
  load: (eventIds: string[], context: GatewayContext) =>
    findEventsByIds(context.store.db, context.scope, eventIds),
  toKey: (event) => event.eventId,
  sort: true,
  cacheResolved: true,
});

ExposureEvent.implement({
  description: 'One observation of an exposure by a scanner, as ingested; never changed afterwards.',
  fields: (t) => ({
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
    exposureClass: t.exposeString('exposureClass', {
      description: 'What kind of exposure, e.g. open_port, weak_tls, expired_certificate.',
    }),
    status: t.expose('status', {
      type: ExposureStatus,
      description: 'Status reported by this event.',
    }),
    severity: t.expose('severity', {
      type: Severity,
      description: 'Severity reported by this event.',
    }),
    eventAction: t.exposeString('eventAction', { nullable: true, description: 'e.g. detected, resolved.' }),
    eventKind: t.exposeString('eventKind', { nullable: true, description: 'Kind of the event.' }),
    assetId: t.exposeString('assetId', { nullable: true, description: 'The affected asset.' }),
    assetHostname: t.exposeString('assetHostname', {
      nullable: true,
      description: 'Host name of the affected asset.',
    }),
    assetIp: t.expose('assetIp', {
      type: 'IPAddress',
      nullable: true,
      description: 'IP address of the affected asset.',
    }),
    riskScore: t.exposeFloat('riskScore', { nullable: true, description: 'Risk score, 0..100.' }),
    confidence: t.exposeFloat('confidence', {
      nullable: true,
      description: 'How sure the scanner is, 0..1.',
    }),
    dstIp: t.expose('dstIp', { type: 'IPAddress', nullable: true, description: 'Destination IP address.' }),
    dstPort: t.exposeInt('dstPort', { nullable: true, description: 'Destination port, 0..65535.' }),
    protocol: t.exposeString('protocol', { nullable: true, description: 'Transport protocol, e.g. tcp.' }),
    serviceName: t.exposeString('serviceName', { nullable: true, description: 'Service found listening.' }),
    serviceProduct: t.exposeString('serviceProduct', {
      nullable: true,
      description: 'Product behind the service.',
    }),
    serviceVersion: t.exposeString('serviceVersion', {
      nullable: true,
      description: 'Version of that product.',
    }),
    resource: t.expose('resource', {
      type: 'JSON',
      nullable: true,
      description: 'Scanner-specific details of the affected resource.',
    }),
    dispositionStatus: t.exposeString('dispositionStatus', {
      nullable: true,
      description: 'Triage decision.',
    }),
    dispositionReason: t.exposeString('dispositionReason', {
      nullable: true,
      description: 'Why that decision was made.',
    }),
    scanRunId: t.exposeString('scanRunId', { nullable: true, description: 'The scan run that produced it.' }),
    scannerType: t.exposeString('scannerType', {
      nullable: true,
      description: 'The scanner that produced it.',
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
    resolve: (_root, args, context) => {
      const filter = toEventFilter(args.filter);
      const { db } = context.store;
      return paged(async () =>
        connectionOf(await findEvents(db, context.scope, filter, args), eventCursor, () =>
          countEvents(db, context.scope, filter),
        ),
      );
    },
  }),
);
