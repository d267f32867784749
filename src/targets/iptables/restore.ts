// The pure half of `knockc apply|remove|status --target iptables`: reading
// `iptables-save` output and /proc/net/xt_recent, and writing the ONE
// `iptables-restore --noflush` input per family that takes the kernel from
// what is loaded to what is wanted (knockc's chains, their rules, and the
// jumps from INPUT/FORWARD), so that each family changes atomically.
//
// What a restore input from buildRestore() holds, in order:
//   :knockc_X - [0:0]          every wanted chain: created, or emptied if it exists
//   -A knockc_X ...            their rules
//   -D INPUT -j knockc_input   jumps no longer wanted (and duplicates of wanted ones)
//   -I INPUT 1 -j knockc_input wanted jumps that are missing (found by reading iptables-save first)
//   -F knockc_old / -X knockc_old   knockc_* chains the new rules no longer declare: all emptied, then deleted
// iptables-restore commits a table in one step: when any line fails, nothing changes.
import type { Family } from '../model/grant.js';
import type { AttemptStatus, Counters, DeploymentStatus, GrantStatus } from '../status/status.js';
import { bySource } from '../status/status.js';
import { doorLabel } from '../status/labels.js';

export const KNOCKC = 'knockc_';
const isKnockc = (name: string): boolean => name.startsWith(KNOCKC);

export interface SaveRule {
  readonly chain: string;
  /** Everything after `-A CHAIN ` (valid restore syntax, as iptables-save prints it). */
  readonly spec: string;
  readonly packets: number | null;
}

export interface SaveTable {
  /** Chain names in the order iptables-save lists them (built-ins first). */
  readonly chains: readonly string[];
  readonly rules: readonly SaveRule[];
}

/** The filter table of `iptables-save [-c] [-t filter]` output (empty when absent). */
export function parseSave(text: string, table = 'filter'): SaveTable {
  const chains: string[] = [];
  const rules: SaveRule[] = [];
  let inside = false;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line.startsWith('*')) {
      inside = line.slice(1) === table;
      continue;
    }
    if (!inside) continue;
    if (line === 'COMMIT') {
      inside = false;
      continue;
    }
    const chain = /^:(\S+) /.exec(line);
    if (chain) {
      chains.push(chain[1]!);
      continue;
    }
    const rule = /^(?:\[(\d+):(\d+)\] )?-A (\S+) (.*)$/.exec(line);
    if (rule) rules.push({ chain: rule[3]!, spec: rule[4]!, packets: rule[1] === undefined ? null : Number(rule[1]) });
  }
  return { chains, rules };
}

export interface Hook {
  readonly builtin: string;
  readonly chain: string;
}

/** knockc's objects in one family's filter table: chains with their rules, and the jumps to them. */
export interface KnockcRules {
  readonly chains: ReadonlyArray<{ readonly name: string; readonly rules: readonly string[] }>;
  readonly hooks: readonly Hook[];
}

/** A compiled file (knockc compile --target iptables) as chains and rules; its hooks come from the ruleset. */
export function parseRestoreInput(text: string, hooks: readonly Hook[]): KnockcRules {
  const t = parseSave(text);
  return { chains: t.chains.map((name) => ({ name, rules: t.rules.filter((r) => r.chain === name).map((r) => r.spec) })), hooks };
}

/** The jump knockc adds to a built-in chain, exactly as iptables-save prints it. */
const hookOf = (r: SaveRule): Hook | null => {
  const m = /^-j (knockc_\S+)$/.exec(r.spec);
  return m && !isKnockc(r.chain) ? { builtin: r.chain, chain: m[1]! } : null;
};

/** What knockc has loaded (its chains, their rules, its jumps): also what a rollback restores. */
export function liveKnockc(t: SaveTable): KnockcRules {
  return {
    chains: t.chains.filter(isKnockc).map((name) => ({ name, rules: t.rules.filter((r) => r.chain === name).map((r) => r.spec) })),
    hooks: t.rules.map(hookOf).filter((h): h is Hook => h !== null),
  };
}

/** Rules of yours (not knockc's jumps) that reference a knockc chain: knockc cannot delete a chain they use. */
export function foreignReferences(t: SaveTable): SaveRule[] {
  return t.rules.filter((r) => !isKnockc(r.chain) && hookOf(r) === null && /(^| )-[jg] knockc_/.test(r.spec));
}

