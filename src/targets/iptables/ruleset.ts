// The iptables ruleset as data (what the templates render and the tests run), the kernel's
// limits it must stay within, and text that fits them.
import { TargetError } from '../target.js';
import type { FlagName, Proto } from '../../frontend/config.js';
import { cutBytes } from '../../text.js';
import { names } from '../../model/names.js';
import type { Family, PortRange } from '../../model/grant.js';

/** A config knockc cannot express with iptables (reported to the user, not a bug). */
export class IptablesError extends TargetError {}

/** iptables chain names: XT_EXTENSION_MAXNAMELEN - 1. */
export const CHAIN_NAME_MAX = 28;
/** xt_recent list names: XT_RECENT_NAME_LEN - 1. */
export const RECENT_NAME_MAX = 199;
/** The LOG target keeps 29 bytes of prefix (longer ones are cut silently by iptables). */
export const LOG_PREFIX_MAX = 29;
export const NFLOG_PREFIX_MAX = 63;
export const COMMENT_MAX = 255;
/** Dispatches of up to this many entries (of one protocol) stay one rule per entry; larger ones become a search tree. */
export const DISPATCH_LINEAR_MAX = 8;
/** Levels of chains a dispatch's search tree may add to the path of a packet (at most; see toRuleset). */
export const DISPATCH_LEVELS = 4;
/**
 * knockc's longest path of chains, knockc_input (or knockc_forward) counting as 1. nf_tables (the
 * kernel side of iptables-nft) refuses a ruleset with more than 15 chains below a built-in chain,
 * -g as well as -j ("RULE_INSERT failed (Too many links)", NFT_JUMP_STACK_SIZE 16); this leaves
 * room for two chains of the user's between INPUT and knockc_input.
 */
export const CHAIN_DEPTH_MAX = 13;
/** -m multiport takes 15 ports; a range counts twice. */
export const MULTIPORT_SLOTS = 15;

/** knockc's chains that INPUT and FORWARD jump to. */
export const TOP_CHAINS = { input: names.top.input, forward: names.top.forward } as const;

export type Frag =
  | { readonly k: 'iif'; readonly name: string }
  | { readonly k: 'daddr'; readonly addr: string }
  | { readonly k: 'proto'; readonly proto: Proto }
  /** Options of the protocol's own match (after -p); `explicit` loads another instance with -m tcp. */
  | { readonly k: 'dport'; readonly lo: number; readonly hi: number }
  | { readonly k: 'tcp-flags'; readonly mask: readonly FlagName[]; readonly set: readonly FlagName[]; readonly explicit: boolean }
  | { readonly k: 'syn-only'; readonly explicit: boolean }
  | { readonly k: 'multiport'; readonly ranges: readonly PortRange[] }
  | { readonly k: 'dst-local'; readonly limitIface: boolean }
  | { readonly k: 'ct-new' }
  | { readonly k: 'recent-check'; readonly list: string; readonly seconds: number | null }
  | { readonly k: 'recent-absent'; readonly list: string; readonly seconds: number | null }
  | { readonly k: 'recent-set'; readonly list: string }
  | { readonly k: 'recent-remove'; readonly list: string }
  | { readonly k: 'comment'; readonly text: string };

export type Target =
  | { readonly k: 'accept' }
  | { readonly k: 'drop' }
  | { readonly k: 'return' }
  | { readonly k: 'goto'; readonly chain: string }
  | { readonly k: 'jump'; readonly chain: string }
  | { readonly k: 'log'; readonly prefix: string }
  | { readonly k: 'nflog'; readonly group: number; readonly prefix: string }
  | { readonly k: 'mark'; readonly hex: string };

export interface IptRule {
  readonly match: readonly Frag[];
  readonly target: Target | null;
}

export interface IptChain {
  readonly name: string;
  readonly comment: string;
  readonly rules: readonly IptRule[];
}

export interface IptList {
  readonly name: string;
  readonly seconds: number | null;
  readonly comment: string;
}

/** The ruleset as data: what the templates render, and what the tests run. */
export interface IptRuleset {
  readonly family: Family;
  readonly chains: readonly IptChain[];
  readonly lists: readonly IptList[];
  /** Built-in chains that must jump to knockc's (INPUT always; FORWARD when knockc_forward has rules). */
  readonly hooks: ReadonlyArray<{ readonly builtin: 'INPUT' | 'FORWARD'; readonly chain: string }>;
}

const bytes = (s: string): number => Buffer.byteLength(s);

/** Text inside "..." in restore input: no quotes, backslashes or control characters. */
export function safe(s: string, max: number): string {
  // Short printable ASCII without quotes (nearly every comment) is fine as it is: one scan, no copy.
  if (s.length <= max && !/[^\u0020-\u0021\u0023-\u005b\u005d-\u007e]/.test(s)) return s;
  // eslint-disable-next-line no-control-regex
  return cutBytes(s.replace(/["\\]/g, "'").replace(/[\u0000-\u001f\u007f]/g, ' '), max);
}

/** `knockc DOOR: Stage N ` in 29 bytes: the door name gives way (marked ~), the event stays whole. */
export function logPrefix(prefix: string): string {
  const full = safe(`knockc ${prefix}`, 200) + ' ';
  if (bytes(full) <= LOG_PREFIX_MAX) return full;
  const clean = safe(prefix, 200);
  const cut = clean.lastIndexOf(': ');
  const tail = cut >= 0 ? clean.slice(cut) : '';
  const room = LOG_PREFIX_MAX - bytes('knockc ') - bytes(tail) - bytes('~ ');
  if (room < 1) return cutBytes(full, LOG_PREFIX_MAX - 1) + ' ';
  return `knockc ${cutBytes(cut >= 0 ? clean.slice(0, cut) : clean, room)}~${tail} `;
}

export function checkChainName(name: string): string {
  if (name.length > CHAIN_NAME_MAX || !/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw new Error(`internal: iptables chain name "${name}" is longer than ${CHAIN_NAME_MAX} characters or not plain`);
  }
  return name;
}
