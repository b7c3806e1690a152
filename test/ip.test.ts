import { describe, expect, it } from 'vitest';
import { canonicalIp, cidrKeyRange, ipKey } from '../src/ip.ts';

describe('ipKey', () => {
  it('is family-prefixed fixed-width hex whose text order is address order', () => {
    expect(ipKey('10.0.0.1')).toBe('4:0a000001');
    expect(ipKey('2001:db8::1')).toBe('6:20010db8000000000000000000000001');
    const addresses = ['9.255.255.255', '10.0.0.0', '10.0.0.10', '10.0.0.9', '192.168.0.1'];
    const byKey = [...addresses].sort((a, b) => (ipKey(a) < ipKey(b) ? -1 : 1));
    expect(byKey).toEqual(['9.255.255.255', '10.0.0.0', '10.0.0.9', '10.0.0.10', '192.168.0.1']);
  });
});

describe('canonicalIp', () => {
  it('canonicalizes IPv6 to its compact lower-case form', () => {
    expect(canonicalIp('2001:0DB8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
  });
});

describe('cidrKeyRange', () => {
  it('covers an IPv4 network, whatever host bits the text carries', () => {
    expect(cidrKeyRange('10.0.0.0/8')).toEqual({ low: '4:0a000000', high: '4:0affffff' });
    expect(cidrKeyRange('10.1.2.3/8')).toEqual({ low: '4:0a000000', high: '4:0affffff' });
    expect(cidrKeyRange('192.168.1.128/25')).toEqual({ low: '4:c0a80180', high: '4:c0a801ff' });
    expect(cidrKeyRange('172.16.0.0/12')).toEqual({ low: '4:ac100000', high: '4:ac1fffff' });
  });

  it('covers everything at /0 and one address at full length or without a prefix', () => {
    expect(cidrKeyRange('0.0.0.0/0')).toEqual({ low: '4:00000000', high: '4:ffffffff' });
    expect(cidrKeyRange('10.0.0.5/32')).toEqual({ low: '4:0a000005', high: '4:0a000005' });
    expect(cidrKeyRange('10.0.0.5')).toEqual({ low: '4:0a000005', high: '4:0a000005' });
    expect(cidrKeyRange('::1')).toEqual({ low: ipKey('::1'), high: ipKey('::1') });
  });

  it('covers IPv6 networks, including prefixes that are not a multiple of 8', () => {
    expect(cidrKeyRange('2001:db8::/32')).toEqual({
      low: '6:20010db8000000000000000000000000',
      high: '6:20010db8ffffffffffffffffffffffff',
    });
    expect(cidrKeyRange('fe80::/10')).toEqual({
      low: '6:fe800000000000000000000000000000',
      high: '6:febfffffffffffffffffffffffffffff',
    });
    expect(cidrKeyRange('::/0')).toEqual({ low: `6:${'0'.repeat(32)}`, high: `6:${'f'.repeat(32)}` });
  });

  it('contains exactly the addresses of the network', () => {
    const range = cidrKeyRange('10.0.0.0/30')!;
    const inside = (ip: string) => ipKey(ip) >= range.low && ipKey(ip) <= range.high;
    expect(['10.0.0.0', '10.0.0.3'].every(inside)).toBe(true);
    expect(['9.255.255.255', '10.0.0.4', '::a00:1'].some(inside)).toBe(false);
  });

  it('ignores surrounding spaces', () => {
    expect(cidrKeyRange(' 10.0.0.0/8 ')).toEqual(cidrKeyRange('10.0.0.0/8'));
  });

  it.each([
    '10.0.0.0/33',
    '2001:db8::/129',
    '10.0.0.0/',
    '10.0.0.0/-1',
    '10.0.0.0/8/8',
    '10.0.0.0/8.0',
    '10.0.0.0/1000',
    '010.0.0.0/8',
    'fe80::1%eth0/64',
    '/8',
    '',
    'not-an-address',
  ])('rejects %j', (text) => {
    expect(cidrKeyRange(text)).toBeNull();
  });
});
