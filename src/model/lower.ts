// Lowers doors (their knocks and plans) into the IR program: one state
// machine per door and family, built from sets with timeouts.
//
// Per family, the chains are:
//   in / fwd   the entry of hook input (forward): ONE dispatch on (proto, port) over every knock
//              port and every granted port, so other traffic costs one lookup; knock ports are
//              called (knock tracking comes first), granted ports gone to (grant_port_H)
//   vis_P_N    the global knock filter: does any door listing P/N see this packet (dst, flags)?
//   handle_P   does the source have an attempt (on a door that accepts this dst)?
//              yes -> active_P; no -> dispatch to start_P_N
//   start_P_N  start every door whose first knock is P/N (all together)
//   active_P   every door with an attempt of this source jumps to its door chain
//   door_D     advance (most advanced stage first, so one packet moves one stage),
//              or invalidate on a wrong knock
//   gp_H_P_N   grants of P/N on hook H: accept granted sources; with the guard also drop
//              new connections from everyone else (a knock port too: tracking first)
//              Grants over many ports (or every port) are rules of the entry after its dispatch.
import crypto, { createHash } from 'node:crypto';
import type { Door, FlagName, Knock, KnockdConfig, Proto } from '../frontend/config.js';
import { FLAG_NAMES } from '../frontend/config.js';
import { readTarget } from '../frontend/address.js';
import type { Family, GrantMatch, Hook } from './grant.js';
import type { Chain, DispatchEntry, Line, Match, Program, Rule, SetDecl, Stmt, Verdict } from './ir.js';
import { rule } from './ir.js';
import { FAMILIES, planDoors, runtimeActs, type DoorPlan, type GrantRef, type Lifetime } from './plan.js';
import { NOTIFY_GROUP, notifyPrefix, oneTimeLine } from './notify.js';
import type { Mark } from './mark.js';
import { doorLabelText, grantComment, names } from './names.js';

export interface LowerOptions {
  /** Grants also drop new connections to granted ports from sources without the grant (knockc's own table), instead of only accepting (like knockd's commands). */
  readonly guard: boolean;
  /** knockd -i: knocks count only when addressed to this interface's own addresses. */
  readonly iface: string | null;
  /** Kernel log lines that mirror knockd's ("DOOR: Stage N", "DOOR: OPEN SESAME"). */
  readonly log: boolean;
  /** Families to emit (an `ip` or `ip6` table holds one). */
  readonly families: readonly Family[];
  /** NFLOG group for runtime notifications. */
  readonly notifyGroup: number;
  /**
   * Grants set these mark bits before their accept (knockc's own table: the host firewall
   * accepts marked packets through its standing rule, src/attach/); null: a plain accept.
   */
  readonly mark: Mark | null;
}

export const DEFAULT_LOWER: LowerOptions = { guard: true, iface: null, log: false, families: FAMILIES, notifyGroup: NOTIFY_GROUP, mark: null };

/** Ranges up to this many ports are spread over the dispatch; wider ones are matched linearly. */
const MAX_DISPATCH_RANGE = 64;

function flagMatch(d: Door): Match[] {
  const f = d.tcpFlags.value;
  const mask = FLAG_NAMES.filter((n) => f[n] !== 'any');
  if (mask.length === 0) return [];
  const set: FlagName[] = mask.filter((n) => f[n] === 'set');
  return [{ k: 'tcp-flags', mask, set }];
}

/** The packet is addressed where the door listens, for this family; null = the door never sees this family. */
function dstMatch(d: Door, f: Family, o: LowerOptions): Match[] | null {
  const t = d.target.value;
  if (t === null) return [{ k: 'dst-local', iface: o.iface }];
  const r = readTarget(t);
  // knockd compares the destination's text with Target: only a canonical literal of this family ever matches.
  if (r.kind !== 'address' || !r.isCanonical || r.family !== f) return null;
  // knockd only sees packets on its interface; for local addresses fib checks that, here we must.
  return [...(o.iface ? [{ k: 'iif', name: o.iface } as const] : []), { k: 'daddr', addr: t }];
}

