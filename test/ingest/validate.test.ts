import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  deriveEventId,
  MAX_ID_LENGTH,
  MAX_JSON_BYTES,
  MAX_JSON_DEPTH,
  MAX_TEXT_LENGTH,
  validateEvents,
} from '../../src/ingest/validate.ts';
import { eventInput } from '../helpers/events.ts';

const NOW = new Date('2026-02-01T12:00:00Z');
const limits = { maxFutureSkewSeconds: 300, now: NOW };

/** The one valid event of a single-event batch; fails the test when it was rejected. */
function accepted(overrides: Record<string, unknown>) {
  const { valid, rejected } = validateEvents([eventInput(overrides)], limits);
  expect(rejected).toEqual([]);
  return valid[0]!.event;
}

/** [field, code] of every problem of a single-event batch. */
function problems(overrides: Record<string, unknown>) {
  const { valid, rejected } = validateEvents([eventInput(overrides)], limits);
  expect(valid).toEqual([]);
  return rejected.map((r) => [r.field, r.code]);
}

describe('validateEvents', () => {
  it('accepts a minimal event and fills the optional fields with null', () => {
    const event = accepted({ dstIp: undefined, dstPort: undefined, protocol: undefined });
    expect(event).toMatchObject({
      officeId: 'berlin',
      exposureId: 'exp-1',
      status: 'OPEN',
      severity: 'HIGH',
      dstIp: null,
      dstPort: null,
      resource: null,
      rawPayload: null,
    });
  });

  it('reads status and severity case-insensitively', () => {
    expect(accepted({ status: 'closed', severity: 'critical' })).toMatchObject({
      status: 'CLOSED',
      severity: 'CRITICAL',
    });
  });

  describe('IP addresses', () => {
    it.each([
      ['10.0.0.5', '10.0.0.5'],
      ['0.0.0.0', '0.0.0.0'],
      ['255.255.255.255', '255.255.255.255'],
      ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
      ['2001:0db8::0001', '2001:db8::1'],
      ['::', '::'],
      ['::ffff:10.0.0.1', '::ffff:a00:1'],
    ])('accepts %s as %s', (input, canonical) => {
      expect(accepted({ dstIp: input, assetIp: input })).toMatchObject({
        dstIp: canonical,
        assetIp: canonical,
      });
    });

    it.each([
      '10.0.0.0/8',
      '2001:db8::/32',
      '010.0.0.1',
      '10.0.0.01',
      '::ffff:010.0.0.1',
      'fe80::1%eth0',
      '10.0.0.256',
      '10.0.0',
      '127.1',
      '0x7f.0.0.1',
      ' 10.0.0.5',
      '1::2::3',
      'localhost',
    ])('rejects %s', (input) => {
      expect(problems({ dstIp: input })).toEqual([['dstIp', 'INVALID_IP']]);
    });

    it('rejects an address that is not a string', () => {
      expect(problems({ dstIp: 167772165 })).toEqual([['dstIp', 'INVALID_TYPE']]);
    });
  });

  describe('numbers', () => {
    it.each([0, 65535, 443])('accepts port %s', (port) => {
      expect(accepted({ dstPort: port }).dstPort).toBe(port);
    });

    it.each([
      [65536, 'OUT_OF_RANGE'],
      [-1, 'OUT_OF_RANGE'],
      [1.5, 'INVALID_TYPE'],
      ['443', 'INVALID_TYPE'],
    ])('rejects port %s with %s', (port, code) => {
      expect(problems({ dstPort: port })).toEqual([['dstPort', code]]);
    });

    it('bounds riskScore to 0..100 and confidence to 0..1, inclusive', () => {
      expect(accepted({ riskScore: 0, confidence: 0 })).toMatchObject({ riskScore: 0, confidence: 0 });
      expect(accepted({ riskScore: 100, confidence: 1 })).toMatchObject({ riskScore: 100, confidence: 1 });
      expect(accepted({ riskScore: 42.5, confidence: 0.75 })).toMatchObject({
        riskScore: 42.5,
        confidence: 0.75,
      });
      expect(problems({ riskScore: 100.01, confidence: 1.01 })).toEqual([
        ['riskScore', 'OUT_OF_RANGE'],
        ['confidence', 'OUT_OF_RANGE'],
      ]);
      expect(problems({ riskScore: -0.5, confidence: -0.1 })).toEqual([
        ['riskScore', 'OUT_OF_RANGE'],
        ['confidence', 'OUT_OF_RANGE'],
      ]);
    });
  });

  describe('timestamps', () => {
    it('normalizes any offset to UTC with milliseconds', () => {
      expect(accepted({ timestamp: '2026-01-10T19:00:00+09:00' }).timestamp).toBe('2026-01-10T10:00:00.000Z');
      expect(accepted({ timestamp: '2026-01-10T05:00:00-05:00' }).timestamp).toBe('2026-01-10T10:00:00.000Z');
      expect(accepted({ timestamp: '2026-01-10T10:00:00Z' }).timestamp).toBe('2026-01-10T10:00:00.000Z');
    });

    it('truncates microseconds and nanoseconds to milliseconds', () => {
      expect(accepted({ timestamp: '2026-01-10T10:00:00.123456Z' }).timestamp).toBe(
        '2026-01-10T10:00:00.123Z',
      );
      expect(accepted({ timestamp: '2026-01-10T10:00:00.999999999Z' }).timestamp).toBe(
        '2026-01-10T10:00:00.999Z',
      );
      expect(accepted({ timestamp: '2026-01-10T10:00:00.5Z' }).timestamp).toBe('2026-01-10T10:00:00.500Z');
    });

    it.each([
      '2026-01-10T10:00:00',
      '2026-01-10T10:00:00.123',
      '2026-01-10 10:00:00Z',
      '2026-01-10',
      '1736503200',
      'yesterday',
    ])('rejects %s (no offset or not ISO-8601)', (timestamp) => {
      expect(problems({ timestamp })).toEqual([['timestamp', 'INVALID_TIMESTAMP']]);
    });

    it.each([
      '2026-02-30T00:00:00Z',
      '2025-02-29T00:00:00Z',
      '2026-04-31T00:00:00Z',
      '2026-13-01T00:00:00Z',
      '2026-00-10T00:00:00Z',
      '2026-01-00T00:00:00Z',
      '2026-01-10T24:00:00Z',
      '2026-01-10T10:60:00Z',
      '2026-01-10T10:00:60Z',
      '2026-01-10T10:00:00+24:00',
      '2026-01-10T10:00:00+05:60',
    ])('rejects %s, a date or time that does not exist, instead of rolling it over', (timestamp) => {
      expect(problems({ timestamp })).toEqual([['timestamp', 'INVALID_TIMESTAMP']]);
    });

    it('accepts the 29th of February in a leap year', () => {
      expect(accepted({ timestamp: '2024-02-29T23:59:59.999Z' }).timestamp).toBe('2024-02-29T23:59:59.999Z');
    });

    it('rejects instants before 1970, which not every engine reads back unchanged', () => {
      expect(accepted({ timestamp: '1970-01-01T00:00:00Z' }).timestamp).toBe('1970-01-01T00:00:00.000Z');
      for (const timestamp of [
        '1969-12-31T23:59:59.999Z',
        '1970-01-01T08:59:59+09:00',
        '0001-01-01T00:00:00Z',
      ]) {
        expect(problems({ timestamp })).toEqual([['timestamp', 'OUT_OF_RANGE']]);
      }
    });

    it('accepts the allowed clock skew into the future and rejects anything beyond it', () => {
      expect(accepted({ timestamp: '2026-02-01T12:05:00Z' }).timestamp).toBe('2026-02-01T12:05:00.000Z');
      expect(problems({ timestamp: '2026-02-01T12:05:00.001Z' })).toEqual([
        ['timestamp', 'FUTURE_TIMESTAMP'],
      ]);
      const strict = validateEvents([eventInput({ timestamp: '2026-02-01T12:00:01Z' })], {
        maxFutureSkewSeconds: 0,
        now: NOW,
      });
      expect(strict.rejected.map((r) => r.code)).toEqual(['FUTURE_TIMESTAMP']);
    });
  });

  describe('fields', () => {
    it('rejects unknown fields by name', () => {
      expect(problems({ severityScore: 5, Severity: 'HIGH' })).toEqual([
        ['severityScore', 'UNKNOWN_FIELD'],
        ['Severity', 'UNKNOWN_FIELD'],
      ]);
    });

    it('reports each missing or empty required field once', () => {
      expect(
        problems({
          timestamp: undefined,
          officeId: '',
          exposureId: null,
          exposureClass: undefined,
          status: '',
          severity: undefined,
        }),
      ).toEqual([
        ['timestamp', 'REQUIRED'],
        ['officeId', 'REQUIRED'],
        ['exposureId', 'REQUIRED'],
        ['exposureClass', 'REQUIRED'],
        ['status', 'REQUIRED'],
        ['severity', 'REQUIRED'],
      ]);
    });

    it('rejects an empty optional string', () => {
      expect(problems({ serviceName: '' })).toEqual([['serviceName', 'INVALID_VALUE']]);
    });

    it('limits ids and text to their lengths', () => {
      expect(
        accepted({ eventId: 'e'.repeat(MAX_ID_LENGTH), serviceName: 's'.repeat(MAX_TEXT_LENGTH) }),
      ).toBeTruthy();
      expect(
        problems({
          eventId: 'e'.repeat(MAX_ID_LENGTH + 1),
          officeId: 'o'.repeat(MAX_ID_LENGTH + 1),
          serviceName: 's'.repeat(MAX_TEXT_LENGTH + 1),
          dispositionReason: 'r'.repeat(MAX_TEXT_LENGTH + 1),
        }),
      ).toEqual([
        ['officeId', 'TOO_LONG'],
        ['serviceName', 'TOO_LONG'],
        ['dispositionReason', 'TOO_LONG'],
        ['eventId', 'TOO_LONG'],
      ]);
    });

    it('limits resource and rawPayload to their serialized size', () => {
      const fits = { blob: 'x'.repeat(MAX_JSON_BYTES - '{"blob":""}'.length) };
      expect(accepted({ resource: fits, rawPayload: fits }).resource).toEqual(fits);
      // Bytes, not characters: a multi-byte character counts for its UTF-8 length.
      const tooBig = { blob: 'é'.repeat(MAX_JSON_BYTES / 2) };
      expect(problems({ resource: tooBig, rawPayload: tooBig })).toEqual([
        ['resource', 'TOO_LARGE'],
        ['rawPayload', 'TOO_LARGE'],
      ]);
    });

    it('rejects values of the wrong type', () => {
      expect(
        problems({ officeId: 7, status: true, severity: 3, riskScore: '50', timestamp: 1736503200 }),
      ).toEqual([
        ['timestamp', 'INVALID_TIMESTAMP'],
        ['officeId', 'INVALID_TYPE'],
        ['status', 'INVALID_VALUE'],
        ['severity', 'INVALID_VALUE'],
        ['riskScore', 'INVALID_TYPE'],
      ]);
    });
  });

  it('reports every problem of every event with its index, and keeps the valid events', () => {
    const { valid, rejected } = validateEvents(
      [
        eventInput({ eventId: 'ok-1' }),
        eventInput({ dstPort: 70000, dstIp: '10.0.0.0/8', severity: 'SEVERE', extra: 1 }),
        'not an event',
        eventInput({ eventId: 'ok-2', timestamp: '2026-01-10T10:00:00' }),
        null,
        eventInput({ eventId: 'ok-3' }),
      ],
      limits,
    );
    expect(valid.map((v) => [v.index, v.event.eventId])).toEqual([
      [0, 'ok-1'],
      [5, 'ok-3'],
    ]);
    expect(rejected.map((r) => [r.index, r.field, r.code])).toEqual([
      [1, 'extra', 'UNKNOWN_FIELD'],
      [1, 'severity', 'INVALID_VALUE'],
      [1, 'dstIp', 'INVALID_IP'],
      [1, 'dstPort', 'OUT_OF_RANGE'],
      [2, null, 'INVALID_TYPE'],
      [3, 'timestamp', 'INVALID_TIMESTAMP'],
      [4, null, 'INVALID_TYPE'],
    ]);
    // The message names the field, for clients that only show the message.
    expect(rejected[3]?.message).toBe('dstPort: must be between 0 and 65535');
  });

  it('rejects arrays as events', () => {
    expect(validateEvents([[eventInput()]], limits).rejected.map((r) => r.code)).toEqual(['INVALID_TYPE']);
  });
});

