// iptables generator: renders the IR program of ONE address family with
// templates/iptables/*.hbs into `iptables-restore --noflush` (or
// `ip6tables-restore --noflush`) input. IR sets become xt_recent lists, IR
// rules become iptables rules; this file only decides the shape (which rules,
// which sub-chains), the templates hold the syntax.
//
// How the IR maps onto xt_recent (see ir-interpreter.ts for the IR's meaning):
//   src-in S       -m recent --name S --rcheck [--seconds T]   (T = the set's timeout: an entry whose
//                  newest stamp is older than T counts as absent, which is how expiry is emulated)
//   set-refresh S  -m recent --name S --set                    (always matches; adds a stamp = restarts the timer)
//   set-add S      -m recent --name S ! --rcheck [--seconds T] -m recent --name S --set
//                  (--set alone would restart the timer of a live entry; "absent or expired" first keeps it)
//   set-del S      -m recent --name S --remove                 (does NOT match when S lacks the source)
//   log / notify   -j LOG / -j NFLOG                           (non-terminating targets: a rule of their own)
// An IR rule evaluates all its matches, then runs its statements in order, then its verdict. Since a
// --remove of an absent source ends an iptables rule, and LOG/NFLOG need a rule of their own, a rule
// with several statements becomes `<matches> -j SUB` (or `-g SUB` for return/goto verdicts, so that
// falling off SUB leaves the calling chain as the IR verdict does) and SUB holds one rule per statement
// followed by the verdict. A dispatch becomes `-p P --dport N -g CHAIN` rules (`-j` for a jump entry), one per entry: walked in
// order when the dispatch is small, else behind a search tree over port ranges (see dispatchRules), so
// that a packet walks O(log n) rules instead of n (iptables has no verdict maps).
// Lists are named knockc_<role><4|6>_<the IR set's stable key> (see listNames); INPUT and FORWARD
// reach the program through knockc_input / knockc_forward, which the user hooks once (see the
// template's header: iptables-restore cannot insert a rule only when it is missing).
import { NOTIFY_GROUP } from '../../model/notify.js';
import { TargetError } from '../target.js';
import type { FlagName, KnockdConfig, Proto } from '../../frontend/config.js';
import { formatPosition } from '../../frontend/source.js';
import { RECENT_SECONDS_MAX, timeoutProblems } from './check.js';
import { interfaceNameProblem } from '../../frontend/interface-name.js';
import { cutBytes } from '../../text.js';
import { names } from '../../model/names.js';
import { commentLine, doorSummaries } from '../header.js';
import type { Family, PortRange } from '../../model/grant.js';
import type { Chain, Dispatch, Match, Program, Rule, SetDecl, Stmt, Verdict } from '../../model/ir.js';
import { lower, type LowerOptions } from '../../model/lower.js';
import { planDoors, type DoorPlan } from '../../model/plan.js';
import { loadTemplate, tidy } from '../templates.js';

export interface IptablesOptions {
  /** ip: iptables-restore input; ip6: ip6tables-restore input. */
  readonly family: Family;
  /** Standalone guard: also drop new connections to granted ports from sources without the grant. */
  readonly guard: boolean;
  readonly iface: string | null;
  readonly log: boolean;
  readonly notifyGroup: number;
  readonly version: string;
  readonly source: string;
}

export const IPTABLES_DEFAULTS: Omit<IptablesOptions, 'version' | 'source'> = {
  family: 'ip',
  guard: false,
  iface: null,
  log: false,
  notifyGroup: NOTIFY_GROUP,
};

/** A config knockc cannot express with iptables (reported to the user, not a bug). */
export class IptablesError extends TargetError {}