/** A door's state means the same across reloads when everything that drives its machine is the same. */
function doorIdentity(d: Door, f: Family, o: LowerOptions): string {
  // A one-time door's next sequence starts from scratch even when it lists the same ports.
  const line = oneTimeLine(d);
  return JSON.stringify([f, d.name, d.knocks.map((k) => [k.port, k.proto]), d.tcpFlags.value, d.seqTimeout.value, d.target.value, o.iface, ...(line === null ? [] : [line])]);
}

// One-shot crypto.hash (Node >= 20.12) is several times cheaper than a Hash object per key,
// and a big config makes thousands of keys; same digest either way.
const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function' ? (text) => crypto.hash('sha256', text, 'hex') : (text) => createHash('sha256').update(text).digest('hex');

function stableKey(parts: unknown[]): string {
  return sha256Hex(JSON.stringify(parts)).slice(0, 12);
}

/**
 * A door's (or a grant's) tag in the shared sets: 32 bits of its identity's hash, so that a
 * reload finds the same door's elements under the same tag. Tags that collide (identical doors,
 * or one chance in 2^32 per pair) take the next free one, in config order.
 */
function doorTag(identity: string, taken: Set<number>): number {
  let tag = Number.parseInt(sha256Hex(identity).slice(0, 8), 16);
  while (taken.has(tag)) tag = (tag + 1) % 0x1_0000_0000;
  taken.add(tag);
  return tag;
}

const isDead = (d: Door): boolean => d.knocks.length > 1 && d.seqTimeout.value <= 0;
const knockMatch = (k: Knock): Match[] => [{ k: 'proto', proto: k.proto }, { k: 'dport', port: k.port }];
const keyOf = (x: unknown): string => JSON.stringify(x);
const RETURN: Verdict = { k: 'return' };
const doorLabel = (d: Door): string => doorLabelText(d.name, d.header.range.start.line);

interface GrantInfo {
  readonly n: number;
  readonly ref: GrantRef;
  readonly lifetimes: Map<string, Lifetime>;
}

/** `given`: planDoors(config) when the caller has it already. */
export function lower(config: KnockdConfig, opts: LowerOptions = DEFAULT_LOWER, given?: readonly DoorPlan[]): Program {
  const plans = given ?? planDoors(config);
  const sets: SetDecl[] = [];
  const chains: Chain[] = [];
  const entries: Record<string, Partial<Record<Hook, string>>> = {};
  const doorTags: Array<{ family: Family; tag: number; label: string }> = [];

  for (const f of opts.families) {
    const grants = collectGrants(plans, f);
    // nft keeps them in one set shared by every grant (names.shared), keyed by source and the grant's tag.
    const grantTags = new Set<number>();
    for (const g of grants.values()) {
      for (const l of g.lifetimes.values()) {
        const key = stableKey(['grant', g.ref.key, l]);
        sets.push({
          name: names.grantSet(f, g.n, l),
          family: f,
          role: 'grant',
          timeout: l.kind === 'timed' ? l.seconds : null,
          comment: grantComment(g.ref.key),
          door: null,
          key,
          store: { set: names.shared(f, 'grant'), tag: doorTag(key, grantTags) },
        });
      }
    }
    const doors = plans.filter((p) => dstMatch(p.door, f, opts) !== null);
    const knocks = lowerKnocks(f, doors, grants, opts, sets, chains, doorTags);
    const granted = lowerGrants(f, grants, opts);
    entries[f] = lowerEntries(f, knocks, granted, chains);
  }

  const runtimeDoors = plans
    .filter((p) => p.needsRuntime)
    .map((p) => ({
      door: p.door.name,
      id: `d${p.door.index}`,
      reason: p.door.sequenceFrom.kind === 'one-time' ? 'one-time sequences' : 'command',
    }));
  return { families: opts.families, sets, chains, entries, runtimeDoors, doorTags };
}

