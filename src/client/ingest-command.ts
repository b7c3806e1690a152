/**
 * The `ingest FILE...` command: scan files into the local database, or to a remote gateway through its
 * GraphQL API. Either way a file is checked whole first and a bad one ends in the quarantine; a good one
 * is written in chunks with a commit each, so an interrupted run can simply be started again.
 */
import os from 'node:os';
import path from 'node:path';
import { encodeGlobalID } from '@pothos/plugin-relay';
import type { Config } from '../config.ts';
import type { Store } from '../db/database.ts';
import type { IngestCounts } from '../domain.ts';
import type { ScanFileFormat } from '../ingest/formats/index.ts';
import { IngestRejectedError } from '../ingest/ingest.ts';
import { ingestScanFile } from '../ingest/quarantine.ts';
import {
  type ChunkWriter,
  fileSource,
  inspectScanFile,
  inspectScannerFile,
  type ScanFailure,
  type ScanFileSource,
  type ScanInspection,
  type ScanWrite,
  type WriteProgress,
  writeScanFile,
  writeScannerFile,
} from '../ingest/scan-file.ts';
import { validateEvents } from '../ingest/validate.ts';
import type { GatewayClient } from './gateway-client.ts';
import { toEventInput } from './gateway-client.ts';
import { completeRunRemotely, runLine } from './scan-run-command.ts';

export interface IngestFilesOptions {
  files: readonly string[];
  /** Events without an office get this one, and events of another office are rejected. */
  officeId?: string | undefined;
  /** Events without a scanner get this one. */
  scannerType?: string | undefined;
  /** How the files are read; events by default. An nmap or nuclei file needs officeId and scannerType. */
  format?: ScanFileFormat | undefined;
}

/** Where the command writes: results to out, progress to err (rewritten in place on a terminal). */
export interface Console {
  out(line: string): void;
  err(text: string): void;
  interactive: boolean;
}

export const processConsole: Console = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (text) => process.stderr.write(text),
  interactive: Boolean(process.stderr.isTTY),
};

/** Progress of one file: at most about once a second, and once at the end. */
function progressOf(name: string, console: Console) {
  const started = performance.now();
  let shown = 0;
  const rate = (done: number) => Math.round(done / Math.max((performance.now() - started) / 1000, 0.001));
  return {
    rate,
    seconds: () => (performance.now() - started) / 1000,
    onProgress({ done, total }: WriteProgress) {
      const now = performance.now();
      if (now - shown < 1000 && done < total) return;
      shown = now;
      const line = `${name}: ${done}/${total} events, ${rate(done)} events/s`;
      console.err(console.interactive ? `\r${line}\u001b[K${done === total ? '\n' : ''}` : `${line}\n`);
    },
  };
}

function ingestedLine(name: string, counts: IngestCounts, seconds: number, rate: number): string {
  return (
    `${name}: ingested ${counts.totalProcessed} events (${counts.eventsInserted} new, ${counts.eventsDuplicate} duplicates; ` +
    `exposures ${counts.exposuresInserted} new, ${counts.exposuresUpdated} updated) in ${seconds.toFixed(1)} s, ${rate} events/s`
  );
}

function quarantinedLine(name: string, id: string, failure: { errorType: string; errorMessage: string }) {
  return `${name}: quarantined as ${id} (${failure.errorType}): ${failure.errorMessage}`;
}

/** The actor of events written from a local command line: the operating-system user who ran it. */
export const LOCAL_ACTOR = `local:${os.userInfo().username}`;

/** Ingests files into the local store for one tenant; returns how many were quarantined. */
export async function ingestFilesLocally(
  config: Config,
  store: Store,
  tenantId: string,
  options: IngestFilesOptions,
  console: Console = processConsole,
): Promise<number> {
  let quarantined = 0;
  for (const file of options.files) {
    const name = path.basename(file);
    const progress = progressOf(name, console);
    const outcome = await ingestScanFile(
      { store, config: config.ingest, actor: LOCAL_ACTOR },
      { tenantId, officeIds: 'all' },
      fileSource(file, name),
      {
        officeId: options.officeId ?? null,
        scannerType: options.scannerType ?? null,
        format: options.format ?? 'events',
        onProgress: progress.onProgress,
      },
    );
    if (outcome.ingest) {
      console.out(
        ingestedLine(name, outcome.ingest, progress.seconds(), progress.rate(outcome.ingest.totalProcessed)),
      );
      if (outcome.scanRun) console.out(`${name}: ${runLine(outcome.scanRun)}`);
    } else {
      quarantined += 1;
      const id = encodeGlobalID('QuarantinedFile', outcome.quarantinedFile.id);
      console.out(quarantinedLine(name, id, outcome.quarantinedFile));
    }
  }
  return quarantined;
}

