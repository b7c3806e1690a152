/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** The end of a scan run, and what it covered. */
export type CompleteScanRunInput = {
  /** When the run finished: the timestamp of the inferred CLOSED events. */
  completedAt: string;
  /** The office the run scanned (one of the token’s offices). */
  officeId: string | number;
  /** The run, as its events name it. */
  scanRunId: string;
  /** The scanner: only exposures it reported last are closed. */
  scannerType: string;
  /** What the run covered; absent: everything of the office this scanner type reported. */
  scope?: ScanScopeInput | null | undefined;
  /** When the run started, when its events do not say. */
  startedAt?: string | null | undefined;
};

/** Conditions on events, all of which must hold. A list matches any of its values; an empty list matches nothing. */
export type EventFilter = {
  assetIds?: Array<string> | null | undefined;
  eventActions?: Array<string> | null | undefined;
  exposureClasses?: Array<string> | null | undefined;
  exposureIds?: Array<string> | null | undefined;
  /** Events at or after this instant (inclusive). */
  from?: string | null | undefined;
  officeIds?: Array<string | number> | null | undefined;
  scanRunIds?: Array<string> | null | undefined;
  severities?: Array<Severity> | null | undefined;
  statuses?: Array<ExposureStatus> | null | undefined;
  /** Events before this instant (exclusive). */
  to?: string | null | undefined;
};

/** One event as a scanner reports it. Values must fit their types (IPs, enums, timestamps with an offset) or the request is refused as a whole; the other checks reject the event and name it by index. */
export type ExposureEventInput = {
  /** Host name of the asset. */
  assetHostname?: string | null | undefined;
  /** The affected asset. */
  assetId?: string | null | undefined;
  /** IP address of the asset. */
  assetIp?: string | null | undefined;
  /** How sure the scanner is, 0..1. */
  confidence?: number | null | undefined;
  /** Unique per office when given: a second event with the same key is a duplicate. */
  dedupeKey?: string | null | undefined;
  /** When the decision lapses; taken only with a dispositionStatus. */
  dispositionExpiresAt?: string | null | undefined;
  /** Why that decision was made; taken only with a dispositionStatus. */
  dispositionReason?: string | null | undefined;
  /** Triage decision, e.g. accepted_risk. */
  dispositionStatus?: string | null | undefined;
  /** Destination IP address. */
  dstIp?: string | null | undefined;
  /** Destination port, 0..65535. */
  dstPort?: number | null | undefined;
  /** What happened, e.g. detected or resolved. */
  eventAction?: string | null | undefined;
  /** Idempotency key of the event; derived deterministically from its content when absent, so a resent event is a duplicate either way. */
  eventId?: string | null | undefined;
  /** Kind of event, e.g. state or alert. */
  eventKind?: string | null | undefined;
  /** e.g. open_port, weak_tls, expired_certificate. */
  exposureClass: string;
  /** Id of the exposure, unique in its office. */
  exposureId: string;
  /** Office of the scanner; one of the token’s offices. */
  officeId: string | number;
  /** Transport protocol, e.g. tcp. */
  protocol?: string | null | undefined;
  /** The scanner’s original record (at most 64 KiB as JSON). */
  rawPayload?: unknown;
  /** Scanner-specific details (at most 64 KiB as JSON). */
  resource?: unknown;
  /** Risk score, 0..100. */
  riskScore?: number | null | undefined;
  /** The scan run that produced the event. */
  scanRunId?: string | null | undefined;
  /** The scanner, e.g. nmap. */
  scannerType?: string | null | undefined;
  /** Service found listening, e.g. rdp. */
  serviceName?: string | null | undefined;
  /** Product behind the service. */
  serviceProduct?: string | null | undefined;
  /** Version of that product. */
  serviceVersion?: string | null | undefined;
  /** How bad it is. */
  severity: Severity;
  /** OPEN or CLOSED. */
  status: ExposureStatus;
  /** When the scanner saw it; at most the allowed clock skew in the future. */
  timestamp: string;
};