/** iptables chain names: XT_EXTENSION_MAXNAMELEN - 1. */
export const CHAIN_NAME_MAX = 28;
/** xt_recent list names: XT_RECENT_NAME_LEN - 1. */
export const RECENT_NAME_MAX = 199;
export { RECENT_SECONDS_MAX };
/** The LOG target keeps 29 bytes of prefix (longer ones are cut silently by iptables). */
export const LOG_PREFIX_MAX = 29;
const NFLOG_PREFIX_MAX = 63;
const COMMENT_MAX = 255;
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
  | { readonly k: 'nflog'; readonly group: number; readonly prefix: string };

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
function safe(s: string, max: number): string {
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

function checkChainName(name: string): string {
  if (name.length > CHAIN_NAME_MAX || !/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw new Error(`internal: iptables chain name "${name}" is longer than ${CHAIN_NAME_MAX} characters or not plain`);
  }
  return name;
}

/** IR set name -> the xt_recent list standing for it. */
export type ListMap = ReadonlyMap<string, { readonly list: string; readonly seconds: number | null }>;

function listOf(lists: ListMap, name: string): { readonly list: string; readonly seconds: number | null } {
  const l = lists.get(name);
  if (!l) throw new Error(`internal: no set ${name}`);
  return l;
}

/**
 * xt_recent lists keep their sources while any rule uses them, so a reload carries a list's
 * state over exactly when the new file uses the same name. Names come from the IR's stable
 * set keys (what the elements mean), not from door order: a reordered config keeps attempts
 * and grants, and a list whose meaning changed starts empty instead of granting the wrong port.
 */
export function listNames(sets: readonly SetDecl[]): Map<string, { list: string; seconds: number | null; set: SetDecl }> {
  const out = new Map<string, { list: string; seconds: number | null; set: SetDecl }>();
  const used = new Set<string>();
  for (const s of sets) {
    const base = names.recentList(s.role, s.family, s.key);
    // Doors identical in every respect have equal keys, but each needs lists of its own.
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base}_${n}`;
    used.add(name);
    if (name.length > RECENT_NAME_MAX || !/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`internal: xt_recent list name "${name}" is not usable`);
    out.set(s.name, { list: name, seconds: s.timeout, set: s });
  }
  return out;
}

function slots(ranges: readonly PortRange[]): number {
  return ranges.reduce((n, r) => n + (r.lo === r.hi ? 1 : 2), 0);
}

/** Splits a port list into disjoint lists that each fit one -m multiport. */
function multiportChunks(ranges: readonly PortRange[]): PortRange[][] {
  const out: PortRange[][] = [];
  let cur: PortRange[] = [];
  for (const r of ranges) {
    const n = r.lo === r.hi ? 1 : 2;
    if (slots(cur) + n > MULTIPORT_SLOTS) {
      out.push(cur);
      cur = [];
    }
    cur.push(r);
  }
  if (cur.length) out.push(cur);
  return out;
}

const cartesian = <T>(xss: readonly (readonly T[])[]): T[][] =>
  xss.reduce<T[][]>((acc, xs) => acc.flatMap((a) => xs.map((x) => [...a, x])), [[]]);

/**
 * The IR matches of one rule as iptables match lists. IR matches are side-effect free and
 * conjunctive, so they may be put in iptables' order (-p before its options). Returns several
 * lists when the conjunction needs a disjunction to be written (a port match without protocol,
 * a port list over 15 slots): they are mutually exclusive, so at most one matches a packet.
 * Returns [] for a conjunction that no packet satisfies.
 */
export function matchAlternatives(ms: readonly Match[], lists: ListMap): Frag[][] {
  const protos = new Set<Proto>();
  const iifs = new Set<string>();
  const daddrs = new Set<string>();
  const dports = new Set<number>();
  const portLists: Array<readonly PortRange[]> = [];
  const flags: Array<{ k: 'tcp-flags'; mask: readonly FlagName[]; set: readonly FlagName[] } | { k: 'syn-only' }> = [];
  let ctNew = false;
  let dstLocal = false;
  let limitIface = false;
  const checks: Frag[] = [];
  for (const m of ms) {
    switch (m.k) {
      case 'proto':
        protos.add(m.proto);
        break;
      case 'dport':
        dports.add(m.port);
        break;
      case 'dports':
        portLists.push(m.ranges);
        break;
      case 'tcp-flags':
        // The IR's flag test is false for anything but TCP.
        protos.add('tcp');
        flags.push({ k: 'tcp-flags', mask: m.mask, set: m.set });
        break;
      case 'syn-only':
        protos.add('tcp');
        flags.push({ k: 'syn-only' });
        break;
      case 'dst-local':
        dstLocal = true;
        if (m.iface !== null) {
          limitIface = true;
          iifs.add(m.iface);
        }
        break;
      case 'daddr':
        daddrs.add(m.addr);
        break;
      case 'iif':
        iifs.add(m.name);
        break;
      case 'src-in': {
        const l = listOf(lists, m.set);
        checks.push({ k: 'recent-check', list: l.list, seconds: l.seconds });
        break;
      }
      case 'ct-new':
        ctNew = true;
        break;
    }
  }
  if (protos.size > 1 || iifs.size > 1 || dports.size > 1) return [];
  if (daddrs.size > 1) throw new Error(`internal: a rule with two destination matches (${[...daddrs].join(', ')})`);

  const needsL4 = dports.size > 0 || portLists.length > 0;
  const protoAlts: Array<Proto | null> = protos.size === 1 ? [[...protos][0]!] : needsL4 ? ['tcp', 'udp'] : [null];
  // One range and no single port: --dport lo:hi of the protocol match; else -m multiport.
  const single = dports.size === 0 && portLists.length === 1 && portLists[0]!.length === 1 ? portLists[0]![0]! : null;
  const portAlts = cartesian(single ? [] : portLists.map((rs) => multiportChunks(rs).map((c): Frag => ({ k: 'multiport', ranges: c }))));

  const out: Frag[][] = [];
  for (const proto of protoAlts) {
    for (const ports of portAlts) {
      const f: Frag[] = [];
      for (const n of iifs) f.push({ k: 'iif', name: n });
      for (const a of daddrs) f.push({ k: 'daddr', addr: a });
      if (proto) f.push({ k: 'proto', proto });
      for (const p of dports) f.push({ k: 'dport', lo: p, hi: p });
      if (single) f.push({ k: 'dport', lo: single.lo, hi: single.hi });
      flags.forEach((fl, i) => f.push(fl.k === 'syn-only' ? { k: 'syn-only', explicit: i > 0 } : { k: 'tcp-flags', mask: fl.mask, set: fl.set, explicit: i > 0 }));
      f.push(...ports);
      if (dstLocal) f.push({ k: 'dst-local', limitIface });
      if (ctNew) f.push({ k: 'ct-new' });
      f.push(...checks);
      out.push(f);
    }
  }
  return out;
}

/** One statement as (match fragments, target) of an iptables rule. */
function stmtRule(s: Stmt, lists: ListMap): IptRule {
  switch (s.k) {
    case 'set-add': {
      const l = listOf(lists, s.set);
      return { match: [{ k: 'recent-absent', list: l.list, seconds: l.seconds }, { k: 'recent-set', list: l.list }], target: null };
    }
    case 'set-refresh':
      return { match: [{ k: 'recent-set', list: listOf(lists, s.set).list }], target: null };
    case 'set-del':
      return { match: [{ k: 'recent-remove', list: listOf(lists, s.set).list }], target: null };
    case 'log':
      return { match: [], target: { k: 'log', prefix: logPrefix(s.prefix) } };
    case 'notify':
      return { match: [], target: { k: 'nflog', group: s.group, prefix: safe(s.prefix, NFLOG_PREFIX_MAX) } };
  }
}

function verdictTarget(v: Verdict): Target {
  switch (v.k) {
    case 'accept':
    case 'drop':
    case 'return':
      return { k: v.k };
    case 'goto':
    case 'jump':
      return { k: v.k, chain: checkChainName(v.chain) };
  }
}

const comment = (text: string | undefined): Frag[] => (text ? [{ k: 'comment', text: safe(text, COMMENT_MAX) }] : []);

/**
 * An IR chain as one iptables chain plus the sub-chains its multi-statement rules and large
 * dispatches need. `levels(i)`: how deep the search tree of the dispatch on line i may nest (0:
 * linear); `owners` learns which line each tree chain belongs to.
 */
function translateChain(c: Chain, lists: ListMap, linearMax: number, levels: (line: number) => number, owners: Map<string, number>): IptChain[] {
  const subs: IptChain[] = [];
  const trees: IptChain[] = [];
  const perLine: IptRule[][] = c.lines.map((line, i) => {
    const rules: IptRule[] = [];
    if (line.kind === 'rule') translateRule(c.name, i, line, lists, rules, subs);
    return rules;
  });
  const big = c.lines.filter((l) => l.kind === 'dispatch' && l.entries.length > linearMax).length;
  // Right to left: a dispatch's tree needs the rules that follow it (its "rest").
  for (let i = c.lines.length - 1; i >= 0; i--) {
    const line = c.lines[i]!;
    if (line.kind !== 'dispatch') continue;
    if (line.entries.length <= linearMax || levels(i) === 0) {
      perLine[i] = line.entries.map(dispatchLeaf);
      continue;
    }
    const base = big > 1 ? `${c.name}_${i}` : c.name;
    const after = perLine.slice(i + 1).flat();
    const rest = after.length ? checkChainName(`${base}_rest`) : null;
    const before = trees.length;
    perLine[i] = dispatchRules(c.name, base, line, rest, linearMax, levels(i), trees);
    for (const t of trees.slice(before)) owners.set(t.name, i);
    // Only tree chains go to REST (none when each protocol's entries are few).
    if (rest && trees.length > before) {
      trees.push({ name: rest, comment: `${c.name} after its dispatch, for ports in a range of the dispatch's search tree but not in the dispatch`, rules: after });
    }
  }
  return [{ name: checkChainName(c.name), comment: c.comment, rules: perLine.flat() }, ...subs, ...trees];
}

