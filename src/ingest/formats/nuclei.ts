/**
 * nuclei JSON Lines output (-jsonl), one file one scan run: a finding per line.
 *
 * - The exposure is the finding: template id (the exposure class), matcher name and "matched-at", the
 *   same in every scan of the target, so a later scan reports the same exposures.
 * - nuclei writes no header, so the run id is a digest of the file's bytes, read once before the
 *   findings: the same file always gives the same run, and its events (numbered by line) are duplicates
 *   when it comes again.
 * - The file says when each finding was made, not when the scan began or ended: the run starts at the
 *   first finding and completes at the last.
 * - The scope is the targets that appear in the file (their IP addresses). nuclei does not write which
 *   targets it scanned, so a host where nothing was found this time is not in scope and its exposures
 *   stay open until a scan finds something else there; an empty file yields no run at all.
 */
import { createHash } from 'node:crypto';
import type { Severity } from '../../domain.ts';
import { canonicalIp } from '../../ip.ts';
import type { ScanFileSource } from '../scan-file.ts';
import { MAX_ID_LENGTH } from '../validate.ts';
import { boundedRawPayload, isoFromRfc3339 } from './event-input.ts';
import type { ScanFileContext, ScanFileProblem, ScanFileRecord, ScannerEventInput } from './index.ts';
import { ScopeHosts } from './scope.ts';
import { sourceDigest, textLines } from './source.ts';

/**
 * nuclei's severities are the gateway's, in lower case, plus "unknown": a template its author did not
 * rate. Unknown (or absent) is INFO: a finding nobody rated is not raised above the ones that were.
 */
const SEVERITY: Readonly<Record<string, Severity>> = {
  info: 'INFO',
  low: 'LOW',
  medium: 'MEDIUM',
  high: 'HIGH',
  critical: 'CRITICAL',
  unknown: 'INFO',
};

/** The transport under each template type, where there is one to speak of. */
const PROTOCOL: Readonly<Record<string, string>> = {
  http: 'tcp',
  headless: 'tcp',
  network: 'tcp',
  tcp: 'tcp',
  ssl: 'tcp',
  websocket: 'tcp',
  dns: 'udp',
};

/** Ports a URL leaves out because they are its scheme's. */
const DEFAULT_PORT: Readonly<Record<string, number>> = { http: 80, https: 443, ws: 80, wss: 443, ftp: 21 };

/** What a finding's evidence gives up first when its payload is too large for an event. */
const BULKY_KEYS = ['response', 'request', 'curl-command', 'extracted-results', 'template-encoded'] as const;

/** Reads nuclei -jsonl output: an event per finding, a problem per line that is not one, then the run. */
export async function* readNucleiJsonl(
  source: ScanFileSource,
  context: ScanFileContext,
): AsyncGenerator<ScanFileRecord<ScannerEventInput>> {
  const scanRunId = `nuclei:${(await sourceDigest(source)).slice(0, 32)}`;
  const hosts = new ScopeHosts();
  let startedAt: string | null = null;
  let completedAt: string | null = null;
  let index = 0;
  let first = true;
  for await (const { text, line } of textLines(source.open())) {
    if (text.trim() === '') continue;
    if (first && text.trimStart().startsWith('[')) {
      const message =
        'a JSON array, as nuclei -json-export writes; this format is JSON Lines (nuclei -jsonl)';
      yield { kind: 'problem', problem: problemOf(line, null, 'WRONG_FORMAT', message) };
      return;
    }
    first = false;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      const message = `not valid JSON: ${(error as Error).message}`;
      yield { kind: 'problem', problem: problemOf(line, null, 'PARSE_ERROR', message) };
      continue;
    }
    const read = findingEvent(value, line, scanRunId, context);
    if ('problems' in read) {
      for (const found of read.problems) yield { kind: 'problem', problem: found };
      continue;
    }
    const { event } = read;
    if (event.assetIp) hosts.add(event.assetIp);
    if (startedAt === null || event.timestamp < startedAt) startedAt = event.timestamp;
    if (completedAt === null || event.timestamp > completedAt) completedAt = event.timestamp;
    yield { kind: 'event', event, index, line };
    index += 1;
  }
  if (startedAt === null || completedAt === null) return;
  yield { kind: 'run', run: { scanRunId, startedAt, completedAt, scope: { dstIpIn: hosts.cidrs() } } };
}

