import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isoFromRfc3339 } from '../../src/ingest/formats/event-input.ts';
import {
  FORMAT_OF_CONTRACT,
  readScanFile,
  type ScanFileFormat,
  type ScanFileProblem,
  type ScanRunCompletion,
} from '../../src/ingest/formats/index.ts';
import { openPortSeverity } from '../../src/ingest/formats/nmap.ts';
import { targetOf } from '../../src/ingest/formats/nuclei.ts';
import { parsePortList, portRangeTexts } from '../../src/ingest/formats/scope.ts';
import { fileSource, type ScanFileSource, textSource } from '../../src/ingest/scan-file.ts';
import { MAX_JSON_BYTES, validateEvents } from '../../src/ingest/validate.ts';

const CONTEXT = { officeId: 'paris', scannerType: 'nmap' };
const NUCLEI = { officeId: 'paris', scannerType: 'nuclei' };

function fixture(name: string): ScanFileSource {
  return fileSource(fileURLToPath(new URL(`../fixtures/scanners/${name}`, import.meta.url)), name);
}

/** Everything a reader yields, by kind; fails when a run is not the last record or comes twice. */
async function read(format: ScanFileFormat, source: ScanFileSource, context = CONTEXT) {
  const events: Record<string, unknown>[] = [];
  const values: unknown[] = [];
  const places: { index: number; line: number }[] = [];
  const problems: ScanFileProblem[] = [];
  let run: ScanRunCompletion | null = null;
  for await (const record of readScanFile(format, source, context)) {
    expect(run, 'nothing follows the run').toBeNull();
    if (record.kind === 'event') {
      values.push(record.event);
      events.push(record.event as Record<string, unknown>);
      places.push({ index: record.index, line: record.line });
    } else if (record.kind === 'problem') problems.push(record.problem);
    else run = record.run;
  }
  return { events, values, places, problems, run };
}

/** [code, field, element, line] of each problem: what a quarantined file lists. */
function placed(problems: readonly ScanFileProblem[]) {
  return problems.map((p) => [p.code, p.field, p.element, p.line]);
}

/** Every event must pass the gateway's own validation, as any other event does. */
function expectValid(events: readonly unknown[]) {
  const { rejected } = validateEvents(events, {
    maxFutureSkewSeconds: 300,
    now: new Date('2026-04-01T00:00:00Z'),
  });
  expect(rejected).toEqual([]);
}

describe('formats', () => {
  it('maps the contract enum ScanFileFormat to the CLI names', () => {
    expect(FORMAT_OF_CONTRACT).toEqual({ EVENTS: 'events', NMAP_XML: 'nmap', NUCLEI_JSONL: 'nuclei' });
  });
});

describe('events format', () => {
  it('reads a JSON array and fills in the office and scanner type the events leave out', async () => {
    const text = '[\n{"exposureId":"a","scannerType":"qualys"},\n{"exposureId":"b","officeId":"paris"}\n]';
    const { events, places, problems, run } = await read('events', textSource(text, 'events.json'));
    expect(events).toEqual([
      { exposureId: 'a', officeId: 'paris', scannerType: 'qualys' },
      { exposureId: 'b', officeId: 'paris', scannerType: 'nmap' },
    ]);
    expect(places).toEqual([
      { index: 0, line: 2 },
      { index: 1, line: 3 },
    ]);
    expect(problems).toEqual([]);
    // A file of events says nothing about what was scanned.
    expect(run).toBeNull();
  });

  it('reads JSON Lines, skipping blank lines', async () => {
    const { events, places } = await read(
      'events',
      textSource('{"exposureId":"a"}\n\n{"exposureId":"b"}\n', 'e'),
    );
    expect(events.map((e) => e.exposureId)).toEqual(['a', 'b']);
    expect(places).toEqual([
      { index: 0, line: 1 },
      { index: 1, line: 3 },
    ]);
  });

  it('gives nothing for an empty file, as parseScanFile does (the ingest calls that EMPTY_FILE)', async () => {
    expect(await read('events', textSource('', 'empty.json'))).toMatchObject({ events: [], problems: [] });
  });

  it.each([
    {
      name: 'a JSON Lines line that is not JSON',
      text: '{"exposureId":"a"}\n{"exposureId": b}\n',
      problems: [['PARSE_ERROR', null, null, 2]],
      message: /^not valid JSON/,
      events: 1,
    },
    {
      name: 'an array element that is not JSON',
      text: '[\n{"exposureId":"a"},\n{"exposureId": b}\n]',
      problems: [['PARSE_ERROR', null, null, 3]],
      message: /^not valid JSON/,
      events: 1,
    },
    {
      name: 'an object spread over lines, not an array: read as JSON Lines, every line broken',
      text: '{\n"exposureId": "a"\n}',
      problems: [
        ['PARSE_ERROR', null, null, 1],
        ['PARSE_ERROR', null, null, 2],
        ['PARSE_ERROR', null, null, 3],
      ],
      message: /^not valid JSON/,
      events: 0,
    },
    {
      name: 'an array cut short',
      text: '[{"exposureId":"a"},{"exposureId":',
      problems: [['PARSE_ERROR', null, null, 1]],
      message: /unexpected end of file: the array is not closed/,
      events: 1,
    },
    {
      name: 'elements without a comma between them',
      text: '[{"exposureId":"a"} {"exposureId":"b"}]',
      problems: [['PARSE_ERROR', null, null, 1]],
      message: /expected "," or "\]" after element 0/,
      events: 1,
    },
    {
      name: 'a comma before the closing bracket',
      text: '[{"exposureId":"a"},]',
      problems: [['PARSE_ERROR', null, null, 1]],
      message: /expected an element after ","/,
      events: 1,
    },
    {
      name: 'text after the closing bracket',
      text: '[{"exposureId":"a"}]\n[]',
      problems: [['PARSE_ERROR', null, null, 2]],
      message: /after the closing "\]"/,
      events: 1,
    },
    {
      name: 'an event of another office',
      text: '[{"exposureId":"a","officeId":"london"}]',
      problems: [['OFFICE_MISMATCH', 'officeId', null, 1]],
      message: /^officeId: the file is for office "paris"$/,
      events: 0,
    },
  ])('reports $name', async ({ text, problems, message, events }) => {
    const read_ = await read('events', textSource(text, 'events.json'));
    expect(placed(read_.problems)).toEqual(problems);
    expect(read_.problems[0]!.message).toMatch(message);
    expect(read_.events).toHaveLength(events);
  });

  it('passes an element that is not an object on, for validation to reject as for any ingest', async () => {
    const { values, problems } = await read('events', textSource('[{"exposureId":"a"}, 42, "text"]', 'e'));
    expect(problems).toEqual([]);
    expect(values.slice(1)).toEqual([42, 'text']);
    const { rejected } = validateEvents(values.slice(1), { maxFutureSkewSeconds: 0 });
    expect(rejected.map((r) => [r.index, r.code])).toEqual([
      [0, 'INVALID_TYPE'],
      [1, 'INVALID_TYPE'],
    ]);
  });
});

