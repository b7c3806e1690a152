/** Enums shared by several types. */
import { QUARANTINE_STATUSES, SEVERITIES, STATUSES } from '../domain.ts';
import { FORMAT_OF_CONTRACT, type ScanFileFormat as ScanFileFormatName } from '../ingest/formats/index.ts';
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

/** The formats by their API names; the values are the CLI's names (--format), which the ingest core takes. */
export const ScanFileFormat = builder.enumType('ScanFileFormat', {
  description:
    'How a scan file is read. An nmap or nuclei file is one scan run, completed once its events are in.',
  values: {
    EVENTS: {
      value: FORMAT_OF_CONTRACT.EVENTS,
      description: 'The gateway’s own events: a JSON array or JSON Lines.',
    },
    NMAP_XML: { value: FORMAT_OF_CONTRACT.NMAP_XML, description: 'nmap -oX output: an event per open port.' },
    NUCLEI_JSONL: {
      value: FORMAT_OF_CONTRACT.NUCLEI_JSONL,
      description: 'nuclei -jsonl output: an event per finding.',
    },
  } as const satisfies Record<string, { value: ScanFileFormatName; description: string }>,
});
