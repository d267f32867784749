// knockc status: what the kernel knows right now, per door: sources
// mid-sequence (stage, time left), active grants (source, door, time left),
// and the counters of knocks, openings and resets. Read from the kernel
// only (the config is not needed): set names and comments say what each set
// holds, rule comments and counters say what each rule did.
import type { Deployment, LiveTable } from '../host/nft.js';
import { isKnockcName } from '../host/nft.js';
import { doorLabel, familyOfName, grantWords, setMeaning } from './labels.js';

export interface Counters {
  knocks: number;
  openings: number;
  resets: number;
}

export interface AttemptStatus {
  readonly source: string;
  /** Knocks made so far (1 .. stages-1). */
  readonly stage: number;
  readonly expiresMs: number | null;
}

export interface DoorStatus {
  readonly name: string;
  readonly line: number;
  /** Knocks in the sequence. */
  readonly stages: number;
  /** Since the rules were loaded; null when the loaded rules carry no counters. */
  readonly counters: Counters | null;
  readonly attempts: readonly AttemptStatus[];
}

export interface GrantStatus {
  readonly source: string;
  readonly grant: string;
  readonly doors: readonly string[];
  readonly expiresMs: number | null;
  readonly timeoutMs: number | null;
}

export interface DeploymentStatus {
  readonly target: 'nft' | 'iptables';
  /** --target iptables: which iptables holds the rules (nft or legacy). */
  readonly backend?: string;
  readonly family: string;
  readonly table: string;
  readonly mode: 'standalone' | 'into';
  readonly doors: readonly DoorStatus[];
  readonly grants: readonly GrantStatus[];
}

/** IPv4 before IPv6, then by text: a stable order for sources. */
export const bySource = (a: string, b: string): number => Number(a.includes(':')) - Number(b.includes(':')) || a.localeCompare(b, 'en', { numeric: true });

const doorIndex = (name: string): string | null => /_(d\d+)(?:_|$)/.exec(name)?.[1] ?? null;

export function deploymentStatus(d: Deployment, t: LiveTable): DeploymentStatus {
  const sets = t.sets.filter((s) => isKnockcName(s.name));
  // Door index (d0, d1, ...) -> name and line, from set comments and rule comments.
  const doors = new Map<string, { name: string; line: number; stages: number; counters: Counters | null; attempts: AttemptStatus[] }>();
  const byName = new Map<string, string>();
  const touch = (id: string, name: string, line: number) => {
    let e = doors.get(id);
    if (!e) {
      e = { name, line, stages: 1, counters: null, attempts: [] };
      doors.set(id, e);
      byName.set(`${name}|${line}`, id);
    }
    return e;
  };
  for (const s of sets) {
    const id = doorIndex(s.name);
    const l = doorLabel(s.comment);
    if (!id || !l || setMeaning(s.name).role === 'grant') continue;
    const e = touch(id, l.door, l.line);
    const m = setMeaning(s.name);
    if (m.role === 'stage') e.stages = Math.max(e.stages, m.knocks + 1);
  }
  // Rules: door chains knockc_doorF_dN (advances, wrong knocks) and start rules labelled "[door] line N".
  const ruleDoor = (chain: string, comment: string | null): string | null => {
    const id = /^knockc_door[46]_(d\d+)$/.exec(chain)?.[1];
    if (id) return doors.has(id) ? id : null;
    const l = doorLabel(comment);
    if (!l || !isKnockcName(chain)) return null;
    const key = `${l.door}|${l.line}`;
    const known = byName.get(key);
    if (known) return known;
    touch(key, l.door, l.line);
    return key;
  };
  const add = (id: string, f: (c: Counters) => void): void => {
    const e = doors.get(id)!;
    e.counters ??= { knocks: 0, openings: 0, resets: 0 };
    f(e.counters);
  };
  for (const r of t.rules) {
    if (!r.counter || !isKnockcName(r.chain)) continue;
    const id = ruleDoor(r.chain, r.comment);
    if (!id) continue;
    const n = r.counter.packets;
    const e = doors.get(id)!;
    const adv = /^stage (\d+) -> (\d+)$/.exec(r.comment ?? '');
    const label = doorLabel(r.comment);
    if (adv) add(id, (c) => {
      c.knocks += n;
      if (Number(adv[2]) === e.stages) c.openings += n;
    });
    else if (/^wrong knock/.test(r.comment ?? '')) add(id, (c) => {
      c.knocks += n;
      c.resets += n;
    });
    else if (label?.rest === 'stage 1') add(id, (c) => (c.knocks += n));
    else if (label?.rest === 'one-knock door') add(id, (c) => {
      c.knocks += n;
      c.openings += n;
    });
  }
  // Attempts: sources in a door's armed set, at the highest stage set that holds them.
  for (const s of sets) {
    if (setMeaning(s.name).role !== 'armed') continue;
    const id = doorIndex(s.name)!;
    const e = doors.get(id);
    if (!e) continue;
    const fam = familyOfName(s.name);
    for (const el of s.elements) {
      let stage = 1;
      for (const st of sets) {
        const m = setMeaning(st.name);
        if (m.role === 'stage' && doorIndex(st.name) === id && familyOfName(st.name) === fam && st.elements.some((x) => x.addr === el.addr)) {
          stage = Math.max(stage, m.knocks);
        }
      }
      e.attempts.push({ source: el.addr, stage, expiresMs: el.expiresMs });
    }
  }
  // Grants: which doors open each grant set (rules that add or refresh it).
  const grants: GrantStatus[] = [];
  for (const s of sets) {
    if (setMeaning(s.name).role !== 'grant') continue;
    const openers = new Set<string>();
    for (const r of t.rules) {
      if (!r.setOps.some((o) => o.set === s.name && (o.op === 'add' || o.op === 'update'))) continue;
      const id = ruleDoor(r.chain, r.comment);
      if (id) openers.add(doors.get(id)!.name);
    }
    for (const el of s.elements) {
      grants.push({
        source: el.addr,
        grant: grantWords(s.comment),
        doors: [...openers].sort(),
        expiresMs: el.expiresMs,
        timeoutMs: el.timeoutMs ?? s.timeoutMs,
      });
    }
  }
  const doorList = [...doors.values()]
    .map((e) => ({ ...e, attempts: e.attempts.sort((a, b) => bySource(a.source, b.source)) }))
    .sort((a, b) => a.line - b.line || a.name.localeCompare(b.name));
  grants.sort((a, b) => bySource(a.source, b.source) || a.grant.localeCompare(b.grant));
  return { target: 'nft', family: d.family, table: d.table, mode: d.mode, doors: doorList, grants };
}