function collectGrants(plans: readonly DoorPlan[], f: Family): Map<string, GrantInfo> {
  const grants = new Map<string, GrantInfo>();
  const touch = (ref: GrantRef): GrantInfo => {
    let g = grants.get(ref.key);
    if (!g) {
      g = { n: grants.size, ref, lifetimes: new Map() };
      grants.set(ref.key, g);
    }
    return g;
  };
  for (const p of plans) {
    const plan = p.families[f];
    if (plan.kind !== 'kernel' || runtimeActs(p, f)) continue;
    for (const o of plan.opens) touch(o).lifetimes.set(JSON.stringify(o.lifetime), o.lifetime);
    for (const r of plan.revokes) touch(r);
  }
  return grants;
}

function openStmts(p: DoorPlan, f: Family, grants: Map<string, GrantInfo>, opts: LowerOptions): Stmt[] {
  const plan = p.families[f];
  const out: Stmt[] = [];
  if (opts.log) out.push({ k: 'log', prefix: `${p.door.name}: OPEN SESAME` });
  if (runtimeActs(p, f)) {
    out.push({ k: 'notify', prefix: notifyPrefix(p.door), group: opts.notifyGroup });
    return out;
  }
  if (plan.kind === 'kernel') {
    for (const r of plan.revokes) {
      const g = grants.get(r.key)!;
      for (const l of g.lifetimes.values()) out.push({ k: 'set-del', set: names.grantSet(f, g.n, l) });
    }
    for (const o of plan.opens) {
      const g = grants.get(o.key)!;
      // knockd keeps a grant open until cmd_timeout after the LAST opening: restart the timer.
      out.push(o.lifetime.kind === 'timed' ? { k: 'set-refresh', set: names.grantSet(f, g.n, o.lifetime) } : { k: 'set-add', set: names.grantSet(f, g.n, o.lifetime) });
    }
  }
  return out;
}

/** What the rules of one door (in one family) repeat, made once. */
interface DoorBits {
  /** Addressed where the door listens. */
  readonly dst: readonly Match[];
  /** dst, and for TCP the door's flags: the door sees this knock. */
  readonly sees: Readonly<Record<Proto, { readonly m: readonly Match[]; readonly key: string }>>;
  readonly label: string;
  readonly armed: string;
  readonly inArmed: Match;
  /** stages[k]: the set of sources that made k knocks (k >= 1). */
  readonly stages: readonly string[];
}

function doorBits(p: DoorPlan, f: Family, opts: LowerOptions): DoorBits {
  const d = p.door;
  const dst = dstMatch(d, f, opts)!;
  const tcp = [...dst, ...flagMatch(d)];
  const armed = names.armed(f, p.door.index);
  return {
    dst,
    sees: { tcp: { m: tcp, key: keyOf(tcp) }, udp: { m: dst, key: keyOf(dst) } },
    label: doorLabel(d),
    armed,
    inArmed: { k: 'src-in', set: armed },
    stages: d.knocks.map((_, k) => names.stage(f, p.door.index, k)),
  };
}

