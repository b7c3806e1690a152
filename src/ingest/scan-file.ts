/**
 * Scan files: a JSON array of events or JSON Lines (one event per line). Files are read as streams, so
 * their size is bounded by the disk, not by memory. Ingesting one takes two passes: the first parses and
 * validates everything (a file is written whole or not at all, so one bad event sends the whole file to
 * the quarantine with every problem listed), the second writes it in chunks with a commit per chunk.
 * A chunk that was committed before an interruption is harmless: ingest is idempotent.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { IngestCounts, IngestResult, RejectedEvent, Scope } from '../domain.ts';
import { scopeIncludesOffice } from '../domain.ts';
import {
  readScanFile,
  type ScanFileContext,
  type ScanFileFormat,
  type ScanFileRecord,
  type ScanRunCompletion,
} from './formats/index.ts';
import { decodeUtf8 } from './formats/source.ts';
import { IngestRejectedError } from './ingest.ts';
import { validateEvents } from './validate.ts';

/** Where a scan file's bytes come from; open() starts from the beginning every time. */
export interface ScanFileSource {
  name: string;
  open(): AsyncIterable<Uint8Array>;
}

export function fileSource(path: string, name = path): ScanFileSource {
  return { name, open: () => fs.createReadStream(path, { highWaterMark: 1 << 20 }) };
}

export function blobSource(blob: Blob, name: string): ScanFileSource {
  return { name, open: () => blob.stream() as unknown as AsyncIterable<Uint8Array> };
}

export function textSource(text: string, name: string): ScanFileSource {
  return {
    name,
    async *open() {
      yield Buffer.from(text, 'utf8');
    },
  };
}

/** One top-level value of a file with where it starts, or a place where the file could not be parsed. */
export type ScanRecord =
  | { kind: 'event'; value: unknown; index: number; line: number }
  | { kind: 'error'; index: number | null; line: number; message: string };

export type ScanFormat = 'json' | 'jsonl';

/** Parses a JSON array (the first non-blank character is "[") or JSON Lines, one record at a time. */
export async function* parseScanFile(
  bytes: AsyncIterable<Uint8Array>,
  onFormat?: (format: ScanFormat) => void,
): AsyncGenerator<ScanRecord> {
  const text = decodeUtf8(bytes);
  const iterator = text[Symbol.asyncIterator]();
  // Find the first non-blank character to tell the two formats apart.
  const head: string[] = [];
  let first: string | undefined;
  while (first === undefined) {
    const next = await iterator.next();
    if (next.done) break;
    head.push(next.value);
    first = next.value.trimStart()[0];
  }
  async function* replay() {
    yield* head;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  onFormat?.(first === '[' ? 'json' : 'jsonl');
  yield* first === '[' ? jsonArray(replay()) : jsonLines(replay());
}

function parsed(text: string, index: number, line: number): ScanRecord {
  try {
    return { kind: 'event', value: JSON.parse(text), index, line };
  } catch (error) {
    return { kind: 'error', index, line, message: `not valid JSON: ${(error as Error).message}` };
  }
}

async function* jsonLines(chunks: AsyncIterable<string>): AsyncGenerator<ScanRecord> {
  let carried = '';
  let line = 0;
  let index = 0;
  function* take(text: string): Generator<ScanRecord> {
    line += 1;
    // Blank lines (often a trailing newline) carry no event.
    if (text.trim() === '') return;
    yield parsed(text, index, line);
    index += 1;
  }
  for await (const chunk of chunks) {
    const text = carried + chunk;
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      yield* take(text.slice(start, end));
      start = end + 1;
    }
    carried = text.slice(start);
  }
  if (carried !== '') yield* take(carried);
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

/**
 * Splits a JSON array into its elements without parsing it whole, tracking lines. An element that is not
 * valid JSON is reported and skipped; a broken array structure (a missing comma, no closing bracket) ends
 * the file with one error, since nothing after it can be placed.
 */
async function* jsonArray(chunks: AsyncIterable<string>): AsyncGenerator<ScanRecord> {
  let line = 1;
  let index = 0;
  /** open: before "["; value: an element is due; next: "," or "]" is due; closed: after "]". */
  let expect: 'open' | 'first' | 'value' | 'next' | 'closed' = 'open';
  // The element being read.
  let active = false;
  let carried = '';
  let start = 0;
  let startLine = 0;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let primitive = false;

  const broken = (message: string): ScanRecord => ({ kind: 'error', index: null, line, message });

  for await (const chunk of chunks) {
    start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (c === '\n') line += 1;
      if (active) {
        let ended = false;
        let after = i + 1;
        if (inString) {
          if (escaped) escaped = false;
          else if (c === '\\') escaped = true;
          else if (c === '"') {
            inString = false;
            ended = depth === 0;
          }
        } else if (c === '"') inString = true;
        else if (primitive) {
          if (c === ',' || c === ']' || WHITESPACE.has(c)) {
            ended = true;
            after = i;
          }
        } else if (c === '{' || c === '[') depth += 1;
        else if (c === '}' || c === ']') {
          depth -= 1;
          ended = depth === 0;
        }
        if (!ended) continue;
        yield parsed(carried + chunk.slice(start, after), index, startLine);
        index += 1;
        active = false;
        carried = '';
        expect = 'next';
        // The character that ended a primitive belongs to the array: read it again below.
        if (after === i + 1) continue;
      }
      if (WHITESPACE.has(c)) continue;
      if (expect === 'open') {
        expect = 'first';
      } else if (expect === 'next') {
        if (c === ',') expect = 'value';
        else if (c === ']') expect = 'closed';
        else {
          yield broken(`expected "," or "]" after element ${index - 1}, found ${JSON.stringify(c)}`);
          return;
        }
      } else if (expect === 'closed') {
        yield broken(`unexpected ${JSON.stringify(c)} after the closing "]"`);
        return;
      } else if (c === ']') {
        if (expect === 'value') {
          yield broken('expected an element after ","');
          return;
        }
        expect = 'closed';
      } else {
        active = true;
        start = i;
        startLine = line;
        depth = c === '{' || c === '[' ? 1 : 0;
        inString = c === '"';
        escaped = false;
        primitive = depth === 0 && !inString;
      }
    }
    if (active) carried += chunk.slice(start);
  }
  if (active && primitive) {
    yield parsed(carried, index, startLine);
    expect = 'next';
  }
  if (expect !== 'closed') yield broken('unexpected end of file: the array is not closed with "]"');
}

