/**
 * Completing a scan run: every exposure the run could have seen and did not gets an inferred CLOSED event
 * at the completion time, written through the ingest write path in the same transaction that marks the
 * run completed, so the current state stays the fold of the log and a second completion finds the run
 * completed and writes nothing.
 */
import { createHash } from 'node:crypto';
import type { IngestConfig } from '../config.ts';
import type { Store } from '../db/database.ts';
import { type AppendResult, writeEvents } from '../db/repositories/event-log.ts';
import {
  findUnobservedExposures,
  INFERRED_KIND,
  lockScanRun,
  markScanRunCompleted,
  type OpenExposure,
  type ScanRun,
} from '../db/repositories/scan-runs.ts';
import {
  DomainError,
  type ExposureEvent,
  type ExposureFieldValues,
  type ExposureKey,
  FIELD_NAMES,
  isStorableText,
  type Scope,
  scopeIncludesOffice,
  UNSTORABLE_TEXT,
} from '../domain.ts';
import { cidrKeyRange, type IpKeyRange } from '../ip.ts';
import type { ChangeFeed } from './changes.ts';
import { parsePortList } from './formats/scope.ts';
import { MAX_ID_LENGTH, MAX_TEXT_LENGTH } from './validate.ts';

/** What a run covered (the contract's ScanScopeInput); an absent list does not bound the run. */
export interface ScanRunScopeInput {
  exposureClasses?: readonly string[] | null;
  /** CIDRs; a host is /32 or /128. */
  dstIpIn?: readonly string[] | null;
  /** "22", "1-1024". */
  dstPortRanges?: readonly string[] | null;
}

export interface CompleteScanRunRequest {
  officeId: string;
  scanRunId: string;
  scannerType: string;
  /** ISO-8601 instants. */
  completedAt: string;
  startedAt?: string | null;
  scope?: ScanRunScopeInput | null;
  /** Who completes it, recorded on the inferred events. */
  actor?: string | null;
}

export interface ScanRunDeps {
  store: Store;
  config: Pick<IngestConfig, 'maxFutureSkewSeconds'>;
  changes?: ChangeFeed;
}

/** eventAction of an exposure a completed run did not see. */
export const NOT_OBSERVED_ACTION = 'not_observed';
/** Exposure classes a scope may list, as a filter list may (see schema/filters.ts). */
const MAX_SCOPE_CLASSES = 1000;
/**
 * Inferred events per write inside the completion's transaction: larger writes amortize each write's fixed
 * statements (closing 20,000 exposures on DuckDB, on a loaded 2-core machine: 9.2 s in writes of 2,000,
 * 6.0 s in one), and the bound keeps the key lists a statement carries in proportion.
 */
const CLOSE_CHUNK = 10_000;

const invalid = (field: string, message: string) =>
  new DomainError('BAD_USER_INPUT', `${field}: ${message}`, { field });

function checkText(field: string, value: string, max: number): void {
  if (value.trim() === '') throw invalid(field, 'must not be empty');
  if (value.length > max) throw invalid(field, `must be at most ${max} characters`);
  // As the gateway refuses it in any argument (plugins/storable-text.ts); the CLI comes here directly.
  if (!isStorableText(value)) {
    throw new DomainError('INVALID_CHARACTERS', `${field}: ${UNSTORABLE_TEXT}`, { field });
  }
}

/** Hosts and ports a run covered, checked: sorted, overlapping IP ranges merged. */
interface Coverage {
  exposureClasses: readonly string[] | null;
  ipRanges: IpKeyRange[] | null;
  portRanges: (readonly [number, number])[] | null;
}

function coverageOf(scope: ScanRunScopeInput | null | undefined): Coverage {
  const classes = scope?.exposureClasses ?? null;
  if (classes && classes.length > MAX_SCOPE_CLASSES) {
    throw invalid(
      'input.scope.exposureClasses',
      `at most ${MAX_SCOPE_CLASSES} values, got ${classes.length}`,
    );
  }
  classes?.forEach((c, i) => {
    checkText(`input.scope.exposureClasses[${i}]`, c, MAX_TEXT_LENGTH);
  });
  let ipRanges: IpKeyRange[] | null = null;
  if (scope?.dstIpIn) {
    const ranges = scope.dstIpIn.map((cidr, i) => {
      const range = cidrKeyRange(cidr);
      if (!range) throw invalid(`input.scope.dstIpIn[${i}]`, `"${cidr}" is not a CIDR such as 10.0.0.0/24`);
      return range;
    });
    ranges.sort((a, b) => (a.low < b.low ? -1 : a.low > b.low ? 1 : 0));
    ipRanges = [];
    for (const range of ranges) {
      const last = ipRanges.at(-1);
      if (last && range.low <= last.high) {
        if (range.high > last.high) last.high = range.high;
      } else ipRanges.push({ ...range });
    }
  }
  let portRanges: (readonly [number, number])[] | null = null;
  if (scope?.dstPortRanges) {
    portRanges = scope.dstPortRanges.flatMap((text, i) => {
      const parsed = parsePortList(text);
      if ('reason' in parsed) throw invalid(`input.scope.dstPortRanges[${i}]`, parsed.reason);
      return parsed.ranges;
    });
  }
  return { exposureClasses: classes, ipRanges, portRanges };
}

