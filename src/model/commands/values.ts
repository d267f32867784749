// Values shared by the command analysers: the knocker placeholder, addresses,
// ports and interface names. Everything is strict: a value that the real tool
// might read differently (octal ports, host names, masks in dotted form) is
// refused rather than guessed.

import type { Family, PortRange } from '../grant.js';
import { fail, type Word } from './shell.js';

export const KNOCKER = '%IP%';
export const BOTH: readonly Family[] = ['ip', 'ip6'];

/**
 * The families a source value can hold the knocker in: `%IP%` holds either,
 * `%IP%/32` only IPv4, `%IP%/128` only IPv6. Anything else is not the knocker.
 */
export function knockerFamilies(text: string): readonly Family[] | null {
  if (text === KNOCKER) return BOTH;
  if (text === `${KNOCKER}/32`) return ['ip'];
  if (text === `${KNOCKER}/128`) return ['ip6'];
  return null;
}

export function intersect(a: readonly Family[], b: readonly Family[]): Family[] {
  return a.filter((f) => b.includes(f));
}

export function familyName(f: Family): string {
  return f === 'ip' ? 'IPv4' : 'IPv6';
}

// ---------------------------------------------------------------- addresses

function parseIPv4(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out.push(v);
  }
  return out;
}

/** Eight 16-bit groups, or null. Accepts `::` and a trailing dotted quad. */
function parseIPv6(s: string): number[] | null {
  if (!/^[0-9A-Fa-f:.]+$/.test(s)) return null;
  let groups: string[] = [];
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  let head = s;
  if (s.includes('.')) {
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number)];
    head = s.slice(0, lastColon + 1);
    if (!head.endsWith('::')) head = head.slice(0, -1); // keep the `::` of `::1.2.3.4`
  }
  const halves = head.split('::');
  if (halves.length > 2) return null;
  const parse = (h: string): string[] | null => {
    if (h === '') return [];
    const g = h.split(':');
    return g.every((x) => /^[0-9A-Fa-f]{1,4}$/.test(x)) ? g : null;
  };
  const left = parse(halves[0] as string);
  if (left === null) return null;
  const want = 8 - tail.length;
  if (halves.length === 2) {
    const right = parse(halves[1] as string);
    if (right === null) return null;
    const missing = want - left.length - right.length;
    if (missing < 1) return null;
    groups = [...left, ...Array<string>(missing).fill('0'), ...right];
  } else {
    if (left.length !== want) return null;
    groups = left;
  }
  return [...groups.map((g) => parseInt(g, 16)), ...tail];
}

function formatIPv6(g: readonly number[]): string {
  // RFC 5952: lower case, no leading zeros, longest run (>= 2) of zero groups as `::`.
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: readonly number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(g);
  return `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
}

/** Clears the bits after the first `len` of a big-endian array of `width`-bit units. */
function mask(units: readonly number[], width: number, len: number): number[] {
  return units.map((u, i) => {
    const keep = Math.max(0, Math.min(width, len - i * width));
    return keep === 0 ? 0 : u & ~((1 << (width - keep)) - 1) & ((1 << width) - 1);
  });
}

export interface Cidr {
  readonly family: Family;
  /** Canonical `ADDR` or `NET/LEN` (host bits cleared, full length dropped); null for /0 = any. */
  readonly value: string | null;
}

/**
 * Reads `ADDR` or `ADDR/LEN` (IPv4 dotted quad without leading zeros, or
 * IPv6), in a canonical form so that `-d 10.0.0.1` and `-d 10.0.0.1/32`
 * compare equal, as they do for iptables.
 */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const lenText = slash < 0 ? null : text.slice(slash + 1);
  if (lenText !== null && !/^(0|[1-9][0-9]{0,2})$/.test(lenText)) return null;
  const v4 = parseIPv4(addr);
  if (v4 !== null) {
    const len = lenText === null ? 32 : Number(lenText);
    if (len > 32) return null;
    if (len === 0) return { family: 'ip', value: null };
    const net = mask(v4, 8, len).join('.');
    return { family: 'ip', value: len === 32 ? net : `${net}/${len}` };
  }
  const v6 = parseIPv6(addr);
  if (v6 !== null) {
    const len = lenText === null ? 128 : Number(lenText);
    if (len > 128) return null;
    if (len === 0) return { family: 'ip6', value: null };
    const net = formatIPv6(mask(v6, 16, len));
    return { family: 'ip6', value: len === 128 ? net : `${net}/${len}` };
  }
  return null;
}

// -------------------------------------------------------------------- ports

/**
 * Service names knockc resolves itself, as every Debian /etc/services has
 * them; only for TCP (these names have no UDP entry there). Any other name
 * depends on the target machine's /etc/services and is refused.
 */
const SERVICES: Readonly<Record<string, number>> = { ssh: 22, http: 80, https: 443 };

export type Proto = 'tcp' | 'udp';

/** A port number, strictly decimal (iptables would read `022` as octal 18). */
export function portNumber(text: string, min: number): number | null {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return null;
  const v = Number(text);
  return v >= min && v <= 65535 ? v : null;
}

/** One port for iptables: a number, or a known service name for TCP. */
function iptPort(word: Word, text: string, proto: Proto): number {
  const n = portNumber(text, 0);
  if (n !== null) return n;
  if (Object.hasOwn(SERVICES, text)) {
    if (proto === 'tcp') return SERVICES[text] as number;
    fail(word, `service name '${text}' is only known for tcp`);
  }
  fail(word, /^[A-Za-z][A-Za-z0-9-]*$/.test(text) ? `unknown service name '${text}' (use the port number)` : `bad port '${text}'`);
}

/** iptables `--dport`: `N`, `A:B`, `:B` (0:B) or `A:` (A:65535). */
export function iptPortRange(word: Word, proto: Proto): PortRange {
  const colon = word.text.indexOf(':');
  if (colon < 0) {
    const p = iptPort(word, word.text, proto);
    return { lo: p, hi: p };
  }
  const a = word.text.slice(0, colon);
  const b = word.text.slice(colon + 1);
  const lo = a === '' ? 0 : iptPort(word, a, proto);
  const hi = b === '' ? 65535 : iptPort(word, b, proto);
  if (lo > hi) fail(word, `port range ${word.text} has its ends swapped`);
  return { lo, hi };
}

/** iptables `-m multiport --dports a,b,c:d` (at most 15 ports, a range counting 2). */
export function iptPortList(word: Word, proto: Proto): PortRange[] {
  const items = word.text.split(',');
  const out: PortRange[] = [];
  let count = 0;
  for (const item of items) {
    if (item === '') fail(word, `empty item in port list '${word.text}'`);
    const colon = item.indexOf(':');
    if (colon < 0) {
      const p = iptPort(word, item, proto);
      out.push({ lo: p, hi: p });
      count += 1;
    } else {
      const lo = iptPort(word, item.slice(0, colon), proto);
      const hi = iptPort(word, item.slice(colon + 1), proto);
      if (lo > hi) fail(word, `port range ${item} has its ends swapped`);
      out.push({ lo, hi });
      count += 2;
    }
  }
  if (count > 15) fail(word, 'multiport takes at most 15 ports (a range counts as 2)');
  return out;
}

// --------------------------------------------------------------- interfaces

/** A plain interface name; `eth+` wildcards and odd characters are refused. */
export function interfaceName(word: Word): string {
  if (word.text.endsWith('+')) fail(word, `interface wildcard '${word.text}' is not supported`);
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/.test(word.text)) fail(word, `bad interface name '${word.text}'`);
  return word.text;
}