/** Values a file's events get when they leave them out; officeId also bounds the file to one office. */
export interface ScanDefaults {
  officeId?: string | null;
  scannerType?: string | null;
}

/** A problem of a file, placed by line (1-based) and event index (0-based) where known. */
export interface ScanProblem {
  line: number | null;
  index: number | null;
  field: string | null;
  code: string;
  message: string;
}

/** Why a file cannot be ingested, in the shape the quarantine stores. */
export interface ScanFailure {
  errorType: string;
  errorMessage: string;
  /** format: json or jsonl for the events format, else the scanner's (nmap, nuclei). */
  errorDetails: {
    format: ScanFormat | ScanFileFormat;
    events: number;
    problemCount: number;
    problems: ScanProblem[];
  };
}

export interface ScanInspection {
  fileSize: number;
  /** sha256 hex of the bytes. */
  fileHash: string;
  /** The text, cut to the limit the inspection was given. */
  content: string;
  contentTruncated: boolean;
  events: number;
  failure: ScanFailure | null;
}

/** A file's details keep this many problems; problemCount says how many there were. */
export const MAX_LISTED_PROBLEMS = 1000;

export interface InspectOptions extends ScanDefaults {
  chunkSize: number;
  maxFutureSkewSeconds: number;
  /** Bytes of content to keep for the quarantine. */
  maxContentBytes: number;
}

/** Applies the defaults to one parsed value; a problem when the event names another office. */
function withDefaults(value: unknown, defaults: ScanDefaults): { event: unknown; problem?: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { event: value };
  const event = { ...(value as Record<string, unknown>) };
  if (defaults.officeId) {
    if (event.officeId === undefined || event.officeId === null) event.officeId = defaults.officeId;
    else if (event.officeId !== defaults.officeId) {
      return { event, problem: `officeId: the file is for office "${defaults.officeId}"` };
    }
  }
  if (defaults.scannerType && (event.scannerType === undefined || event.scannerType === null)) {
    event.scannerType = defaults.scannerType;
  }
  return { event };
}

