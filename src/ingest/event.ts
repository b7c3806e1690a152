/** The exposure event as the ingest core sees it after validation. */
import type { ExposureStatus, Severity } from '../db/tables.ts';

export interface ExposureEvent {
  eventId: string;
  /** ISO-8601 UTC with milliseconds. */
  timestamp: string;
  officeId: string;
  exposureId: string;
  exposureClass: string;
  status: ExposureStatus;
  severity: Severity;
  eventAction: string | null;
  eventKind: string | null;
  assetId: string | null;
  assetHostname: string | null;
  assetIp: string | null;
  riskScore: number | null;
  confidence: number | null;
  dstIp: string | null;
  dstPort: number | null;
  protocol: string | null;
  scanRunId: string | null;
  scannerType: string | null;
  dedupeKey: string | null;
  serviceName: string | null;
  serviceProduct: string | null;
  serviceVersion: string | null;
  resource: unknown;
  dispositionStatus: string | null;
  dispositionReason: string | null;
  rawPayload: unknown;
}

/** An event input field that failed validation, reported with the event's index in its batch. */
export interface RejectedEvent {
  index: number;
  field: string | null;
  code: string;
  message: string;
}

export interface IngestCounts {
  eventsInserted: number;
  eventsDuplicate: number;
  exposuresInserted: number;
  exposuresUpdated: number;
  totalProcessed: number;
}

export interface IngestResult extends IngestCounts {
  rejected: RejectedEvent[];
}

export interface ExposureKey {
  officeId: string;
  exposureId: string;
}
