/**
 * The dead-letter workflow: scan files that cannot be ingested go to the quarantine with what was wrong,
 * workers report files they could not process, and admins replay or discard what is there.
 */
import type { IngestConfig } from '../config.ts';
import type { Store } from '../db/database.ts';
import {
  findQuarantinedFileContent,
  findQuarantinedFilesByIds,
  insertQuarantinedFile,
  markDiscarded,
  markReplayed,
  type NewQuarantinedFile,
  type QuarantinedFile,
  type QuarantineReason,
  recordReplayFailure,
} from '../db/repositories/quarantine.ts';
import type { ScanRun } from '../db/repositories/scan-runs.ts';
import type { IngestResult } from '../domain.ts';
import { DomainError, type Scope, scopeIncludesOffice } from '../domain.ts';
import type { Metrics } from '../metrics.ts';
import type { ChangeFeed } from './changes.ts';
import { SCAN_FILE_FORMATS, type ScanFileFormat } from './formats/index.ts';
import { ingest } from './ingest.ts';
import {
  inspectScanFile,
  inspectScannerFile,
  type ScanDefaults,
  type ScanFailure,
  type ScanFileSource,
  type ScanInspection,
  type ScanWrite,
  textSource,
  type WriteProgress,
  writeScanFile,
  writeScannerFile,
} from './scan-file.ts';
import { completeScanRun } from './scan-runs.ts';
import { MAX_ID_LENGTH, MAX_JSON_BYTES, MAX_TEXT_LENGTH } from './validate.ts';

export interface QuarantineDeps {
  store: Store;
  config: IngestConfig;
  /** The server's feed: every committed chunk is published to it. */
  changes?: ChangeFeed;
  /** Who writes the files' events (see IngestRequest.actor). */
  actor?: string | null;
  /** Counts files quarantined, replayed and discarded, and the events of the files. */
  metrics?: Metrics;
}

/** A request about the quarantine that cannot be carried out; nothing was written. */
export class QuarantineRequestError extends DomainError {
  override name = 'QuarantineRequestError';
  constructor(
    code: 'NOT_FOUND' | 'ALREADY_RESOLVED' | 'FORBIDDEN' | 'BAD_USER_INPUT',
    message: string,
    readonly field?: string,
  ) {
    super(code, message, field ? { field } : {});
  }
}

/**
 * Exactly one of ingest and quarantinedFile is set: the file was ingested, or it is (still) in the
 * quarantine. scanRun is the run a scanner's file described, completed once its events were in.
 */
export type ScanFileOutcome =
  | { ingest: IngestResult; quarantinedFile: null; scanRun: ScanRun | null }
  | { ingest: null; quarantinedFile: QuarantinedFile; scanRun: null };

export interface ScanFileOptions extends ScanDefaults {
  /** How the file is read; events by default. */
  format?: ScanFileFormat;
  onProgress?: (progress: WriteProgress) => void;
}

/** A file of no office belongs to the whole tenant: only a caller of every office may file one. */
function requireOffice(scope: Scope, officeId: string | null | undefined, field: string) {
  if (!officeId) {
    if (scope.officeIds === 'all') return;
    throw new QuarantineRequestError(
      'BAD_USER_INPUT',
      `${field}: required, since the caller may write to some offices only`,
      field,
    );
  }
  if (!scopeIncludesOffice(scope, officeId)) {
    throw new QuarantineRequestError(
      'FORBIDDEN',
      `${field}: the caller may not write to office "${officeId}"`,
      field,
    );
  }
}

/** The chunk size for files: the configured one, but never more than one ingest call may carry. */
function chunkSizeOf(config: IngestConfig): number {
  return Math.min(config.chunkSize, config.maxEventsPerCall);
}

type ScanFileRun =
  | { inspection: ScanInspection; failure: ScanFailure }
  | (ScanWrite & { inspection: ScanInspection; scanRun: ScanRun | null });

/**
 * Checks a file and writes it in chunks; a file with any problem is quarantined and nothing is written.
 * A scanner's file is one run: once its events are in, the run is completed with the file's scope at
 * the file's finish time, which closes what the scan covered and no longer found.
 */
