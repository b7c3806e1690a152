/** Filter inputs shared by exposure and event fields, and their translation to repository filters. */
import type { EventFilter, ExposureFilter } from '../db/repositories/filters.ts';
import { clientError } from '../errors.ts';
import { cidrKeyRange } from '../ip.ts';
import { builder } from './builder.ts';
import { ExposureStatus, Severity } from './enums.ts';

export const ExposureFilterInput = builder.inputType('ExposureFilter', {
  description:
    'Conditions on the current state of exposures, all of which must hold. A list matches any of its values; an empty list matches nothing. Time ranges include "From" and exclude "To".',
  fields: (t) => ({
    officeIds: t.idList({ description: 'Only these offices (always within the offices of the token).' }),
    exposureIds: t.stringList(),
    exposureClasses: t.stringList({ description: 'e.g. open_port, weak_tls, expired_certificate.' }),
    statuses: t.field({ type: [ExposureStatus] }),
    severities: t.field({ type: [Severity] }),
    minSeverity: t.field({ type: Severity, description: 'This severity or a higher one.' }),
    assetIds: t.stringList(),
    protocols: t.stringList(),
    dstPorts: t.intList(),
    dstIpIn: t.string({
      description: 'Destination IP inside this CIDR, e.g. "10.0.0.0/8" or "2001:db8::/32".',
    }),
    minRiskScore: t.float({
      description: 'Risk score at least this (0..100); exposures without a score are left out.',
    }),
    firstSeenFrom: t.field({ type: 'DateTime' }),
    firstSeenTo: t.field({ type: 'DateTime' }),
    lastSeenFrom: t.field({ type: 'DateTime' }),
    lastSeenTo: t.field({ type: 'DateTime' }),
    search: t.string({
      description: 'Case-insensitive substring of exposureId, assetId, assetHostname or dstIp.',
    }),
    overdue: t.boolean({
      description: "true: OPEN and past the SLA due time (the tenant's slaPolicy); false: every other.",
    }),
    dispositionStatuses: t.stringList({
      description:
        'Active triage decisions with one of these statuses (lapsed ones do not count); "none" matches exposures without an active decision.',
    }),
    openSinceFrom: t.field({ type: 'DateTime', description: 'Open streak started at or after this.' }),
    openSinceTo: t.field({ type: 'DateTime', description: 'Open streak started before this.' }),
  }),
});

export const EventFilterInput = builder.inputType('EventFilter', {
  description:
    'Conditions on events, all of which must hold. A list matches any of its values; an empty list matches nothing.',
  fields: (t) => ({
    officeIds: t.idList(),
    exposureIds: t.stringList(),
    assetIds: t.stringList(),
    exposureClasses: t.stringList(),
    severities: t.field({ type: [Severity] }),
    statuses: t.field({ type: [ExposureStatus] }),
    eventActions: t.stringList(),
    scanRunIds: t.stringList(),
    from: t.field({ type: 'DateTime', description: 'Events at or after this instant (inclusive).' }),
    to: t.field({ type: 'DateTime', description: 'Events before this instant (exclusive).' }),
  }),
});

type ExposureFilterArg = typeof ExposureFilterInput.$inferInput;
type EventFilterArg = typeof EventFilterInput.$inferInput;

/**
 * Values a filter list may hold. Far more than a dashboard sends, and far below what reaches a database
 * limit (PostgreSQL takes at most 65,535 parameters per statement); variables never meet the document's
 * own limits, so this is where a list is bounded.
 */
export const MAX_FILTER_VALUES = 1000;

/** Every list of a filter within MAX_FILTER_VALUES, else the client's error (text: plugins/storable-text.ts). */
export function checkFilter(input: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(input)) {
    const field = `filter.${name}`;
    const values = Array.isArray(value) ? value : [value];
    if (values.length > MAX_FILTER_VALUES) {
      throw clientError(
        'FILTER_LIST_TOO_LONG',
        `${field}: at most ${MAX_FILTER_VALUES} values, got ${values.length}`,
        { field, limit: MAX_FILTER_VALUES },
      );
    }
  }
}

/**
 * The repository filter for an ExposureFilter argument, judged by `clock` (a request's instant, or the
 * gateway's clock for a subscription, which outlives any instant); a bad CIDR is the client's error.
 */
export function toExposureFilter(
  input: ExposureFilterArg | null | undefined,
  clock: () => Date,
): ExposureFilter | null {
  if (!input) return null;
  checkFilter(input);
  const { dstIpIn, ...given } = input;
  const rest = { ...given, clock };
  if (dstIpIn === null || dstIpIn === undefined) return rest;
  const dstIpRange = cidrKeyRange(dstIpIn);
  if (!dstIpRange) {
    throw clientError(
      'BAD_USER_INPUT',
      `filter.dstIpIn: "${dstIpIn}" is not a CIDR such as 10.0.0.0/8 or 2001:db8::/32`,
      {
        field: 'filter.dstIpIn',
      },
    );
  }
  return { ...rest, dstIpRange };
}

export function toEventFilter(input: EventFilterArg | null | undefined): EventFilter | null {
  if (!input) return null;
  checkFilter(input);
  return input;
}
