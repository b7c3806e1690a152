/**
 * Scan file formats: a file in, events and a run out. Each format is one module that reads a
 * ScanFileSource as a stream and yields, in file order, the events it finds and the problems that keep
 * the file from being ingested, then, for scanner output, the run the file describes: the completion
 * that closes what the scanner could have seen and did not (DESIGN.md, "Lifecycle").
 *
 * Readers only read: they neither validate events (validateEvents does, as for any other event) nor
 * decide what a problem means for the file (the caller quarantines a file with any problem).
 */
import type { Severity } from '../../domain.ts';
import type { ScanFileSource, ScanProblem } from '../scan-file.ts';
import { readEventsFile } from './events.ts';
import { readNmapXml } from './nmap.ts';
import { readNucleiJsonl } from './nuclei.ts';

/** The formats by their CLI names (`--format`); FORMAT_OF_CONTRACT maps the contract's enum to them. */
export const SCAN_FILE_FORMATS = ['events', 'nmap', 'nuclei'] as const;
export type ScanFileFormat = (typeof SCAN_FILE_FORMATS)[number];

/** The contract's enum ScanFileFormat. */
export const FORMAT_OF_CONTRACT = {
  EVENTS: 'events',
  NMAP_XML: 'nmap',
  NUCLEI_JSONL: 'nuclei',
} as const satisfies Record<string, ScanFileFormat>;

/** Who the file's events belong to: the office and scanner type the caller names with the file. */
export interface ScanFileContext {
  officeId: string;
  scannerType: string;
}

/** An event a scanner reported, in the input shape validateEvents accepts; unknown values are left out. */
export interface ScannerEventInput {
  eventId: string;
  /** ISO-8601 UTC. */
  timestamp: string;
  officeId: string;
  exposureId: string;
  exposureClass: string;
  /** A scanner reports what it sees, so every observation is of an open exposure. */
  status: 'OPEN';
  severity: Severity;
  eventAction: string;
  eventKind: string;
  assetHostname?: string;
  assetIp?: string;
  riskScore?: number;
  dstIp?: string;
  dstPort?: number;
  protocol?: string;
  scanRunId: string;
  scannerType: string;
  serviceName?: string;
  serviceProduct?: string;
  serviceVersion?: string;
  rawPayload: unknown;
}

/** What a run covered: the contract's ScanScopeInput. An exposure outside it is not closed by the run. */
export interface ScanRunScope {
  /** CIDRs; a host is /32 or /128. */
  dstIpIn: string[];
  /** "22", "1-1024"; absent: every port. An empty list means no port was scanned. */
  dstPortRanges?: string[];
  /** Absent: every class. */
  exposureClasses?: string[];
}

/** The run a scanner's file describes, ready for completeScanRun with the file's office and scanner type. */
export interface ScanRunCompletion {
  scanRunId: string;
  /** ISO-8601 UTC. */
  startedAt: string;
  /** ISO-8601 UTC; no event of the run is later. */
  completedAt: string;
  scope: ScanRunScope;
}

/**
 * A problem of a file (a ScanProblem: line, event index, field, code, message), also naming the XML
 * element it is in where the format has elements. Codes: PARSE_ERROR (not well-formed, or cut short),
 * EMPTY_FILE, WRONG_FORMAT, REQUIRED / INVALID_TYPE / INVALID_VALUE (a value the scanner writes is
 * missing or unusable; field names it as the scanner spells it), SCAN_INCOMPLETE and SCAN_FAILED (the
 * scanner did not say the scan finished, or said it failed), OFFICE_MISMATCH (events format).
 */
export interface ScanFileProblem extends ScanProblem {
  element: string | null;
}

/**
 * What a reader yields, in file order: events and problems, then at most one run, last. The events
 * format never yields a run (a file of events says nothing about what was scanned); a scanner file
 * yields none when it does not say when the scan finished. `index` counts events from 0; `line` is where
 * the event starts (for XML, the element it comes from).
 */
export type ScanFileRecord<E = unknown> =
  | { kind: 'event'; event: E; index: number; line: number }
  | { kind: 'problem'; problem: ScanFileProblem }
  | { kind: 'run'; run: ScanRunCompletion };

/** Reads one file as a stream; every call starts from the beginning of the source. */
export type ScanFileReader<E = unknown> = (
  source: ScanFileSource,
  context: ScanFileContext,
) => AsyncIterable<ScanFileRecord<E>>;

/** The reader of each format. */
export const SCAN_FILE_READERS: Readonly<Record<ScanFileFormat, ScanFileReader>> = {
  events: readEventsFile,
  nmap: readNmapXml,
  nuclei: readNucleiJsonl,
};

/** Reads a file in the given format: events and problems, then the run, as a stream. */
export function readScanFile(
  format: ScanFileFormat,
  source: ScanFileSource,
  context: ScanFileContext,
): AsyncIterable<ScanFileRecord> {
  return SCAN_FILE_READERS[format](source, context);
}