function lowerKnocks(
  f: Family,
  doors: readonly DoorPlan[],
  grants: Map<string, GrantInfo>,
  opts: LowerOptions,
  sets: SetDecl[],
  chains: Chain[],
  doorTags: Array<{ family: Family; tag: number; label: string }>,
): KnockEntries | null {
  if (doors.length === 0) return null;
  const log = (d: Door, stage: number): Stmt[] => (opts.log ? [{ k: 'log', prefix: `${d.name}: Stage ${stage}` }] : []);
  const bits = new Map(doors.map((p) => [p, doorBits(p, f, opts)]));
  const of = (p: DoorPlan): DoorBits => bits.get(p)!;

  // State sets: armed holds the source from the FIRST knock and is never refreshed, so it
  // expires seq_timeout after it; stage k holds sources that have made k knocks.
  // nft keeps them in sets shared by every door (names.shared), keyed by source and the door's tag.
  const tags = new Set<number>();
  for (const p of doors) {
    const d = p.door;
    const t = d.seqTimeout.value;
    const id = doorIdentity(d, f, opts);
    const tag = doorTag(id, tags);
    const b = of(p);
    doorTags.push({ family: f, tag, label: b.label });
    if (d.knocks.length < 2 || isDead(d)) continue;
    sets.push({ name: b.armed, family: f, role: 'armed', timeout: t, comment: `${b.label}: attempt started`, door: d.index, key: stableKey([id, 'armed']), store: { set: names.shared(f, 'armed'), tag } });
    for (let k = 1; k < d.knocks.length; k++) {
      sets.push({
        name: b.stages[k]!,
        family: f,
        role: 'stage',
        timeout: t,
        comment: `${b.label}: ${k} knock(s) made`,
        door: d.index,
        key: stableKey([id, 'stage', k]),
        store: { set: names.shared(f, 'stage', k), tag },
      });
    }
  }

  // Which doors list each (proto, port), and which start on it.
  const listing = new Map<string, { proto: Proto; port: number; doors: DoorPlan[] }>();
  const starting = new Map<string, { proto: Proto; port: number; doors: DoorPlan[] }>();
  const add = (m: Map<string, { proto: Proto; port: number; doors: DoorPlan[] }>, k: Knock, p: DoorPlan): void => {
    const id = `${k.proto}/${k.port}`;
    const e = m.get(id) ?? { proto: k.proto, port: k.port, doors: [] };
    if (!e.doors.includes(p)) e.doors.push(p);
    m.set(id, e);
  };
  for (const p of doors) {
    for (const k of p.door.knocks) add(listing, k, p);
    // seq_timeout <= 0: every attempt has timed out by the next knock, so it can neither open
    // nor block other doors; its ports still count as knocks (they reset other attempts).
    if (!isDead(p.door)) add(starting, p.door.knocks[0]!, p);
  }
  const sortedPorts = <T extends { proto: Proto; port: number }>(xs: Iterable<T>): T[] =>
    [...xs].sort((a, b) => (a.proto === b.proto ? a.port - b.port : a.proto < b.proto ? -1 : 1));

  // vis: the packet counts if some door listing this port sees it (its dst, and its flags for
  // TCP). Ports with the same conditions share one chain: fewer chains for the kernel to validate.
  const visChains = new Map<string, string>();
  const visOf = new Map<string, string>();
  for (const e of sortedPorts(listing.values())) {
    const seen = new Set<string>();
    const lines: Rule[] = [];
    for (const p of e.doors) {
      const { m, key } = of(p).sees[e.proto];
      if (seen.has(key)) continue;
      seen.add(key);
      lines.push(rule(m, [], { k: 'goto', chain: names.handle(f, e.proto) }));
    }
    // The chain's lines differ only in their conditions (same goto): those decide sharing.
    const sig = `${e.proto}|${keyOf([...seen])}`;
    let name = visChains.get(sig);
    if (!name) {
      name = names.vis(f, e.proto, e.port);
      visChains.set(sig, name);
      chains.push({ name, family: f, lines, comment: `seen by knockd? (${e.proto} knock ports with the same doors' conditions)` });
    }
    visOf.set(`${e.proto}/${e.port}`, name);
  }

  // Ports in no sequence are invisible (knockd's global filter): the entries' dispatch lists these.
  const ports = sortedPorts(listing.values()).map((e) => ({ proto: e.proto, port: e.port, chain: visOf.get(`${e.proto}/${e.port}`)! }));
  // Knocks addressed to a door's Target (not to this host) are forwarded: they pass forward, not input.
  const forward = doors.some((p) => p.door.target.value !== null);

  for (const proto of ['tcp', 'udp'] as const) {
    const starts = sortedPorts([...starting.values()].filter((e) => e.proto === proto));
    if (![...listing.values()].some((e) => e.proto === proto)) continue;
    // handle: an attempt in progress (on a door that accepts this dst) blocks any new attempt.
    const multi = doors.filter((p) => p.door.knocks.length > 1 && !isDead(p.door));
    const toActive: Verdict = { k: 'goto', chain: names.active(f, proto) };
    const handle: Line[] = multi.map((p) => {
      const b = of(p);
      return rule([...b.dst, b.inArmed], [], toActive, b.label);
    });
    if (starts.length > 0) {
      handle.push({ kind: 'dispatch', entries: starts.map((e) => ({ proto, port: e.port, chain: names.start(f, proto, e.port) })), comment: 'first knocks' });
    }
    chains.push({ name: names.handle(f, proto), family: f, lines: handle, comment: `${proto} knock: continue an attempt or start one` });

    // start: every door whose first knock this is starts together.
    for (const e of starts) {
      const lines: Line[] = e.doors.map((p) => {
        const d = p.door;
        const b = of(p);
        const m = b.sees[proto].m;
        if (d.knocks.length === 1) return rule(m, [...log(d, 1), ...openStmts(p, f, grants, opts)], null, `${b.label}: one-knock door`);
        const stmts: Stmt[] = [];
        // Stale stage entries from an attempt that timed out must not count.
        for (let k = 2; k < d.knocks.length; k++) stmts.push({ k: 'set-del', set: b.stages[k]! });
        stmts.push({ k: 'set-refresh', set: b.armed }, { k: 'set-refresh', set: b.stages[1]! }, ...log(d, 1));
        return rule(m, stmts, null, `${b.label}: stage 1`);
      });
      chains.push({ name: names.start(f, proto, e.port), family: f, lines, comment: `start attempts on ${proto}/${e.port}` });
    }

    // active: each door the source is knocking on judges the packet (flag mismatch = ignore).
    const active: Line[] = multi.map((p) => {
      const b = of(p);
      return rule([...b.sees[proto].m, b.inArmed], [], { k: 'jump', chain: names.door(f, p.door.index) }, b.label);
    });
    chains.push({ name: names.active(f, proto), family: f, lines: active, comment: `${proto} knock from a source mid-sequence` });
  }

  // door: advance one stage, most advanced first; anything else is a wrong knock.
  for (const p of doors) {
    const d = p.door;
    const n = d.knocks.length;
    if (n < 2 || isDead(d)) continue;
    const { armed, stages, label } = of(p);
    const lines: Line[] = [];
    for (let k = n - 1; k >= 1; k--) {
      const m: Match[] = [{ k: 'src-in', set: stages[k]! }, ...knockMatch(d.knocks[k]!)];
      const stmts: Stmt[] =
        k + 1 === n
          ? [{ k: 'set-del', set: stages[k]! }, { k: 'set-del', set: armed }, ...log(d, n), ...openStmts(p, f, grants, opts)]
          : [{ k: 'set-del', set: stages[k]! }, { k: 'set-add', set: stages[k + 1]! }, ...log(d, k + 1)];
      lines.push(rule(m, stmts, RETURN, `stage ${k} -> ${k + 1}`));
    }
    const reset: Stmt[] = [{ k: 'set-del', set: armed }];
    for (let k = 1; k < n; k++) reset.push({ k: 'set-del', set: stages[k]! });
    lines.push(rule([], reset, null, 'wrong knock: attempt invalidated'));
    chains.push({ name: names.door(f, p.door.index), family: f, door: p.door.index, lines, comment: `${label}: ${d.knocks.map((k) => `${k.port}/${k.proto}`).join(',')}` });
  }
  return { ports, forward };
}