type DispatchEntry = Dispatch['entries'][number];

// A jump entry comes back to the rule after it: the other leaves (other ports) and then the
// tree chain's `-g REST`, so the rules after the dispatch run as the IR says.
const dispatchLeaf = (e: DispatchEntry): IptRule => ({
  match: [{ k: 'proto', proto: e.proto }, { k: 'dport', lo: e.port, hi: e.port }],
  target: { k: e.jump ? 'jump' : 'goto', chain: checkChainName(e.chain) },
});

/**
 * A tree chain's name: the dispatching chain's (`base`) and the range, so that it does not change
 * when doors elsewhere change. Two five-digit ports after a long base (knockc_grant4_in) do not
 * fit in CHAIN_NAME_MAX: then the ports are written in hexadecimal, separated by "." instead of
 * "-" (so that the two forms never give one name to two ranges).
 */
function treeChainName(base: string, proto: Proto, lo: number, hi: number): string {
  const p = proto === 'tcp' ? 't' : 'u';
  const name = `${base}_${p}${lo}-${hi}`;
  return checkChainName(name.length <= CHAIN_NAME_MAX ? name : `${base}_${p}${lo.toString(16)}.${hi.toString(16)}`);
}

/**
 * A large dispatch as a search tree of chains over port ranges, per protocol, at most `levels`
 * chains deep. The dispatching chain gets one rule for the whole span of the protocol's ports,
 * `-p P --dport MIN:MAX -g SPAN` (a port outside it, most traffic, costs that one rule); SPAN and
 * the chains below it split their sorted entries into a few groups of about equal size,
 * `-p P --dport LO:HI -g GROUP` each (LO and HI: the group's first and last port), as few as the
 * levels left allow, down to at most `linearMax` entries, which end in the dispatch's own
 * `-p P --dport N -g CHAIN` rules. With one level there is no SPAN: the groups are in the
 * dispatching chain. A packet walks a few rules per level; the depth is bounded because
 * nf_tables limits nesting (CHAIN_DEPTH_MAX).
 *
 * Every step is a goto, as the dispatch's own entry is (ir-interpreter.ts: an entry ends the
 * dispatching chain): the jump stack is the one the dispatching chain had, so RETURN (or the end)
 * of an entry's chain returns to whoever called the dispatching chain, as before. A packet whose
 * port falls in a tree chain's range but in no entry must go on after the dispatch, in the
 * dispatching chain: every tree chain ends with `-g REST`, a chain holding the dispatching chain's
 * rules after the dispatch (also reached by goto, so its RETURNs and its end mean what they mean
 * there). With nothing after the dispatch there is no REST: the end of a tree chain entered by
 * goto is then the end of the dispatching chain.
 */
