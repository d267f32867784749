// `knockc status --target iptables`: doors, attempts and grants read back from iptables-save
// and /proc/net/xt_recent, through knockc's rule comments and list names.
import type { Family } from '../../model/grant.js';
import type { AttemptStatus, Counters, DeploymentStatus, GrantStatus } from '../status.js';
import { bySource } from '../status.js';
import { doorChainRoot as doorChainId, doorLabel, listRole } from '../../model/names.js';
import { isKnockc, listsOf, liveKnockc, ruleFacts, type SaveTable } from './restore.js';
import { leftMs, liveEntries, type KernelClock, type RecentEntry } from './recent.js';
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
    if (listRole(list) !== 'grant') continue;
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
