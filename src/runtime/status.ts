// What `knockc status` shows of `knockc run`: whether it runs (its PID file) and the stop
// commands it owes (its state file, pending.json: the same file the runtime arms its timers
// from), per door. Read only: nothing here writes.
import { readTextOrNull } from '../host/read-text.js';
import { PendingStore, StateFileError, type PendingStop } from './pending.js';

export interface RuntimeStatus {
  /** The PID file read. */
  readonly pidFile: string;
  /** The runtime's process, when the PID file names a live knockc process. */
  readonly pid: number | null;
  /** The state file read. */
  readonly stateFile: string;
  /** Why the state file could not be read (then `pending` is empty). */
  readonly stateError: string | null;
  /** Pending stop commands, soonest first. */
  readonly pending: ReadonlyArray<{ readonly door: string; readonly source: string; readonly command: string; readonly dueMs: number }>;
}

export interface RuntimeStatusHost {
  read(path: string): string | null;
  now(): number;
}

const realHost: RuntimeStatusHost = {
  read: readTextOrNull,
  now: () => Date.now(),
};

/** The runtime's PID when the file names a live process that is a knockc run (a stale file is not). */
function livePid(pidFile: string, host: RuntimeStatusHost): number | null {
  const text = host.read(pidFile);
  const pid = text === null ? NaN : Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const cmdline = host.read(`/proc/${pid}/cmdline`);
  return cmdline !== null && cmdline.split('\0').includes('run') ? pid : null;
}

export function readRuntimeStatus(stateFile: string, pidFile: string, host: RuntimeStatusHost = realHost): RuntimeStatus {
  let list: PendingStop[] = [];
  let stateError: string | null = null;
  try {
    list = new PendingStore(stateFile).load();
  } catch (e) {
    stateError = e instanceof StateFileError ? e.message : String((e as Error).message ?? e);
  }
  const now = host.now();
  const pending = [...list]
    .sort((a, b) => a.due - b.due || a.door.localeCompare(b.door))
    .map((p) => ({ door: p.door, source: p.src, command: p.command, dueMs: p.due - now }));
  return { pidFile, pid: livePid(pidFile, host), stateFile, stateError, pending };
}

/** Anything to show: a running runtime, stops it owes, or a state file it cannot read. */
export const runtimeShown = (r: RuntimeStatus): boolean => r.pid !== null || r.pending.length > 0 || r.stateError !== null;

/** 27.1s, 4m05s, 2h03m, 3d04h. */
function duration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
}

/** The runtime's part of `knockc status`, for a terminal. */
export function formatRuntimeStatus(r: RuntimeStatus): string {
  const out: string[] = [];
  const n = r.pending.length;
  const owed = `${n} pending stop command${n === 1 ? '' : 's'}`;
  if (r.pid !== null) out.push(`knockc run: running (pid ${r.pid}); ${owed}`);
  else out.push(`knockc run: not running (no live process in ${r.pidFile})${n ? `; ${owed}, run when it starts (overdue ones at once)` : ''}`);
  if (r.stateError) out.push(`knockc run: cannot read its stops: ${r.stateError}`);
  if (n) {
    const rows = r.pending.map((p) => [p.door, p.source, p.dueMs >= 0 ? `in ${duration(p.dueMs)}` : `overdue ${duration(-p.dueMs)}`, p.command]);
    const head = ['DOOR', 'SOURCE', 'STOP', 'COMMAND'];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(w[i]!))).join('  ');
    out.push('', line(head), ...rows.map(line));
    const doors = [...new Set(r.pending.map((p) => p.door))];
    out.push('', `open until their stop: ${doors.map((d) => `[${d}] ${r.pending.filter((p) => p.door === d).length}`).join(', ')} (from ${r.stateFile})`);
  }
  return `${out.join('\n')}\n`;
}