function dispatchRules(owner: string, base: string, d: Dispatch, rest: string | null, linearMax: number, levels: number, chains: IptChain[]): IptRule[] {
  // Stable: of entries with equal (proto, port) the first wins, as in the IR; the others never match.
  const seen = new Set<string>();
  const sorted = [...d.entries]
    .sort((a, b) => (a.proto === b.proto ? a.port - b.port : a.proto < b.proto ? -1 : 1))
    .filter((e) => !seen.has(`${e.proto}/${e.port}`) && seen.add(`${e.proto}/${e.port}`));
  const tail: IptRule[] = rest ? [{ match: [], target: { k: 'goto', chain: rest } }] : [];
  /** The rules for `es` with `levels` levels of chains below them. */
  const node = (es: readonly DispatchEntry[], levels: number): IptRule[] => {
    if (es.length <= linearMax || levels === 0) return es.map(dispatchLeaf);
    // The fewest groups that leave at most linearMax entries per chain after `levels` levels.
    let groups = 2;
    while (groups ** levels * linearMax < es.length) groups++;
    const size = Math.ceil(es.length / groups);
    const out: IptRule[] = [];
    for (let i = 0; i < es.length; i += size) out.push(group(es.slice(i, i + size), levels - 1));
    return out;
  };
  /** A range rule to a chain holding `es` (with `levels` levels below it). */
  const group = (es: readonly DispatchEntry[], levels: number): IptRule => {
    if (es.length === 1) return dispatchLeaf(es[0]!);
    const { proto, port: lo } = es[0]!;
    const hi = es[es.length - 1]!.port;
    const name = treeChainName(base, proto, lo, hi);
    const rules: IptRule[] = [];
    // Parents before children in the file.
    chains.push({ name, comment: `dispatch of ${owner}: ${proto} ports ${lo}-${hi} (${es.length} entries)`, rules });
    rules.push(...node(es, levels), ...tail);
    return { match: [{ k: 'proto', proto }, { k: 'dport', lo, hi }], target: { k: 'goto', chain: name } };
  };
  const out: IptRule[] = [];
  for (const proto of new Set(sorted.map((e) => e.proto))) {
    const es = sorted.filter((e) => e.proto === proto);
    out.push(...(es.length > linearMax && levels >= 2 ? [group(es, levels - 1)] : node(es, levels)));
  }
  return out;
}

