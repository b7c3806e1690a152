/**
 * nmap XML output (-oX), one file one scan run. Read as a stream with saxes: a sweep of a /16 is never
 * held as a document, only the host being read.
 *
 * - One event per open port of each host (state "open"; closed, filtered and "open|filtered" ports are
 *   not exposures nmap is sure of), class "open_port", at the run's start time (nmaprun@start).
 * - The exposure is the port: "open_port/<address>/<port>/<protocol>", the same in every scan, so a later
 *   scan of the host reports the same exposures. The event id adds the run, so ingesting a file again
 *   gives duplicates, not new events.
 * - The run id comes from nmaprun@start and @args, both known before the first host, so events can be
 *   written while the file is still being read.
 * - The scope is every host the file lists, up or down (a sweep lists the hosts it found down only with
 *   -v: hosts it does not list are not in scope, so they are never closed by it), and the ports of every
 *   scaninfo. Scope ranges carry no protocol: a run that scanned TCP 1-1024 and UDP 53 covers port 53 of
 *   both.
 * - Script output (the output attribute, and the text of its elem elements, CDATA and entities decoded)
 *   goes to rawPayload with the rest of nmap's attributes; it never becomes a field.
 */
import { createHash } from 'node:crypto';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import type { Severity } from '../../domain.ts';
import { SEVERITIES } from '../../domain.ts';
import { canonicalIp } from '../../ip.ts';
import type { ScanFileSource } from '../scan-file.ts';
import { boundedRawPayload, isoFromUnixSeconds } from './event-input.ts';
import type {
  ScanFileContext,
  ScanFileProblem,
  ScanFileRecord,
  ScannerEventInput,
  ScanRunCompletion,
} from './index.ts';
import { type PortRange, parsePortList, portRangeTexts, ScopeHosts } from './scope.ts';
import { decodeUtf8 } from './source.ts';

export const OPEN_PORT = 'open_port';

/**
 * The severity of an open port says how bad it is to have the service reachable, not whether the
 * service is vulnerable (scanners like nuclei rate that):
 * - HIGH: remote desktops, file sharing, cleartext logins, management interfaces and stores that commonly
 *   answer without credentials (telnet, FTP, SMB, RDP, VNC, SNMP, IPMI, Docker, Redis, MongoDB, ...);
 * - MEDIUM: remote administration and directories or databases that ask for credentials (SSH, LDAP,
 *   RPC, NFS, MySQL, PostgreSQL, SQL Server, Oracle, WinRM);
 * - INFO: web servers, which are there to be reached;
 * - LOW: everything else.
 * A port is rated by nmap's service name and by its number, and gets the higher of the two: -sV names
 * Elasticsearch on 9200 "http", which alone would make it INFO.
 */
const SEVERITY_BY_SERVICE: Readonly<Record<string, Severity>> = {
  ftp: 'HIGH',
  telnet: 'HIGH',
  tftp: 'HIGH',
  exec: 'HIGH',
  login: 'HIGH',
  shell: 'HIGH',
  'netbios-ssn': 'HIGH',
  'microsoft-ds': 'HIGH',
  snmp: 'HIGH',
  'asf-rmcp': 'HIGH',
  docker: 'HIGH',
  'ms-wbt-server': 'HIGH',
  vnc: 'HIGH',
  x11: 'HIGH',
  redis: 'HIGH',
  memcache: 'HIGH',
  memcached: 'HIGH',
  mongod: 'HIGH',
  mongodb: 'HIGH',
  ssh: 'MEDIUM',
  rpcbind: 'MEDIUM',
  msrpc: 'MEDIUM',
  ldap: 'MEDIUM',
  nfs: 'MEDIUM',
  mysql: 'MEDIUM',
  postgresql: 'MEDIUM',
  'ms-sql-s': 'MEDIUM',
  'oracle-tns': 'MEDIUM',
  wsman: 'MEDIUM',
  wsmans: 'MEDIUM',
  http: 'INFO',
  https: 'INFO',
  'http-alt': 'INFO',
  'http-proxy': 'INFO',
};
const SEVERITY_BY_PORT: Readonly<Record<number, Severity>> = {
  21: 'HIGH',
  23: 'HIGH',
  69: 'HIGH',
  139: 'HIGH',
  161: 'HIGH',
  445: 'HIGH',
  512: 'HIGH',
  513: 'HIGH',
  514: 'HIGH',
  623: 'HIGH',
  2375: 'HIGH',
  3389: 'HIGH',
  5900: 'HIGH',
  6379: 'HIGH',
  9200: 'HIGH',
  11211: 'HIGH',
  27017: 'HIGH',
  22: 'MEDIUM',
  111: 'MEDIUM',
  135: 'MEDIUM',
  389: 'MEDIUM',
  1433: 'MEDIUM',
  1521: 'MEDIUM',
  2049: 'MEDIUM',
  3306: 'MEDIUM',
  5432: 'MEDIUM',
  5985: 'MEDIUM',
  5986: 'MEDIUM',
};

