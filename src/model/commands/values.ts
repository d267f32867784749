// Values shared by the command analysers: the knocker placeholder, addresses,
// ports and interface names. Everything is strict: a value that the real tool
// might read differently (octal ports, host names, masks in dotted form) is
// refused rather than guessed.

import { isIP } from 'node:net';
import type { Family, PortRange } from '../grant.js';
import { fail, type Word } from './shell.js';

export const KNOCKER = '%IP%';
export const BOTH: readonly Family[] = ['ip', 'ip6'];

/**
 * The families a source value can hold the knocker in: `%IP%` holds either,
 * `%IP%/32` only IPv4, `%IP%/128` only IPv6. Anything else is not the knocker.
 * knockd replaces `%IP%` in the line as written, before the shell reads it: a `%IP%` that
 * only appears once quotes or backslashes are removed (`%I'P'%`, `%I\P%`) stays `%IP%`
 * for the tool, which then fails; so the four characters must be next to each other in the line.
 */
export function knockerFamilies(word: Word): readonly Family[] | null {
  const text = word.text;
  if (!text.startsWith(KNOCKER) || !asWritten(word, KNOCKER.length)) return null;
  if (text === KNOCKER) return BOTH;
  if (text === `${KNOCKER}/32`) return ['ip'];
  if (text === `${KNOCKER}/128`) return ['ip6'];
  return null;
}

/** Whether the word's first `n` characters stand in the line as they are (no quote or backslash between). */
function asWritten(word: Word, n: number): boolean {
  if (word.map === undefined) return true;
  for (let i = 1; i < n; i++) if (word.map[i] !== (word.map[i - 1] as number) + 1) return false;
  return true;
}

export function intersect(a: readonly Family[], b: readonly Family[]): Family[] {
  return a.filter((f) => b.includes(f));
}

export function familyName(f: Family): string {
  return f === 'ip' ? 'IPv4' : 'IPv6';
}

// ---------------------------------------------------------------- addresses

/** The address in the WHATWG URL host form: RFC 5952 style, embedded IPv4 as hex. */
function urlHost6(text: string): string | null {
  try {
    return new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
}

/** Eight 16-bit groups of an IPv6 address (no zone), or null. */
function ipv6Groups(text: string): number[] | null {
  if (isIP(text) !== 6 || text.includes('%')) return null;
  const canonical = urlHost6(text);
  if (canonical === null) return null;
  const [l, r] = canonical.split('::');
  const groups = (x: string | undefined): number[] => (x ? x.split(':').map((g) => parseInt(g, 16)) : []);
  const left = groups(l);
  if (r === undefined) return left;
  const right = groups(r);
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** Clears the bits after the first `len` of a big-endian array of `width`-bit units. */
function mask(units: readonly number[], width: number, len: number): number[] {
  return units.map((u, i) => {
    const keep = Math.max(0, Math.min(width, len - i * width));
    return u & ((((1 << width) - 1) << (width - keep)) & ((1 << width) - 1));
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
  const family: Family | null = isIP(addr) === 4 ? 'ip' : ipv6Groups(addr) !== null ? 'ip6' : null;
  if (family === null) return null;
  const bits = family === 'ip' ? 32 : 128;
  const len = lenText === null ? bits : Number(lenText);
  if (len > bits) return null;
  if (len === 0) return { family, value: null };
  const net =
    family === 'ip'
      ? mask(addr.split('.').map(Number), 8, len).join('.')
      : urlHost6(mask(ipv6Groups(addr) as number[], 16, len).map((g) => g.toString(16)).join(':'));
  return { family, value: len === bits ? net : `${net}/${len}` };
}

// -------------------------------------------------------------------- ports

/**
 * Service names knockc resolves itself, as every Debian /etc/services has
 * them; only for TCP (these names have no UDP entry there). Any other name
 * depends on the target machine's /etc/services and is refused.
 */
const SERVICES: ReadonlyMap<string, number> = new Map([
  ['ssh', 22],
  ['http', 80],
  ['https', 443],
]);

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
  const named = SERVICES.get(text);
  if (named !== undefined) {
    if (proto === 'tcp') return named;
    fail(word, `service name '${text}' is only known for tcp`);
  }
  if (/^[A-Za-z][A-Za-z0-9-]*$/.test(text)) fail(word, `unknown service name '${text}' (use the port number)`);
  fail(word, `bad port '${text}'`);
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
      // multiport (unlike --dport) refuses a range whose ends are equal: "invalid portrange
      // specified", exit 2, nothing added (iptables 1.8.9, nft and legacy: the differential test).
      if (lo === hi) fail(word, `multiport refuses the range ${item} (equal ends: iptables exits with "invalid portrange specified")`);
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