/** The longest path of chains from knockc_input / knockc_forward, -j and -g alike. */
export function longestPath(chains: readonly IptChain[]): string[] {
  const byName = new Map(chains.map((c) => [c.name, c]));
  /** chain -> chains on the longest path from it (itself included), and the next one on it */
  const memo = new Map<string, { depth: number; next: string | null }>();
  const visit = (name: string): number => {
    const hit = memo.get(name);
    if (hit) return hit.depth;
    memo.set(name, { depth: 1, next: null }); // (knockc builds no loops)
    let best = { depth: 1, next: null as string | null };
    for (const r of byName.get(name)?.rules ?? []) {
      if ((r.target?.k === 'jump' || r.target?.k === 'goto') && byName.has(r.target.chain)) {
        const d = 1 + visit(r.target.chain);
        if (d > best.depth) best = { depth: d, next: r.target.chain };
      }
    }
    memo.set(name, best);
    return best.depth;
  };
  let cur: string | null = visit(TOP_CHAINS.forward) > visit(TOP_CHAINS.input) ? TOP_CHAINS.forward : TOP_CHAINS.input;
  const path: string[] = [];
  for (; cur !== null; cur = memo.get(cur)?.next ?? null) path.push(cur);
  return path;
}

/** How many chains deep knockc's rules nest: knockc_input (or knockc_forward) counts as 1. */
export const chainDepth = (chains: readonly IptChain[]): number => longestPath(chains).length;