/** The severity of an open port, by the rules above. */
export function openPortSeverity(serviceName: string | undefined, port: number): Severity {
  const ratings = [
    serviceName === undefined ? undefined : SEVERITY_BY_SERVICE[serviceName],
    SEVERITY_BY_PORT[port],
  ];
  let severity: Severity | undefined;
  for (const rating of ratings) {
    if (rating && (!severity || SEVERITIES.indexOf(rating) > SEVERITIES.indexOf(severity))) severity = rating;
  }
  return severity ?? 'LOW';
}

/** Script output and elem values are cut to this many characters: evidence, not a copy of the scan. */
const MAX_SCRIPT_TEXT = 8192;

interface ScriptOutput {
  id: string;
  output: string;
  /** elem values by their path of table and elem keys ("ciphers.0.name"); unkeyed ones by position. */
  elements?: Record<string, string>;
}

interface PortObservation {
  line: number;
  attributes: Record<string, string>;
  state: Record<string, string> | null;
  service: Record<string, string> | null;
  cpe: string[];
  scripts: ScriptOutput[];
}

interface HostObservation {
  line: number;
  status: Record<string, string> | null;
  addresses: Record<string, string>[];
  hostnames: Record<string, string>[];
  ports: PortObservation[];
}

/** A table or the script itself while its elems are read: its path segment and a counter for unkeyed children. */
interface ScriptFrame {
  segment: string | null;
  unkeyed: number;
}

/** Reads nmap -oX output: an event per open port, problems where the file is not what nmap writes, then the run. */
export async function* readNmapXml(
  source: ScanFileSource,
  context: ScanFileContext,
): AsyncGenerator<ScanFileRecord<ScannerEventInput>> {
  const reader = new NmapRunReader(context);
  for await (const text of decodeUtf8(source.open())) {
    reader.write(text);
    yield* reader.take();
    // Past a broken structure nothing can be placed: stop reading (and close the file) here.
    if (reader.stopped) return;
  }
  reader.end();
  yield* reader.take();
}

/** The state of one file being read; the parser's callbacks queue records that readNmapXml hands out. */
class NmapRunReader {
  stopped = false;
  private readonly parser = new SaxesParser({ xmlns: false });
  private readonly records: ScanFileRecord<ScannerEventInput>[] = [];
  private readonly elements: string[] = [];
  /** The line where the tag being opened starts. */
  private tagLine = 1;
  /** The line of </nmaprun>, once it is read. */
  private rootClosedAt: number | null = null;

  /** Known from the root element on; every later handler runs only once it is set. */
  private run: { scanRunId: string; startedAt: string } | null = null;
  private finished: { line: number; completedAt: string | null; exit: string; message: string } | null = null;
  private readonly scopeHosts = new ScopeHosts();
  private readonly scannedPorts: PortRange[] = [];
  private events = 0;

  private host: HostObservation | null = null;
  private port: PortObservation | null = null;
  private script: ScriptOutput | null = null;
  private scriptFrames: ScriptFrame[] = [];
  /** The text of the cpe or elem being read, and where it goes when the element closes. */
  private text: { value: string; path: string | null } | null = null;