/** A finding's event, or every problem of its line. */
function findingEvent(
  value: unknown,
  line: number,
  scanRunId: string,
  context: ScanFileContext,
): { event: ScannerEventInput } | { problems: ScanFileProblem[] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { problems: [problemOf(line, null, 'INVALID_TYPE', 'a finding must be a JSON object')] };
  }
  const finding = value as Record<string, unknown>;
  const problems: ScanFileProblem[] = [];
  const report = (field: string, code: string, message: string) => {
    problems.push(problemOf(line, field, code, `${field}: ${message}`));
    return undefined;
  };
  /** A string field: undefined when absent, reported when present as anything else. */
  const text = (field: string, required = false): string | undefined => {
    const raw = finding[field];
    if (raw === undefined || raw === null || raw === '')
      return required ? report(field, 'REQUIRED', 'is required') : undefined;
    return typeof raw === 'string' ? raw : report(field, 'INVALID_TYPE', 'must be a string');
  };

  const templateId = text('template-id', true);
  const matchedAt = text('matched-at', true);
  const matcherName = text('matcher-name');
  const hostText = text('host');
  const type = text('type');

  const stamp = text('timestamp', true);
  const timestamp = stamp === undefined ? undefined : isoFromRfc3339(stamp);
  if (stamp !== undefined && timestamp === null)
    report('timestamp', 'INVALID_VALUE', `"${stamp}" is not an RFC 3339 date and time`);

  const ipText = text('ip');
  const ip = ipText === undefined ? undefined : canonicalIp(ipText);
  if (ipText !== undefined && ip === null) report('ip', 'INVALID_VALUE', `"${ipText}" is not an IP address`);

  // nuclei writes the port as a string ("443"); accept a number too.
  const portValue = finding.port;
  let port: number | undefined;
  if (portValue !== undefined && portValue !== null && portValue !== '') {
    const number =
      typeof portValue === 'string' && /^\d{1,5}$/.test(portValue) ? Number(portValue) : portValue;
    if (typeof number === 'number' && Number.isInteger(number) && number >= 0 && number <= 65535)
      port = number;
    else report('port', 'INVALID_VALUE', `${JSON.stringify(portValue)} is not a port number`);
  }

  const info = finding.info;
  const details = typeof info === 'object' && info !== null && !Array.isArray(info) ? info : {};
  if (info !== undefined && info !== null && details !== info)
    report('info', 'INVALID_TYPE', 'must be an object');
  const rating = (details as Record<string, unknown>).severity;
  let severity: Severity = 'INFO';
  if (rating !== undefined && rating !== null) {
    const known = typeof rating === 'string' ? SEVERITY[rating.toLowerCase()] : undefined;
    if (known) severity = known;
    else
      report(
        'info.severity',
        'INVALID_VALUE',
        `${JSON.stringify(rating)} is not one of ${Object.keys(SEVERITY).join(', ')}`,
      );
  }

  if (problems.length > 0 || !templateId || !matchedAt || !timestamp) return { problems };

  const matched = targetOf(matchedAt);
  const host = hostText === undefined ? undefined : targetOf(hostText);
  const assetIp = ip ?? canonicalIp(host?.host ?? '') ?? canonicalIp(matched.host) ?? undefined;
  const hostname = [host?.host, matched.host].find((name) => name && canonicalIp(name) === null);
  const dstPort = port ?? matched.port ?? host?.port;
  const protocol = type === undefined ? undefined : PROTOCOL[type];
  const scheme = matched.scheme ?? host?.scheme;
  const riskScore = cvssRiskScore(details as Record<string, unknown>);
  const event: ScannerEventInput = {
    eventId: `${scanRunId}/${line}`,
    timestamp,
    officeId: context.officeId,
    exposureId: exposureIdOf(templateId, matcherName, matchedAt),
    exposureClass: templateId,
    status: 'OPEN',
    severity,
    eventAction: 'observed',
    eventKind: 'state',
    ...(hostname ? { assetHostname: hostname } : {}),
    ...(assetIp ? { assetIp, dstIp: assetIp } : {}),
    ...(riskScore === undefined ? {} : { riskScore }),
    ...(dstPort === undefined ? {} : { dstPort }),
    ...(protocol ? { protocol } : {}),
    scanRunId,
    scannerType: context.scannerType,
    ...(scheme ? { serviceName: scheme } : {}),
    rawPayload: boundedRawPayload(finding, BULKY_KEYS),
  };
  return { event };
}

function problemOf(line: number, field: string | null, code: string, message: string): ScanFileProblem {
  return { line, index: null, field, code, message, element: null };
}

/** The same finding on the same target is the same exposure; ids past the limit are hashed. */
function exposureIdOf(templateId: string, matcherName: string | undefined, matchedAt: string): string {
  const id = `${templateId}${matcherName ? `:${matcherName}` : ''}/${matchedAt}`;
  if (id.length <= MAX_ID_LENGTH) return id;
  const digest = `sha256:${createHash('sha256').update(id).digest('hex')}`;
  const hashed = `${templateId}/${digest}`;
  return hashed.length <= MAX_ID_LENGTH ? hashed : digest;
}

interface Target {
  host: string;
  port?: number;
  scheme?: string;
}

/** The host, port and scheme of a target as nuclei writes it: a URL, "host:port", "[v6]:port" or a host. */
export function targetOf(text: string): Target {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    try {
      const url = new URL(text);
      if (url.hostname === '') return { host: text };
      const scheme = url.protocol.slice(0, -1).toLowerCase();
      const port = url.port === '' ? DEFAULT_PORT[scheme] : Number(url.port);
      return {
        host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
        scheme,
        ...(port === undefined ? {} : { port }),
      };
    } catch {
      return { host: text };
    }
  }
  const match = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text) ?? /^([^:/]+)(?::(\d{1,5}))?$/.exec(text);
  if (!match) return { host: text };
  const port = match[2] === undefined ? undefined : Number(match[2]);
  return { host: match[1]!, ...(port === undefined || port > 65535 ? {} : { port }) };
}

/** A CVSS score (0..10) from the template's classification, as a risk score (0..100). */
function cvssRiskScore(info: Record<string, unknown>): number | undefined {
  const classification = info.classification;
  if (typeof classification !== 'object' || classification === null) return undefined;
  const score = (classification as Record<string, unknown>)['cvss-score'];
  if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 10) return undefined;
  return Math.round(score * 100) / 10;
}
