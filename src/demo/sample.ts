/**
 * The demo tenant's data, generated from a seeded PRNG: the same anchor always gives the same events.
 * Several offices are scanned once a day for six weeks; exposures appear, stay open (scanners miss some
 * of them now and then), get resolved, and sometimes reopen.
 */
import { createHash } from 'node:crypto';
import type { Severity } from '../domain.ts';

export const DEMO_TENANT = 'demo';
const DAYS = 42;
const EXPOSURES_PER_OFFICE = 55;
const ASSETS_PER_OFFICE = 24;

export interface DemoOffice {
  id: string;
  name: string;
  /** Second octet of the office's 10.x.0.0/16 and the office's 2001:db8:x::/48. */
  net: number;
  /** Local scan window, in hours after midnight UTC. */
  scanHour: number;
}

export const DEMO_OFFICES: readonly DemoOffice[] = [
  { id: 'berlin', name: 'Berlin HQ', net: 10, scanHour: 1 },
  { id: 'paris', name: 'Paris', net: 20, scanHour: 1 },
  { id: 'london', name: 'London', net: 30, scanHour: 2 },
  { id: 'new-york', name: 'New York', net: 40, scanHour: 7 },
  { id: 'sao-paulo', name: 'São Paulo', net: 50, scanHour: 5 },
  { id: 'singapore', name: 'Singapore', net: 60, scanHour: 18 },
];

interface Finding {
  exposureClass: string;
  port: number;
  protocol: 'tcp' | 'udp';
  service: string;
  product?: string;
  version?: string;
  severities: readonly Severity[];
  scanner: string;
  detail: string;
}

