// IR matches and statements as iptables match fragments: xt_recent lists for IR sets, and the
// disjunctions a conjunction needs (a port without protocol, a port list over 15 slots).
import { markHex } from '../../model/mark.js';
import type { FlagName, Proto } from '../../frontend/config.js';
import { names } from '../../model/names.js';
import type { PortRange } from '../../model/grant.js';
import type { Match, SetDecl, Stmt, Verdict } from '../../model/ir.js';
import { checkChainName, COMMENT_MAX, logPrefix, MULTIPORT_SLOTS, NFLOG_PREFIX_MAX, RECENT_NAME_MAX, safe, type Frag, type IptRule, type Target } from './ruleset.js';

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
export function stmtRule(s: Stmt, lists: ListMap): IptRule {
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
    case 'mark':
      return { match: [], target: { k: 'mark', hex: markHex({ bits: s.bits }) } };
  }
}

export function verdictTarget(v: Verdict): Target {
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

export const comment = (text: string | undefined): Frag[] => (text ? [{ k: 'comment', text: safe(text, COMMENT_MAX) }] : []);
