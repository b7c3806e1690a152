/** Enums shared by several types. */
import { QUARANTINE_STATUSES, SEVERITIES, STATUSES } from '../domain.ts';
import { builder } from './builder.ts';

export const Severity = builder.enumType('Severity', {
  description: 'How bad an exposure is, ordered: INFO lowest, CRITICAL highest.',
  values: SEVERITIES,
});

export const ExposureStatus = builder.enumType('ExposureStatus', {
  description: 'OPEN while the exposure is seen, CLOSED once a scanner reports it gone.',
  values: STATUSES,
});

export const OrderDirection = builder.enumType('OrderDirection', { values: ['ASC', 'DESC'] as const });

export const QuarantineStatus = builder.enumType('QuarantineStatus', {
  description:
    'PENDING until a quarantined file is replayed successfully (REPLAYED) or given up (DISCARDED).',
  values: QUARANTINE_STATUSES,
});
