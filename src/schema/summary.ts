/** ExposureSummary and ExposureGroup: counts of the current state of exposures for dashboards. */
import {
  countByStatusAndSeverity,
  countOverdueAndDispositioned,
  type ExposureGroupBy as ExposureGroupByValue,
  type ExposureGroup as ExposureGroupRow,
  findExposureGroups,
  type TriageCounts,
} from '../db/repositories/analytics.ts';
import type { StatusSeverityCounts } from '../db/repositories/exposure-counts.ts';
import { builder } from './builder.ts';
import { ExposureStatus, Severity } from './enums.ts';
import { ExposureFilterInput, toExposureFilter } from './filters.ts';
import { once } from './node.ts';

/**
 * What the summary's fields read, each at most once and only when one of its fields is selected: the
 * status and severity counts come from exposure_counts, overdue and dispositioned from the exposures.
 */
interface SummarySource {
  counts(): Promise<StatusSeverityCounts>;
  triage(): Promise<TriageCounts>;
}

export const ExposureSummary = builder.objectRef<SummarySource>('ExposureSummary').implement({
  description:
    'How many exposures match, in all, by status, by severity, overdue and with an active triage decision.',
  fields: (t) => {
    const count = (description: string, read: (counts: StatusSeverityCounts) => number) =>
      t.int({ description, resolve: async (source) => read(await source.counts()) });
    const triage = (description: string, read: (counts: TriageCounts) => number) =>
      t.int({ description, resolve: async (source) => read(await source.triage()) });
    return {
      total: count('Every matching exposure.', (c) => c.total),
      open: count('Matching exposures whose status is OPEN.', (c) => c.byStatus.OPEN),
      closed: count('Matching exposures whose status is CLOSED.', (c) => c.byStatus.CLOSED),
      info: count('Matching exposures of severity INFO.', (c) => c.bySeverity.INFO),
      low: count('Matching exposures of severity LOW.', (c) => c.bySeverity.LOW),
      medium: count('Matching exposures of severity MEDIUM.', (c) => c.bySeverity.MEDIUM),
      high: count('Matching exposures of severity HIGH.', (c) => c.bySeverity.HIGH),
      critical: count('Matching exposures of severity CRITICAL.', (c) => c.bySeverity.CRITICAL),
      overdue: triage(
        "Matching exposures that are OPEN and past their SLA due time (the tenant's slaPolicy).",
        (c) => c.overdue,
      ),
      dispositioned: triage(
        'Matching exposures with an active triage decision (set, not "none", not lapsed).',
        (c) => c.dispositioned,
      ),
    };
  },
});

export const ExposureGroupBy = builder.enumType('ExposureGroupBy', {
  description: 'A field of the current state that exposureGroups groups by.',
  values: {
    OFFICE: { description: 'The office id (ExposureGroup.officeId).' },
    SEVERITY: { description: 'The severity (ExposureGroup.severity).' },
    STATUS: { description: 'The status (ExposureGroup.status).' },
    EXPOSURE_CLASS: { description: 'The exposure class (ExposureGroup.exposureClass).' },
    PROTOCOL: {
      description: 'The protocol (ExposureGroup.protocol); exposures without one form a null group.',
    },
    DST_PORT: {
      description: 'The destination port (ExposureGroup.dstPort); exposures without one form a null group.',
    },
  } satisfies Record<ExposureGroupByValue, { description: string }>,
});

export const ExposureGroup = builder.objectRef<ExposureGroupRow>('ExposureGroup').implement({
  description:
    'The exposures that share one combination of the grouped-by fields. Only the grouped-by fields are set; the others are null.',
  fields: (t) => ({
    officeId: t.exposeID('officeId', { nullable: true, description: 'Set when grouped by OFFICE.' }),
    severity: t.expose('severity', {
      type: Severity,
      nullable: true,
      description: 'Set when grouped by SEVERITY.',
    }),
    status: t.expose('status', {
      type: ExposureStatus,
      nullable: true,
      description: 'Set when grouped by STATUS.',
    }),
    exposureClass: t.exposeString('exposureClass', {
      nullable: true,
      description: 'Set when grouped by EXPOSURE_CLASS.',
    }),
    protocol: t.exposeString('protocol', {
      nullable: true,
      description: 'Grouped by PROTOCOL: the protocol, or null for exposures without one.',
    }),
    dstPort: t.exposeInt('dstPort', {
      nullable: true,
      description: 'Grouped by DST_PORT: the destination port, or null for exposures without one.',
    }),
    count: t.exposeInt('count', { description: 'Exposures in the group.' }),
    maxRiskScore: t.exposeFloat('maxRiskScore', {
      nullable: true,
      description: 'The highest risk score in the group; null when none of them has one.',
    }),
  }),
});

builder.queryFields((t) => ({
  exposureSummary: t.field({
    type: ExposureSummary,
    description:
      'Counts of the exposures matching the filter, by status, by severity, overdue and dispositioned.',
    args: { filter: t.arg({ type: ExposureFilterInput }) },
    resolve: (_root, args, context) => {
      const filter = toExposureFilter(args.filter, context.now);
      const { db } = context.store;
      return {
        counts: once(() => countByStatusAndSeverity(db, context.scope, filter)),
        triage: once(() => countOverdueAndDispositioned(db, context.scope, filter, context.now())),
      };
    },
  }),
  exposureGroups: t.field({
    type: [ExposureGroup],
    description:
      'Exposures matching the filter, grouped by one or more fields, with their count and highest risk score. Ordered by count (largest first), then by the group values in the order of groupBy: severity from CRITICAL down, the others ascending, nulls last.',
    args: {
      filter: t.arg({ type: ExposureFilterInput }),
      groupBy: t.arg({
        type: [ExposureGroupBy],
        required: true,
        description: 'At least one field; a repeated field counts once.',
      }),
    },
    resolve: async (_root, args, context) => {
      return await findExposureGroups(
        context.store.db,
        context.scope,
        toExposureFilter(args.filter, context.now),
        args.groupBy,
      );
    },
  }),
}));