/** What the scanners report, with the severities each finding is given. */
const FINDINGS: readonly Finding[] = [
  {
    exposureClass: 'open_port',
    port: 3389,
    protocol: 'tcp',
    service: 'ms-wbt-server',
    product: 'Microsoft Terminal Services',
    severities: ['HIGH', 'CRITICAL'],
    scanner: 'nmap',
    detail: 'RDP reachable from the guest network',
  },
  {
    exposureClass: 'open_port',
    port: 22,
    protocol: 'tcp',
    service: 'ssh',
    product: 'OpenSSH',
    version: '8.9p1',
    severities: ['LOW', 'MEDIUM'],
    scanner: 'nmap',
    detail: 'SSH open to all internal ranges',
  },
  {
    exposureClass: 'open_port',
    port: 445,
    protocol: 'tcp',
    service: 'microsoft-ds',
    product: 'Samba smbd',
    version: '4.15.13',
    severities: ['HIGH'],
    scanner: 'nmap',
    detail: 'SMB share listing allowed',
  },
  {
    exposureClass: 'open_port',
    port: 5900,
    protocol: 'tcp',
    service: 'vnc',
    product: 'RealVNC',
    version: '6.7.2',
    severities: ['HIGH', 'CRITICAL'],
    scanner: 'nmap',
    detail: 'VNC without network level authentication',
  },
  {
    exposureClass: 'open_port',
    port: 6379,
    protocol: 'tcp',
    service: 'redis',
    product: 'Redis',
    version: '6.0.16',
    severities: ['HIGH', 'CRITICAL'],
    scanner: 'nmap',
    detail: 'Redis answers without AUTH',
  },
  {
    exposureClass: 'open_port',
    port: 9200,
    protocol: 'tcp',
    service: 'http',
    product: 'Elasticsearch',
    version: '7.10.2',
    severities: ['CRITICAL'],
    scanner: 'nmap',
    detail: 'Elasticsearch REST API readable without credentials',
  },
  {
    exposureClass: 'open_port',
    port: 5432,
    protocol: 'tcp',
    service: 'postgresql',
    product: 'PostgreSQL',
    version: '12.17',
    severities: ['MEDIUM'],
    scanner: 'nmap',
    detail: 'database port reachable from user VLANs',
  },
  {
    exposureClass: 'weak_tls',
    port: 443,
    protocol: 'tcp',
    service: 'https',
    product: 'nginx',
    version: '1.18.0',
    severities: ['MEDIUM', 'HIGH'],
    scanner: 'sslyze',
    detail: 'TLS 1.0 and 1.1 enabled, CBC ciphers offered',
  },
  {
    exposureClass: 'weak_tls',
    port: 8443,
    protocol: 'tcp',
    service: 'https',
    product: 'Apache httpd',
    version: '2.4.41',
    severities: ['MEDIUM'],
    scanner: 'sslyze',
    detail: 'RSA key exchange without forward secrecy',
  },
  {
    exposureClass: 'expired_certificate',
    port: 443,
    protocol: 'tcp',
    service: 'https',
    product: 'Microsoft IIS',
    version: '10.0',
    severities: ['MEDIUM', 'HIGH'],
    scanner: 'sslyze',
    detail: 'certificate expired',
  },
  {
    exposureClass: 'expired_certificate',
    port: 993,
    protocol: 'tcp',
    service: 'imaps',
    product: 'Dovecot',
    version: '2.3.16',
    severities: ['MEDIUM'],
    scanner: 'sslyze',
    detail: 'certificate expired',
  },
  {
    exposureClass: 'self_signed_certificate',
    port: 8443,
    protocol: 'tcp',
    service: 'https',
    product: 'Jetty',
    version: '9.4.43',
    severities: ['LOW'],
    scanner: 'sslyze',
    detail: 'self-signed certificate on a management UI',
  },
  {
    exposureClass: 'risky_service',
    port: 23,
    protocol: 'tcp',
    service: 'telnet',
    product: 'BusyBox telnetd',
    severities: ['CRITICAL'],
    scanner: 'nessus',
    detail: 'cleartext telnet login on a network device',
  },
  {
    exposureClass: 'risky_service',
    port: 21,
    protocol: 'tcp',
    service: 'ftp',
    product: 'vsftpd',
    version: '3.0.3',
    severities: ['HIGH'],
    scanner: 'nessus',
    detail: 'FTP with anonymous login',
  },
  {
    exposureClass: 'risky_service',
    port: 161,
    protocol: 'udp',
    service: 'snmp',
    product: 'net-snmp',
    version: '5.7.3',
    severities: ['HIGH', 'MEDIUM'],
    scanner: 'nessus',
    detail: 'SNMPv2c with community "public"',
  },
  {
    exposureClass: 'risky_service',
    port: 69,
    protocol: 'udp',
    service: 'tftp',
    severities: ['MEDIUM'],
    scanner: 'nessus',
    detail: 'TFTP serves files without authentication',
  },
  {
    exposureClass: 'default_credentials',
    port: 8080,
    protocol: 'tcp',
    service: 'http',
    product: 'Apache Tomcat',
    version: '9.0.31',
    severities: ['CRITICAL'],
    scanner: 'nessus',
    detail: 'Tomcat manager accepts tomcat/tomcat',
  },
  {
    exposureClass: 'outdated_software',
    port: 80,
    protocol: 'tcp',
    service: 'http',
    product: 'Apache httpd',
    version: '2.4.29',
    severities: ['MEDIUM', 'HIGH'],
    scanner: 'nessus',
    detail: 'version with known CVEs',
  },
  {
    exposureClass: 'information_disclosure',
    port: 80,
    protocol: 'tcp',
    service: 'http',
    product: 'nginx',
    version: '1.18.0',
    severities: ['INFO', 'LOW'],
    scanner: 'nessus',
    detail: 'server banner discloses the version',
  },
  {
    exposureClass: 'information_disclosure',
    port: 123,
    protocol: 'udp',
    service: 'ntp',
    product: 'ntpd',
    version: '4.2.8p15',
    severities: ['INFO'],
    scanner: 'nmap',
    detail: 'NTP mode 6 queries answered',
  },
];

const OPERATING_SYSTEMS = [
  'Windows Server 2019',
  'Windows Server 2022',
  'Ubuntu 22.04',
  'RHEL 8',
  'Cisco IOS',
  'VMware ESXi 7',
];
const ROLES = ['dc', 'fs', 'web', 'db', 'mail', 'print', 'sw', 'esx', 'app', 'cam'];
const DISPOSITIONS = [
  { status: 'accepted_risk', reason: 'legacy system on an isolated VLAN, replacement planned' },
  { status: 'false_positive', reason: 'port answered by a honeypot' },
  { status: 'in_progress', reason: 'change request opened with the office IT team' },
];
const RISK_BASE: Record<Severity, number> = { INFO: 4, LOW: 22, MEDIUM: 48, HIGH: 74, CRITICAL: 91 };

