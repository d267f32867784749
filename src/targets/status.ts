// What `knockc status` shows, whatever the target: per deployment, doors (attempts in progress,
// counters) and grants; as a table for a terminal or as stable JSON.
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

/** Stable JSON (documented in the README): version 1; `extra` adds fields (e.g. the runtime's). */
export function statusJson(ds: readonly DeploymentStatus[], extra: Readonly<Record<string, unknown>> = {}): string {
  return `${JSON.stringify({ version: 1, deployments: ds, ...extra }, null, 2)}\n`;
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
  out.push(p.dim('KNOCKS, OPENINGS, RESETS count packets since the rules were last loaded (apply; knockc run at start, SIGHUP and each one-time swap); an attempt\'s time left runs to its seq_timeout.'));
  return `${out.join('\n')}\n`;
}