async function runScanFile(
  deps: QuarantineDeps,
  scope: Scope,
  source: ScanFileSource,
  options: ScanFileOptions,
): Promise<ScanFileRun> {
  const chunkSize = chunkSizeOf(deps.config);
  const inspectOptions = {
    chunkSize,
    maxFutureSkewSeconds: deps.config.maxFutureSkewSeconds,
    maxContentBytes: deps.config.quarantineMaxContentBytes,
  };
  const write = (events: unknown[]) => ingest(deps, scope, { events, actor: deps.actor ?? null });
  const format = options.format ?? 'events';
  if (format === 'events') {
    const inspection = await inspectScanFile(source, scope, { ...options, ...inspectOptions });
    if (inspection.failure) return { inspection, failure: inspection.failure };
    const written = await writeScanFile(source, write, { ...options, chunkSize, total: inspection.events });
    return { inspection, ...written, scanRun: null };
  }
  const { officeId, scannerType } = options;
  if (!officeId || !scannerType) {
    const field = officeId ? 'scannerType' : 'officeId';
    throw new QuarantineRequestError('BAD_USER_INPUT', `${field}: required for a ${format} file`, field);
  }
  const context = { officeId, scannerType };
  const inspection = await inspectScannerFile(format, source, scope, context, inspectOptions);
  if (inspection.failure) return { inspection, failure: inspection.failure };
  const written = await writeScannerFile(format, source, context, write, {
    chunkSize,
    total: inspection.events,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const { run } = inspection;
  if (written.failure || !run) return { inspection, ...written, scanRun: null };
  const scanRun = await completeScanRun(deps, scope, {
    ...context,
    ...run,
    actor: deps.actor ?? null,
  });
  return { inspection, ...written, scanRun };
}

async function loadFile(store: Store, scope: Scope, id: string): Promise<QuarantinedFile> {
  const [file] = await findQuarantinedFilesByIds(store.db, scope, [id]);
  if (!file) throw new QuarantineRequestError('NOT_FOUND', `no quarantined file "${id}"`);
  return file;
}

/** Ingests a scan file for the scope; a file that cannot be ingested ends in the quarantine. */
export async function ingestScanFile(
  deps: QuarantineDeps,
  scope: Scope,
  source: ScanFileSource,
  options: ScanFileOptions = {},
): Promise<ScanFileOutcome> {
  requireOffice(scope, options.officeId, 'officeId');
  const run = await runScanFile(deps, scope, source, options);
  if (!run.failure) return { ingest: run.result, quarantinedFile: null, scanRun: run.scanRun };
  const { inspection, failure } = run;
  const id = await deps.store.write((trx) =>
    insertQuarantinedFile(
      trx.db,
      scope,
      {
        filename: source.name,
        fileSize: inspection.fileSize,
        fileHash: inspection.fileHash,
        ...failure,
        scannerType: options.scannerType ?? null,
        officeId: options.officeId ?? null,
        format: options.format ?? 'events',
        content: inspection.content,
        contentTruncated: inspection.contentTruncated,
      },
      new Date(),
    ),
  );
  deps.metrics?.quarantine('quarantined');
  return { ingest: null, quarantinedFile: await loadFile(deps.store, scope, id), scanRun: null };
}

/** What a worker reports about a file it could not process (its content stays with the worker). */
export type QuarantineReport = Omit<NewQuarantinedFile, 'content' | 'contentTruncated'>;

const SHA256_HEX = /^[0-9a-f]{64}$/;

function checkReport(report: QuarantineReport): QuarantineReport {
  const invalid = (field: string, message: string) =>
    new QuarantineRequestError('BAD_USER_INPUT', `input.${field}: ${message}`, `input.${field}`);
  const text = (field: keyof QuarantineReport, value: string | null, max: number) => {
    if (value === null) return;
    if (value.trim() === '') throw invalid(field, 'must not be empty');
    if (value.length > max) throw invalid(field, `must be at most ${max} characters`);
  };
  text('filename', report.filename, MAX_TEXT_LENGTH);
  text('errorType', report.errorType, MAX_ID_LENGTH);
  text('errorMessage', report.errorMessage, MAX_JSON_BYTES);
  text('scannerType', report.scannerType, MAX_TEXT_LENGTH);
  text('officeId', report.officeId, MAX_ID_LENGTH);
  if (!Number.isSafeInteger(report.fileSize) || report.fileSize < 0)
    throw invalid('fileSize', 'must be a whole number of bytes, 0 or more');
  const fileHash = report.fileHash.toLowerCase();
  if (!SHA256_HEX.test(fileHash))
    throw invalid('fileHash', 'must be the sha256 of the content, 64 hex digits');
  if (Buffer.byteLength(JSON.stringify(report.errorDetails ?? null)) > MAX_JSON_BYTES)
    throw invalid('errorDetails', `must serialize to at most ${MAX_JSON_BYTES} bytes`);
  return { ...report, fileHash };
}

/** Stores a worker's report of a file it could not process, as a PENDING file without content. */
export async function reportQuarantinedFile(
  deps: QuarantineDeps,
  scope: Scope,
  report: QuarantineReport,
): Promise<QuarantinedFile> {
  const checked = checkReport(report);
  requireOffice(scope, checked.officeId, 'input.officeId');
  const id = await deps.store.write((trx) =>
    insertQuarantinedFile(trx.db, scope, { ...checked, content: null, contentTruncated: false }, new Date()),
  );
  deps.metrics?.quarantine('quarantined');
  return loadFile(deps.store, scope, id);
}

function notPending(file: QuarantinedFile) {
  return new QuarantineRequestError(
    'ALREADY_RESOLVED',
    `quarantined file "${file.id}" is ${file.status}; only PENDING files can be replayed or discarded`,
  );
}

/** The format a quarantined file was sent in; events for files stored before formats were kept. */
function formatOf(file: QuarantinedFile): ScanFileFormat {
  return (SCAN_FILE_FORMATS as readonly string[]).includes(file.format)
    ? (file.format as ScanFileFormat)
    : 'events';
}

/**
 * Runs a PENDING file again, with the settings of now and in the format it was sent in: REPLAYED when it
 * goes through, otherwise it stays PENDING with the new error and one more attempt counted. `corrected`
 * replaces the stored content, for a file whose problem was its content (cut short, malformed).
 */
export async function replayQuarantinedFile(
  deps: QuarantineDeps,
  scope: Scope,
  id: string,
  corrected?: ScanFileSource,
): Promise<ScanFileOutcome> {
  const stored = await findQuarantinedFileContent(deps.store.db, scope, id);
  if (!stored) throw new QuarantineRequestError('NOT_FOUND', `no quarantined file "${id}"`);
  const { file, content } = stored;
  if (file.status !== 'PENDING') throw notPending(file);
  let failure: QuarantineReason | null;
  let result: IngestResult | null = null;
  let scanRun: ScanRun | null = null;
  if (!corrected && (content === null || !file.contentStored)) {
    failure = {
      errorType: 'CONTENT_UNAVAILABLE',
      errorMessage: `${file.filename}: the content was ${content === null ? 'not stored' : 'too large to store whole'}; send the file again`,
      errorDetails: { problemCount: 0, problems: [] },
    };
  } else {
    const source = corrected ?? textSource(content as string, file.filename);
    const run = await runScanFile(deps, scope, source, {
      officeId: file.officeId,
      scannerType: file.scannerType,
      format: formatOf(file),
    });
    failure = run.failure;
    if (!run.failure) {
      result = run.result;
      scanRun = run.scanRun;
    }
  }
  const at = new Date();
  const updated = await deps.store.write((trx) =>
    failure
      ? recordReplayFailure(trx.db, scope, id, {
          ...failure,
          // Which attempt this error belongs to: the original error is replaced by the latest one.
          errorDetails: {
            ...(failure.errorDetails as object),
            attempt: file.replayCount + 1,
            attemptedAt: at.toISOString(),
          },
        })
      : markReplayed(trx.db, scope, id, at),
  );
  const latest = await loadFile(deps.store, scope, id);
  // Another replay or a discard got there first.
  if (!updated) throw notPending(latest);
  deps.metrics?.quarantine(failure ? 'replay_failed' : 'replayed');
  return result
    ? { ingest: result, quarantinedFile: null, scanRun }
    : { ingest: null, quarantinedFile: latest, scanRun: null };
}

/** Gives a PENDING file up with a reason; it stays listed as DISCARDED. */
export async function discardQuarantinedFile(
  deps: QuarantineDeps,
  scope: Scope,
  id: string,
  reason: string,
): Promise<QuarantinedFile> {
  if (reason.trim() === '')
    throw new QuarantineRequestError('BAD_USER_INPUT', 'reason: must not be empty', 'reason');
  if (reason.length > MAX_TEXT_LENGTH)
    throw new QuarantineRequestError(
      'BAD_USER_INPUT',
      `reason: must be at most ${MAX_TEXT_LENGTH} characters`,
      'reason',
    );
  const file = await loadFile(deps.store, scope, id);
  if (file.status !== 'PENDING') throw notPending(file);
  const updated = await deps.store.write((trx) => markDiscarded(trx.db, scope, id, reason, new Date()));
  const latest = await loadFile(deps.store, scope, id);
  if (!updated) throw notPending(latest);
  deps.metrics?.quarantine('discarded');
  return latest;
}