/** mulberry32: small, fast and good enough to make sample data reproducible. */
function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    chance: (p: number) => next() < p,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
  };
}

interface Asset {
  id: string;
  hostname: string;
  ip: string;
  os: string;
}

function assetsOf(office: DemoOffice, random: ReturnType<typeof prng>): Asset[] {
  return Array.from({ length: ASSETS_PER_OFFICE }, (_, i) => {
    const role = random.pick(ROLES);
    const number = String(i + 1).padStart(2, '0');
    // About one host in five is reached over IPv6 only.
    const ip = random.chance(0.2)
      ? `2001:db8:${office.net}::${(0x100 + i).toString(16)}`
      : `10.${office.net}.${random.int(1, 12)}.${random.int(2, 250)}`;
    return {
      id: `${office.id}-${role}-${number}`,
      hostname: `${role}${number}.${office.id}.demo.example`,
      ip,
      os: random.pick(OPERATING_SYSTEMS),
    };
  });
}

const iso = (millis: number) => new Date(millis).toISOString();

/**
 * Events of the demo tenant, oldest first, all before `anchor`. Event ids depend only on the seed, so
 * ingesting the sample again (even from a later anchor) adds nothing.
 */
export function demoEvents(anchor: Date, seed = 20_260_101): Record<string, unknown>[] {
  const random = prng(seed);
  const day = 24 * 3600 * 1000;
  const start = Date.UTC(anchor.getUTCFullYear(), anchor.getUTCMonth(), anchor.getUTCDate()) - DAYS * day;
  const events: Record<string, unknown>[] = [];
  for (const office of DEMO_OFFICES) {
    const assets = assetsOf(office, random);
    const exposureIds = new Set<string>();
    for (let n = 0; n < EXPOSURES_PER_OFFICE; n++) {
      const finding = random.pick(FINDINGS);
      const asset = random.pick(assets);
      const exposureId = `${finding.exposureClass}/${asset.ip}/${finding.port}/${finding.protocol}`;
      // The same finding on the same host twice would be one exposure with two histories.
      if (exposureIds.has(exposureId)) continue;
      exposureIds.add(exposureId);
      let severity = random.pick(finding.severities);
      const disposition = random.chance(0.12) ? random.pick(DISPOSITIONS) : undefined;
      // Most findings are already there when scanning starts; the rest show up along the way.
      const firstDay = random.chance(0.55) ? 0 : random.int(1, DAYS - 2);
      let open = true;
      let reported = false;
      for (let d = firstDay; d < DAYS; d++) {
        const scanRunId = `${office.id}-${finding.scanner}-${iso(start + d * day).slice(0, 10)}`;
        const timestamp = start + d * day + office.scanHour * 3600_000 + random.int(0, 3599) * 1000;
        if (timestamp >= anchor.getTime()) break;
        let action: string;
        if (open) {
          if (reported && random.chance(0.035)) {
            open = false;
            action = 'resolved';
          } else if (random.chance(0.85)) {
            action = reported ? 'still_open' : 'detected';
          } else continue; // the scanner missed it today
        } else if (random.chance(0.08)) {
          open = true;
          action = 'reopened';
        } else continue;
        // Now and then a finding is re-rated, e.g. when a CVE for the product is published.
        if (reported && random.chance(0.02)) severity = random.pick(finding.severities);
        const first = !reported;
        reported = true;
        events.push({
          eventId: `demo-${office.id}-${n}-${d}`,
          timestamp: iso(timestamp),
          officeId: office.id,
          exposureId,
          exposureClass: finding.exposureClass,
          status: open ? 'OPEN' : 'CLOSED',
          severity,
          eventAction: action,
          eventKind: action === 'still_open' ? 'state' : 'alert',
          assetId: asset.id,
          assetHostname: asset.hostname,
          assetIp: asset.ip,
          // Some scanners leave the score out: the current state keeps the last known one.
          ...(random.chance(0.9)
            ? { riskScore: Math.min(100, Math.max(0, RISK_BASE[severity] + random.int(-60, 60) / 10)) }
            : {}),
          confidence: random.int(60, 100) / 100,
          dstIp: asset.ip,
          dstPort: finding.port,
          protocol: finding.protocol,
          scanRunId,
          scannerType: finding.scanner,
          dedupeKey: `${scanRunId}/${exposureId}`,
          serviceName: finding.service,
          ...(finding.product ? { serviceProduct: finding.product } : {}),
          ...(finding.version ? { serviceVersion: finding.version } : {}),
          ...(first ? { resource: { type: 'host', os: asset.os, hostname: asset.hostname } } : {}),
          ...(disposition && d > firstDay + 7
            ? { dispositionStatus: disposition.status, dispositionReason: disposition.reason }
            : {}),
          rawPayload: {
            scanner: finding.scanner,
            finding: finding.detail,
            port: `${finding.port}/${finding.protocol}`,
          },
        });
      }
    }
  }
  return events.sort((a, b) => String(a.timestamp).localeCompare(String(b.timestamp)));
}