  constructor(private readonly context: ScanFileContext) {
    this.parser.on('opentagstart', () => {
      this.tagLine = this.parser.line;
    });
    this.parser.on('opentag', (tag) => {
      if (!this.stopped) this.open(tag);
    });
    this.parser.on('closetag', (tag) => {
      if (!this.stopped) this.close(tag.name);
    });
    const append = (text: string) => {
      if (this.text && this.text.value.length < MAX_SCRIPT_TEXT) {
        this.text.value = (this.text.value + text).slice(0, MAX_SCRIPT_TEXT);
      }
    };
    this.parser.on('text', append);
    this.parser.on('cdata', append);
    this.parser.on('error', (error) => {
      if (this.stopped) return;
      // saxes puts "line:column: " in front of its messages; the problem carries the line on its own.
      const reason = error.message.replace(/^\d+:\d+: /, '');
      this.fail(
        this.parser.line,
        this.elements.at(-1) ?? null,
        null,
        'PARSE_ERROR',
        `not well-formed XML: ${reason}`,
      );
    });
  }

  write(text: string): void {
    this.parser.write(text);
  }

  /** At the end of the file: what is missing, or the run. */
  end(): void {
    if (this.stopped) return;
    if (this.run === null) {
      this.fail(this.parser.line, null, null, 'EMPTY_FILE', 'the file is empty: no <nmaprun> element');
      return;
    }
    if (this.rootClosedAt === null) {
      const inside = this.elements.map((name) => `<${name}>`).join(' ');
      this.fail(
        this.parser.line,
        this.elements.at(-1) ?? null,
        null,
        'PARSE_ERROR',
        `unexpected end of file inside ${inside}: the file is cut short`,
      );
      return;
    }
    this.parser.close();
    if (this.stopped) return;
    const finished = this.finished;
    if (finished === null) {
      this.problem(
        this.rootClosedAt,
        'runstats',
        'finished',
        'SCAN_INCOMPLETE',
        'no <runstats><finished>: the file does not say the scan finished',
      );
      return;
    }
    // Reported where it was read.
    if (finished.completedAt === null) return;
    if (finished.exit === 'error') {
      this.problem(
        finished.line,
        'finished',
        'exit',
        'SCAN_FAILED',
        `nmap says the scan failed${finished.message ? `: ${finished.message}` : ''}`,
      );
      return;
    }
    const run: ScanRunCompletion = {
      scanRunId: this.run.scanRunId,
      startedAt: this.run.startedAt,
      completedAt: finished.completedAt,
      scope: {
        dstIpIn: this.scopeHosts.cidrs(),
        dstPortRanges: portRangeTexts(this.scannedPorts),
        exposureClasses: [OPEN_PORT],
      },
    };
    this.records.push({ kind: 'run', run });
  }

  /** The records queued since the last call. */
  take(): ScanFileRecord<ScannerEventInput>[] {
    return this.records.splice(0);
  }

  private open(tag: SaxesTagPlain): void {
    const parent = this.elements.at(-1);
    this.elements.push(tag.name);
    const attributes = tag.attributes;
    if (parent === undefined) this.openRun(tag.name, attributes);
    else if (this.script) this.openInScript(tag.name, attributes);
    else this.openInRun(`${parent}>${tag.name}`, attributes);
  }

  /** An element below the root, by its parent and name; hosthint and the like are passed by. */
  private openInRun(path: string, attributes: Record<string, string>): void {
    const host = this.host;
    const port = this.port;
    switch (path) {
      case 'nmaprun>scaninfo':
        this.scanInfo(attributes);
        break;
      case 'nmaprun>host':
        this.host = { line: this.tagLine, status: null, addresses: [], hostnames: [], ports: [] };
        break;
      case 'runstats>finished':
        this.finish(attributes);
        break;
      case 'host>status':
        if (host) host.status = attributes;
        break;
      case 'host>address':
        host?.addresses.push(attributes);
        break;
      case 'hostnames>hostname':
        host?.hostnames.push(attributes);
        break;
      case 'ports>port':
        if (host)
          this.port = { line: this.tagLine, attributes, state: null, service: null, cpe: [], scripts: [] };
        break;
      case 'port>state':
        if (port) port.state = attributes;
        break;
      case 'port>service':
        if (port) port.service = attributes;
        break;
      case 'service>cpe':
        if (port) this.text = { value: '', path: null };
        break;
      case 'port>script':
        if (!port) break;
        this.script = {
          id: attributes.id ?? '',
          output: (attributes.output ?? '').slice(0, MAX_SCRIPT_TEXT),
        };
        this.scriptFrames = [{ segment: null, unkeyed: 0 }];
        break;
    }
  }

