/**
 * Scanner output at any size for bench:scale, deterministic and streamed. Every event is a pure function
 * of its feed's seed and its index (a counter-based PRNG, no Math.random), so 10M events are made a chunk
 * at a time, the same on every run, and any range of them can be made on its own.
 *
 * The schedule: the stream is blocks of ten events in time order over 180 days. The first event of block
 * b detects exposure b; the other nine observe again the exposures detected 1..9 gaps earlier (a gap is
 * about three days), so an exposure has ten events over about a month and 40% of them end "resolved"
 * (CLOSED). Early in the stream, where a slot has no exposure that old, it observes a random earlier one.
 * Since the schedule is known, a late event can be placed inside an exposure's history without replaying it.
 */
/** The data ends here; the feed's events spread over the DATA_DAYS before it. */
export const DATA_END = Date.UTC(2026, 10, 30);
export const DATA_DAYS = 180;
export const DATA_START = DATA_END - DATA_DAYS * 86_400_000;

const EVENTS_PER_BLOCK = 10;
const OBSERVATION_GAP_DAYS = 3;
const RESOLVED_SHARE = 0.4;
const LATE_SALT = 0x5eed1a7e;
const EXPOSURE_SALT = 0x0e8905e5;

/** What a scanner sends: the input shape src/ingest/validate.ts accepts; optional fields are sometimes left out. */
export interface ScannerEvent {
  eventId: string;
  timestamp: string;
  officeId: string;
  exposureId: string;
  exposureClass: string;
  status: 'OPEN' | 'CLOSED';
  severity: Severity;
  eventAction: 'detected' | 'still_open' | 'resolved';
  eventKind: 'alert' | 'state' | 'event';
  assetId: string;
  assetHostname?: string;
  assetIp: string;
  dstIp: string;
  dstPort: number;
  protocol: 'tcp' | 'udp';
  serviceName: string;
  serviceProduct?: string;
  serviceVersion?: string;
  riskScore?: number;
  confidence?: number;
  scannerType: Scanner;
  scanRunId: string;
}

type Scanner = 'nmap' | 'nuclei' | 'qualys';
type Severity = 'INFO' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';

/** A service a scanner finds listening: port, nmap service name, product and the versions seen. */
type Listener = readonly [port: number, service: string, product: string, versions: readonly string[]];

interface ExposureClass {
  name: string;
  scanner: Scanner;
  /** How often it is found, relative to the others. */
  weight: number;
  protocol: 'tcp' | 'udp';
  listeners: readonly Listener[];
  severities: readonly Severity[];
}

