/** triageExposure: a person's decision about one exposure, written to the log. */
import { triageExposure } from '../ingest/triage.ts';
import { builder } from './builder.ts';
import { Exposure, exposureNodeKey } from './exposure.ts';

const TriageExposureInput = builder.inputType('TriageExposureInput', {
  description: 'A decision about one exposure.',
  fields: (t) => ({
    officeId: t.id({
      required: true,
      description: 'The office of the exposure; one of the token’s offices.',
    }),
    exposureId: t.string({ required: true, description: 'The exposure, which must exist.' }),
    dispositionStatus: t.string({
      required: true,
      description: 'e.g. accepted_risk, false_positive, mitigated; "none" clears the decision.',
    }),
    dispositionReason: t.string({ required: true, description: 'Why.' }),
    expiresAt: t.field({
      type: 'DateTime',
      description: 'When the decision lapses (later than now); absent: it does not. Not with "none".',
    }),
  }),
});

builder.mutationField('triageExposure', (t) =>
  t.field({
    type: Exposure,
    authScopes: { analyst: true },
    description:
      'Records a decision about an exposure as a log event (eventKind "triage", actor = the caller, timestamp = now) that carries its status and severity over, and returns the new state. Refused as NOT_FOUND when the exposure does not exist, FORBIDDEN for an office outside the token, BAD_USER_INPUT naming the field otherwise.',
    args: { input: t.arg({ type: TriageExposureInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      const key = { officeId: String(input.officeId), exposureId: input.exposureId };
      await triageExposure(context, context.scope, {
        ...key,
        dispositionStatus: input.dispositionStatus,
        dispositionReason: input.dispositionReason,
        expiresAt: input.expiresAt ?? null,
        actor: context.principal.actor,
        now: context.now(),
      });
      return exposureNodeKey(key.officeId, key.exposureId);
    },
  }),
);