function translateRule(chain: string, index: number, r: Rule, lists: ListMap, rules: IptRule[], subs: IptChain[]): void {
  const alts = matchAlternatives(r.match, lists);
  // No packet can match: the rule has no effect.
  if (alts.length === 0) return;
  const verdict = r.verdict ? verdictTarget(r.verdict) : null;
  const note = comment(r.comment);
  if (r.stmts.length === 0) {
    for (const a of alts) rules.push({ match: [...a, ...note], target: verdict });
    return;
  }
  const stmtRules = r.stmts.map((s) => stmtRule(s, lists));
  if (r.match.length === 0) {
    // Nothing to evaluate once: the statements and the verdict follow in this very chain.
    stmtRules.forEach((s, j) => rules.push({ match: [...(j === 0 ? note : []), ...s.match], target: s.target }));
    if (verdict) rules.push({ match: [], target: verdict });
    return;
  }
  const only = stmtRules[0]!;
  if (r.stmts.length === 1 && verdict === null) {
    // One statement and no verdict: it can end the rule (a failed --remove) without changing anything else.
    for (const a of alts) rules.push({ match: [...a, ...note, ...only.match], target: only.target });
    return;
  }
  if (r.stmts.every((s) => s.k === 'set-refresh')) {
    // --set always matches: statements and verdict fit in one rule.
    for (const a of alts) rules.push({ match: [...a, ...note, ...stmtRules.flatMap((s) => s.match)], target: verdict });
    return;
  }
  const sub = checkChainName(`${chain}_s${index}`);
  // Falling off the end of SUB returns to whoever called the chain that went to it with -g:
  // that is IR `return` (and, after the last -g, IR `goto`).
  const leaves = r.verdict?.k === 'return' || r.verdict?.k === 'goto';
  const tail: IptRule[] = verdict && verdict.k !== 'return' ? [{ match: [], target: verdict }] : [];
  subs.push({ name: sub, comment: `${chain} rule ${index + 1}${r.comment ? ` (${r.comment})` : ''}: statements, then the verdict`, rules: [...stmtRules, ...tail] });
  for (const a of alts) rules.push({ match: [...a, ...note], target: { k: leaves ? 'goto' : 'jump', chain: sub } });
}

export interface RulesetOptions {
  /** Dispatches with more entries of one protocol than this become a search tree (default DISPATCH_LINEAR_MAX). */
  readonly dispatchLinearMax?: number;
  /** Levels a search tree may nest at most (default DISPATCH_LEVELS; 0: every dispatch linear). */
  readonly dispatchLevels?: number;
}

const rank = (name: string): number => (name === TOP_CHAINS.input ? 0 : name === TOP_CHAINS.forward ? 1 : 2);