  private openRun(name: string, attributes: Record<string, string>): void {
    if (name !== 'nmaprun') {
      this.fail(
        this.tagLine,
        name,
        null,
        'WRONG_FORMAT',
        `the root element is <${name}>, not nmap's <nmaprun>`,
      );
      return;
    }
    const start = attributes.start;
    const startedAt = start === undefined ? null : isoFromUnixSeconds(start);
    if (startedAt === null) {
      this.fail(
        this.tagLine,
        'nmaprun',
        'start',
        start === undefined ? 'REQUIRED' : 'INVALID_VALUE',
        start === undefined ? 'start: is required' : `start: "${start}" is not a Unix time in seconds`,
      );
      return;
    }
    // start alone could be shared by two scans begun in the same second; with the command line it is not.
    const digest = createHash('sha256')
      .update(`${start}\n${attributes.args ?? ''}`)
      .digest('hex');
    this.run = { scanRunId: `nmap:${start}:${digest.slice(0, 16)}`, startedAt };
  }

  private scanInfo(attributes: Record<string, string>): void {
    // An IP protocol scan (-sO) lists protocol numbers, not ports.
    if (attributes.protocol === 'ip') return;
    const services = attributes.services;
    if (services === undefined) {
      this.problem(this.tagLine, 'scaninfo', 'services', 'REQUIRED', 'services: is required');
      return;
    }
    // A scan of no ports (nmap -sn) has no scaninfo; an empty list is the same.
    if (services === '') return;
    const parsed = parsePortList(services);
    if ('reason' in parsed) {
      this.problem(this.tagLine, 'scaninfo', 'services', 'INVALID_VALUE', `services: ${parsed.reason}`);
      return;
    }
    this.scannedPorts.push(...parsed.ranges);
  }

  private finish(attributes: Record<string, string>): void {
    const time = attributes.time;
    const completedAt = time === undefined ? null : isoFromUnixSeconds(time);
    this.finished = {
      line: this.tagLine,
      completedAt,
      exit: attributes.exit ?? 'success',
      message: attributes.errormsg ?? '',
    };
    if (completedAt === null) {
      this.problem(
        this.tagLine,
        'finished',
        'time',
        time === undefined ? 'REQUIRED' : 'INVALID_VALUE',
        time === undefined ? 'time: is required' : `time: "${time}" is not a Unix time in seconds`,
      );
    } else if (completedAt < this.run!.startedAt) {
      this.finished.completedAt = null;
      this.problem(this.tagLine, 'finished', 'time', 'INVALID_VALUE', 'time: is before nmaprun@start');
    }
  }

  private openInScript(name: string, attributes: Record<string, string>): void {
    const frame = this.scriptFrames.at(-1);
    if (!frame) return;
    const segment = attributes.key ?? String(frame.unkeyed++);
    if (name === 'table') {
      this.scriptFrames.push({ segment, unkeyed: 0 });
    } else if (name === 'elem') {
      const path = [...this.scriptFrames.map((f) => f.segment).filter((s) => s !== null), segment].join('.');
      this.text = { value: '', path };
    }
  }

  private close(name: string): void {
    this.elements.pop();
    if (this.script) {
      if (name === 'table') this.scriptFrames.pop();
      else if (name === 'elem' && this.text?.path) {
        this.script.elements ??= {};
        this.script.elements[this.text.path] = this.text.value;
        this.text = null;
      } else if (name === 'script') {
        this.port?.scripts.push(this.script);
        this.script = null;
      }
      return;
    }
    switch (name) {
      case 'cpe':
        if (this.text) this.port?.cpe.push(this.text.value.trim());
        this.text = null;
        return;
      case 'port':
        if (this.port) this.host?.ports.push(this.port);
        this.port = null;
        return;
      case 'host':
        if (this.host) this.observe(this.host);
        this.host = null;
        return;
      case 'nmaprun':
        this.rootClosedAt = this.parser.line;
        return;
    }
  }