const RUN_0302 = 'nmap:1772442000:b0774dbd45dda27a';

/** The open ports of the Paris fixtures: [exposure id, severity, service name, product, version, hostname]. */
const PARIS_PORTS = [
  ['open_port/10.20.0.1/22/tcp', 'MEDIUM', 'ssh', 'OpenSSH', '8.9p1 Ubuntu 3ubuntu0.6', 'gw.paris.example'],
  ['open_port/10.20.0.1/80/tcp', 'INFO', 'http', 'nginx', '1.18.0', 'gw.paris.example'],
  ['open_port/10.20.0.2/139/tcp', 'HIGH', 'netbios-ssn', 'Samba smbd', '4.6.2', 'files.paris.example'],
  ['open_port/10.20.0.2/445/tcp', 'HIGH', 'microsoft-ds', 'Samba smbd', '4.6.2', 'files.paris.example'],
  ['open_port/10.20.0.4/3306/tcp', 'MEDIUM', 'mysql', 'MySQL', '8.0.36-0ubuntu0.22.04.1', 'db.paris.example'],
  ['open_port/10.20.0.4/8080/tcp', 'INFO', 'http', 'Apache Tomcat', '9.0.85', 'db.paris.example'],
];

function portSummary(events: readonly Record<string, unknown>[]) {
  return events.map((e) => [
    e.exposureId,
    e.severity,
    e.serviceName,
    e.serviceProduct,
    e.serviceVersion,
    e.assetHostname,
  ]);
}