/** Whether a sorted, non-overlapping list of ranges holds the key: a binary search. */
function inRanges(ranges: readonly IpKeyRange[], key: string): boolean {
  let [low, high] = [0, ranges.length - 1];
  while (low <= high) {
    const middle = (low + high) >> 1;
    const range = ranges[middle]!;
    if (key < range.low) high = middle - 1;
    else if (key > range.high) low = middle + 1;
    else return true;
  }
  return false;
}

function covers(coverage: Coverage, exposure: OpenExposure): boolean {
  // An exposure without an address or a port cannot be placed inside a scope that names them.
  if (coverage.ipRanges && (exposure.dstIpKey === null || !inRanges(coverage.ipRanges, exposure.dstIpKey))) {
    return false;
  }
  if (coverage.portRanges) {
    const port = exposure.dstPort;
    if (port === null || !coverage.portRanges.some(([low, high]) => port >= low && port <= high))
      return false;
  }
  return true;
}

/** The same id for the same tenant, office, run and exposure, so no completion can write it twice. */
export function inferredEventId(
  tenantId: string,
  officeId: string,
  scanRunId: string,
  exposureId: string,
): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([tenantId, officeId, scanRunId, exposureId]))
    .digest('hex');
  return `${NOT_OBSERVED_ACTION}:${digest.slice(0, 40)}`;
}

/** The inferred CLOSED event of an exposure the run did not see: latest values repeated, nothing else set. */
function closingEvent(
  tenantId: string,
  request: CompleteScanRunRequest,
  exposure: OpenExposure,
): ExposureEvent {
  const fields = Object.fromEntries(FIELD_NAMES.map((f) => [f, null])) as unknown as ExposureFieldValues;
  return {
    ...fields,
    exposureClass: exposure.exposureClass,
    severity: exposure.severity,
    status: 'CLOSED',
    eventAction: NOT_OBSERVED_ACTION,
    eventKind: INFERRED_KIND,
    scannerType: request.scannerType,
    eventId: inferredEventId(tenantId, request.officeId, request.scanRunId, exposure.exposureId),
    timestamp: request.completedAt,
    officeId: request.officeId,
    exposureId: exposure.exposureId,
    scanRunId: request.scanRunId,
    dedupeKey: null,
    rawPayload: null,
    actor: request.actor ?? null,
  };
}

function instant(field: string, text: string): string {
  const millis = Date.parse(text);
  if (Number.isNaN(millis)) throw invalid(field, `"${text}" is not an ISO-8601 instant`);
  return new Date(millis).toISOString();
}

/**
 * Completes a run of the scope's tenant: closes what it could have seen and did not, then marks it
 * completed. A run completed before is returned as it is, and nothing is written.
 */
export async function completeScanRun(
  deps: ScanRunDeps,
  scope: Scope,
  input: CompleteScanRunRequest,
): Promise<ScanRun> {
  if (!scopeIncludesOffice(scope, input.officeId)) {
    throw new DomainError(
      'FORBIDDEN',
      `input.officeId: the caller may not write to office "${input.officeId}"`,
      {
        field: 'input.officeId',
      },
    );
  }
  checkText('input.officeId', input.officeId, MAX_ID_LENGTH);
  checkText('input.scanRunId', input.scanRunId, MAX_ID_LENGTH);
  checkText('input.scannerType', input.scannerType, MAX_TEXT_LENGTH);
  const completedAt = instant('input.completedAt', input.completedAt);
  const startedAt = input.startedAt ? instant('input.startedAt', input.startedAt) : null;
  if (Date.parse(completedAt) > Date.now() + deps.config.maxFutureSkewSeconds * 1000) {
    throw invalid(
      'input.completedAt',
      `must not be more than ${deps.config.maxFutureSkewSeconds} s in the future`,
    );
  }
  if (startedAt && startedAt > completedAt) throw invalid('input.startedAt', 'must not be after completedAt');
  const coverage = coverageOf(input.scope);
  const request = { ...input, completedAt, startedAt };

  const changed: ExposureKey[] = [];
  const run = await deps.store.write(async (trx) => {
    const stored = await lockScanRun(trx, scope.tenantId, request);
    if (stored.completedAt !== null) return stored;
    const open = await findUnobservedExposures(trx.db, scope.tenantId, request, coverage.exposureClasses);
    const closing = open
      .filter((exposure) => covers(coverage, exposure))
      .map((exposure) => closingEvent(scope.tenantId, request, exposure));
    for (let start = 0; start < closing.length; start += CLOSE_CHUNK) {
      // The run is not completed, so no event of it was inferred before, and `open` left out every
      // exposure it named.
      const result: AppendResult = await writeEvents(
        trx,
        scope.tenantId,
        closing.slice(start, start + CLOSE_CHUNK),
        { unseen: true },
      );
      changed.push(...result.changed);
    }
    return markScanRunCompleted(trx, scope.tenantId, request);
  });
  // Only after commit: subscribers must never see a change that was rolled back.
  deps.changes?.publish({ tenantId: scope.tenantId, exposures: changed });
  return run;
}
