/** SlaPolicy: a tenant's days to remediate per severity, its query and its mutation. */
import { createContextCache } from '@pothos/core';
import type { GatewayContext } from '../context.ts';
import { findSlaPolicy, saveSlaPolicy } from '../db/repositories/sla-policies.ts';
import { SEVERITIES, type Severity, type SlaPolicy as SlaPolicyShape } from '../domain.ts';
import { clientError } from '../errors.ts';
import { builder } from './builder.ts';

/** The most days a policy may give: a century, far beyond any remediation target. */
const MAX_SLA_DAYS = 36_500;

/** The caller's tenant's policy, read once per request however many exposures ask for it. */
export const slaPolicyOf = createContextCache((context: GatewayContext) =>
  findSlaPolicy(context.store.db, context.scope.tenantId),
);

const FIELD: Record<Severity, 'critical' | 'high' | 'medium' | 'low' | 'info'> = {
  CRITICAL: 'critical',
  HIGH: 'high',
  MEDIUM: 'medium',
  LOW: 'low',
  INFO: 'info',
};

export const SlaPolicy = builder.objectRef<SlaPolicyShape>('SlaPolicy').implement({
  description:
    'Days to remediate an open exposure, per severity, counted from its openSince; null: no SLA for that severity.',
  fields: (t) => ({
    critical: t.int({ nullable: true, resolve: (policy) => policy.CRITICAL }),
    high: t.int({ nullable: true, resolve: (policy) => policy.HIGH }),
    medium: t.int({ nullable: true, resolve: (policy) => policy.MEDIUM }),
    low: t.int({ nullable: true, resolve: (policy) => policy.LOW }),
    info: t.int({ nullable: true, resolve: (policy) => policy.INFO }),
  }),
});

const SlaPolicyInput = builder.inputType('SlaPolicyInput', {
  description:
    'Days per severity, 1 to 36500. A field left out keeps its current value; null removes the SLA for that severity.',
  fields: (t) => ({
    critical: t.int(),
    high: t.int(),
    medium: t.int(),
    low: t.int(),
    info: t.int(),
  }),
});

builder.queryField('slaPolicy', (t) =>
  t.field({
    type: SlaPolicy,
    description:
      "The caller's tenant's SLA policy; the defaults (critical 7, high 30, medium 90, low 180, info none) until an admin sets one.",
    resolve: (_root, _args, context) => slaPolicyOf(context),
  }),
);

builder.mutationField('setSlaPolicy', (t) =>
  t.field({
    type: SlaPolicy,
    authScopes: { admin: true },
    description:
      "Sets the SLA policy of the caller's tenant; overdue and slaDueAt follow it at once. Refused as BAD_USER_INPUT (extensions.field) for days outside 1..36500.",
    args: { input: t.arg({ type: SlaPolicyInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      const policy = { ...(await slaPolicyOf(context)) };
      for (const severity of SEVERITIES) {
        const days = input[FIELD[severity]];
        if (days === undefined) continue;
        if (days !== null && (days < 1 || days > MAX_SLA_DAYS)) {
          const field = `input.${FIELD[severity]}`;
          throw clientError(
            'BAD_USER_INPUT',
            `${field}: must be between 1 and ${MAX_SLA_DAYS} days, or null`,
            {
              field,
            },
          );
        }
        policy[severity] = days;
      }
      const { tenantId } = context.scope;
      await context.store.write((trx) => saveSlaPolicy(trx.db, tenantId, policy, context.now()));
      return policy;
    },
  }),
);