/** Conditions on the current state of exposures, all of which must hold. A list matches any of its values; an empty list matches nothing. Time ranges include "From" and exclude "To". */
export type ExposureFilter = {
  assetIds?: Array<string> | null | undefined;
  /** Active triage decisions with one of these statuses (lapsed ones do not count); "none" matches exposures without an active decision. */
  dispositionStatuses?: Array<string> | null | undefined;
  /** Destination IP inside this CIDR, e.g. "10.0.0.0/8" or "2001:db8::/32". */
  dstIpIn?: string | null | undefined;
  dstPorts?: Array<number> | null | undefined;
  /** e.g. open_port, weak_tls, expired_certificate. */
  exposureClasses?: Array<string> | null | undefined;
  exposureIds?: Array<string> | null | undefined;
  firstSeenFrom?: string | null | undefined;
  firstSeenTo?: string | null | undefined;
  lastSeenFrom?: string | null | undefined;
  lastSeenTo?: string | null | undefined;
  /** Risk score at least this (0..100); exposures without a score are left out. */
  minRiskScore?: number | null | undefined;
  /** This severity or a higher one. */
  minSeverity?: Severity | null | undefined;
  /** Only these offices (always within the offices of the token). */
  officeIds?: Array<string | number> | null | undefined;
  /** Open streak started at or after this. */
  openSinceFrom?: string | null | undefined;
  /** Open streak started before this. */
  openSinceTo?: string | null | undefined;
  /** true: OPEN and past the SLA due time (the tenant's slaPolicy); false: every other. */
  overdue?: boolean | null | undefined;
  protocols?: Array<string> | null | undefined;
  /** Case-insensitive substring of exposureId, assetId, assetHostname or dstIp. */
  search?: string | null | undefined;
  severities?: Array<Severity> | null | undefined;
  statuses?: Array<ExposureStatus> | null | undefined;
};

/** The order of an exposure connection. */
export type ExposureOrder = {
  /** ASC or DESC. */
  direction: OrderDirection;
  /** What to sort by. */
  field: ExposureOrderField;
};

/** What exposures are sorted by; ties go to the last seen, then to office and exposure id. */
export type ExposureOrderField =
  /** When the exposure was first seen. */
  | 'FIRST_SEEN'
  /** When the exposure was last seen. */
  | 'LAST_SEEN'
  /** Risk score; exposures without one sort below every score. */
  | 'RISK_SCORE'
  /** Severity in its order, INFO lowest. */
  | 'SEVERITY';

/** OPEN while the exposure is seen, CLOSED once a scanner reports it gone. */
export type ExposureStatus =
  | 'CLOSED'
  | 'OPEN';

/** A batch of events, written in one transaction. */
export type IngestExposureEventsInput = {
  /** The events; at most INGEST_MAX_EVENTS per call. */
  events: Array<ExposureEventInput>;
  /** The same key with the same events returns the first result and writes nothing; with other events it is refused (IDEMPOTENCY_KEY_REUSED). */
  idempotencyKey?: string | null | undefined;
  /** false: one invalid event rejects the whole call (INVALID_EVENTS) and nothing is written. true: the valid events are written and the others returned in rejected. */
  skipInvalid?: boolean | null | undefined;
};

export type OrderDirection =
  | 'ASC'
  | 'DESC';

/** A file a worker could not process, reported so that it shows in the quarantine. */
export type QuarantineFileInput = {
  /** Structured details, e.g. lines and fields. */
  errorDetails?: unknown;
  /** The problem in words. */
  errorMessage: string;
  /** What kind of problem, e.g. PARSE_ERROR. */
  errorType: string;
  /** sha256 of the content, 64 hex digits. */
  fileHash: string;
  /** Size of the file in bytes. */
  fileSize: number;
  /** Name of the file. */
  filename: string;
  /** Office the file is for (one of the token’s offices). */
  officeId?: string | number | null | undefined;
  /** Scanner that made the file. */
  scannerType?: string | null | undefined;
};

/** PENDING until a quarantined file is replayed successfully (REPLAYED) or given up (DISCARDED). */
export type QuarantineStatus =
  | 'DISCARDED'
  | 'PENDING'
  | 'REPLAYED';

/** What a run covered. Every list given bounds the run; an exposure outside it is left open. An exposure without a dstIp (dstPort) is outside a scope that lists CIDRs (port ranges). */
export type ScanScopeInput = {
  /** CIDRs the run scanned; a host is /32 or /128. */
  dstIpIn?: Array<string> | null | undefined;
  /** Ports the run scanned: "22", "1-1024". */
  dstPortRanges?: Array<string> | null | undefined;
  /** Only exposures of these classes, e.g. open_port. */
  exposureClasses?: Array<string> | null | undefined;
};

