// Every name and label knockc writes into the kernel, and the only code that
// reads them back from a live listing: object names (knockc_armed4_d0,
// knockc_stage6_d1_2, knockc_grant4_g0_t30, xt_recent lists), door labels
// (`[door] line N: ...`), grant comments (`grant hook=... proto=...`), and the
// `[key]` at the end of a set comment. Code working on a program it built in
// the same process reads the IR's fields (SetDecl.door, role, key) instead.
import type { Proto } from '../frontend/config.js';
import type { Family, Hook } from './grant.js';
import type { Lifetime } from './plan.js';
import type { SetRole } from './ir.js';

/** knockc's objects carry this prefix, in its own table and in a user's (--into), in nft and iptables. */
export const KNOCKC_PREFIX = 'knockc_';
export const isKnockcName = (name: string): boolean => name.startsWith(KNOCKC_PREFIX);
/** The comment of the rules that hook knockc into a user's chain (nft --into). */
export const HOOK_COMMENT = 'knockc';

const fam = (f: Family): string => (f === 'ip' ? '4' : '6');
const p1 = (p: Proto): string => (p === 'tcp' ? 't' : 'u');

/** IR set and chain names (a door by its index in the config). */
export const names = {
  entry: (f: Family, h: Hook) => `${KNOCKC_PREFIX}${h === 'input' ? 'in' : 'fwd'}${fam(f)}`,
  vis: (f: Family, p: Proto, port: number) => `${KNOCKC_PREFIX}vis${fam(f)}_${p1(p)}${port}`,
  handle: (f: Family, p: Proto) => `${KNOCKC_PREFIX}handle${fam(f)}_${p1(p)}`,
  start: (f: Family, p: Proto, port: number) => `${KNOCKC_PREFIX}start${fam(f)}_${p1(p)}${port}`,
  active: (f: Family, p: Proto) => `${KNOCKC_PREFIX}active${fam(f)}_${p1(p)}`,
  door: (f: Family, door: number) => `${KNOCKC_PREFIX}door${fam(f)}_d${door}`,
  armed: (f: Family, door: number) => `${KNOCKC_PREFIX}armed${fam(f)}_d${door}`,
  stage: (f: Family, door: number, k: number) => `${KNOCKC_PREFIX}stage${fam(f)}_d${door}_${k}`,
  /**
   * The nft set that stores the door sets of one role and stage for every door (knockc_armed4,
   * knockc_stage4_2): its elements are `source . door tag`. nft resolves a set named in a rule by
   * walking the table's list of sets, so a set per door made loading quadratic in doors.
   */
  shared: (f: Family, role: 'armed' | 'stage' | 'grant', k = 0) => `${KNOCKC_PREFIX}${role}${fam(f)}${role === 'stage' ? `_${k}` : ''}`,
  /** What each tag of the shared grant set opens: elements `TAG comment "grant ... [key]"` (status, diff and carry-over read them). */
  grantRegistry: (f: Family) => `${KNOCKC_PREFIX}grantkey${fam(f)}`,
  /** Whose each door tag is: elements `TAG comment "[door] line N: ..."` (apply reads it instead of every rule). */
  doorRegistry: (f: Family) => `${KNOCKC_PREFIX}doorkey${fam(f)}`,
  /** A grant of the shared set as the live readers show it, one per tag (never a kernel object). */
  grantView: (f: Family, tag: number) => `${KNOCKC_PREFIX}grant${fam(f)}_x${tag}`,
  grantSet: (f: Family, n: number, l: Lifetime) => `${KNOCKC_PREFIX}grant${fam(f)}_g${n}_${l.kind === 'timed' ? `t${l.seconds}` : 'p'}`,
  grantPort: (f: Family, h: Hook, p: Proto, port: number) => `${KNOCKC_PREFIX}gp${fam(f)}_${h === 'input' ? 'in' : 'fwd'}_${p1(p)}${port}`,
  /** Base chains of knockc's own nft table; an earlier knockc tracked knocks in prerouting. */
  nftBase: ['prerouting', 'input', 'forward'] as const,
  /** The chains a user's chains (--into) and INPUT/FORWARD (iptables) jump to. */
  top: { input: `${KNOCKC_PREFIX}input`, forward: `${KNOCKC_PREFIX}forward`, prerouting: `${KNOCKC_PREFIX}prerouting` },
  /** The xt_recent list standing for an IR set: its stable key, so that a reload keeps the list exactly when the meaning is the same. */
  recentList: (role: SetRole, f: Family, key: string) => `${KNOCKC_PREFIX}${role}${fam(f)}_${key}`,
};

/** `[openSSH] line 4`: how every per-door comment starts. */
export const doorLabelText = (name: string, line: number): string => `[${name}] line ${line}`;

/** A grant set's comment: `grant` and the grant's key (what it opens). */
export const grantComment = (grantKey: string): string => `grant ${grantKey.slice(grantKey.indexOf('|') + 1)}`;

/** A set's comment as loaded: its text and `[key]` (what carry-over matches on). */
export const setComment = (text: string, key: string): string => `${text} [${key}]`;

/** The `[0123abcd4567]` at the end of a live set comment. */
export function keyOfComment(comment: string | null | undefined): string | null {
  const m = comment ? /\[([0-9a-f]{6,64})\]\s*$/.exec(comment) : null;
  return m ? m[1]! : null;
}