export interface RestorePlan {
  /** The restore input; null when there is nothing to do (remove of nothing). */
  readonly input: string | null;
  readonly hooksAdded: readonly Hook[];
  readonly hooksDeleted: readonly Hook[];
  readonly chainsDeleted: readonly string[];
}

/** The one restore input that turns `current` (knockc's part of it) into `want`. */
export function buildRestore(current: SaveTable, want: KnockcRules): RestorePlan {
  const live = liveKnockc(current);
  const lines: string[] = ['*filter'];
  for (const c of want.chains) lines.push(`:${c.name} - [0:0]`);
  for (const c of want.chains) for (const r of c.rules) lines.push(`-A ${c.name} ${r}`);
  const key = (h: Hook): string => `${h.builtin} ${h.chain}`;
  const wanted = new Set(want.hooks.map(key));
  const seen = new Set<string>();
  const hooksDeleted: Hook[] = [];
  for (const h of live.hooks) {
    // Keep the first copy of a wanted jump where it is; a second copy would count every knock twice.
    if (wanted.has(key(h)) && !seen.has(key(h))) {
      seen.add(key(h));
      continue;
    }
    hooksDeleted.push(h);
    lines.push(`-D ${h.builtin} -j ${h.chain}`);
  }
  const hooksAdded = want.hooks.filter((h) => !seen.has(key(h)));
  // Inserted in reverse, so that they end up at the top in the wanted order.
  for (const h of [...hooksAdded].reverse()) lines.push(`-I ${h.builtin} 1 -j ${h.chain}`);
  const declared = new Set(want.chains.map((c) => c.name));
  const stale = live.chains.map((c) => c.name).filter((n) => !declared.has(n));
  for (const s of stale) lines.push(`-F ${s}`);
  for (const s of stale) lines.push(`-X ${s}`);
  lines.push('COMMIT');
  const noop = want.chains.length === 0 && hooksDeleted.length === 0 && hooksAdded.length === 0 && stale.length === 0;
  return { input: noop ? null : `${lines.join('\n')}\n`, hooksAdded, hooksDeleted, chainsDeleted: stale };
}

// ---------------------------------------------------------------------------------------------
// Rules as data (for the diff and for status)

/** Splits a rule spec into arguments, as iptables-restore does ("..." groups, quotes removed). */
export function splitArgs(spec: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const m of spec.matchAll(re)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}

/**
 * The same rule as knockc writes it and as iptables-save prints it back gives the same key:
 * implicit `-m tcp`/`-m udp`, the default `--mask`/`--rsource` of recent, `/32` on addresses,
 * `--syn`, log levels by name, and the order of options are ignored.
 */
export function ruleKey(spec: string): string {
  const a = splitArgs(spec);
  const out: string[] = [];
  for (let i = 0; i < a.length; i++) {
    const t = a[i]!;
    if (t === '-m' && (a[i + 1] === 'tcp' || a[i + 1] === 'udp')) {
      i++;
      continue;
    }
    if (t === '--mask') {
      i++;
      continue;
    }
    if (t === '--rsource') continue;
    if (t === '--syn') {
      out.push('--tcp-flags', 'FIN,SYN,RST,ACK', 'SYN');
      continue;
    }
    if (t === '--log-level' && a[i + 1] === 'info') {
      out.push(t, '6');
      i++;
      continue;
    }
    out.push(t.replace(/\/(32|128)$/, ''));
  }
  return out.sort().join(' ');
}

export interface RecentUse {
  readonly list: string;
  readonly op: 'rcheck' | 'set' | 'remove' | 'update';
  readonly negated: boolean;
  readonly seconds: number | null;
}

export interface RuleFacts {
  readonly recent: readonly RecentUse[];
  readonly comment: string | null;
  readonly target: { readonly how: '-j' | '-g'; readonly chain: string } | null;
  readonly proto: string | null;
  readonly dport: string | null;
}