describe('derived event ids', () => {
  it('are stable across key order, offsets and case of enum values', () => {
    const one = validateEvents(
      [
        {
          timestamp: '2026-01-10T10:00:00Z',
          officeId: 'berlin',
          exposureId: 'x',
          exposureClass: 'c',
          status: 'OPEN',
          severity: 'LOW',
          resource: { a: 1, b: [1, { d: 2, c: 3 }] },
        },
      ],
      limits,
    );
    const two = validateEvents(
      [
        {
          resource: { b: [1, { c: 3, d: 2 }], a: 1 },
          severity: 'low',
          status: 'open',
          exposureClass: 'c',
          exposureId: 'x',
          officeId: 'berlin',
          timestamp: '2026-01-10T11:00:00+01:00',
        },
      ],
      limits,
    );
    const id = one.valid[0]?.event.eventId;
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(two.valid[0]?.event.eventId).toBe(id);
  });

  it('differ when the content differs, and an explicit id is kept as given', () => {
    const a = accepted({ eventId: undefined, exposureId: 'x' });
    const b = accepted({ eventId: undefined, exposureId: 'y' });
    expect(a.eventId).not.toBe(b.eventId);
    expect(accepted({ eventId: 'scanner-42' }).eventId).toBe('scanner-42');
  });

  it('treat a left-out optional field and an explicit null alike', () => {
    const { eventId: _id, ...content } = accepted({ eventId: undefined });
    expect(deriveEventId(content)).toBe(accepted({ eventId: undefined, serviceName: null }).eventId);
  });
});