/** How bad an exposure is, ordered: INFO lowest, CRITICAL highest. */
export type Severity =
  | 'CRITICAL'
  | 'HIGH'
  | 'INFO'
  | 'LOW'
  | 'MEDIUM';

export type DashboardOfficesQueryVariables = Exact<{ [key: string]: never; }>;


export type DashboardOfficesQuery = { offices: Array<{ id: string, name: string | null, lastIngestAt: string | null, openExposures: number }> };

export type DashboardSummaryQueryVariables = Exact<{
  filter?: ExposureFilter | null | undefined;
}>;


export type DashboardSummaryQuery = { exposureSummary: { total: number, open: number, closed: number, info: number, low: number, medium: number, high: number, critical: number } };

export type DashboardExposuresQueryVariables = Exact<{
  filter?: ExposureFilter | null | undefined;
  orderBy?: ExposureOrder | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type DashboardExposuresQuery = { exposures: { totalCount: number, pageInfo: { hasNextPage: boolean, endCursor: string | null }, edges: Array<{ node: { id: string, officeId: string, exposureId: string, exposureClass: string, status: ExposureStatus, severity: Severity, riskScore: number | null, dstIp: string | null, dstPort: number | null, protocol: string | null, assetHostname: string | null, firstSeen: string, lastSeen: string } }> } };

export type DashboardEventsQueryVariables = Exact<{
  filter?: EventFilter | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type DashboardEventsQuery = { events: { pageInfo: { hasNextPage: boolean, endCursor: string | null }, edges: Array<{ node: { id: string, eventId: string, timestamp: string, officeId: string, exposureId: string, exposureClass: string, severity: Severity, status: ExposureStatus, eventAction: string | null } }> } };

export type IngestChunkMutationVariables = Exact<{
  input: IngestExposureEventsInput;
}>;


export type IngestChunkMutation = { ingestExposureEvents: { eventsInserted: number, eventsDuplicate: number, exposuresInserted: number, exposuresUpdated: number, totalProcessed: number, rejected: Array<{ index: number, field: string | null, code: string, message: string }> } };

export type ReportQuarantinedFileMutationVariables = Exact<{
  input: QuarantineFileInput;
}>;


export type ReportQuarantinedFileMutation = { quarantineFile: { id: string, status: QuarantineStatus } };

export type CompleteScanRunMutationVariables = Exact<{
  input: CompleteScanRunInput;
}>;


export type CompleteScanRunMutation = { completeScanRun: { officeId: string, scanRunId: string, scannerType: string | null, startedAt: string | null, completedAt: string | null, eventsObserved: number, exposuresObserved: number, exposuresNew: number, exposuresReopened: number, exposuresClosed: number } };


export const DashboardOfficesDocument = {"__meta__":{"hash":"sha256:e4c655c22d64a20e4178ad78839651bc69f68c5bac0c8aaa456cd67f049a2613"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"DashboardOffices"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"offices"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"lastIngestAt"}},{"kind":"Field","name":{"kind":"Name","value":"openExposures"}}]}}]}}]} as unknown as DocumentNode<DashboardOfficesQuery, DashboardOfficesQueryVariables>;
export const DashboardSummaryDocument = {"__meta__":{"hash":"sha256:f3f4285d4700e4a25269af8e79df15bf0efe1d834c317d44eb85d8ada00e0383"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"DashboardSummary"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"filter"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ExposureFilter"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"exposureSummary"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"Variable","name":{"kind":"Name","value":"filter"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"total"}},{"kind":"Field","name":{"kind":"Name","value":"open"}},{"kind":"Field","name":{"kind":"Name","value":"closed"}},{"kind":"Field","name":{"kind":"Name","value":"info"}},{"kind":"Field","name":{"kind":"Name","value":"low"}},{"kind":"Field","name":{"kind":"Name","value":"medium"}},{"kind":"Field","name":{"kind":"Name","value":"high"}},{"kind":"Field","name":{"kind":"Name","value":"critical"}}]}}]}}]} as unknown as DocumentNode<DashboardSummaryQuery, DashboardSummaryQueryVariables>;
export const DashboardExposuresDocument = {"__meta__":{"hash":"sha256:74c70f8a96c3f81bf94dd9add65c3fa84e829025a6bb8f24f4acec8751f3d49e"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"DashboardExposures"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"filter"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ExposureFilter"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"orderBy"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ExposureOrder"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"exposures"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"Variable","name":{"kind":"Name","value":"filter"}}},{"kind":"Argument","name":{"kind":"Name","value":"orderBy"},"value":{"kind":"Variable","name":{"kind":"Name","value":"orderBy"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"officeId"}},{"kind":"Field","name":{"kind":"Name","value":"exposureId"}},{"kind":"Field","name":{"kind":"Name","value":"exposureClass"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"severity"}},{"kind":"Field","name":{"kind":"Name","value":"riskScore"}},{"kind":"Field","name":{"kind":"Name","value":"dstIp"}},{"kind":"Field","name":{"kind":"Name","value":"dstPort"}},{"kind":"Field","name":{"kind":"Name","value":"protocol"}},{"kind":"Field","name":{"kind":"Name","value":"assetHostname"}},{"kind":"Field","name":{"kind":"Name","value":"firstSeen"}},{"kind":"Field","name":{"kind":"Name","value":"lastSeen"}}]}}]}}]}}]}}]} as unknown as DocumentNode<DashboardExposuresQuery, DashboardExposuresQueryVariables>;
export const DashboardEventsDocument = {"__meta__":{"hash":"sha256:0d1c3cf6a4efed4781946a4e1ddd019752b2fe0d34599c00b68f2675d11bd713"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"DashboardEvents"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"filter"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"EventFilter"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"events"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"Variable","name":{"kind":"Name","value":"filter"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"eventId"}},{"kind":"Field","name":{"kind":"Name","value":"timestamp"}},{"kind":"Field","name":{"kind":"Name","value":"officeId"}},{"kind":"Field","name":{"kind":"Name","value":"exposureId"}},{"kind":"Field","name":{"kind":"Name","value":"exposureClass"}},{"kind":"Field","name":{"kind":"Name","value":"severity"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"eventAction"}}]}}]}}]}}]}}]} as unknown as DocumentNode<DashboardEventsQuery, DashboardEventsQueryVariables>;
export const IngestChunkDocument = {"__meta__":{"hash":"sha256:3d704a5982222cd80cbbe7a78af958415edd91d139b063d9d5a170a1b419820e"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"IngestChunk"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"IngestExposureEventsInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"ingestExposureEvents"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"eventsInserted"}},{"kind":"Field","name":{"kind":"Name","value":"eventsDuplicate"}},{"kind":"Field","name":{"kind":"Name","value":"exposuresInserted"}},{"kind":"Field","name":{"kind":"Name","value":"exposuresUpdated"}},{"kind":"Field","name":{"kind":"Name","value":"totalProcessed"}},{"kind":"Field","name":{"kind":"Name","value":"rejected"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"index"}},{"kind":"Field","name":{"kind":"Name","value":"field"}},{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<IngestChunkMutation, IngestChunkMutationVariables>;
export const ReportQuarantinedFileDocument = {"__meta__":{"hash":"sha256:20b40c790aa5dc47151454d06da661f4923c61b5ce458aa76172b19738cce59b"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ReportQuarantinedFile"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"QuarantineFileInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"quarantineFile"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}}]} as unknown as DocumentNode<ReportQuarantinedFileMutation, ReportQuarantinedFileMutationVariables>;
export const CompleteScanRunDocument = {"__meta__":{"hash":"sha256:77455782a648f9f317aebf4c66a5be9ae749bf2d09ba35b1159f2e68a5153f08"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CompleteScanRun"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CompleteScanRunInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"completeScanRun"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"officeId"}},{"kind":"Field","name":{"kind":"Name","value":"scanRunId"}},{"kind":"Field","name":{"kind":"Name","value":"scannerType"}},{"kind":"Field","name":{"kind":"Name","value":"startedAt"}},{"kind":"Field","name":{"kind":"Name","value":"completedAt"}},{"kind":"Field","name":{"kind":"Name","value":"eventsObserved"}},{"kind":"Field","name":{"kind":"Name","value":"exposuresObserved"}},{"kind":"Field","name":{"kind":"Name","value":"exposuresNew"}},{"kind":"Field","name":{"kind":"Name","value":"exposuresReopened"}},{"kind":"Field","name":{"kind":"Name","value":"exposuresClosed"}}]}}]}}]} as unknown as DocumentNode<CompleteScanRunMutation, CompleteScanRunMutationVariables>;