/** Counts every problem and keeps the first MAX_LISTED_PROBLEMS found. */
class Problems {
  readonly listed: ScanProblem[] = [];
  count = 0;
  parseErrors = 0;
  add(problem: ScanProblem) {
    this.count += 1;
    if (problem.code === 'PARSE_ERROR') this.parseErrors += 1;
    if (this.listed.length < MAX_LISTED_PROBLEMS) this.listed.push(problem);
  }
}

/** A source that measures what is read through it: size, sha256 and the first bytes, for the quarantine. */
function measuring(source: ScanFileSource, maxContentBytes: number) {
  const hash = createHash('sha256');
  let fileSize = 0;
  const kept: Buffer[] = [];
  let keptBytes = 0;
  const measured: ScanFileSource = {
    name: source.name,
    async *open() {
      for await (const chunk of source.open()) {
        hash.update(chunk);
        fileSize += chunk.byteLength;
        if (keptBytes < maxContentBytes) {
          const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
          const part = bytes.subarray(0, maxContentBytes - keptBytes);
          kept.push(part);
          keptBytes += part.byteLength;
        }
        yield chunk;
      }
    },
  };
  const measures = () => {
    const content = Buffer.concat(kept).toString('utf8');
    return {
      fileSize,
      fileHash: hash.digest('hex'),
      // PostgreSQL text cannot hold NUL; a file with one is not JSON anyway, so it stays unparseable.
      content: content.replaceAll('\u0000', '\uFFFD'),
      contentTruncated: fileSize > keptBytes,
    };
  };
  return { source: measured, measures };
}

/** Validates a file's events a chunk at a time and lists their problems, the office check included. */
class EventChecks {
  private batch: { event: unknown; index: number; line: number }[] = [];
  constructor(
    private readonly problems: Problems,
    private readonly scope: Scope,
    private readonly options: Pick<InspectOptions, 'chunkSize' | 'maxFutureSkewSeconds'>,
  ) {}

  add(event: unknown, index: number, line: number): void {
    this.batch.push({ event, index, line });
    if (this.batch.length >= this.options.chunkSize) this.flush();
  }

  flush(): void {
    const batch = this.batch;
    const { valid, rejected } = validateEvents(
      batch.map((b) => b.event),
      { maxFutureSkewSeconds: this.options.maxFutureSkewSeconds },
    );
    for (const r of rejected) {
      const at = batch[r.index]!;
      this.problems.add({ line: at.line, index: at.index, field: r.field, code: r.code, message: r.message });
    }
    for (const { index, event } of valid) {
      if (scopeIncludesOffice(this.scope, event.officeId)) continue;
      const at = batch[index]!;
      this.problems.add({
        line: at.line,
        index: at.index,
        field: 'officeId',
        code: 'OFFICE_NOT_ALLOWED',
        message: `officeId: the caller may not write to office "${event.officeId}"`,
      });
    }
    this.batch = [];
  }
}

/** Validation runs a chunk at a time, after that chunk's parse errors: list them in file order. */
function inFileOrder(problems: Problems): void {
  problems.listed.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
}

/** The first pass: size, hash, content and every parse, validation and office problem. */
export async function inspectScanFile(
  source: ScanFileSource,
  scope: Scope,
  options: InspectOptions,
): Promise<ScanInspection> {
  const measured = measuring(source, options.maxContentBytes);
  const problems = new Problems();
  const checks = new EventChecks(problems, scope, options);
  let format = 'jsonl' as ScanFormat;
  let events = 0;
  for await (const record of parseScanFile(measured.source.open(), (detected) => {
    format = detected;
  })) {
    if (record.kind === 'error') {
      problems.add({
        line: record.line,
        index: record.index,
        field: null,
        code: 'PARSE_ERROR',
        message: record.message,
      });
      continue;
    }
    events += 1;
    const { event, problem } = withDefaults(record.value, options);
    if (problem) {
      problems.add({
        line: record.line,
        index: record.index,
        field: 'officeId',
        code: 'OFFICE_MISMATCH',
        message: problem,
      });
      continue;
    }
    checks.add(event, record.index, record.line);
  }
  checks.flush();
  inFileOrder(problems);

  const inspection = { ...measured.measures(), events };
  const details = {
    format: format ?? 'jsonl',
    events,
    problemCount: problems.count,
    problems: problems.listed,
  };
  if (events === 0 && problems.count === 0 && format !== 'json') {
    // Not even "[]": an export that broke before writing anything, not a scan that found nothing.
    return {
      ...inspection,
      failure: { errorType: 'EMPTY_FILE', errorMessage: `${source.name} is empty`, errorDetails: details },
    };
  }
  if (problems.count === 0) return { ...inspection, failure: null };
  return {
    ...inspection,
    failure: {
      errorType: problems.parseErrors > 0 ? 'PARSE_ERROR' : 'INVALID_EVENTS',
      errorMessage: describeProblems(source.name, problems.count, problems.listed[0]!),
      errorDetails: details,
    },
  };
}

