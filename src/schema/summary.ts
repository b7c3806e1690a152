/** ExposureSummary and ExposureGroup: counts of the current state of exposures for dashboards. */
import {
  type ExposureGroupBy as ExposureGroupByValue,
  type ExposureGroup as ExposureGroupRow,
  type ExposureSummary as ExposureSummaryRow,
  findExposureGroups,
  findExposureSummary,
} from '../db/repositories/analytics.ts';
import { builder } from './builder.ts';
import { ExposureStatus, Severity } from './enums.ts';
import { ExposureFilterInput, toExposureFilter } from './filters.ts';

export const ExposureSummary = builder.objectRef<ExposureSummaryRow>('ExposureSummary').implement({
  description:
    'How many exposures match, in all, by status, by severity, overdue and with an active triage decision.',
  fields: (t) => ({
    total: t.exposeInt('total', { description: 'Every matching exposure.' }),
    open: t.exposeInt('open', { description: 'Matching exposures whose status is OPEN.' }),
    closed: t.exposeInt('closed', { description: 'Matching exposures whose status is CLOSED.' }),
    info: t.exposeInt('info', { description: 'Matching exposures of severity INFO.' }),
    low: t.exposeInt('low', { description: 'Matching exposures of severity LOW.' }),
    medium: t.exposeInt('medium', { description: 'Matching exposures of severity MEDIUM.' }),
    high: t.exposeInt('high', { description: 'Matching exposures of severity HIGH.' }),
    critical: t.exposeInt('critical', { description: 'Matching exposures of severity CRITICAL.' }),
    overdue: t.exposeInt('overdue', {
      description: "Matching exposures that are OPEN and past their SLA due time (the tenant's slaPolicy).",
    }),
    dispositioned: t.exposeInt('dispositioned', {
      description: 'Matching exposures with an active triage decision (set, not "none", not lapsed).',
    }),
  }),
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
    resolve: (_root, args, context) =>
      findExposureSummary(
        context.store.db,
        context.scope,
        toExposureFilter(args.filter, context.now),
        context.now(),
      ),
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