describe('text the engines cannot store alike', () => {
  /** `depth` objects, each in the one before. */
  const nested = (depth: number): unknown => {
    let value: unknown = 'leaf';
    for (let i = 0; i < depth; i++) value = { child: value };
    return value;
  };

  it.each([
    ['a NUL in an id', { exposureId: 'exp\u0000-1' }, 'exposureId', 'INVALID_CHARACTERS'],
    ['a NUL in text', { serviceName: 'http\u0000' }, 'serviceName', 'INVALID_CHARACTERS'],
    ['an unpaired high surrogate', { assetHostname: 'host-\uD800' }, 'assetHostname', 'INVALID_CHARACTERS'],
    ['an unpaired low surrogate', { dedupeKey: '\uDC00key' }, 'dedupeKey', 'INVALID_CHARACTERS'],
    ['a NUL in a JSON string', { rawPayload: { banner: 'a\u0000b' } }, 'rawPayload', 'INVALID_CHARACTERS'],
    ['a NUL in a JSON key', { resource: { 'k\u0000': 1 } }, 'resource', 'INVALID_CHARACTERS'],
    ['a surrogate deep in JSON', { rawPayload: [[{ a: ['\uD83D'] }]] }, 'rawPayload', 'INVALID_CHARACTERS'],
    ['JSON nested too deep', { rawPayload: nested(MAX_JSON_DEPTH + 1) }, 'rawPayload', 'TOO_DEEP'],
    ['JSON nested thousands deep', { resource: nested(5000) }, 'resource', 'TOO_DEEP'],
  ])('refuses %s', (_case, overrides, field, code) => {
    expect(problems(overrides)).toEqual([[field, code]]);
  });

  it('accepts surrogate pairs and JSON at the depth limit', () => {
    expect(accepted({ assetHostname: 'caf\u00e9-\u{1F600}' }).assetHostname).toBe('caf\u00e9-\u{1F600}');
    expect(accepted({ rawPayload: nested(MAX_JSON_DEPTH) }).rawPayload).toEqual(nested(MAX_JSON_DEPTH));
  });
});

describe('canonicalJson', () => {
  it('sorts object keys at every level and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"e":2,"f":1}]},"b":1}',
    );
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });
});