describe('nmap XML', () => {
  it('gives an event per open port of the first Paris scan, and the run with every listed host', async () => {
    const { events, places, problems, run } = await read('nmap', fixture('nmap-paris-2026-03-02.xml'));
    expect(problems).toEqual([]);
    // 443 is filtered and 3389 closed: no events; 10.20.0.3 is down: in scope, no events.
    expect(portSummary(events)).toEqual(PARIS_PORTS);
    expect(places.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(places[0]!.line).toBe(30);
    expect(events[0]).toEqual({
      eventId: `${RUN_0302}/open_port/10.20.0.1/22/tcp`,
      timestamp: '2026-03-02T09:00:00.000Z',
      officeId: 'paris',
      exposureId: 'open_port/10.20.0.1/22/tcp',
      exposureClass: 'open_port',
      status: 'OPEN',
      severity: 'MEDIUM',
      eventAction: 'observed',
      eventKind: 'state',
      assetHostname: 'gw.paris.example',
      assetIp: '10.20.0.1',
      dstIp: '10.20.0.1',
      dstPort: 22,
      protocol: 'tcp',
      scanRunId: RUN_0302,
      scannerType: 'nmap',
      serviceName: 'ssh',
      serviceProduct: 'OpenSSH',
      serviceVersion: '8.9p1 Ubuntu 3ubuntu0.6',
      rawPayload: {
        host: {
          status: { state: 'up', reason: 'arp-response', reason_ttl: '0' },
          addresses: [
            { addr: '10.20.0.1', addrtype: 'ipv4' },
            { addr: '52:54:00:12:34:01', addrtype: 'mac', vendor: 'QEMU virtual NIC' },
          ],
          hostnames: [{ name: 'gw.paris.example', type: 'PTR' }],
        },
        port: { protocol: 'tcp', portid: '22' },
        state: { state: 'open', reason: 'syn-ack', reason_ttl: '64' },
        service: {
          name: 'ssh',
          product: 'OpenSSH',
          version: '8.9p1 Ubuntu 3ubuntu0.6',
          extrainfo: 'Ubuntu Linux; protocol 2.0',
          ostype: 'Linux',
          method: 'probed',
          conf: '10',
          cpe: ['cpe:/a:openbsd:openssh:8.9p1', 'cpe:/o:linux:linux_kernel'],
        },
      },
    });
    expect(run).toEqual({
      scanRunId: RUN_0302,
      startedAt: '2026-03-02T09:00:00.000Z',
      completedAt: '2026-03-02T09:01:35.000Z',
      scope: {
        dstIpIn: ['10.20.0.1/32', '10.20.0.2/32', '10.20.0.3/32', '10.20.0.4/32'],
        dstPortRanges: ['1-1024', '3306', '3389', '8080-8090'],
        exposureClasses: ['open_port'],
      },
    });
    expectValid(events);
  });

  it('keeps script output, CDATA and entities decoded, in the raw payload only', async () => {
    const { events } = await read('nmap', fixture('nmap-paris-2026-03-02.xml'));
    const scripts = (exposureId: string) =>
      (events.find((e) => e.exposureId === exposureId)!.rawPayload as { scripts?: unknown }).scripts;
    expect(scripts('open_port/10.20.0.1/80/tcp')).toEqual([
      {
        id: 'http-title',
        output: 'Paris office & gateway <login>',
        elements: { title: 'Paris office & gateway <login>' },
      },
      {
        id: 'http-server-header',
        output: 'nginx/1.18.0 (Ubuntu)',
        elements: { '0': 'nginx/1.18.0 (Ubuntu)' },
      },
    ]);
    expect(scripts('open_port/10.20.0.2/445/tcp')).toEqual([
      {
        id: 'smb2-security-mode',
        output: '\n  3:1:1: \n    Message signing enabled but not required',
        elements: { '3:1:1.0': 'Message signing enabled but not required' },
      },
    ]);
    expect(scripts('open_port/10.20.0.4/3306/tcp')).toEqual([
      {
        id: 'mysql-info',
        output: '\n  Protocol: 10\n  Version: 8.0.36-0ubuntu0.22.04.1\n  Thread ID: 14\n  Salt: \'x<Q&p"\tr',
        elements: {
          Protocol: '10',
          Version: '8.0.36-0ubuntu0.22.04.1',
          'Thread ID': '14',
          Salt: '\'x<Q&p"\tr',
        },
      },
    ]);
    // Script output never reaches a field.
    for (const event of events)
      expect(Object.values(event).filter((v) => v === 'Apache Tomcat/9.0.85')).toEqual([]);
  });

  it('gives the same exposures in the later scan, less the port that closed, which its scope covers', async () => {
    const first = await read('nmap', fixture('nmap-paris-2026-03-02.xml'));
    const later = await read('nmap', fixture('nmap-paris-2026-03-09.xml'));
    expect(later.problems).toEqual([]);
    expect(portSummary(later.events)).toEqual(
      PARIS_PORTS.filter(([id]) => id !== 'open_port/10.20.0.4/8080/tcp'),
    );
    const laterRun = later.run!;
    expect(laterRun.scanRunId).not.toBe(first.run!.scanRunId);
    expect(laterRun.scanRunId).toMatch(/^nmap:1773046800:[0-9a-f]{16}$/);
    expect(
      later.events.every(
        (e) => e.scanRunId === laterRun.scanRunId && e.timestamp === '2026-03-09T09:00:00.000Z',
      ),
    ).toBe(true);
    expect(laterRun).toMatchObject({
      startedAt: '2026-03-09T09:00:00.000Z',
      completedAt: '2026-03-09T09:01:28.000Z',
      scope: { dstIpIn: first.run!.scope.dstIpIn, dstPortRanges: ['1-1024', '3306', '3389', '8080-8090'] },
    });
    // Completing the later run can close 8080: its host and port are in the scope.
    expect(laterRun.scope.dstIpIn).toContain('10.20.0.4/32');
  });

  it('gives the same event ids when a file is read again, so ingesting it twice gives duplicates', async () => {
    const first = await read('nmap', fixture('nmap-paris-2026-03-02.xml'));
    const again = await read('nmap', fixture('nmap-paris-2026-03-02.xml'));
    expect(again.events.map((e) => e.eventId)).toEqual(first.events.map((e) => e.eventId));
    expect(new Set(first.events.map((e) => e.eventId)).size).toBe(first.events.length);
  });

  it('reports a file cut short where it ends, with the hosts before it read and no run', async () => {
    const { events, problems, run } = await read('nmap', fixture('nmap-paris-truncated.xml'));
    expect(events.map((e) => e.exposureId)).toEqual([
      'open_port/10.20.0.1/22/tcp',
      'open_port/10.20.0.1/80/tcp',
    ]);
    expect(placed(problems)).toEqual([['PARSE_ERROR', null, 'port', 48]]);
    expect(problems[0]!.message).toBe(
      'unexpected end of file inside <nmaprun> <host> <ports> <port>: the file is cut short',
    );
    expect(run).toBeNull();
  });

  it('reads the file as a stream: the first host is out before the rest of the file is read', async () => {
    const host = (n: number) =>
      `<host><status state="up"/><address addr="10.0.${n >> 8}.${n & 255}" addrtype="ipv4"/><ports>` +
      `<port protocol="tcp" portid="22"><state state="open"/><service name="ssh"/></port></ports></host>\n`;
    let chunksRead = 0;
    const source: ScanFileSource = {
      name: 'sweep.xml',
      async *open() {
        yield Buffer.from('<nmaprun start="1772442000" args="nmap 10.0.0.0/16">\n');
        for (let chunk = 0; chunk < 100; chunk++) {
          chunksRead += 1;
          yield Buffer.from(Array.from({ length: 100 }, (_, i) => host(chunk * 100 + i)).join(''));
        }
        yield Buffer.from('<runstats><finished time="1772445600"/></runstats></nmaprun>');
      },
    };
    let readBeforeFirst = -1;
    let events = 0;
    for await (const record of readScanFile('nmap', source, CONTEXT)) {
      if (record.kind === 'event' && events++ === 0) readBeforeFirst = chunksRead;
    }
    expect(readBeforeFirst).toBe(1);
    expect(events).toBe(10_000);
  });

  /** An nmap run document, one element per line; ports and hosts are given as XML text. */
  function nmapRun(
    parts: { root?: string; scaninfo?: string; hosts?: string; runstats?: string | null } = {},
  ) {
    return [
      '<?xml version="1.0" encoding="UTF-8"?>',
      parts.root ?? '<nmaprun scanner="nmap" args="nmap -oX - 10.0.0.1" start="1772442000" version="7.94">',
      parts.scaninfo ?? '<scaninfo type="syn" protocol="tcp" numservices="1000" services="1-1000"/>',
      parts.hosts ?? '',
      parts.runstats === null
        ? ''
        : (parts.runstats ?? '<runstats><finished time="1772442060" exit="success"/></runstats>'),
      '</nmaprun>',
    ].join('\n');
  }
  const upHost = (ports: string, address = '<address addr="10.0.0.1" addrtype="ipv4"/>') =>
    `<host><status state="up"/>${address}<ports>${ports}</ports></host>`;
  const openPort = '<port protocol="tcp" portid="22"><state state="open"/><service name="ssh"/></port>';

  it.each([
    {
      name: 'an empty file',
      xml: '',
      problem: ['EMPTY_FILE', null, null, 1],
      message: 'the file is empty: no <nmaprun> element',
    },
    {
      name: 'a file that is not XML',
      xml: '[{"exposureId": "a"}]',
      problem: ['PARSE_ERROR', null, null, 1],
      message: 'not well-formed XML: text data outside of root node.',
    },
    {
      name: 'XML that is not nmap output',
      xml: '<?xml version="1.0"?>\n<nessus_report/>',
      problem: ['WRONG_FORMAT', null, 'nessus_report', 2],
      message: "the root element is <nessus_report>, not nmap's <nmaprun>",
    },
    {
      name: 'a run without a start time',
      xml: nmapRun({ root: '<nmaprun scanner="nmap" args="nmap">' }),
      problem: ['REQUIRED', 'start', 'nmaprun', 2],
      message: 'start: is required',
    },
    {
      name: 'a start time that is not Unix seconds',
      xml: nmapRun({ root: '<nmaprun start="2026-03-02 09:00">' }),
      problem: ['INVALID_VALUE', 'start', 'nmaprun', 2],
      message: 'start: "2026-03-02 09:00" is not a Unix time in seconds',
    },
    {
      name: 'a close tag that does not match',
      xml: nmapRun({ hosts: '<host><status state="up"></host>' }),
      problem: ['PARSE_ERROR', null, 'host', 4],
      message: 'not well-formed XML: unexpected close tag.',
    },
    {
      name: 'an entity XML does not define',
      xml: nmapRun({
        hosts: upHost(
          '<port protocol="tcp" portid="80"><state state="open"/><script id="t" output="&nbsp;"/></port>',
        ),
      }),
      problem: ['PARSE_ERROR', null, 'port', 4],
      message: 'not well-formed XML: undefined entity.',
    },
    {
      name: 'a file that ends inside the run',
      xml: nmapRun({ runstats: null }).replace('</nmaprun>', ''),
      problem: ['PARSE_ERROR', null, 'nmaprun', 6],
      message: 'unexpected end of file inside <nmaprun>: the file is cut short',
    },
    {
      name: 'text after the run',
      xml: `${nmapRun()}\n<nmaprun/>`,
      problem: ['PARSE_ERROR', null, null, 7],
      message: 'not well-formed XML: documents may contain only one root.',
    },
  ])('stops at $name', async ({ xml, problem, message }) => {
    const { events, problems, run } = await read('nmap', textSource(xml, 'scan.xml'));
    expect(placed(problems)).toEqual([problem]);
    expect(problems[0]!.message).toBe(message);
    expect(problems[0]!.index).toBeNull();
    expect(events).toEqual([]);
    expect(run).toBeNull();
  });

  it.each([
    {
      name: 'a scaninfo without services',
      xml: nmapRun({ scaninfo: '<scaninfo type="syn" protocol="tcp"/>', hosts: upHost(openPort) }),
      problem: ['REQUIRED', 'services', 'scaninfo', 3],
      message: 'services: is required',
    },
    {
      name: 'a service list that is not ports',
      xml: nmapRun({
        scaninfo: '<scaninfo protocol="tcp" services="1-1024,http"/>',
        hosts: upHost(openPort),
      }),
      problem: ['INVALID_VALUE', 'services', 'scaninfo', 3],
      message: 'services: "http" is not a port or a range of ports',
    },
    {
      name: 'a port range that ends before it starts',
      xml: nmapRun({ scaninfo: '<scaninfo protocol="tcp" services="1024-1"/>', hosts: upHost(openPort) }),
      problem: ['INVALID_VALUE', 'services', 'scaninfo', 3],
      message: 'services: "1024-1" ends before it starts',
    },
    {
      name: 'a port range past 65535',
      xml: nmapRun({ scaninfo: '<scaninfo protocol="tcp" services="1-70000"/>', hosts: upHost(openPort) }),
      problem: ['INVALID_VALUE', 'services', 'scaninfo', 3],
      message: 'services: "1-70000" goes past port 65535',
    },
    {
      name: 'a host without an IP address',
      xml: nmapRun({ hosts: upHost(openPort, '<address addr="52:54:00:12:34:01" addrtype="mac"/>') }),
      problem: ['REQUIRED', 'address', 'host', 4],
      message: 'address: the host has no IPv4 or IPv6 address',
    },
    {
      name: 'an address that is not one',
      xml: nmapRun({ hosts: upHost(openPort, '<address addr="10.0.0.300" addrtype="ipv4"/>') }),
      problem: ['INVALID_VALUE', 'addr', 'address', 4],
      message: 'addr: "10.0.0.300" is not an IP address',
    },
    {
      name: 'a port without a protocol',
      xml: nmapRun({ hosts: upHost('<port portid="22"><state state="open"/></port>') }),
      problem: ['REQUIRED', 'protocol', 'port', 4],
      message: 'protocol: is required',
    },
    {
      name: 'a port without a number',
      xml: nmapRun({ hosts: upHost('<port protocol="tcp"><state state="open"/></port>') }),
      problem: ['REQUIRED', 'portid', 'port', 4],
      message: 'portid: is required',
    },
    {
      name: 'a port number out of range',
      xml: nmapRun({ hosts: upHost('<port protocol="tcp" portid="65536"><state state="open"/></port>') }),
      problem: ['INVALID_VALUE', 'portid', 'port', 4],
      message: 'portid: "65536" is not a port number',
    },
    {
      name: 'a port without a state',
      xml: nmapRun({ hosts: upHost('<port protocol="tcp" portid="22"><service name="ssh"/></port>') }),
      problem: ['REQUIRED', 'state', 'port', 4],
      message: 'state: port 22/tcp has no state',
    },
  ])('reports $name and reads on', async ({ xml, problem, message }) => {
    const { problems, run } = await read('nmap', textSource(xml, 'scan.xml'));
    expect(placed(problems)).toEqual([problem]);
    expect(problems[0]!.message).toBe(message);
    // The file is whole: the run is still there (the caller quarantines a file with any problem).
    expect(run).not.toBeNull();
  });

  it.each([
    {
      name: 'no runstats: nmap was stopped before it wrote them',
      runstats: null,
      problem: ['SCAN_INCOMPLETE', 'finished', 'runstats', 6],
      message: 'no <runstats><finished>: the file does not say the scan finished',
    },
    {
      name: 'a finish without a time',
      runstats: '<runstats><finished exit="success"/></runstats>',
      problem: ['REQUIRED', 'time', 'finished', 5],
      message: 'time: is required',
    },
    {
      name: 'a finish before the start',
      runstats: '<runstats><finished time="1772441999"/></runstats>',
      problem: ['INVALID_VALUE', 'time', 'finished', 5],
      message: 'time: is before nmaprun@start',
    },
    {
      name: 'a scan nmap says failed',
      runstats:
        '<runstats><finished time="1772442060" exit="error" errormsg="Failed to open device eth1"/></runstats>',
      problem: ['SCAN_FAILED', 'exit', 'finished', 5],
      message: 'nmap says the scan failed: Failed to open device eth1',
    },
  ])('gives no run for $name', async ({ runstats, problem, message }) => {
    const { events, problems, run } = await read(
      'nmap',
      textSource(nmapRun({ hosts: upHost(openPort), runstats }), 's'),
    );
    expect(placed(problems)).toEqual([problem]);
    expect(problems[0]!.message).toBe(message);
    expect(events).toHaveLength(1);
    expect(run).toBeNull();
  });

  it('reads IPv6 hosts, TCP and UDP scans, tunnels, user-given names and only ports nmap saw open', async () => {
    const xml = nmapRun({
      scaninfo: [
        '<scaninfo type="syn" protocol="tcp" services="22,80-443"/>',
        '<scaninfo type="udp" protocol="udp" services="53,161,440-450"/>',
      ].join('\n'),
      hosts: [
        '<host><status state="up"/><address addr="2001:DB8:0:0::1" addrtype="ipv6"/>',
        '<hostnames><hostname name="ptr.example" type="PTR"/><hostname name="vpn.example" type="user"/></hostnames>',
        '<ports>',
        '<port protocol="tcp" portid="443"><state state="open"/><service name="http" tunnel="ssl" product="nginx"/></port>',
        '<port protocol="udp" portid="53"><state state="open|filtered"/><service name="domain"/></port>',
        '<port protocol="udp" portid="161"><state state="open"/><service name="snmp"/></port>',
        '<port protocol="tcp" portid="7777"><state state="open"/></port>',
        '</ports></host>',
      ].join('\n'),
    });
    const { events, problems, run } = await read('nmap', textSource(xml, 'v6.xml'));
    expect(problems).toEqual([]);
    expect(
      events.map((e) => [
        e.exposureId,
        e.assetIp,
        e.assetHostname,
        e.serviceName,
        e.severity,
        e.dstPort,
        e.protocol,
      ]),
    ).toEqual([
      ['open_port/2001:db8::1/443/tcp', '2001:db8::1', 'vpn.example', 'ssl/http', 'INFO', 443, 'tcp'],
      ['open_port/2001:db8::1/161/udp', '2001:db8::1', 'vpn.example', 'snmp', 'HIGH', 161, 'udp'],
      ['open_port/2001:db8::1/7777/tcp', '2001:db8::1', 'vpn.example', undefined, 'LOW', 7777, 'tcp'],
    ]);
    expect(run?.scope).toEqual({
      dstIpIn: ['2001:db8::1/128'],
      // Ranges carry no protocol: the union of what both scans covered.
      dstPortRanges: ['22', '53', '80-450'],
      exposureClasses: ['open_port'],
    });
    expectValid(events);
  });

  it('gives a host discovery scan (no scaninfo) a scope of no ports, and passes IP protocol scans by', async () => {
    const discovery = nmapRun({
      scaninfo: '',
      hosts: '<host><status state="up"/><address addr="10.0.0.9" addrtype="ipv4"/></host>',
    });
    expect((await read('nmap', textSource(discovery, 'sn.xml'))).run?.scope).toEqual({
      dstIpIn: ['10.0.0.9/32'],
      dstPortRanges: [],
      exposureClasses: ['open_port'],
    });
    const protocols = nmapRun({
      scaninfo: '<scaninfo type="ipproto" protocol="ip" services="0-255"/>',
      hosts: upHost('<port protocol="ip" portid="6"><state state="open"/><service name="tcp"/></port>'),
    });
    const read_ = await read('nmap', textSource(protocols, 'so.xml'));
    expect(read_.events).toEqual([]);
    expect(read_.run?.scope.dstPortRanges).toEqual([]);
  });

  it('cuts script output that would not fit an event, keeping the event', async () => {
    const output = 'x'.repeat(8192 + 100);
    const scripts = Array.from({ length: 10 }, (_, i) => `<script id="s${i}" output="${output}"/>`).join('');
    const xml = nmapRun({
      hosts: upHost(`<port protocol="tcp" portid="22"><state state="open"/>${scripts}</port>`),
    });
    const { events } = await read('nmap', textSource(xml, 'big.xml'));
    const payload = events[0]!.rawPayload as Record<string, unknown>;
    expect(payload.scripts).toBeUndefined();
    expect(payload.omitted).toEqual(['scripts']);
    expect(payload.state).toEqual({ state: 'open' });
    expect(Buffer.byteLength(JSON.stringify(payload))).toBeLessThanOrEqual(MAX_JSON_BYTES);
    expectValid(events);
  });

  it.each([
    ['telnet', 23, 'HIGH'],
    ['ms-wbt-server', 3389, 'HIGH'],
    ['ssh', 2222, 'MEDIUM'],
    ['http', 9200, 'HIGH'],
    ['http', 8080, 'INFO'],
    ['https', 443, 'INFO'],
    [undefined, 5432, 'MEDIUM'],
    ['unknown', 31337, 'LOW'],
    [undefined, 31337, 'LOW'],
  ] as const)('rates an open %s port %i %s', (service, port, severity) => {
    expect(openPortSeverity(service, port)).toBe(severity);
  });
});

const NUCLEI_RUN = /^nuclei:[0-9a-f]{32}$/;

describe('nuclei JSON Lines', () => {
  it('gives an event per finding of the Paris scan, and the run over the targets it names', async () => {
    const { events, places, problems, run } = await read(
      'nuclei',
      fixture('nuclei-paris-2026-03-02.jsonl'),
      NUCLEI,
    );
    expect(problems).toEqual([]);
    expect(
      events.map((e) => [
        e.exposureId,
        e.exposureClass,
        e.severity,
        e.timestamp,
        e.assetIp,
        e.assetHostname,
        e.dstPort,
        e.protocol,
        e.serviceName,
        e.riskScore,
      ]),
    ).toEqual([
      [
        'tech-detect:nginx/http://10.20.0.1',
        'tech-detect',
        'INFO',
        '2026-03-02T09:05:11.204Z',
        '10.20.0.1',
        undefined,
        80,
        'tcp',
        'http',
        undefined,
      ],
      [
        'CVE-2023-48795/10.20.0.1:22',
        'CVE-2023-48795',
        'MEDIUM',
        '2026-03-02T09:05:13.771Z',
        '10.20.0.1',
        undefined,
        22,
        undefined,
        undefined,
        59,
      ],
      [
        'smb-v1-detection/10.20.0.2:445',
        'smb-v1-detection',
        'LOW',
        '2026-03-02T09:05:14.004Z',
        '10.20.0.2',
        undefined,
        445,
        'tcp',
        undefined,
        undefined,
      ],
      [
        'tomcat-default-login/http://db.paris.example:8080/manager/html',
        'tomcat-default-login',
        'HIGH',
        '2026-03-02T09:06:40.918Z',
        '10.20.0.4',
        'db.paris.example',
        8080,
        'tcp',
        'http',
        undefined,
      ],
      [
        'CVE-2020-1938/10.20.0.4:8009',
        'CVE-2020-1938',
        'CRITICAL',
        '2026-03-02T09:06:52.500Z',
        '10.20.0.4',
        undefined,
        8009,
        'tcp',
        undefined,
        98,
      ],
      // "unknown": the template's author did not rate it.
      [
        'paris-printer-banner/10.20.0.6:9100',
        'paris-printer-banner',
        'INFO',
        '2026-03-02T10:07:03.000Z',
        '10.20.0.6',
        undefined,
        9100,
        'tcp',
        undefined,
        undefined,
      ],
    ]);
    expect(places).toEqual([1, 2, 3, 4, 5, 6].map((line, index) => ({ index, line })));
    const scanRunId = run!.scanRunId;
    expect(scanRunId).toMatch(NUCLEI_RUN);
    for (const [i, event] of events.entries()) {
      expect(event).toMatchObject({
        eventId: `${scanRunId}/${i + 1}`,
        officeId: 'paris',
        status: 'OPEN',
        eventAction: 'observed',
        eventKind: 'state',
        scanRunId,
        scannerType: 'nuclei',
        dstIp: event.assetIp,
      });
    }
    // The raw finding is kept as nuclei wrote it, the escaped "<" of its response decoded.
    expect((events[0]!.rawPayload as { response: string }).response).toContain(
      '<title>Paris office & gateway',
    );
    expect(run).toEqual({
      scanRunId,
      startedAt: '2026-03-02T09:05:11.204Z',
      completedAt: '2026-03-02T10:07:03.000Z',
      scope: { dstIpIn: ['10.20.0.1/32', '10.20.0.2/32', '10.20.0.4/32', '10.20.0.6/32'] },
    });
    expectValid(events);
  });

  it('gives the same run and event ids when a file is read again', async () => {
    const first = await read('nuclei', fixture('nuclei-paris-2026-03-02.jsonl'), NUCLEI);
    const again = await read('nuclei', fixture('nuclei-paris-2026-03-02.jsonl'), NUCLEI);
    expect(again.run!.scanRunId).toBe(first.run!.scanRunId);
    expect(again.events.map((e) => e.eventId)).toEqual(first.events.map((e) => e.eventId));
    const other = await read('nuclei', fixture('nuclei-paris-malformed.jsonl'), NUCLEI);
    expect(other.run!.scanRunId).not.toBe(first.run!.scanRunId);
  });

  it('reports every problem of the malformed Paris file by line and reads the other findings', async () => {
    const { events, places, problems, run } = await read(
      'nuclei',
      fixture('nuclei-paris-malformed.jsonl'),
      NUCLEI,
    );
    expect(placed(problems)).toEqual([
      ['INVALID_VALUE', 'info.severity', null, 3],
      ['PARSE_ERROR', null, null, 5],
      ['REQUIRED', 'template-id', null, 7],
      ['INVALID_VALUE', 'timestamp', null, 7],
      ['INVALID_VALUE', 'ip', null, 7],
    ]);
    expect(problems.map((p) => p.message)).toEqual([
      'info.severity: "severe" is not one of info, low, medium, high, critical, unknown',
      expect.stringMatching(/^not valid JSON: /),
      'template-id: is required',
      'timestamp: "yesterday" is not an RFC 3339 date and time',
      'ip: "10.20.0.256" is not an IP address',
    ]);
    expect(places.map((p) => p.line)).toEqual([1, 2, 4, 8, 9, 10]);
    expect(events).toHaveLength(6);
    expect(run).not.toBeNull();
  });

  /** A finding as nuclei writes it, with the given keys changed (undefined leaves one out). */
  function finding(changes: Record<string, unknown> = {}) {
    const base: Record<string, unknown> = {
      'template-id': 'exposed-panel',
      info: { name: 'Exposed panel', severity: 'medium' },
      type: 'http',
      host: 'panel.example',
      port: '8443',
      scheme: 'https',
      'matched-at': 'https://panel.example:8443/login',
      ip: '10.0.0.7',
      timestamp: '2026-03-02T10:00:00.123456789+01:00',
    };
    return JSON.stringify({ ...base, ...changes });
  }

  it.each([
    {
      name: 'a line that is not JSON',
      line: '{"template-id": "x",',
      problems: [['PARSE_ERROR', null]],
      message: /^not valid JSON: /,
    },
    {
      name: 'a finding that is not an object',
      line: '42',
      problems: [['INVALID_TYPE', null]],
      message: /object/,
    },
    { name: 'a list on a later line', line: '[1, 2]', problems: [['INVALID_TYPE', null]], message: /object/ },
    {
      name: 'no template id',
      line: finding({ 'template-id': undefined }),
      problems: [['REQUIRED', 'template-id']],
      message: /^template-id: is required$/,
    },
    {
      name: 'a template id that is not a string',
      line: finding({ 'template-id': 7 }),
      problems: [['INVALID_TYPE', 'template-id']],
      message: /^template-id: must be a string$/,
    },
    {
      name: 'no matched-at',
      line: finding({ 'matched-at': '' }),
      problems: [['REQUIRED', 'matched-at']],
      message: /^matched-at: is required$/,
    },
    {
      name: 'no timestamp',
      line: finding({ timestamp: undefined }),
      problems: [['REQUIRED', 'timestamp']],
      message: /^timestamp: is required$/,
    },
    {
      name: 'a timestamp without an offset',
      line: finding({ timestamp: '2026-03-02T10:00:00' }),
      problems: [['INVALID_VALUE', 'timestamp']],
      message: /not an RFC 3339 date and time/,
    },
    {
      name: 'a day that does not exist',
      line: finding({ timestamp: '2026-02-30T10:00:00Z' }),
      problems: [['INVALID_VALUE', 'timestamp']],
      message: /not an RFC 3339 date and time/,
    },
    {
      name: 'an ip that is not an address',
      line: finding({ ip: 'panel.example' }),
      problems: [['INVALID_VALUE', 'ip']],
      message: /^ip: "panel.example" is not an IP address$/,
    },
    {
      name: 'a port that is not a number',
      line: finding({ port: 'https' }),
      problems: [['INVALID_VALUE', 'port']],
      message: /^port: "https" is not a port number$/,
    },
    {
      name: 'a port out of range',
      line: finding({ port: 70000 }),
      problems: [['INVALID_VALUE', 'port']],
      message: /^port: 70000 is not a port number$/,
    },
    {
      name: 'a severity nuclei does not have',
      line: finding({ info: { severity: 'severe' } }),
      problems: [['INVALID_VALUE', 'info.severity']],
      message: /is not one of info, low, medium, high, critical, unknown/,
    },
    {
      name: 'info that is not an object',
      line: finding({ info: 'medium' }),
      problems: [['INVALID_TYPE', 'info']],
      message: /^info: must be an object$/,
    },
    {
      name: 'several problems at once',
      line: finding({ 'template-id': undefined, ip: '10.0.0.999', port: -1 }),
      problems: [
        ['REQUIRED', 'template-id'],
        ['INVALID_VALUE', 'ip'],
        ['INVALID_VALUE', 'port'],
      ],
      message: /^template-id: is required$/,
    },
  ])('reports $name with its line', async ({ line, problems, message }) => {
    const text = `${finding()}\n${line}\n${finding({ 'matched-at': 'https://panel.example:8443/admin' })}\n`;
    const read_ = await read('nuclei', textSource(text, 'nuclei.jsonl'), NUCLEI);
    expect(read_.problems.map((p) => [p.code, p.field])).toEqual(problems);
    expect(read_.problems.every((p) => p.line === 2 && p.index === null && p.element === null)).toBe(true);
    expect(read_.problems[0]!.message).toMatch(message);
    expect(read_.places).toEqual([
      { index: 0, line: 1 },
      { index: 1, line: 3 },
    ]);
  });

  it('refuses a JSON array export, which is another format', async () => {
    const { events, problems, run } = await read(
      'nuclei',
      textSource(`[${finding()}]`, 'export.json'),
      NUCLEI,
    );
    expect(placed(problems)).toEqual([['WRONG_FORMAT', null, null, 1]]);
    expect(events).toEqual([]);
    expect(run).toBeNull();
  });

  it('gives no run for an empty file: no target appears, so there is nothing it could close', async () => {
    expect(await read('nuclei', textSource('\n', 'empty.jsonl'), NUCLEI)).toMatchObject({
      events: [],
      problems: [],
      run: null,
    });
  });

  it('takes the target from host and matched-at when there is no ip or port', async () => {
    const lines = [
      finding({ ip: undefined, port: undefined, host: '10.0.0.8', 'matched-at': 'https://10.0.0.8/login' }),
      finding({
        ip: undefined,
        port: undefined,
        host: 'intra.example',
        'matched-at': 'intra.example:2222',
        type: 'javascript',
      }),
      finding({
        ip: undefined,
        port: undefined,
        host: undefined,
        'matched-at': '[2001:db8::8]:8443',
        type: 'dns',
      }),
    ].join('\n');
    const { events, run } = await read('nuclei', textSource(lines, 'n.jsonl'), NUCLEI);
    expect(events.map((e) => [e.assetIp, e.assetHostname, e.dstPort, e.protocol, e.serviceName])).toEqual([
      ['10.0.0.8', undefined, 443, 'tcp', 'https'],
      [undefined, 'intra.example', 2222, undefined, undefined],
      ['2001:db8::8', undefined, 8443, 'udp', undefined],
    ]);
    // A target known only by name is not in the scope: the file does not say which address was scanned.
    expect(run?.scope).toEqual({ dstIpIn: ['10.0.0.8/32', '2001:db8::8/128'] });
    expectValid(events);
  });

  it('cuts the bulky evidence of a finding that would not fit an event, and hashes an id too long to keep', async () => {
    const response = 'x'.repeat(MAX_JSON_BYTES);
    const matchedAt = `https://panel.example:8443/${'a'.repeat(300)}`;
    const { events } = await read(
      'nuclei',
      textSource(finding({ response, 'matched-at': matchedAt }), 'n'),
      NUCLEI,
    );
    const event = events[0]!;
    expect(event.rawPayload).toMatchObject({ 'template-id': 'exposed-panel', omitted: ['response'] });
    expect(event.exposureId).toMatch(/^exposed-panel\/sha256:[0-9a-f]{64}$/);
    expectValid(events);
  });

  it.each([
    ['http://10.0.0.1', { host: '10.0.0.1', port: 80, scheme: 'http' }],
    ['https://Panel.Example/login?next=/', { host: 'panel.example', port: 443, scheme: 'https' }],
    ['https://[2001:db8::1]:8443/x', { host: '2001:db8::1', port: 8443, scheme: 'https' }],
    ['10.0.0.1:22', { host: '10.0.0.1', port: 22 }],
    ['[2001:db8::1]:22', { host: '2001:db8::1', port: 22 }],
    ['2001:db8::1', { host: '2001:db8::1' }],
    ['example.com', { host: 'example.com' }],
    ['gopher://', { host: 'gopher://' }],
    ['http://[2001:db8::1', { host: 'http://[2001:db8::1' }],
  ])('reads the target %s', (text, target) => {
    expect(targetOf(text)).toEqual(target);
  });
});

describe('scan scope and instants', () => {
  it('parses nmap port lists and merges them into contract ranges', () => {
    const parsed = parsePortList('1-1024,3389,8080-8090,1000-2000,2001');
    expect(parsed).toEqual({
      ranges: [
        [1, 1024],
        [3389, 3389],
        [8080, 8090],
        [1000, 2000],
        [2001, 2001],
      ],
    });
    expect(portRangeTexts('ranges' in parsed ? parsed.ranges : [])).toEqual(['1-2001', '3389', '8080-8090']);
    expect(parsePortList('')).toEqual({ reason: '"" is not a port or a range of ports' });
    expect(parsePortList('-1024')).toEqual({ reason: '"-1024" is not a port or a range of ports' });
  });

  it.each([
    ['2026-03-02T10:00:00.123456789+01:00', '2026-03-02T09:00:00.123Z'],
    ['2026-03-02T10:00:00.999999999Z', '2026-03-02T10:00:00.999Z'],
    ['2026-03-02T10:00:00z', '2026-03-02T10:00:00.000Z'],
    ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['2026-02-29T00:00:00Z', null],
    ['2026-13-01T00:00:00Z', null],
    ['2026-03-02T24:00:00Z', null],
    ['2026-03-02 10:00:00Z', null],
  ])('reads the RFC 3339 instant %s', (text, iso) => {
    expect(isoFromRfc3339(text)).toBe(iso);
  });
});