export interface DemoQuarantinedFile {
  id: string;
  filename: string;
  content: string;
  fileHash: string;
  errorType: string;
  errorMessage: string;
  errorDetails: unknown;
  scannerType: string;
  officeId: string;
  status: 'PENDING' | 'REPLAYED' | 'DISCARDED';
  quarantinedAt: string;
  resolvedAt: string | null;
  discardReason: string | null;
}

/** Scan files the gateway could not process, in each state of the dead-letter queue. */
export function demoQuarantinedFiles(anchor: Date): DemoQuarantinedFile[] {
  const hoursAgo = (hours: number) => iso(anchor.getTime() - hours * 3600_000);
  const files = [
    {
      id: 'demo-q-1',
      filename: 'nessus-berlin-weekly.nessus',
      content:
        '<?xml version="1.0"?>\n<NessusClientData_v2>\n<Report name="weekly">\n<ReportHost name="10.10.3.7">',
      errorType: 'PARSE_ERROR',
      errorMessage: 'unexpected end of file inside <ReportHost> (line 4)',
      errorDetails: { line: 4, column: 33 },
      scannerType: 'nessus',
      officeId: 'berlin',
      status: 'PENDING' as const,
      quarantinedAt: hoursAgo(5),
      resolvedAt: null,
      discardReason: null,
    },
    {
      id: 'demo-q-2',
      filename: 'nmap-paris-0600.xml',
      content: '<?xml version="1.0"?>\n<nmaprun scanner="masscan" version="1.3.2">\n</nmaprun>\n',
      errorType: 'UNSUPPORTED_FORMAT',
      errorMessage: 'masscan XML output is not a supported scanner format',
      errorDetails: { detected: 'masscan' },
      scannerType: 'nmap',
      officeId: 'paris',
      status: 'DISCARDED' as const,
      quarantinedAt: hoursAgo(80),
      resolvedAt: hoursAgo(60),
      discardReason: 'uploaded by mistake; the nmap run was re-sent',
    },
    {
      id: 'demo-q-3',
      filename: 'sslyze-london.json',
      content:
        '{"server_scan_results": [{"server_location": {"hostname": "web03.london.demo.example", "port": "443x"}}]}',
      errorType: 'VALIDATION_ERROR',
      errorMessage: '1 of 1 events are invalid; nothing was written',
      errorDetails: {
        rejected: [
          { index: 0, field: 'dstPort', code: 'INVALID_TYPE', message: 'dstPort: must be an integer' },
        ],
      },
      scannerType: 'sslyze',
      officeId: 'london',
      status: 'REPLAYED' as const,
      quarantinedAt: hoursAgo(200),
      resolvedAt: hoursAgo(190),
      discardReason: null,
    },
    {
      id: 'demo-q-4',
      filename: 'qualys-singapore.csv',
      content: 'IP,DNS,QID,Title,Severity\n10.60.2.9,,38173,SSL Certificate - Expired,3\n10.60.2.9,,',
      errorType: 'PARSE_ERROR',
      errorMessage: 'row 3 has 3 columns, expected 5',
      errorDetails: { row: 3 },
      scannerType: 'qualys',
      officeId: 'singapore',
      status: 'PENDING' as const,
      quarantinedAt: hoursAgo(30),
      resolvedAt: null,
      discardReason: null,
    },
  ];
  return files.map((file) => ({
    ...file,
    fileHash: createHash('sha256').update(file.content).digest('hex'),
  }));
}