/**
 * The matches of a grant's rule: its fields, for an accept also the grant's own --syn / NEW, and
 * with the standalone guard "a new connection" (the guard looks at nothing else: established and
 * related traffic is never touched), written once when the grant says it already.
 */
function grantMatches(m: GrantMatch, forDrop: boolean, guard: boolean): Match[] {
  const out: Match[] = [];
  if (m.iif) out.push({ k: 'iif', name: m.iif });
  if (m.daddr) out.push({ k: 'daddr', addr: m.daddr });
  if (m.proto) out.push({ k: 'proto', proto: m.proto });
  if (!forDrop) {
    if (m.synOnly) out.push({ k: 'syn-only' });
    if (m.newOnly) out.push({ k: 'ct-new' });
  }
  if (guard) for (const n of newConnection(m)) if (!out.some((o) => o.k === n.k)) out.push(n);
  return out;
}

/**
 * "A new connection" to a guarded port, as cheaply as the protocol allows. TCP: the opening
 * SYN (a connection cannot start without one, and the stack discards SYN+FIN/RST), a test on
 * the packet alone. Only UDP and every-protocol grants ask conntrack, because a rule with a ct
 * match turns on connection tracking for the whole network namespace: a server that had none
 * would pay for it on every packet (measured: bench/throughput.ts).
 */
