/**
 * The gateway's own format: a JSON array of events or JSON Lines, read by parseScanFile exactly as the
 * scan-file ingest reads it. Events keep whatever they say; the file's office and scanner type fill in
 * what they leave out, and an event of another office is a problem, as in inspectScanFile.
 */
import { parseScanFile, type ScanFileSource } from '../scan-file.ts';
import type { ScanFileContext, ScanFileRecord } from './index.ts';

/** Reads an events file: parsed events (validated later, like any other) and parse problems; no run. */
export async function* readEventsFile(
  source: ScanFileSource,
  context: ScanFileContext,
): AsyncGenerator<ScanFileRecord> {
  for await (const record of parseScanFile(source.open())) {
    if (record.kind === 'error') {
      yield problem(record.line, record.index, null, 'PARSE_ERROR', record.message);
      continue;
    }
    const value = record.value;
    // Not an object: left as it is for validateEvents to reject, as the scan-file ingest does.
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      yield { kind: 'event', event: value, index: record.index, line: record.line };
      continue;
    }
    const event = { ...(value as Record<string, unknown>) };
    if (event.officeId === undefined || event.officeId === null) event.officeId = context.officeId;
    else if (event.officeId !== context.officeId) {
      yield problem(
        record.line,
        record.index,
        'officeId',
        'OFFICE_MISMATCH',
        `officeId: the file is for office "${context.officeId}"`,
      );
      continue;
    }
    if (event.scannerType === undefined || event.scannerType === null)
      event.scannerType = context.scannerType;
    yield { kind: 'event', event, index: record.index, line: record.line };
  }
}

function problem(
  line: number,
  index: number | null,
  field: string | null,
  code: string,
  message: string,
): ScanFileRecord {
  return { kind: 'problem', problem: { line, index, field, code, message, element: null } };
}
