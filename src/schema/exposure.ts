/** Exposure: the current state of one exposure, its events, and the exposures and exposure queries. */
import { createContextCache } from '@pothos/core';
import DataLoader from 'dataloader';
import type { GatewayContext } from '../context.ts';
import { countEventsOfExposures, eventCursor, findEventsOfExposures } from '../db/repositories/events.ts';
import {
  countExposures,
  DEFAULT_EXPOSURE_ORDER,
  type ExposureState,
  exposureCursor,
  findExposures,
  findExposuresByKeys,
} from '../db/repositories/exposures.ts';
import { type ExposureKey, isDispositionActive, slaDueAt } from '../domain.ts';
import { clientError } from '../errors.ts';
import { inBatch } from './batch.ts';
import { builder } from './builder.ts';
import { OrderDirection } from './enums.ts';
import { ExposureEventConnection } from './event.ts';
import { exposureFields } from './exposure-fields.ts';
import { ExposureFilterInput, toExposureFilter } from './filters.ts';
import { connectionOf, forwardPageArgs, pageArgs } from './node.ts';
import { slaPolicyOf } from './sla-policy.ts';

/** The loader key of an exposure, which is also the id part of its global id. */
export function exposureNodeKey(officeId: string, exposureId: string): string {
  return JSON.stringify([officeId, exposureId]);
}

function exposureKeyOf(nodeKey: string): ExposureKey {
  const [officeId, exposureId] = JSON.parse(nodeKey) as [string, string];
  return { officeId, exposureId };
}

/** Global ids are opaque to clients, so one that does not decode is their error, not ours. */
function parseExposureNodeKey(id: string): string {
  let parts: unknown;
  try {
    parts = JSON.parse(id);
  } catch {
    parts = null;
  }
  const [officeId, exposureId, ...rest] = Array.isArray(parts) ? (parts as unknown[]) : [];
  if (typeof officeId !== 'string' || typeof exposureId !== 'string' || rest.length > 0) {
    throw clientError('BAD_USER_INPUT', 'not an Exposure id: use the id field of an Exposure');
  }
  return exposureNodeKey(officeId, exposureId);
}

const keyOfExposure = (exposure: ExposureState) => exposureNodeKey(exposure.officeId, exposure.exposureId);

export const Exposure = builder.loadableNodeRef('Exposure', {
  id: {
    description: 'Global id of the exposure, for node(id).',
    resolve: keyOfExposure,
    parse: parseExposureNodeKey,
  },
  // One query for every exposure a request level asks for; another tenant's keys simply find nothing.
  load: (keys: string[], context: GatewayContext) =>
    inBatch(context, 'Exposure', keys.length, () =>
      findExposuresByKeys(context.store.db, context.scope, keys.map(exposureKeyOf)),
    ),
  toKey: keyOfExposure,
  sort: true,
  // Exposures read by a page serve later lookups of the same key (an event's exposure) from the cache.
  cacheResolved: true,
});

interface EventWindow {
  from?: Date | null;
  to?: Date | null;
}

/** Per request and time window: the event counts of every exposure asked for, in one query. */
const eventCountLoaders = createContextCache(
  (_context: GatewayContext) => new Map<string, DataLoader<string, number>>(),
);

function eventCountLoader(context: GatewayContext, window: EventWindow): DataLoader<string, number> {
  const loaders = eventCountLoaders(context);
  const id = JSON.stringify([window.from ?? null, window.to ?? null]);
  let loader = loaders.get(id);
  if (!loader) {
    loader = new DataLoader((keys: readonly string[]) =>
      inBatch(context, 'Exposure.events.totalCount', keys.length, () =>
        countEventsOfExposures(context.store.db, context.scope, keys.map(exposureKeyOf), window),
      ),
    );
    loaders.set(id, loader);
  }
  return loader;
}