function newConnection(m: GrantMatch): Match[] {
  return m.proto === 'tcp' ? [{ k: 'syn-only' }] : [{ k: 'ct-new' }];
}

function dispatchPorts(m: GrantMatch): number[] | null {
  if (!m.proto || !m.dports) return null;
  const total = m.dports.reduce((s, r) => s + (r.hi - r.lo + 1), 0);
  if (total > MAX_DISPATCH_RANGE) return null;
  return m.dports.flatMap((r) => Array.from({ length: r.hi - r.lo + 1 }, (_, i) => r.lo + i));
}

/** Knock tracking's part of the entries: each knock port's "seen by knockd?" chain. */
interface KnockEntries {
  readonly ports: ReadonlyArray<{ readonly proto: Proto; readonly port: number; readonly chain: string }>;
  /** Some door listens on a Target address: its knocks may pass forward instead of input. */
  readonly forward: boolean;
}

/** The grants of one hook: per granted port its rules, and the rules of grants over many ports. */
interface HookGrants {
  readonly ports: ReadonlyArray<{ readonly proto: Proto; readonly port: number; readonly lines: readonly Rule[] }>;
  /** Accepts of grants not spread over the dispatch (wide ranges, every port). */
  readonly linearAccepts: readonly Rule[];
  /** The standalone guard's drops for those. */
  readonly linearDrops: readonly Rule[];
}