/** The IR program of one family as iptables chains and xt_recent lists. */
export function toRuleset(program: Program, family: Family, opts: RulesetOptions = {}): IptRuleset {
  const linearMax = Math.max(1, opts.dispatchLinearMax ?? DISPATCH_LINEAR_MAX);
  const named = listNames(program.sets.filter((s) => s.family === family));
  const lists: IptList[] = [];
  for (const { list, seconds, set } of named.values()) {
    if (seconds !== null && seconds < 1) throw new Error(`internal: list ${list} with a timeout of ${seconds} s`);
    if (seconds !== null && seconds > RECENT_SECONDS_MAX) {
      throw new IptablesError(`${set.comment}: a timeout of ${seconds} s is longer than xt_recent can count (${RECENT_SECONDS_MAX} s, about 49 days); use --target nft, or a shorter timeout`);
    }
    lists.push({ name: list, seconds, comment: set.comment });
  }

  // The entry chains of the IR ARE the chains hooked from INPUT and FORWARD (renamed): no jump
  // in between. A hook without an entry still gets its (empty) chain, as knockc's hooks expect.
  const entry = program.entries[family] ?? {};
  const tops = new Map<string, { name: string; comment: string }>();
  if (entry.input) tops.set(entry.input, { name: TOP_CHAINS.input, comment: 'from INPUT: knock tracking, then grants' });
  if (entry.forward) tops.set(entry.forward, { name: TOP_CHAINS.forward, comment: 'from FORWARD: knocks to a Target, then forwarded grants' });
  const empty = (name: string): IptChain[] => ([...tops.values()].some((t) => t.name === name) ? [] : [{ name, comment: 'nothing to do here', rules: [] }]);
  const top: IptChain[] = [...empty(TOP_CHAINS.input), ...empty(TOP_CHAINS.forward)];
  const mine = program.chains
    .filter((c) => c.family === family)
    .map((c) => {
      const t = tops.get(c.name);
      return t ? { ...c, ...t } : c;
    });
  // Search trees as deep as DISPATCH_LEVELS; while the chains nest deeper than CHAIN_DEPTH_MAX,
  // the last tree on the deepest path loses a level (the first dispatches a packet meets are the
  // ones every packet walks: they keep their depth longest).
  const initial = Math.max(0, opts.dispatchLevels ?? DISPATCH_LEVELS);
  const budget = new Map<string, number>();
  const levelsOf = (c: Chain, i: number): number => budget.get(`${c.name}#${i}`) ?? initial;
  const owner = new Map<string, string>();
  const done = new Map<Chain, { key: string; out: IptChain[] }>();
  const translate = (c: Chain): IptChain[] => {
    const key = c.lines.map((l, i) => (l.kind === 'dispatch' ? levelsOf(c, i) : '')).join(',');
    const hit = done.get(c);
    if (hit?.key === key) return hit.out;
    const owners = new Map<string, number>();
    const out = translateChain(c, named, linearMax, (i) => levelsOf(c, i), owners);
    for (const [name, i] of owners) owner.set(name, `${c.name}#${i}`);
    done.set(c, { key, out });
    return out;
  };
  let chains: IptChain[];
  for (;;) {
    chains = [...top, ...mine.flatMap(translate)];
    const path = longestPath(chains);
    if (path.length <= CHAIN_DEPTH_MAX) break;
    const trees = path.map((n) => owner.get(n)).filter((id): id is string => id !== undefined && (budget.get(id) ?? initial) > 0);
    const last = trees[trees.length - 1];
    if (last === undefined) break; // no tree left on it: as deep as one rule per entry would be
    const onPath = trees.filter((id) => id === last).length;
    budget.set(last, Math.min((budget.get(last) ?? initial) - 1, onPath - 1));
  }
  // The hooked chains first, INPUT's before FORWARD's (stable: the rest keeps its order).
  chains.sort((a, b) => rank(a.name) - rank(b.name));
  const names = new Set<string>();
  for (const c of chains) {
    if (names.has(c.name)) throw new Error(`internal: two iptables chains named ${c.name}`);
    names.add(c.name);
  }
  const hooks = [
    { builtin: 'INPUT' as const, chain: TOP_CHAINS.input },
    ...(entry.forward ? [{ builtin: 'FORWARD' as const, chain: TOP_CHAINS.forward }] : []),
  ];
  return { family, chains, lists, hooks };
}