Exposure.implement({
  description:
    'The current state of one exposure: the fold of its events, where each optional field comes from the latest event that has it.',
  fields: (t) => ({
    ...exposureFields(t, 'state'),
    officeId: t.exposeID('officeId', {
      description: 'The office whose scanner reported the exposure.',
    }),
    exposureId: t.exposeString('exposureId', {
      description: 'The id of the exposure, unique in its office.',
    }),
    firstSeen: t.expose('firstSeen', {
      type: 'DateTime',
      description: 'Timestamp of the earliest event.',
    }),
    lastSeen: t.expose('lastSeen', {
      type: 'DateTime',
      description: 'Timestamp of the latest event.',
    }),
    openSince: t.expose('openSince', {
      type: 'DateTime',
      nullable: true,
      description:
        'Start of the current OPEN streak: the first OPEN event after the latest CLOSED one (after a reopen it is later than firstSeen); null while CLOSED.',
    }),
    slaDueAt: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        "openSince plus the SLA days of the current severity (the tenant's slaPolicy); null when CLOSED or the severity has no SLA.",
      resolve: async (exposure, _args, context) =>
        slaDueAt(exposure.openSince, exposure.severity, await slaPolicyOf(context)),
    }),
    overdue: t.boolean({
      description: 'OPEN and past slaDueAt, judged when the request arrived.',
      resolve: async (exposure, _args, context) => {
        const due = slaDueAt(exposure.openSince, exposure.severity, await slaPolicyOf(context));
        return exposure.status === 'OPEN' && due !== null && context.now().getTime() > due.getTime();
      },
    }),
    dispositionActive: t.boolean({
      description:
        'A triage decision other than "none" is set and has not lapsed (dispositionExpiresAt is null or later than now).',
      resolve: (exposure, _args, context) =>
        isDispositionActive(exposure.dispositionStatus, exposure.dispositionExpiresAt, context.now()),
    }),
    events: t.loadable({
      type: ExposureEventConnection,
      description: 'The events of this exposure, newest first.',
      // Every exposure at one path of the query shares these arguments: one query loads all their pages.
      byPath: true,
      args: {
        ...forwardPageArgs(t.arg),
        from: t.arg({ type: 'DateTime', description: 'Events at or after this instant (inclusive).' }),
        to: t.arg({ type: 'DateTime', description: 'Events before this instant (exclusive).' }),
      },
      load: async (keys: string[], context: GatewayContext, args) => {
        const pages = await inBatch(context, 'Exposure.events', keys.length, () =>
          findEventsOfExposures(context.store.db, context.scope, keys.map(exposureKeyOf), args),
        );
        return pages.map((page, i) =>
          connectionOf(page, eventCursor, () => eventCountLoader(context, args).load(keys[i]!)),
        );
      },
      resolve: keyOfExposure,
    }),
  }),
});

export const ExposureConnection = builder.connectionObject(
  {
    type: Exposure,
    name: 'ExposureConnection',
    description: 'A page of exposures.',
  },
  { description: 'An exposure and its cursor.' },
);

const ExposureOrderField = builder.enumType('ExposureOrderField', {
  description: 'What exposures are sorted by; ties go to the last seen, then to office and exposure id.',
  values: {
    LAST_SEEN: { description: 'When the exposure was last seen.' },
    FIRST_SEEN: { description: 'When the exposure was first seen.' },
    SEVERITY: { description: 'Severity in its order, INFO lowest.' },
    RISK_SCORE: { description: 'Risk score; exposures without one sort below every score.' },
  } as const,
});

const ExposureOrder = builder.inputType('ExposureOrder', {
  description: 'The order of an exposure connection.',
  fields: (t) => ({
    field: t.field({ type: ExposureOrderField, required: true, description: 'What to sort by.' }),
    direction: t.field({ type: OrderDirection, required: true, description: 'ASC or DESC.' }),
  }),
});

builder.queryField('exposures', (t) =>
  t.field({
    type: ExposureConnection,
    description: 'Exposures that match the filter, by default the last seen first.',
    args: {
      filter: t.arg({
        type: ExposureFilterInput,
        description: 'Only exposures that match; all of them when absent.',
      }),
      orderBy: t.arg({ type: ExposureOrder, description: 'Default: LAST_SEEN DESC.' }),
      ...pageArgs(t.arg),
    },
    resolve: async (_root, args, context) => {
      const filter = toExposureFilter(args.filter, context.now);
      const order = args.orderBy ?? DEFAULT_EXPOSURE_ORDER;
      const { db } = context.store;
      return connectionOf(
        await findExposures(db, context.scope, filter, { ...args, order }),
        (exposure) => exposureCursor(order, exposure),
        () => countExposures(db, context.scope, filter),
      );
    },
  }),
);

builder.queryField('exposure', (t) =>
  t.field({
    type: Exposure,
    nullable: true,
    description: 'One exposure by its key, or null when the caller may not see it or it does not exist.',
    args: {
      officeId: t.arg.id({ required: true, description: 'The office that reported the exposure.' }),
      exposureId: t.arg.string({ required: true, description: 'The id of the exposure in that office.' }),
    },
    resolve: (_root, args) => exposureNodeKey(String(args.officeId), args.exposureId),
  }),
);