/** The inspection of a scanner's file, with the run it describes (null when it describes none). */
export interface ScannerInspection extends ScanInspection {
  run: ScanRunCompletion | null;
}

/**
 * The first pass over a scanner's output (nmap XML, nuclei JSON Lines), read by its format's reader:
 * size, hash, content, every problem the reader or validation finds, and the run.
 */
export async function inspectScannerFile(
  format: Exclude<ScanFileFormat, 'events'>,
  source: ScanFileSource,
  scope: Scope,
  context: ScanFileContext,
  options: InspectOptions,
): Promise<ScannerInspection> {
  const measured = measuring(source, options.maxContentBytes);
  const problems = new Problems();
  const checks = new EventChecks(problems, scope, options);
  let events = 0;
  let run: ScanRunCompletion | null = null;
  for await (const record of readScanFile(format, measured.source, context)) {
    if (record.kind === 'problem') problems.add(record.problem);
    else if (record.kind === 'run') run = record.run;
    else {
      events += 1;
      checks.add(record.event, record.index, record.line);
    }
  }
  checks.flush();
  inFileOrder(problems);
  const inspection = { ...measured.measures(), events, run };
  if (problems.count === 0) return { ...inspection, failure: null };
  // A problem of the whole file (cut short, not nmap's, a failed scan) names the file's trouble.
  const fileProblem = problems.listed.find((p) => p.index === null);
  return {
    ...inspection,
    failure: {
      errorType: problems.parseErrors > 0 ? 'PARSE_ERROR' : (fileProblem?.code ?? 'INVALID_EVENTS'),
      errorMessage: describeProblems(source.name, problems.count, problems.listed[0]!),
      errorDetails: { format, events, problemCount: problems.count, problems: problems.listed },
    },
  };
}

function describeProblems(name: string, count: number, first: ScanProblem): string {
  const where = first.line === null ? '' : `, line ${first.line}`;
  const more = count > 1 ? ` (and ${count - 1} more problems)` : '';
  return `${name}${where}: ${first.message}${more}`;
}

export interface WriteProgress {
  done: number;
  total: number;
}

/** Writes one chunk of raw events: the in-process ingest, or a call to a remote gateway. */
export type ChunkWriter = (events: unknown[]) => Promise<IngestResult>;

export interface WriteOptions extends ScanDefaults {
  chunkSize: number;
  /** Events in the file, from the inspection. */
  total: number;
  onProgress?: (progress: WriteProgress) => void;
}

export type ScanWrite =
  | { result: IngestResult; failure: null }
  | { result: IngestCounts; failure: ScanFailure };

/** Sums the results of a file's chunks and stops at the first chunk the writer rejects. */
class ChunkedWrite {
  readonly counts: IngestCounts = {
    eventsInserted: 0,
    eventsDuplicate: 0,
    exposuresInserted: 0,
    exposuresUpdated: 0,
    totalProcessed: 0,
  };
  private chunk: { event: unknown; index: number; line: number }[] = [];

  constructor(
    private readonly name: string,
    private readonly write: ChunkWriter,
    private readonly options: Omit<WriteOptions, keyof ScanDefaults>,
  ) {}

  /** Adds an event; writes the chunk once it is full. A failure stops the file. */
  async add(event: unknown, index: number, line: number, format: ScanFailure['errorDetails']['format']) {
    this.chunk.push({ event, index, line });
    return this.chunk.length >= this.options.chunkSize ? this.flush(format) : null;
  }