const CLASSES: readonly ExposureClass[] = [
  {
    name: 'open_port',
    scanner: 'nmap',
    weight: 30,
    protocol: 'tcp',
    listeners: [
      [21, 'ftp', 'vsftpd', ['3.0.3', '3.0.5']],
      [25, 'smtp', 'Postfix smtpd', ['3.5.6']],
      [80, 'http', 'nginx', ['1.18.0', '1.24.0']],
      [135, 'msrpc', 'Microsoft Windows RPC', ['10.0']],
      [1433, 'ms-sql-s', 'Microsoft SQL Server', ['2019 15.00.2000']],
      [3306, 'mysql', 'MySQL', ['5.7.40', '8.0.35']],
      [5432, 'postgresql', 'PostgreSQL DB', ['13.4', '15.2']],
      [5900, 'vnc', 'RealVNC', ['6.7']],
      [6379, 'redis', 'Redis key-value store', ['6.0.16', '7.2.4']],
      [8080, 'http-proxy', 'Apache Tomcat', ['9.0.65']],
      [9200, 'http', 'Elasticsearch REST API', ['7.10.2']],
    ],
    severities: ['INFO', 'LOW', 'LOW', 'MEDIUM'],
  },
  {
    name: 'weak_tls',
    scanner: 'qualys',
    weight: 12,
    protocol: 'tcp',
    listeners: [
      [443, 'https', 'nginx', ['1.18.0', '1.22.1']],
      [443, 'https', 'Apache httpd', ['2.4.41', '2.4.57']],
      [8443, 'https', 'Microsoft IIS httpd', ['10.0']],
      [993, 'imaps', 'Dovecot imapd', ['2.3.16']],
    ],
    severities: ['LOW', 'MEDIUM', 'MEDIUM'],
  },
  {
    name: 'expired_certificate',
    scanner: 'nuclei',
    weight: 8,
    protocol: 'tcp',
    listeners: [
      [443, 'https', 'nginx', ['1.18.0', '1.24.0']],
      [636, 'ldapssl', 'OpenLDAP', ['2.4.57']],
    ],
    severities: ['MEDIUM', 'HIGH'],
  },
  {
    name: 'self_signed_certificate',
    scanner: 'nuclei',
    weight: 8,
    protocol: 'tcp',
    listeners: [
      [443, 'https', 'lighttpd', ['1.4.59']],
      [8443, 'https', 'Jetty', ['9.4.43']],
      [9443, 'https', 'VMware ESXi', ['7.0.3']],
    ],
    severities: ['INFO', 'LOW'],
  },
  {
    name: 'smb_signing_disabled',
    scanner: 'nmap',
    weight: 10,
    protocol: 'tcp',
    listeners: [
      [445, 'microsoft-ds', 'Samba smbd', ['4.13.13', '4.17.12']],
      [445, 'microsoft-ds', 'Microsoft Windows Server 2016 microsoft-ds', ['10.0.14393']],
    ],
    severities: ['MEDIUM'],
  },
  {
    name: 'rdp_exposed',
    scanner: 'nmap',
    weight: 5,
    protocol: 'tcp',
    listeners: [[3389, 'ms-wbt-server', 'Microsoft Terminal Services', ['10.0.17763']]],
    severities: ['HIGH', 'HIGH', 'CRITICAL'],
  },
  {
    name: 'ssh_weak_algorithms',
    scanner: 'nmap',
    weight: 10,
    protocol: 'tcp',
    listeners: [
      [22, 'ssh', 'OpenSSH', ['7.4', '8.2p1', '9.6p1']],
      [2222, 'ssh', 'Dropbear sshd', ['2019.78']],
    ],
    severities: ['LOW', 'MEDIUM'],
  },
  {
    name: 'telnet_enabled',
    scanner: 'nmap',
    weight: 3,
    protocol: 'tcp',
    listeners: [
      [23, 'telnet', 'BusyBox telnetd', ['1.31.1']],
      [23, 'telnet', 'Cisco telnetd', ['15.2']],
    ],
    severities: ['HIGH'],
  },
  {
    name: 'snmp_default_community',
    scanner: 'qualys',
    weight: 4,
    protocol: 'udp',
    listeners: [[161, 'snmp', 'net-snmp', ['5.7.3', '5.9.1']]],
    severities: ['HIGH'],
  },
  {
    name: 'vulnerable_software',
    scanner: 'qualys',
    weight: 10,
    protocol: 'tcp',
    listeners: [
      [80, 'http', 'Apache httpd', ['2.4.49', '2.4.50']],
      [8080, 'http-proxy', 'Apache Tomcat', ['9.0.30']],
      [443, 'https', 'OpenSSL', ['1.0.2k']],
    ],
    severities: ['HIGH', 'CRITICAL'],
  },
];
const ASSET_KINDS = ['srv', 'ws', 'nas', 'fw', 'prn', 'cam'] as const;
/** Lower bound of the risk score by severity (INFO..CRITICAL); the upper bound is the next one. */
const RISK_FLOOR: Record<Severity, number> = { INFO: 0, LOW: 10, MEDIUM: 40, HIGH: 70, CRITICAL: 90 };
const RISK_CEILING: Record<Severity, number> = { INFO: 10, LOW: 40, MEDIUM: 70, HIGH: 90, CRITICAL: 100 };
const CONFIDENCE_FLOOR: Record<Scanner, number> = { nmap: 0.95, nuclei: 0.85, qualys: 0.7 };