  /** A host is read whole: its events, and its address into the scope, up or down. */
  private observe(host: HostObservation): void {
    const address = host.addresses.find((a) => a.addrtype === 'ipv4' || a.addrtype === 'ipv6');
    if (!address) {
      this.problem(host.line, 'host', 'address', 'REQUIRED', 'address: the host has no IPv4 or IPv6 address');
      return;
    }
    const ip = canonicalIp(address.addr ?? '');
    if (ip === null) {
      this.problem(
        host.line,
        'address',
        'addr',
        'INVALID_VALUE',
        `addr: "${address.addr}" is not an IP address`,
      );
      return;
    }
    this.scopeHosts.add(ip);
    // A user-given name says more than a reverse lookup.
    const hostname =
      host.hostnames.find((h) => h.type === 'user')?.name ?? host.hostnames.find((h) => h.name)?.name;
    for (const port of host.ports) this.observePort(host, ip, hostname, port);
  }

  private observePort(
    host: HostObservation,
    ip: string,
    hostname: string | undefined,
    port: PortObservation,
  ): void {
    const { protocol, portid } = port.attributes;
    if (!protocol) {
      this.problem(port.line, 'port', 'protocol', 'REQUIRED', 'protocol: is required');
      return;
    }
    const number = Number(portid);
    if (portid === undefined || !/^\d{1,5}$/.test(portid) || number > 65535) {
      this.problem(
        port.line,
        'port',
        'portid',
        portid === undefined ? 'REQUIRED' : 'INVALID_VALUE',
        portid === undefined ? 'portid: is required' : `portid: "${portid}" is not a port number`,
      );
      return;
    }
    if (!port.state?.state) {
      this.problem(port.line, 'port', 'state', 'REQUIRED', `state: port ${portid}/${protocol} has no state`);
      return;
    }
    // IP protocol scans (-sO) list protocols as ports; they are not services anyone can reach.
    if (port.state.state !== 'open' || protocol === 'ip') return;

    const service = port.service ?? {};
    const exposureId = `${OPEN_PORT}/${ip}/${number}/${protocol}`;
    const { scanRunId, startedAt } = this.run!;
    const event: ScannerEventInput = {
      eventId: `${scanRunId}/${exposureId}`,
      timestamp: startedAt,
      officeId: this.context.officeId,
      exposureId,
      exposureClass: OPEN_PORT,
      status: 'OPEN',
      severity: openPortSeverity(service.name, number),
      eventAction: 'observed',
      eventKind: 'state',
      ...(hostname ? { assetHostname: hostname } : {}),
      assetIp: ip,
      dstIp: ip,
      dstPort: number,
      protocol,
      scanRunId,
      scannerType: this.context.scannerType,
      // nmap's own notation: "ssl/http" is HTTP inside TLS.
      ...(service.name
        ? { serviceName: service.tunnel ? `${service.tunnel}/${service.name}` : service.name }
        : {}),
      ...(service.product ? { serviceProduct: service.product } : {}),
      ...(service.version ? { serviceVersion: service.version } : {}),
      rawPayload: boundedRawPayload(
        {
          host: { status: host.status, addresses: host.addresses, hostnames: host.hostnames },
          port: port.attributes,
          state: port.state,
          ...(port.service ? { service: { ...port.service, cpe: port.cpe } } : {}),
          ...(port.scripts.length > 0 ? { scripts: port.scripts } : {}),
        },
        ['scripts', 'host'],
      ),
    };
    this.records.push({ kind: 'event', event, index: this.events, line: port.line });
    this.events += 1;
  }

  private problem(
    line: number,
    element: string | null,
    field: string | null,
    code: string,
    message: string,
  ): void {
    const problem: ScanFileProblem = { line, index: null, field, code, message, element };
    this.records.push({ kind: 'problem', problem });
  }

  /** A problem after which the file cannot be read on. */
  private fail(
    line: number,
    element: string | null,
    field: string | null,
    code: string,
    message: string,
  ): void {
    this.problem(line, element, field, code, message);
    this.stopped = true;
  }
}