function lowerGrants(f: Family, grants: Map<string, GrantInfo>, opts: LowerOptions): Partial<Record<Hook, HookGrants>> {
  const guard = opts.guard;
  const mark: Stmt[] = opts.mark ? [{ k: 'mark', bits: opts.mark.bits }] : [];
  const out: Partial<Record<Hook, HookGrants>> = {};
  for (const hook of ['input', 'forward'] as const) {
    const mine = [...grants.values()].filter((g) => g.ref.target.kind === 'filter' && g.ref.target.match.hook === hook && g.lifetimes.size > 0);
    if (mine.length === 0) continue;
    const accepts = (g: GrantInfo, extra: Match[]): Rule[] => {
      const m = g.ref.target.kind === 'filter' ? g.ref.target.match : null;
      return [...g.lifetimes.values()].map((l) =>
        rule([...extra, ...grantMatches(m!, false, guard), { k: 'src-in', set: names.grantSet(f, g.n, l) }], mark, { k: 'accept' }, `grant ${g.n}`),
      );
    };
    // Standalone guard: a new connection that only the grant would let in is dropped here.
    const drop = (g: GrantInfo, extra: Match[]): Rule => {
      const m = g.ref.target.kind === 'filter' ? g.ref.target.match : null;
      return rule([...extra, ...grantMatches(m!, true, guard)], [], { k: 'drop' }, `guard for grant ${g.n}`);
    };
    const perPort = new Map<string, { proto: Proto; port: number; gs: GrantInfo[] }>();
    const linear: GrantInfo[] = [];
    for (const g of mine) {
      const m = (g.ref.target as { match: GrantMatch }).match;
      const ports = dispatchPorts(m);
      if (!ports) {
        linear.push(g);
        continue;
      }
      for (const port of ports) {
        const id = `${m.proto}/${port}`;
        const e = perPort.get(id) ?? { proto: m.proto!, port, gs: [] };
        e.gs.push(g);
        perPort.set(id, e);
      }
    }
    const linearExtra = (g: GrantInfo): Match[] => {
      const m = (g.ref.target as { match: GrantMatch }).match;
      return m.dports ? [{ k: 'dports', ranges: m.dports }] : [];
    };
    const linearAccepts = linear.flatMap((g) => accepts(g, linearExtra(g)));
    // A granted port's chain ends the entry (a goto), so it also holds the wide grants' accepts.
    const ports = [...perPort.values()].map((e) => ({
      proto: e.proto,
      port: e.port,
      lines: [...linearAccepts, ...e.gs.flatMap((g) => accepts(g, [])), ...(guard ? e.gs.map((g) => drop(g, [])) : [])],
    }));
    const linearDrops = guard ? linear.filter((g) => (g.ref.target as { match: GrantMatch }).match.proto).map((g) => drop(g, linearExtra(g))) : [];
    out[hook] = { ports, linearAccepts, linearDrops };
  }
  return out;
}

/**
 * The entry chains of one family: one dispatch over knock ports (called: tracking first, then
 * the rest of the entry) and granted ports (their chain ends the entry; a port that is both
 * tracks the knock first), then the wide grants.
 */
function lowerEntries(f: Family, knocks: KnockEntries | null, granted: Partial<Record<Hook, HookGrants>>, chains: Chain[]): Partial<Record<Hook, string>> {
  const out: Partial<Record<Hook, string>> = {};
  for (const hook of ['input', 'forward'] as const) {
    const g = granted[hook];
    const k = hook === 'input' || knocks?.forward ? knocks : null;
    if (!g && !k) continue;
    const entries = new Map<string, DispatchEntry>();
    for (const e of k?.ports ?? []) entries.set(`${e.proto}/${e.port}`, { proto: e.proto, port: e.port, chain: e.chain, jump: true });
    for (const e of g?.ports ?? []) {
      const id = `${e.proto}/${e.port}`;
      const knock = entries.get(id);
      const name = names.grantPort(f, hook, e.proto, e.port);
      const track: Rule[] = knock ? [rule([], [], { k: 'jump', chain: knock.chain }, 'knock tracking first')] : [];
      chains.push({ name, family: f, lines: [...track, ...e.lines], comment: `${e.proto}/${e.port} on ${hook}` });
      entries.set(id, { proto: e.proto, port: e.port, chain: name });
    }
    const sorted = [...entries.values()].sort((a, b) => (a.proto === b.proto ? a.port - b.port : a.proto < b.proto ? -1 : 1));
    const lines: Line[] = [];
    if (sorted.length > 0) lines.push({ kind: 'dispatch', entries: sorted, comment: k && g ? 'knock ports and granted ports' : k ? 'knock ports' : 'granted ports' });
    if (g) lines.push(...g.linearAccepts, ...g.linearDrops);
    const what = [k ? 'knock tracking' : '', g ? 'grants' : ''].filter(Boolean).join(', then ');
    chains.push({ name: names.entry(f, hook), family: f, lines, comment: `${hook}: ${what}` });
    out[hook] = names.entry(f, hook);
  }
  return out;
}
