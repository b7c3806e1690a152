/** IP address parsing shared by validation (events) and filtering (CIDR). */
import ipaddr from 'ipaddr.js';

/** Dotted decimal with every part 0..255 and no leading zeros: already canonical. */
const CANONICAL_IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Canonical text of a strict IPv4 or IPv6 address, or null: no CIDR suffix, zone or leading zeros. */
export function canonicalIp(text: string): string | null {
  // The common case, checked without parsing: every address field of every event comes through here.
  if (CANONICAL_IPV4.test(text)) return text;
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    if (hasLeadingZero(text)) return null;
    return ipaddr.IPv4.parse(text).toString();
  }
  if (text.includes(':') && !text.includes('%') && !text.includes('/') && ipaddr.IPv6.isValid(text)) {
    // An embedded IPv4 part ("::ffff:010.0.0.1") is as ambiguous as a bare one.
    const tail = text.slice(text.lastIndexOf(':') + 1);
    if (tail.includes('.') && hasLeadingZero(tail)) return null;
    return ipaddr.IPv6.parse(text).toString();
  }
  return null;
}

/** A dotted-decimal part like "010": octal to some parsers, decimal to others. */
function hasLeadingZero(dotted: string): boolean {
  return dotted.split('.').some((part) => part.length > 1 && part.startsWith('0'));
}

function hex(bytes: number[]): string {
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Family-prefixed fixed-width hex ("4:0a000001", "6:2001...") whose text order is address order. */
export function ipKey(canonical: string): string {
  const address = ipaddr.parse(canonical);
  return `${address.kind() === 'ipv4' ? '4' : '6'}:${hex(address.toByteArray())}`;
}

export interface IpKeyRange {
  low: string;
  high: string;
}

/** The ipKey range a CIDR covers, or null when the text is not a CIDR (a bare address means /32 or /128). */
export function cidrKeyRange(text: string): IpKeyRange | null {
  const [addressText, prefixText, ...rest] = text.trim().split('/');
  if (!addressText || rest.length > 0) return null;
  const canonical = canonicalIp(addressText);
  if (!canonical) return null;
  const address = ipaddr.parse(canonical);
  const bits = address.kind() === 'ipv4' ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) return null;
  const bytes = address.toByteArray();
  const low = bytes.map((byte, i) => byte & maskByte(prefix, i));
  const high = bytes.map((byte, i) => byte | (~maskByte(prefix, i) & 0xff));
  const family = bits === 32 ? '4' : '6';
  return { low: `${family}:${hex(low)}`, high: `${family}:${hex(high)}` };
}

function maskByte(prefix: number, index: number): number {
  const bits = Math.max(0, Math.min(8, prefix - index * 8));
  return (0xff << (8 - bits)) & 0xff;
}