/** What a rule does with xt_recent lists, its comment, target, protocol and port. */
export function ruleFacts(spec: string): RuleFacts {
  const a = splitArgs(spec);
  const recent: RecentUse[] = [];
  let comment: string | null = null;
  let target: RuleFacts['target'] = null;
  let proto: string | null = null;
  let dport: string | null = null;
  let cur: { list: string; op: RecentUse['op']; negated: boolean; seconds: number | null } | null = null;
  let neg = false;
  const flush = (): void => {
    if (cur) recent.push(cur);
    cur = null;
  };
  for (let i = 0; i < a.length; i++) {
    const t = a[i]!;
    if (t === '!') {
      neg = true;
      continue;
    }
    if (t === '-m') {
      flush();
      if (a[i + 1] === 'recent') cur = { list: 'DEFAULT', op: 'rcheck', negated: false, seconds: null };
      i++;
    } else if (t === '-j' || t === '-g') {
      flush();
      const c = a[i + 1] ?? '';
      if (isKnockc(c)) target = { how: t, chain: c };
      i++;
    } else if (t === '-p') proto = a[++i] ?? null;
    else if (t === '--dport') dport = a[++i] ?? null;
    else if (t === '--comment') comment = a[++i] ?? null;
    else if (cur && t === '--name') cur.list = a[++i] ?? '';
    else if (cur && t === '--seconds') cur.seconds = Number(a[++i]);
    else if (cur && (t === '--rcheck' || t === '--set' || t === '--remove' || t === '--update')) {
      cur.op = t.slice(2) as RecentUse['op'];
      cur.negated = neg;
    }
    neg = false;
  }
  flush();
  return { recent, comment, target, proto, dport };
}