const UPPER = (fs: readonly FlagName[]): string => (fs.length ? fs.map((f) => f.toUpperCase()).join(',') : 'NONE');
const portsText = (rs: readonly PortRange[]): string => rs.map((r) => (r.lo === r.hi ? `${r.lo}` : `${r.lo}:${r.hi}`)).join(',');

/**
 * An interface name as an iptables-restore word: `-i eth0`. Names are checked where they enter
 * (KC116, --interface); this is the last word before the text: nothing iptables-restore would
 * read otherwise (blanks and quotes split or quote words, a trailing '+' is a wildcard) gets through.
 */
export function iptIfname(name: string): string {
  const problem = interfaceNameProblem(name);
  if (problem !== null) throw new IptablesError(`interface ${JSON.stringify(name)} cannot be written in an iptables rule: ${problem.text}`);
  return name;
}

function fragView(f: Frag): unknown {
  switch (f.k) {
    case 'iif':
      return { ...f, name: iptIfname(f.name) };
    case 'tcp-flags':
      return { ...f, mask: UPPER(f.mask), set: UPPER(f.set) };
    case 'multiport':
      return { ...f, ports: portsText(f.ranges) };
    default:
      return f;
  }
}

/** What the file's header says besides the rules. */
export interface RenderMeta {
  readonly version: string;
  readonly source: string;
  readonly notifyGroup: number;
  readonly guard: boolean;
  readonly doors: ReadonlyArray<{ readonly name: string; readonly line: number; readonly summary: string }>;
  readonly runtimeDoors: Program['runtimeDoors'];
}

/** iptables-restore input for a ruleset. */
export function renderIptables(ruleset: IptRuleset, meta: RenderMeta): string {
  const v6 = ruleset.family === 'ip6';
  const data = {
    ...meta,
    v6,
    tool: v6 ? 'ip6tables' : 'iptables',
    other: v6 ? '4' : '6',
    lists: ruleset.lists.map((l) => ({ ...l, comment: safe(l.comment, 200) })),
    hooks: ruleset.hooks,
    chains: ruleset.chains.map((c) => ({
      name: c.name,
      comment: safe(c.comment, 200),
      // Made when the template reaches the chain (an own getter, which Handlebars reads like a
      // property), so that the views of a big ruleset never all live at once.
      get rules() {
        return c.rules.map((r) => ({ match: r.match.map(fragView), target: r.target }));
      },
    })),
  };
  return tidy(loadTemplate('iptables', 'restore', ['syntax'])(data));
}

/** `plans`: planDoors(config) when the caller has it already. */
export function compileIptables(config: KnockdConfig, o: IptablesOptions, plans?: readonly DoorPlan[]): { text: string; program: Program; ruleset: IptRuleset } {
  const lowerOpts: LowerOptions = {
    // Without --guard, grants accept, like knockd's iptables commands.
    guard: o.guard,
    iface: o.iface ?? config.options.interface.value,
    log: o.log,
    families: [o.family],
    notifyGroup: o.notifyGroup,
  };
  const doorPlans = plans ?? planDoors(config);
  // What the target's check reports before generation, refused here too (compileIptables is also called directly).
  const problem = timeoutProblems(doorPlans, o.family)[0];
  if (problem) throw new IptablesError(`${formatPosition(problem.range.start)}: ${problem.message}`);
  const program = lower(config, lowerOpts, doorPlans);
  const ruleset = toRuleset(program, o.family);
  const text = renderIptables(ruleset, {
    version: o.version,
    source: commentLine(o.source),
    notifyGroup: o.notifyGroup,
    guard: o.guard,
    doors: doorSummaries(doorPlans, o.family),
    runtimeDoors: program.runtimeDoors,
  });
  return { text, program, ruleset };
}