/** A 32-bit hash of two numbers (murmur3's finalizer), to seed the generator of one position. */
function mix(seed: number, position: number): number {
  let h = (seed ^ Math.imul(position, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** mulberry32, seeded per position, so that any event or exposure can be made without the ones before it. */
class Random {
  #state: number;
  constructor(seed: number, position: number) {
    this.#state = mix(seed, position);
  }
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) | 0;
    let t = Math.imul(this.#state ^ (this.#state >>> 15), 1 | this.#state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(values: readonly T[]): T {
    return values[this.below(values.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** An item drawn in proportion to its weight. */
  weighted<T extends { weight: number }>(items: readonly T[]): T {
    let left = this.next() * items.reduce((sum, item) => sum + item.weight, 0);
    for (const item of items) {
      left -= item.weight;
      if (left < 0) return item;
    }
    return items.at(-1)!;
  }
  between(low: number, high: number): number {
    return low + this.next() * (high - low);
  }
}

/** One exposure's fixed facts: where it is, what it is, and whether it ends resolved. */
interface Exposure {
  officeId: string;
  exposureId: string;
  kind: ExposureClass;
  assetId: string;
  assetHostname: string;
  ip: string;
  port: number;
  service: string;
  product: string;
  version: string;
  severity: Severity;
  risk: number;
  resolves: boolean;
}

export interface FeedSpec {
  tenantId: string;
  /** Events on the time axis: index 0 is 180 days before DATA_END, the last index just before it. */
  events: number;
  offices: number;
  seed: number;
}

/** The scanner events of one tenant, made on demand by index. */
export class ScannerFeed {
  /** Exposures detected over the whole stream, about a tenth of the events. */
  readonly exposures: number;
  /** Blocks between two observations of an exposure. */
  readonly #gap: number;
  readonly #stepMs: number;
  /** Small disorder: an event's time is off its slot by up to this much either way. */
  readonly #jitterMs: number;
  readonly #assetsPerOffice: number;

  constructor(readonly spec: FeedSpec) {
    if (spec.events < 1000) throw new Error(`a feed needs at least 1,000 events, got ${spec.events}`);
    // One exposure is detected per block.
    this.exposures = Math.ceil(spec.events / EVENTS_PER_BLOCK);
    this.#gap = Math.max(1, Math.round((OBSERVATION_GAP_DAYS * this.exposures) / DATA_DAYS));
    this.#stepMs = (DATA_END - DATA_START) / spec.events;
    this.#jitterMs = Math.min(120_000, 2 * this.#stepMs);
    // About three exposures per asset.
    this.#assetsPerOffice = Math.max(1, Math.ceil(this.exposures / spec.offices / 3));
  }

  officeId(office: number): string {
    return `office-${String(office + 1).padStart(2, '0')}`;
  }

  /** The key of exposure `k` (0 <= k < exposures). */
  exposureKey(k: number): { officeId: string; exposureId: string } {
    const { officeId, exposureId } = this.#exposure(k);
    return { officeId, exposureId };
  }

  /** Events [from, to) of the stream, `size` at a time. */
  *chunks(from: number, to: number, size: number): Generator<ScannerEvent[]> {
    for (let start = from; start < to; start += size) {
      const chunk: ScannerEvent[] = [];
      for (let i = start; i < Math.min(to, start + size); i++) chunk.push(this.event(i));
      yield chunk;
    }
  }

  event(index: number): ScannerEvent {
    const random = new Random(this.spec.seed, index);
    const block = Math.floor(index / EVENTS_PER_BLOCK);
    const slot = index % EVENTS_PER_BLOCK;
    const scheduled = block - slot * this.#gap;
    const k = scheduled >= 0 ? scheduled : random.below(block + 1);
    const exposure = this.#exposure(k);
    const resolved = scheduled >= 0 && slot === EVENTS_PER_BLOCK - 1 && exposure.resolves;
    const action = slot === 0 ? 'detected' : resolved ? 'resolved' : 'still_open';
    const jitter = (random.next() * 2 - 1) * this.#jitterMs;
    const time = Math.min(DATA_END - 1000, Math.max(DATA_START, this.#slotTime(index) + jitter));
    return this.#observation(exposure, random, this.#eventId(String(index)), time, action);
  }

  /**
   * `count` late events, `size` at a time: new event ids for exposures with at least two events, each
   * placed between two of the exposure's observations, so older than its latest event.
   */
  *lateChunks(count: number, size: number): Generator<ScannerEvent[]> {
    // Exposures whose second observation is in the stream.
    const candidates = Math.floor((this.spec.events - 2) / EVENTS_PER_BLOCK) - this.#gap;
    if (candidates < 1) throw new Error('the feed is too short for late events');
    for (let start = 0; start < count; start += size) {
      const chunk: ScannerEvent[] = [];
      for (let j = start; j < Math.min(count, start + size); j++) {
        const random = new Random(this.spec.seed + LATE_SALT, j);
        const k = random.below(candidates);
        const observations = this.#observationsOf(k);
        const slot = 1 + random.below(observations - 1);
        const before = this.#slotTime(EVENTS_PER_BLOCK * (k + (slot - 1) * this.#gap) + slot - 1);
        const after = this.#slotTime(EVENTS_PER_BLOCK * (k + slot * this.#gap) + slot);
        // Away from both ends by more than the jitter, so it really falls between the two.
        const time = before + (after - before) * random.between(0.25, 0.75);
        const eventId = this.#eventId(`late-${String(j).padStart(7, '0')}`);
        chunk.push(this.#observation(this.#exposure(k), random, eventId, time, 'still_open'));
      }
      yield chunk;
    }
  }

  /** How many scheduled observations of exposure `k` fall inside the stream. */
  #observationsOf(k: number): number {
    let slots = 0;
    while (
      slots < EVENTS_PER_BLOCK &&
      EVENTS_PER_BLOCK * (k + slots * this.#gap) + slots < this.spec.events
    ) {
      slots++;
    }
    return slots;
  }

  #slotTime(index: number): number {
    return DATA_START + (index + 0.5) * this.#stepMs;
  }

  #eventId(suffix: string): string {
    return `${this.spec.tenantId}-${suffix.padStart(9, '0')}`;
  }

  #exposure(k: number): Exposure {
    const random = new Random(this.spec.seed + EXPOSURE_SALT, k);
    // A few big offices and many small ones.
    const office = Math.floor(this.spec.offices * random.next() ** 1.6);
    const officeId = this.officeId(office);
    const kind = random.weighted(CLASSES);
    const asset = 1 + random.below(this.#assetsPerOffice);
    const assetKind = ASSET_KINDS[asset % ASSET_KINDS.length]!;
    const [port, service, product, versions] = random.pick(kind.listeners);
    const severity = random.pick(kind.severities);
    return {
      officeId,
      exposureId: `exp-${String(k).padStart(8, '0')}`,
      kind,
      assetId: `${officeId}-${assetKind}-${asset}`,
      assetHostname: `${assetKind}-${asset}.${officeId}.${this.spec.tenantId}.internal`,
      ip: `10.${office}.${(asset >> 8) & 255}.${asset & 255}`,
      port,
      service,
      product,
      version: random.pick(versions),
      severity,
      risk: random.between(RISK_FLOOR[severity], RISK_CEILING[severity]),
      resolves: random.chance(RESOLVED_SHARE),
    };
  }

  #observation(
    exposure: Exposure,
    random: Random,
    eventId: string,
    time: number,
    action: ScannerEvent['eventAction'],
  ): ScannerEvent {
    const timestamp = new Date(Math.floor(time / 1000) * 1000).toISOString();
    const scanner = exposure.kind.scanner;
    const event: ScannerEvent = {
      eventId,
      timestamp,
      officeId: exposure.officeId,
      exposureId: exposure.exposureId,
      exposureClass: exposure.kind.name,
      status: action === 'resolved' ? 'CLOSED' : 'OPEN',
      severity: exposure.severity,
      eventAction: action,
      eventKind: action === 'detected' ? 'alert' : action === 'resolved' ? 'event' : 'state',
      assetId: exposure.assetId,
      assetIp: exposure.ip,
      dstIp: exposure.ip,
      dstPort: exposure.port,
      protocol: exposure.kind.protocol,
      serviceName: exposure.service,
      scannerType: scanner,
      // One run per office, scanner and day.
      scanRunId: `${exposure.officeId}-${scanner}-${timestamp.slice(0, 10).replaceAll('-', '')}`,
    };
    // Left out now and then, as scanners do; the stored state keeps the last known value.
    if (random.chance(0.85)) event.assetHostname = exposure.assetHostname;
    if (action !== 'resolved') {
      if (random.chance(0.7)) {
        event.serviceProduct = exposure.product;
        if (random.chance(0.9)) event.serviceVersion = exposure.version;
      }
      if (action === 'detected' || random.chance(0.9)) {
        const risk = exposure.risk + random.between(-2, 2);
        event.riskScore = Math.round(Math.min(100, Math.max(0, risk)) * 10) / 10;
      }
    }
    if (random.chance(0.8)) {
      event.confidence = Math.round(random.between(CONFIDENCE_FLOOR[scanner], 1) * 100) / 100;
    }
    return event;
  }
}

/** "10M", "200k", "1.5M", "2000000" or "2_000_000" as a number of events. */
export function parseCount(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text.replaceAll(/[_,]/g, ''));
  if (!match) throw new Error(`not a count of events: "${text}" (try 200k, 1M or 10000000)`);
  const [, amount, unit] = match;
  const scale = unit?.toLowerCase() === 'm' ? 1e6 : unit?.toLowerCase() === 'k' ? 1e3 : 1;
  return Math.round(Number(amount) * scale);
}