/** A report's details must fit the gateway's JSON limit: keep as many problems as fit. */
function reportDetails(failure: ScanFailure, maxBytes: number): ScanFailure['errorDetails'] {
  let details = failure.errorDetails;
  while (Buffer.byteLength(JSON.stringify(details)) > maxBytes && details.problems.length > 0) {
    details = { ...details, problems: details.problems.slice(0, Math.floor(details.problems.length / 2)) };
  }
  return details;
}

/**
 * Sends files to a remote gateway: checked here with this machine's settings, written with
 * ingestExposureEvents one chunk per call, and reported with quarantineFile when bad (the gateway
 * keeps the report; the file itself stays here).
 */
export async function ingestFilesRemotely(
  config: Config,
  client: GatewayClient,
  options: IngestFilesOptions,
  console: Console = processConsole,
): Promise<number> {
  const limits = { maxFutureSkewSeconds: config.ingest.maxFutureSkewSeconds };
  const chunkSize = Math.min(config.ingest.chunkSize, config.ingest.maxEventsPerCall);
  const defaults = { officeId: options.officeId ?? null, scannerType: options.scannerType ?? null };
  // Normalized here (ids derived, enums upper case) so the gateway stores what a local ingest would.
  const writeChunk = async (events: unknown[]) => {
    const { valid, rejected } = validateEvents(events, limits);
    if (rejected.length > 0) {
      throw new IngestRejectedError('INVALID_EVENTS', `${rejected.length} problems in a chunk`, rejected);
    }
    return client.ingestEvents(valid.map(({ event }) => toEventInput(event)));
  };
  const format = options.format ?? 'events';
  let quarantined = 0;
  for (const file of options.files) {
    const name = path.basename(file);
    const source: ScanFileSource = fileSource(file, name);
    const progress = progressOf(name, console);
    let inspection: ScanInspection;
    let written: ScanWrite | null;
    let runLineText: string | null = null;
    if (format === 'events') {
      // The gateway checks the offices of its token; here every office passes.
      inspection = await inspectScanFile(
        source,
        { tenantId: '', officeIds: 'all' },
        { ...defaults, ...limits, chunkSize, maxContentBytes: 0 },
      );
      written = inspection.failure
        ? null
        : await writeScanFile(source, writeChunk, {
            ...defaults,
            chunkSize,
            total: inspection.events,
            onProgress: progress.onProgress,
          });
    } else {
      const scanned = await sendScannerFile(client, format, source, writeChunk, {
        context: { officeId: defaults.officeId ?? '', scannerType: defaults.scannerType ?? format },
        inspect: { ...limits, chunkSize, maxContentBytes: 0 },
        onProgress: progress.onProgress,
      });
      ({ inspection, written } = scanned);
      if (scanned.run) runLineText = `${name}: ${runLine(scanned.run)}`;
    }
    if (written && !written.failure) {
      console.out(
        ingestedLine(name, written.result, progress.seconds(), progress.rate(written.result.totalProcessed)),
      );
      if (runLineText) console.out(runLineText);
      continue;
    }
    const failure = (written?.failure ?? inspection.failure)!;
    quarantined += 1;
    const report = await client.reportQuarantinedFile({
      filename: name,
      fileSize: inspection.fileSize,
      fileHash: inspection.fileHash,
      errorType: failure.errorType,
      errorMessage: failure.errorMessage,
      errorDetails: reportDetails(failure, client.maxJsonBytes),
      scannerType: defaults.scannerType,
      officeId: defaults.officeId,
    });
    console.out(quarantinedLine(name, report.id, failure));
  }
  return quarantined;
}

/**
 * A scanner's file to a remote gateway: checked and read here, its events sent in chunks, then its run
 * completed through completeScanRun with the scope the file says was scanned.
 */
async function sendScannerFile(
  client: GatewayClient,
  format: Exclude<ScanFileFormat, 'events'>,
  source: ScanFileSource,
  writeChunk: ChunkWriter,
  options: {
    context: { officeId: string; scannerType: string };
    inspect: { maxFutureSkewSeconds: number; chunkSize: number; maxContentBytes: number };
    onProgress: (progress: WriteProgress) => void;
  },
) {
  const { context } = options;
  const inspection = await inspectScannerFile(
    format,
    source,
    { tenantId: '', officeIds: 'all' },
    context,
    options.inspect,
  );
  if (inspection.failure) return { inspection, written: null, run: null };
  const written = await writeScannerFile(format, source, context, writeChunk, {
    chunkSize: options.inspect.chunkSize,
    total: inspection.events,
    onProgress: options.onProgress,
  });
  if (written.failure || !inspection.run) return { inspection, written, run: null };
  const run = await completeRunRemotely(client, { ...context, ...inspection.run });
  return { inspection, written, run };
}
