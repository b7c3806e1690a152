/** What a scan run covered, in the terms of the contract's ScanScopeInput: host CIDRs and port ranges. */
import { canonicalIp } from '../../ip.ts';

/** A host as a CIDR of one address (/32 or /128), or null when the text is not a strict IP address. */
export function hostCidr(address: string): string | null {
  const canonical = canonicalIp(address);
  if (canonical === null) return null;
  return `${canonical}/${canonical.includes(':') ? 128 : 32}`;
}

/** The hosts a run covered, in the order the file lists them, each once. */
export class ScopeHosts {
  private readonly seen = new Set<string>();

  /** Adds a canonical address. */
  add(address: string): void {
    const cidr = hostCidr(address);
    if (cidr !== null) this.seen.add(cidr);
  }

  cidrs(): string[] {
    return [...this.seen];
  }
}

/** An inclusive port range. */
export type PortRange = readonly [low: number, high: number];

const PORT_RANGE = /^(\d{1,5})(?:-(\d{1,5}))?$/;

/**
 * Parses a port list as nmap writes it ("1-1024,3389,8080-8090"): the ranges, or the reason it is not
 * one. nmap also accepts open-ended ranges ("-1024", "60000-") on its command line, but expands them
 * before writing scaninfo, so they are refused here.
 */
export function parsePortList(text: string): { ranges: PortRange[] } | { reason: string } {
  const ranges: PortRange[] = [];
  for (const part of text.split(',')) {
    const match = PORT_RANGE.exec(part.trim());
    if (!match) return { reason: `"${part}" is not a port or a range of ports` };
    const low = Number(match[1]);
    const high = match[2] === undefined ? low : Number(match[2]);
    if (high > 65535) return { reason: `"${part}" goes past port 65535` };
    if (low > high) return { reason: `"${part}" ends before it starts` };
    ranges.push([low, high]);
  }
  return { ranges };
}

/** Ranges sorted, with overlapping and adjacent ones merged, written as the contract's "22", "1-1024". */
export function portRangeTexts(ranges: readonly PortRange[]): string[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [low, high] of sorted) {
    const last = merged.at(-1);
    if (last && low <= last[1] + 1) last[1] = Math.max(last[1], high);
    else merged.push([low, high]);
  }
  return merged.map(([low, high]) => (low === high ? `${low}` : `${low}-${high}`));
}
