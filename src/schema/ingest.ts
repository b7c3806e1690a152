/** Ingestion: the batch mutation, scan-file upload and replay, and what they report back. */
import type { IngestResult as IngestResultShape, RejectedEvent as RejectedEventShape } from '../domain.ts';
import { clientError } from '../errors.ts';
import { ingest } from '../ingest/ingest.ts';
import { ingestScanFile, replayQuarantinedFile, type ScanFileOutcome } from '../ingest/quarantine.ts';
import { blobSource } from '../ingest/scan-file.ts';
import { builder } from './builder.ts';
import { ExposureStatus, ScanFileFormat, Severity } from './enums.ts';
import { fileIdOf, QuarantinedFile, quarantineDeps } from './quarantine.ts';
import { ScanRun } from './scan-run.ts';

const RejectedEvent = builder.objectRef<RejectedEventShape>('RejectedEvent').implement({
  description: 'A problem with one event of a batch: which event, which field, and why.',
  fields: (t) => ({
    index: t.exposeInt('index', {
      description: 'Position of the event in the batch (or file), from 0.',
    }),
    field: t.exposeString('field', {
      nullable: true,
      description: 'The field with the problem; null when it concerns the whole event.',
    }),
    code: t.exposeString('code', {
      description:
        'Machine-readable reason, e.g. REQUIRED, OUT_OF_RANGE, FUTURE_TIMESTAMP, TOO_LONG, OFFICE_NOT_ALLOWED.',
    }),
    message: t.exposeString('message', {
      description: 'The reason in words, starting with the field.',
    }),
  }),
});

const IngestResult = builder.objectRef<IngestResultShape>('IngestResult').implement({
  description:
    'What an ingest wrote. For a scan file, counts are summed over its chunks: an exposure touched by two chunks counts in each.',
  fields: (t) => ({
    eventsInserted: t.exposeInt('eventsInserted', {
      description: 'Events appended to the log.',
    }),
    eventsDuplicate: t.exposeInt('eventsDuplicate', {
      description:
        'Valid events already in the log (same eventId, or same dedupeKey in the office) or repeated in the batch.',
    }),
    exposuresInserted: t.exposeInt('exposuresInserted', {
      description: 'Exposures seen for the first time.',
    }),
    exposuresUpdated: t.exposeInt('exposuresUpdated', {
      description: 'Known exposures whose state was merged with new events.',
    }),
    totalProcessed: t.exposeInt('totalProcessed', {
      description: 'Events received, including duplicates and rejected ones.',
    }),
    rejected: t.field({
      type: [RejectedEvent],
      description: 'Events left out with skipInvalid, one entry per problem; empty otherwise.',
      resolve: (result) => result.rejected,
    }),
  }),
});

const ScanFileResult = builder.objectRef<ScanFileOutcome>('ScanFileResult').implement({
  description: 'What happened to a scan file: exactly one of the two fields is set.',
  fields: (t) => ({
    ingest: t.field({
      type: IngestResult,
      nullable: true,
      description: 'Set when every event of the file was ingested.',
      resolve: (outcome) => outcome.ingest,
    }),
    quarantinedFile: t.field({
      type: QuarantinedFile,
      nullable: true,
      description: 'Set when the file is (still) in the quarantine, with what was wrong.',
      resolve: (outcome) => outcome.quarantinedFile,
    }),
    scanRun: t.field({
      type: ScanRun,
      nullable: true,
      description:
        'For an nmap or nuclei file that was ingested: its run, completed with the scope the file says was scanned.',
      resolve: (outcome) => outcome.scanRun,
    }),
  }),
});

const ExposureEventInput = builder.inputType('ExposureEventInput', {
  description:
    'One event as a scanner reports it. Values must fit their types (IPs, enums, timestamps with an offset) or the request is refused as a whole; the other checks reject the event and name it by index.',
  fields: (t) => ({
    eventId: t.string({
      description:
        'Idempotency key of the event; derived deterministically from its content when absent, so a resent event is a duplicate either way.',
    }),
    timestamp: t.field({
      type: 'DateTime',
      required: true,
      description: 'When the scanner saw it; at most the allowed clock skew in the future.',
    }),
    officeId: t.id({ required: true, description: 'Office of the scanner; one of the token’s offices.' }),
    exposureId: t.string({ required: true, description: 'Id of the exposure, unique in its office.' }),
    exposureClass: t.string({
      required: true,
      description: 'e.g. open_port, weak_tls, expired_certificate.',
    }),
    status: t.field({ type: ExposureStatus, required: true, description: 'OPEN or CLOSED.' }),
    severity: t.field({ type: Severity, required: true, description: 'How bad it is.' }),
    eventAction: t.string({ description: 'What happened, e.g. detected or resolved.' }),
    eventKind: t.string({ description: 'Kind of event, e.g. state or alert.' }),
    assetId: t.string({ description: 'The affected asset.' }),
    assetHostname: t.string({ description: 'Host name of the asset.' }),
    assetIp: t.field({ type: 'IPAddress', description: 'IP address of the asset.' }),
    riskScore: t.float({ description: 'Risk score, 0..100.' }),
    confidence: t.float({ description: 'How sure the scanner is, 0..1.' }),
    dstIp: t.field({ type: 'IPAddress', description: 'Destination IP address.' }),
    dstPort: t.int({ description: 'Destination port, 0..65535.' }),
    protocol: t.string({ description: 'Transport protocol, e.g. tcp.' }),
    scanRunId: t.string({ description: 'The scan run that produced the event.' }),
    scannerType: t.string({ description: 'The scanner, e.g. nmap.' }),
    dedupeKey: t.string({
      description: 'Unique per office when given: a second event with the same key is a duplicate.',
    }),
    serviceName: t.string({ description: 'Service found listening, e.g. rdp.' }),
    serviceProduct: t.string({ description: 'Product behind the service.' }),
    serviceVersion: t.string({ description: 'Version of that product.' }),
    resource: t.field({ type: 'JSON', description: 'Scanner-specific details (at most 64 KiB as JSON).' }),
    dispositionStatus: t.string({ description: 'Triage decision, e.g. accepted_risk.' }),
    dispositionReason: t.string({
      description: 'Why that decision was made; taken only with a dispositionStatus.',
    }),
    dispositionExpiresAt: t.field({
      type: 'DateTime',
      description: 'When the decision lapses; taken only with a dispositionStatus.',
    }),
    rawPayload: t.field({
      type: 'JSON',
      description: 'The scanner’s original record (at most 64 KiB as JSON).',
    }),
  }),
});