/** A live set comment without its `[key]`. */
export const withoutKey = (c: string | null): string => (c ?? '').replace(/\s*\[[0-9a-f]+\]$/, '');

/** The door index part (`d3`) of a live object's name, or null. */
export const doorIdOfName = (name: string): string | null => /_(d\d+)(?:_|$)/.exec(name)?.[1] ?? null;

/** A live door chain's door (`d3` of knockc_door4_d3), or null. */
export const doorChainOf = (chain: string): string | null => /^knockc_door[46]_(d\d+)$/.exec(chain)?.[1] ?? null;

/** The door chain a live iptables chain belongs to (knockc_door4_d3 for itself and its sub-chains `_sN`), or null. */
export const doorChainRoot = (chain: string): string | null => /^(knockc_door[46]_d\d+)(?:_s\d+)?$/.exec(chain)?.[1] ?? null;

/** The role word of a live xt_recent list (armed, stage, grant), or 'list'. */
export const listRole = (list: string): string => /^knockc_([a-z]+)[46]_/.exec(list)?.[1] ?? 'list';

/** A jump of a user's (iptables) chain to knockc's: `-j knockc_X` exactly as iptables-save prints it. */
export const hookTarget = (spec: string): string | null => /^-j (knockc_\S+)$/.exec(spec)?.[1] ?? null;

/** An iptables rule spec that jumps or goes to a knockc chain. */
export const reachesKnockc = (spec: string): boolean => /(^| )-[jg] knockc_/.test(spec);

export interface DoorLabel {
  readonly door: string;
  readonly line: number;
  readonly rest: string;
}

/** `[openSSH] line 4: 1 knock(s) made [key]` -> door, line, rest. */
export function doorLabel(comment: string | null | undefined): DoorLabel | null {
  const m = comment ? /^\[([^\]]*)\] line (\d+)(?:: (.*?))?(?: \[[0-9a-f]+\])?$/.exec(comment) : null;
  return m ? { door: m[1]!, line: Number(m[2]), rest: m[3] ?? '' } : null;
}

export type SetMeaning = { readonly role: 'armed' } | { readonly role: 'stage'; readonly knocks: number } | { readonly role: 'grant' } | { readonly role: 'other' };

/** What a knockc set holds, from its name (knockc_armed4_d0, knockc_stage6_d1_2, the shared knockc_armed4 and knockc_stage6_2, knockc_grant4_g0_t30). */
export function setMeaning(name: string): SetMeaning {
  if (/^knockc_armed[46](?:_d\d+)?$/.test(name)) return { role: 'armed' };
  const st = /^knockc_stage[46](?:_d\d+)?_(\d+)$/.exec(name);
  if (st) return { role: 'stage', knocks: Number(st[1]) };
  if (/^knockc_grant[46]_(?:g\d+_|x\d+$)/.test(name)) return { role: 'grant' };
  return { role: 'other' };
}

/** The shared grant set (knockc_grant4) and its registry (knockc_grantkey4). */
export const isSharedGrantSet = (name: string): boolean => /^knockc_grant[46]$/.test(name);
export const isGrantRegistry = (name: string): boolean => /^knockc_grantkey[46]$/.test(name);
/** The grant and door registries: what each tag stands for, in element comments. */
export const isRegistry = (name: string): boolean => /^knockc_(?:grant|door)key[46]$/.test(name);

/** A shared state set (knockc_armed4, knockc_stage6_2): its elements carry the door's tag. */
export const isSharedStateSet = (name: string): boolean => /^knockc_(?:armed[46]|stage[46]_\d+)$/.test(name);

/**
 * The door tag in a shared state set's key, as knockc writes it in rules: `jhash ip saddr mod 1
 * offset TAG` is always TAG (nft 1.0.6 rejects a constant in a lookup key; in an element it is
 * the plain number). The set's second field is typed by `meta length`, a 32-bit integer.
 */
export const tagExpr = (af: Family, tag: number): string => `jhash ${af} saddr mod 1 offset ${tag}`;
export const SHARED_TAG_TYPEOF = 'meta length';

export const familyOfName = (name: string): 'ip' | 'ip6' | null => {
  const m = /^knockc_[a-z]+([46])(?:_|$)/.exec(name);
  return m ? (m[1] === '4' ? 'ip' : 'ip6') : null;
};

/** `grant hook=input proto=tcp dport=22 daddr=* iif=* syn=0 new=0 [key]` in a few words: `tcp/22`. */
export function grantWords(comment: string | null | undefined): string {
  const body = (comment ?? '').replace(/\s*\[[0-9a-f]+\]\s*$/, '').replace(/^grant\s*/, '');
  const kv = new Map<string, string>();
  for (const m of body.matchAll(/(\w+)=(\S+)/g)) kv.set(m[1]!, m[2]!);
  if (kv.size === 0) return body || 'grant';
  const proto = kv.get('proto');
  const dport = kv.get('dport');
  const parts: string[] = [];
  parts.push(proto && proto !== '*' ? (dport && dport !== '*' ? `${proto}/${dport}` : `all ${proto}`) : dport && dport !== '*' ? `port ${dport}` : 'all traffic');
  const daddr = kv.get('daddr');
  if (daddr && daddr !== '*') parts.push(`to ${daddr}`);
  const iif = kv.get('iif');
  if (iif && iif !== '*') parts.push(`on ${iif}`);
  if (kv.get('hook') === 'forward') parts.push('(forward)');
  return parts.join(' ');
}