  async flush(format: ScanFailure['errorDetails']['format']): Promise<ScanFailure | null> {
    if (this.chunk.length === 0) return null;
    const { counts, chunk } = this;
    try {
      const result = await this.write(chunk.map((c) => c.event));
      counts.eventsInserted += result.eventsInserted;
      counts.eventsDuplicate += result.eventsDuplicate;
      counts.exposuresInserted += result.exposuresInserted;
      counts.exposuresUpdated += result.exposuresUpdated;
      counts.totalProcessed += result.totalProcessed;
    } catch (error) {
      if (!(error instanceof IngestRejectedError)) throw error;
      return chunkFailure(this.name, format, error, chunk, counts, this.options.total);
    }
    this.chunk = [];
    this.options.onProgress?.({ done: counts.totalProcessed, total: this.options.total });
    return null;
  }
}

/** A problem the second pass found: the file changed since it was inspected. */
function changedFile(
  name: string,
  format: ScanFailure['errorDetails']['format'],
  total: number,
  problem: ScanProblem,
): ScanFailure {
  return {
    errorType: problem.code,
    errorMessage: `${name}${problem.line === null ? '' : `, line ${problem.line}`}: ${problem.message} (the file changed while it was ingested)`,
    errorDetails: { format, events: total, problemCount: 1, problems: [problem] },
  };
}

/**
 * The second pass: writes the (inspected) file in chunks. A chunk the writer rejects stops the file; the
 * chunks before it stay committed, which a replay makes whole again without duplicates.
 */
export async function writeScanFile(
  source: ScanFileSource,
  write: ChunkWriter,
  options: WriteOptions,
): Promise<ScanWrite> {
  const writer = new ChunkedWrite(source.name, write, options);
  let format = 'jsonl' as ScanFormat;
  for await (const record of parseScanFile(source.open(), (detected) => {
    format = detected;
  })) {
    // The inspection found no parse errors; a file that changed since then is caught by the writer.
    if (record.kind === 'error') {
      const problem = {
        line: record.line,
        index: record.index,
        field: null,
        code: 'PARSE_ERROR',
        message: record.message,
      };
      return { result: writer.counts, failure: changedFile(source.name, format, options.total, problem) };
    }
    const failure = await writer.add(
      withDefaults(record.value, options).event,
      record.index,
      record.line,
      format,
    );
    if (failure) return { result: writer.counts, failure };
  }
  const failure = await writer.flush(format);
  if (failure) return { result: writer.counts, failure };
  return { result: { ...writer.counts, rejected: [] }, failure: null };
}

/** The second pass over a scanner's (inspected) file: its events in chunks, as writeScanFile(). */
export async function writeScannerFile(
  format: Exclude<ScanFileFormat, 'events'>,
  source: ScanFileSource,
  context: ScanFileContext,
  write: ChunkWriter,
  options: Omit<WriteOptions, keyof ScanDefaults>,
): Promise<ScanWrite> {
  const writer = new ChunkedWrite(source.name, write, options);
  const records: AsyncIterable<ScanFileRecord> = readScanFile(format, source, context);
  for await (const record of records) {
    if (record.kind === 'problem') {
      return {
        result: writer.counts,
        failure: changedFile(source.name, format, options.total, record.problem),
      };
    }
    if (record.kind === 'event') {
      const failure = await writer.add(record.event, record.index, record.line, format);
      if (failure) return { result: writer.counts, failure };
    }
  }
  const failure = await writer.flush(format);
  if (failure) return { result: writer.counts, failure };
  return { result: { ...writer.counts, rejected: [] }, failure: null };
}

function chunkFailure(
  name: string,
  format: ScanFailure['errorDetails']['format'],
  error: IngestRejectedError,
  chunk: readonly { index: number; line: number }[],
  committed: IngestCounts,
  total: number,
): ScanFailure {
  const problems = error.rejected.slice(0, MAX_LISTED_PROBLEMS).map((r: RejectedEvent) => {
    const at = chunk[r.index];
    return {
      line: at?.line ?? null,
      index: at?.index ?? null,
      field: r.field,
      code: r.code,
      message: r.message,
    };
  });
  const partial =
    committed.totalProcessed > 0 ? `; ${committed.totalProcessed} events before it were committed` : '';
  return {
    errorType: error.code,
    errorMessage: `${name}: ${error.message}${partial}`,
    errorDetails: { format, events: total, problemCount: error.rejected.length, problems },
  };
}