/** Stable JSON (documented in the README): version 1. */
export function statusJson(ds: readonly DeploymentStatus[]): string {
  return `${JSON.stringify({ version: 1, deployments: ds }, null, 2)}\n`;
}

/** 27.1s, 4m05s, 2h03m, or "no expiry". */
export function timeLeft(ms: number | null): string {
  if (ms === null) return 'no expiry';
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
}

interface Paint {
  head(s: string): string;
  door(s: string): string;
  dim(s: string): string;
  good(s: string): string;
}

const plain: Paint = { head: (s) => s, door: (s) => s, dim: (s) => s, good: (s) => s };
const ansi: Paint = {
  head: (s) => `\x1b[1m${s}\x1b[0m`,
  door: (s) => `\x1b[36m${s}\x1b[0m`,
  dim: (s) => `\x1b[2m${s}\x1b[0m`,
  good: (s) => `\x1b[32m${s}\x1b[0m`,
};

/** Columns padded to their widest cell (measured without colour codes); numbers right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], right: readonly number[], p: Paint): string[] {
  // eslint-disable-next-line no-control-regex
  const width = (s: string): number => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  const w = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: readonly string[], head: boolean): string =>
    cells
      .map((c, i) => {
        const pad = ' '.repeat(w[i]! - width(c));
        const cell = right.includes(i) ? pad + c : c + pad;
        return head ? p.head(cell) : cell;
      })
      .join('  ')
      .replace(/\s+$/, '');
  return [line(header, true), ...rows.map((r) => line(r, false))];
}

export function formatStatus(ds: readonly DeploymentStatus[], opts: { color: boolean }): string {
  const p = opts.color ? ansi : plain;
  const out: string[] = [];
  for (const d of ds) {
    if (out.length) out.push('');
    out.push(
      p.head(
        d.target === 'iptables'
          ? `knockc in iptables-${d.backend ?? '?'}, IPv${d.family === 'ip6' ? 6 : 4} (table filter)`
          : `knockc in table ${d.family} ${d.table}${d.mode === 'into' ? ' (--into)' : ''}`,
      ),
    );
    const n = (c: Counters | null, k: keyof Counters): string => (c ? String(c[k]) : '-');
    out.push('');
    out.push(
      ...table(
        ['DOOR', 'LINE', 'SEQUENCE', 'MID-SEQUENCE', 'GRANTED', 'KNOCKS', 'OPENINGS', 'RESETS'],
        d.doors.map((x) => [
          p.door(x.name),
          String(x.line),
          `${x.stages} knock${x.stages === 1 ? '' : 's'}`,
          String(x.attempts.length),
          String(d.grants.filter((g) => g.doors.includes(x.name)).length),
          n(x.counters, 'knocks'),
          n(x.counters, 'openings'),
          n(x.counters, 'resets'),
        ]),
        [1, 2, 3, 4, 5, 6, 7],
        p,
      ),
    );
    if (d.doors.length === 0) out.push(p.dim('(no doors)'));
    const attempts = d.doors.flatMap((x) => x.attempts.map((a) => ({ door: x, a })));
    out.push('');
    if (attempts.length === 0) out.push(p.dim('no source is mid-sequence'));
    else {
      out.push(
        ...table(
          ['SOURCE', 'DOOR', 'STAGE', 'TIME LEFT'],
          attempts.map(({ door, a }) => [a.source, p.door(door.name), `${a.stage}/${door.stages}`, timeLeft(a.expiresMs)]),
          [3],
          p,
        ),
      );
    }
    out.push('');
    if (d.grants.length === 0) out.push(p.dim('no active grants'));
    else {
      out.push(
        ...table(
          ['SOURCE', 'GRANT', 'DOOR', 'TIME LEFT'],
          d.grants.map((g) => [p.good(g.source), g.grant, g.doors.map(p.door).join(', ') || '?', g.expiresMs === null && g.timeoutMs !== null ? '?' : timeLeft(g.expiresMs)]),
          [3],
          p,
        ),
      );
    }
  }
  out.push('');
  out.push(p.dim('KNOCKS, OPENINGS, RESETS count packets since the rules were last applied; an attempt\'s time left runs to its seq_timeout.'));
  return `${out.join('\n')}\n`;
}