/** xt_recent lists knockc's rules use, with the --seconds their checks use (null: until removed). */
export function listsOf(rules: KnockcRules): Map<string, number | null> {
  const out = new Map<string, number | null>();
  for (const c of rules.chains) {
    for (const r of c.rules) {
      for (const u of ruleFacts(r).recent) {
        if (!isKnockc(u.list)) continue;
        const prev = out.get(u.list) ?? null;
        out.set(u.list, u.seconds === null ? prev : Math.max(prev ?? 0, u.seconds));
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// /proc/net/xt_recent and the kernel's clock

export interface RecentEntry {
  readonly source: string;
  /** Jiffies of the newest stamp. */
  readonly lastSeen: number;
}

/** `src=198.51.100.9 ttl: 64 last_seen: 4295885749 oldest_pkt: 1 4295885749` lines. */
export function parseRecent(text: string): RecentEntry[] {
  const out: RecentEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^src=(\S+) ttl: \d+ last_seen: (\d+)/.exec(line.trim());
    if (m) out.push({ source: compactAddr(m[1]!), lastSeen: Number(m[2]) });
  }
  return out;
}

/** `grep -H '' /proc/net/xt_recent/A /proc/net/xt_recent/B` output, per list. */
export function parseRecentFiles(text: string): Map<string, RecentEntry[]> {
  const byList = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^\/proc\/net\/xt_recent\/([^:]+):(.*)$/.exec(line);
    if (!m) continue;
    const l = byList.get(m[1]!) ?? [];
    l.push(m[2]!);
    byList.set(m[1]!, l);
  }
  return new Map([...byList].map(([k, v]) => [k, parseRecent(v.join('\n'))]));
}

/** xt_recent prints IPv6 sources in full (2001:0db8:0000:...): the usual short form. */
export function compactAddr(a: string): string {
  if (!a.includes(':')) return a;
  try {
    return new URL(`http://[${a}]/`).hostname.slice(1, -1);
  } catch {
    return a;
  }
}

export interface KernelClock {
  /** The kernel's tick rate (CONFIG_HZ), which xt_recent's jiffies count in. */
  readonly hz: number;
  /** Jiffies when the clock was read. */
  readonly jiffies: number;
}

export const HZ_VALUES = [100, 250, 300, 1000] as const;
const sample = (timerList: string): { jiffies: number; ns: number } | null => {
  const j = /^jiffies: (\d+)$/m.exec(timerList);
  const n = /^now at (\d+) nsecs$/m.exec(timerList);
  return j && n ? { jiffies: Number(j[1]), ns: Number(n[1]) } : null;
};

/**
 * HZ from one read of /proc/timer_list: the kernel starts jiffies at INITIAL_JIFFIES
 * (2^32 - 300 HZ, so that the 32-bit wrap happens 5 minutes after boot), and it ticks HZ times
 * a second of CLOCK_MONOTONIC ("now at ... nsecs"), so exactly one of the HZ values Linux
 * offers predicts the printed jiffies. Null when none predicts it within 2 s (then see hzFromSamples).
 */
export function clockFromTimerList(timerList: string): KernelClock | null {
  const s = sample(timerList);
  if (!s) return null;
  let best: { hz: number; err: number } | null = null;
  for (const hz of HZ_VALUES) {
    const predicted = 2 ** 32 - 300 * hz + (hz * s.ns) / 1e9;
    const err = Math.abs(s.jiffies - predicted) / hz;
    if (!best || err < best.err) best = { hz, err };
  }
  return best && best.err < 2 ? { hz: best.hz, jiffies: s.jiffies } : null;
}

/** HZ from two reads of /proc/timer_list some time apart (jiffies elapsed / seconds elapsed). */
export function hzFromSamples(a: string, b: string): KernelClock | null {
  const x = sample(a);
  const y = sample(b);
  if (!x || !y || y.ns - x.ns < 50e6) return null;
  const rate = ((y.jiffies - x.jiffies) * 1e9) / (y.ns - x.ns);
  const hz = HZ_VALUES.reduce((p, c) => (Math.abs(c - rate) < Math.abs(p - rate) ? c : p));
  return Math.abs(hz - rate) / hz < 0.1 ? { hz, jiffies: y.jiffies } : null;
}

/** Milliseconds an entry has left under `seconds` (<= 0: expired; null: no timeout or no clock). */
export function leftMs(e: RecentEntry, seconds: number | null, clock: KernelClock | null): number | null {
  if (seconds === null || clock === null) return null;
  return Math.round(seconds * 1000 - ((clock.jiffies - e.lastSeen) * 1000) / clock.hz);
}

/** Entries still alive under the list's timeout (all of them when there is no timeout or no clock). */
export function liveEntries(es: readonly RecentEntry[], seconds: number | null, clock: KernelClock | null): RecentEntry[] {
  return es.filter((e) => {
    const l = leftMs(e, seconds, clock);
    return l === null || l > 0;
  });
}

// ---------------------------------------------------------------------------------------------
// The diff a dry run prints

const roleOf = (list: string): string => /^knockc_([a-z]+)[46]_/.exec(list)?.[1] ?? 'list';

/** Doors named by rule comments ("[door] line N"). */
function doorsOf(rules: KnockcRules): Set<string> {
  const out = new Set<string>();
  for (const c of rules.chains) {
    for (const r of c.rules) {
      const l = doorLabel(ruleFacts(r).comment);
      if (l) out.add(`[${l.door}] line ${l.line}`);
    }
  }
  return out;
}

/** A readable diff of knockc's objects in one family: doors, xt_recent lists (with live sources), chains, jumps. */
export function diffIptables(
  where: string,
  current: SaveTable,
  want: KnockcRules,
  recent: ReadonlyMap<string, readonly RecentEntry[]>,
  clock: KernelClock | null,
): { text: string; kept: number; dropped: number; changed: boolean } {
  const live = liveKnockc(current);
  const plan = buildRestore(current, want);
  const out: string[] = [];
  const oldDoors = doorsOf(live);
  const newDoors = doorsOf(want);
  const doorLines = [
    ...[...newDoors].map((d) => `    ${oldDoors.has(d) ? '=' : '+'} ${d}`),
    ...[...oldDoors].filter((d) => !newDoors.has(d)).map((d) => `    - ${d}`),
  ];
  if (doorLines.length) out.push('  doors:', ...doorLines);

  const oldLists = listsOf(live);
  const newLists = listsOf(want);
  let kept = 0;
  let dropped = 0;
  const listLines: string[] = [];
  const count = (name: string, seconds: number | null): number => liveEntries(recent.get(name) ?? [], seconds, clock).length;
  const src = (n: number): string => `${n} source${n === 1 ? '' : 's'}`;
  for (const [name, seconds] of newLists) {
    if (oldLists.has(name)) {
      const n = count(name, oldLists.get(name) ?? null);
      kept += n;
      listLines.push(`    = ${name} (${roleOf(name)}): kept${n ? `, with ${src(n)}` : ''}`);
    } else listLines.push(`    + ${name} (${roleOf(name)}, ${seconds === null ? 'until removed' : `${seconds} s`}): new`);
  }
  for (const [name, seconds] of oldLists) {
    if (newLists.has(name)) continue;
    const n = count(name, seconds);
    dropped += n;
    listLines.push(`    - ${name} (${roleOf(name)}): no longer used${n ? `, ${src(n)} dropped` : ''}`);
  }
  if (listLines.length) out.push('  xt_recent lists:', ...listLines);

  const oldChains = new Map(live.chains.map((c) => [c.name, c.rules.map(ruleKey).join('\n')]));
  const chainLines: string[] = [];
  let same = 0;
  for (const c of want.chains) {
    const before = oldChains.get(c.name);
    if (before === undefined) chainLines.push(`    + chain ${c.name} (${c.rules.length} rule${c.rules.length === 1 ? '' : 's'})`);
    else if (before !== c.rules.map(ruleKey).join('\n')) chainLines.push(`    ~ chain ${c.name} (rules changed)`);
    else same++;
  }
  for (const s of plan.chainsDeleted) chainLines.push(`    - chain ${s}`);
  for (const h of plan.hooksAdded) chainLines.push(`    + jump ${h.builtin} -j ${h.chain} (inserted at the top of ${h.builtin})`);
  for (const h of plan.hooksDeleted) chainLines.push(`    - jump ${h.builtin} -j ${h.chain}`);
  const changed = chainLines.length > 0;
  out.push(`  chains: ${changed ? '' : 'unchanged, '}${same} chain${same === 1 ? '' : 's'} unchanged (every rule is reloaded; counters restart)`, ...chainLines);
  return { text: `${where}: ${changed || dropped ? 'would change' : 'no change'}:\n${out.join('\n')}\n`, kept, dropped, changed };
}

// ---------------------------------------------------------------------------------------------
// status

export interface IptablesLive {
  readonly family: Family;
  readonly backend: string;
  readonly save: SaveTable;
  readonly recent: ReadonlyMap<string, readonly RecentEntry[]>;
  readonly clock: KernelClock | null;
}

/**
 * Per door: sources mid-sequence, counters; active grants. Read from the kernel only, through
 * knockc's rule comments: rules jumping to a door chain (knockc_doorF_dN) carry "[door] line N"
 * and check the door's "armed" list (the attempt's seq_timeout); the door chain's rules
 * "stage A -> B" check the list of sources that made A knocks; start rules are "[door] line N:
 * stage 1" or "...: one-knock door". Grants are the knockc_grant* lists, opened by the rules
 * that --set them (in a door's chains, or a one-knock door's start rule).
 */
export function iptablesStatus(x: IptablesLive): DeploymentStatus | null {
  const k = liveKnockc(x.save);
  if (k.chains.length === 0) return null;
  const rules = x.save.rules.filter((r) => isKnockc(r.chain)).map((r) => ({ ...r, f: ruleFacts(r.spec) }));
  const seconds = listsOf(k);
  interface Door {
    name: string;
    line: number;
    stages: number;
    counters: Counters | null;
    armed: Set<string>;
    stageLists: Map<string, number>;
    attempts: AttemptStatus[];
  }
  const doors = new Map<string, Door>();
  const doorChain = new Map<string, Door>();
  const touch = (name: string, line: number): Door => {
    const key = `${name}|${line}`;
    let d = doors.get(key);
    if (!d) {
      d = { name, line, stages: 1, counters: null, armed: new Set(), stageLists: new Map(), attempts: [] };
      doors.set(key, d);
    }
    return d;
  };
  const doorChainId = (chain: string): string | null => /^(knockc_door[46]_d\d+)(?:_s\d+)?$/.exec(chain)?.[1] ?? null;
  for (const r of rules) {
    const l = doorLabel(r.f.comment);
    if (!l) continue;
    const d = touch(l.door, l.line);
    const id = r.f.target ? doorChainId(r.f.target.chain) : null;
    if (id) {
      doorChain.set(id, d);
      for (const u of r.f.recent) if (u.op === 'rcheck' && !u.negated) d.armed.add(u.list);
    }
  }
  const add = (d: Door, f: (c: Counters) => void): void => {
    d.counters ??= { knocks: 0, openings: 0, resets: 0 };
    f(d.counters);
  };
  for (const r of rules) {
    const id = doorChainId(r.chain);
    const d = id && r.chain === id ? doorChain.get(id) : undefined;
    const adv = /^stage (\d+) -> (\d+)$/.exec(r.f.comment ?? '');
    if (d && adv) {
      d.stages = Math.max(d.stages, Number(adv[2]));
      for (const u of r.f.recent) if (u.op === 'rcheck' && !u.negated) d.stageLists.set(u.list, Number(adv[1]));
    }
  }
  for (const r of rules) {
    const n = r.packets ?? 0;
    const id = doorChainId(r.chain);
    const adv = /^stage (\d+) -> (\d+)$/.exec(r.f.comment ?? '');
    const inDoor = id && r.chain === id ? doorChain.get(id) : undefined;
    if (inDoor && adv) {
      add(inDoor, (c) => {
        c.knocks += n;
        if (Number(adv[2]) === inDoor.stages) c.openings += n;
      });
      continue;
    }
    if (inDoor && /^wrong knock/.test(r.f.comment ?? '')) {
      add(inDoor, (c) => {
        c.knocks += n;
        c.resets += n;
      });
      continue;
    }
    const l = doorLabel(r.f.comment);
    if (!l) continue;
    const d = touch(l.door, l.line);
    if (l.rest === 'stage 1') add(d, (c) => (c.knocks += n));
    else if (l.rest === 'one-knock door') add(d, (c) => {
      c.knocks += n;
      c.openings += n;
    });
  }
  const alive = (list: string): RecentEntry[] => liveEntries(x.recent.get(list) ?? [], seconds.get(list) ?? null, x.clock);
  for (const d of doors.values()) {
    for (const list of d.armed) {
      for (const e of alive(list)) {
        let stage = 1;
        for (const [sl, knocks] of d.stageLists) if (alive(sl).some((s) => s.source === e.source)) stage = Math.max(stage, knocks);
        d.attempts.push({ source: e.source, stage, expiresMs: leftMs(e, seconds.get(list) ?? null, x.clock) });
      }
    }
  }
  const grants: GrantStatus[] = [];
  for (const [list, secs] of seconds) {
    if (!/^knockc_grant[46]_/.test(list)) continue;
    const openers = new Set<string>();
    let words: string | null = null;
    for (const r of rules) {
      if (r.f.recent.some((u) => u.list === list && (u.op === 'set' || u.op === 'update'))) {
        const id = doorChainId(r.chain);
        const l = doorLabel(r.f.comment);
        const d = id ? doorChain.get(id) : l ? touch(l.door, l.line) : undefined;
        if (d) openers.add(d.name);
      }
      if (words === null && r.f.recent.some((u) => u.list === list && u.op === 'rcheck' && !u.negated)) {
        // The port is on the rule itself or on the dispatch rule that leads to its chain.
        const via = rules.find((o) => o.f.target?.chain === r.chain && o.f.dport !== null);
        const proto = r.f.proto ?? via?.f.proto ?? null;
        const port = r.f.dport ?? via?.f.dport ?? null;
        words = proto ? (port ? `${proto}/${port}` : `all ${proto}`) : port ? `port ${port}` : 'all traffic';
        if (/_fw_|forward/.test(r.chain)) words += ' (forward)';
      }
    }
    for (const e of alive(list)) {
      grants.push({ source: e.source, grant: words ?? 'grant', doors: [...openers].sort(), expiresMs: leftMs(e, secs, x.clock), timeoutMs: secs === null ? null : secs * 1000 });
    }
  }
  grants.sort((a, b) => bySource(a.source, b.source) || a.grant.localeCompare(b.grant));
  const doorList = [...doors.values()]
    .map((d) => ({ name: d.name, line: d.line, stages: d.stages, counters: d.counters, attempts: d.attempts.sort((a, b) => bySource(a.source, b.source)) }))
    .sort((a, b) => a.line - b.line || a.name.localeCompare(b.name));
  return { target: 'iptables', backend: x.backend, family: x.family, table: 'filter', mode: 'into', doors: doorList, grants };
}