const IngestExposureEventsInput = builder.inputType('IngestExposureEventsInput', {
  description: 'A batch of events, written in one transaction.',
  fields: (t) => ({
    events: t.field({
      type: [ExposureEventInput],
      required: true,
      description: 'The events; at most INGEST_MAX_EVENTS per call.',
    }),
    idempotencyKey: t.string({
      description:
        'The same key with the same events returns the first result and writes nothing; with other events it is refused (IDEMPOTENCY_KEY_REUSED).',
    }),
    skipInvalid: t.boolean({
      defaultValue: false,
      description:
        'false: one invalid event rejects the whole call (INVALID_EVENTS) and nothing is written. true: the valid events are written and the others returned in rejected.',
    }),
  }),
});

type EventArg = typeof ExposureEventInput.$inferInput;

/** The event as the ingest core reads it: timestamps as ISO text, absent fields left out. */
function rawEvent(input: EventArg): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(input)) {
    if (value !== null && value !== undefined) raw[field] = value;
  }
  raw.timestamp = input.timestamp.toISOString();
  if (input.dispositionExpiresAt) raw.dispositionExpiresAt = input.dispositionExpiresAt.toISOString();
  raw.officeId = String(input.officeId);
  return raw;
}

builder.mutationField('ingestExposureEvents', (t) =>
  t.field({
    type: IngestResult,
    authScopes: { ingestor: true },
    description:
      'Writes a batch of events in one transaction: all of the valid ones land or none do. Refused as INVALID_EVENTS (extensions.rejected lists every problem with index, field, code and message), TOO_MANY_EVENTS or IDEMPOTENCY_KEY_REUSED.',
    args: { input: t.arg({ type: IngestExposureEventsInput, required: true }) },
    resolve: (_root, { input }, context) =>
      ingest(quarantineDeps(context), context.scope, {
        events: input.events.map(rawEvent),
        idempotencyKey: input.idempotencyKey ?? null,
        skipInvalid: input.skipInvalid ?? false,
        actor: context.principal.actor,
      }),
  }),
);

/** The request limit leaves room for the multipart envelope; the file itself is held to the byte. */
function checkUploadSize(file: File, limit: number): void {
  if (file.size > limit) {
    throw clientError('FILE_TOO_LARGE', `the file has ${file.size} bytes; at most ${limit} are taken`, {
      limit,
    });
  }
}

builder.mutationField('ingestScanFile', (t) =>
  t.field({
    type: ScanFileResult,
    authScopes: { ingestor: true },
    description:
      'Ingests a scan file (events as a JSON array or JSON Lines, nmap XML or nuclei JSON Lines) sent as a multipart upload. The whole file is checked first: if any line or event is bad, the file is quarantined with every problem and nothing is written; otherwise it is written in chunks of INGEST_CHUNK_SIZE events, one commit each.',
    args: {
      file: t.arg({ type: 'File', required: true, description: 'The file, at most UPLOAD_MAX_BYTES.' }),
      officeId: t.arg.id({
        required: true,
        description:
          'Office of the scan: events without officeId get it, events naming another office are rejected.',
      }),
      scannerType: t.arg.string({
        required: true,
        description: 'Scanner of the file: events without one get it.',
      }),
      format: t.arg({
        type: ScanFileFormat,
        defaultValue: 'events',
        description:
          'How the file is read. NMAP_XML and NUCLEI_JSONL: the file is one scan run; its events carry the run id, and once they are in, the run is completed with the scope the file says was scanned (nmap: every host listed, up or down, and the scanned ports; nuclei: the targets in the file) at the time the file says the scan finished.',
      }),
    },
    resolve: (_root, args, context) => {
      checkUploadSize(args.file, context.config.ingest.uploadMaxBytes);
      return ingestScanFile(quarantineDeps(context), context.scope, blobSource(args.file, args.file.name), {
        officeId: String(args.officeId),
        scannerType: args.scannerType,
        format: args.format ?? 'events',
      });
    },
  }),
);

builder.mutationField('replayQuarantinedFile', (t) =>
  t.field({
    type: ScanFileResult,
    authScopes: { admin: true },
    description:
      'Runs a PENDING file again with the current settings: ingest is set and the file becomes REPLAYED, or quarantinedFile is set with the new error and one more replayCount.',
    args: {
      id: t.arg.id({ required: true, description: 'The id of a QuarantinedFile.' }),
      file: t.arg({
        type: 'File',
        description:
          'The corrected file, for one whose content was the problem (cut short, malformed): read in place of the stored content, in the file’s format.',
      }),
    },
    resolve: (_root, args, context) => {
      const file = args.file;
      if (file) checkUploadSize(file, context.config.ingest.uploadMaxBytes);
      return replayQuarantinedFile(
        quarantineDeps(context),
        context.scope,
        fileIdOf(args.id),
        file ? blobSource(file, file.name) : undefined,
      );
    },
  }),
);
