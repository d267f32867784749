// Tools for the tests that hurt `knockc run` and `knockc apply` on purpose (issue 17): scratch
// network namespaces with a knocking helper inside, the built CLI started there (optionally with
// its state directory on a tiny tmpfs in a private mount namespace, and with fault wrappers first
// on PATH), what the kernel holds, and the records the doors' commands write.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CLI, ROOT } from '../cli/built.js';
import { toolPath } from '../netns-env.js';

/** What these tests need besides root. */
export const FAULT_TOOLS = ['ip', 'nft', 'tcpdump', 'setpriv', 'bash', 'unshare', 'nsenter', 'mount', 'flock', 'iptables-nft-restore', 'ip6tables-nft-restore', 'iptables-save', 'ip6tables-save'];

export const IP = (): string => toolPath('ip')!;
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until(what: string, f: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

export const readText = (f: string): string => {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return '';
  }
};

/** A stack trace in a message: what a user must never see (Node's "    at f (file:1:2)" frames). */
export const hasStackTrace = (text: string): boolean => /^\s+at .*(\(.*:\d+:\d+\)|:\d+:\d+)$/m.test(text) || /internal error/.test(text);

export interface Result {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class Netns {
  private knocker: ChildProcess | null = null;
  private replies: Array<(line: string) => void> = [];

  constructor(readonly name: string) {}

  create(): void {
    spawnSync(IP(), ['netns', 'del', this.name]);
    const r = spawnSync(IP(), ['netns', 'add', this.name], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip netns add ${this.name}: ${r.stderr}`);
    this.exec(['ip', 'link', 'set', 'lo', 'up']);
  }

  exec(argv: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Result {
    const r = spawnSync(IP(), ['netns', 'exec', this.name, ...argv], { encoding: 'utf8', input: opts.input ?? '', env: opts.env ?? process.env, timeout: 60_000 });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** The built CLI inside the namespace, without blocking the test (apply, remove...). */
  cli(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Proc {
    return new Proc(spawn(IP(), ['netns', 'exec', this.name, process.execPath, CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: ROOT }));
  }

  /** One knock per port ("7000", "8000:udp"), in order, from `src` (127.x.y.z) to 127.0.0.1. */
  async knock(src: string, ports: readonly string[]): Promise<void> {
    if (!this.knocker) {
      this.knocker = spawn(IP(), ['netns', 'exec', this.name, process.execPath, join(ROOT, 'test/runtime/knocker.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
      createInterface({ input: this.knocker.stdout! }).on('line', (l) => this.replies.shift()?.(l));
    }
    const reply = await new Promise<string>((res) => {
      this.replies.push(res);
      this.knocker!.stdin!.write(`${src} ${ports.join(' ')}\n`);
    });
    if (reply !== 'ok') throw new Error(`knock from ${src}: ${reply}`);
  }

  /** What knockc's standalone table holds, without counters and set contents ('' when absent). */
  nftShape(table = 'inet knockc'): string {
    const r = this.exec(['nft', '-s', '-t', 'list', 'table', ...table.split(' ')]);
    return r.status === 0 ? r.stdout : '';
  }

  /** iptables-nft's filter table for one family, without counters. */
  iptShape(family: 4 | 6): string {
    const r = this.exec([family === 4 ? 'iptables-save' : 'ip6tables-save', '-t', 'filter']);
    return r.stdout
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.replace(/ \[\d+:\d+\]$/, ''))
      .join('\n');
  }

  destroy(): void {
    this.knocker?.kill('SIGKILL');
    this.knocker = null;
    spawnSync(IP(), ['netns', 'del', this.name]);
  }
}

/** A child process (a knockc command) with its output kept. */
export class Proc {
  private err = '';
  private out = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  done = false;

  constructor(readonly child: ChildProcess) {
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.err += s));
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (this.out += s));
    this.exited = new Promise((res) =>
      child.on('exit', (code, signal) => {
        this.done = true;
        res({ code, signal });
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }
  stderr(): string {
    return this.err;
  }
  stdout(): string {
    return this.out;
  }
  kill(sig: NodeJS.Signals): void {
    if (!this.done) this.child.kill(sig);
  }
}

export interface RunOptions {
  /** Directories put first on PATH (fault wrappers). */
  readonly pathFirst?: string;
  /** Mount a tmpfs of this many KiB on the state directory, in a private mount namespace. */
  readonly stateTmpfsKib?: number;
  readonly waitReady?: boolean;
}

/**
 * `knockc run CONF --state-dir STATE --pid-file PIDFILE ...` inside the namespace. The child's
 * pid is the runtime's own (unshare, sh and `ip netns exec` all exec), so a SIGKILL hits it.
 */
export async function startRun(ns: Netns, conf: string, state: string, pidFile: string, extra: readonly string[] = [], o: RunOptions = {}): Promise<Proc> {
  const env = { ...process.env, ...(o.pathFirst ? { PATH: `${o.pathFirst}:${process.env['PATH'] ?? '/usr/bin:/bin'}` } : {}) };
  const run = [IP(), 'netns', 'exec', ns.name, process.execPath, CLI, 'run', conf, '--state-dir', state, '--pid-file', pidFile, ...extra];
  mkdirSync(state, { recursive: true });
  const argv =
    o.stateTmpfsKib === undefined
      ? run
      : ['unshare', '-m', '--propagation', 'private', '--', 'sh', '-c', `mount -t tmpfs -o size=${o.stateTmpfsKib}k knockc-state "$0" || exit 97; exec "$@"`, state, ...run];
  const p = new Proc(spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: ROOT }));
  if (o.waitReady !== false) await readyOf(p);
  return p;
}

export async function readyOf(p: Proc, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!/; ready\n/.test(p.stderr())) {
    if (p.done || Date.now() - t0 > ms) throw new Error(`knockc run did not get ready (${p.done ? 'it exited' : 'timeout'}):\n${p.stderr()}`);
    await sleep(10);
  }
}

/** Runs a command in the runtime's mount namespace (its private tmpfs). */
export function inMountNs(pid: number, argv: readonly string[]): Result {
  const r = spawnSync('nsenter', ['-t', String(pid), '-m', '--', ...argv], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Fault wrappers for firewall tools, first on PATH: every call is counted (across tools, under a
 * lock) and listed in `calls`; the calls whose numbers are in `fail-at` fail (exit 1, "injected
 * failure" on stderr, listed in `failed`); while `sleep` exists each call first sleeps that many
 * seconds (and touches `sleeping`). Everything else runs the real tool.
 */
export class Wrappers {
  constructor(readonly dir: string) {}

  install(tools: readonly string[]): void {
    mkdirSync(this.dir, { recursive: true });
    for (const t of tools) {
      const real = toolPath(t);
      if (!real) throw new Error(`${t} not found`);
      const d = this.dir;
      writeFileSync(
        join(d, t),
        [
          '#!/bin/sh',
          `d='${d}'`,
          `exec 9>>"$d/lock"; flock 9`,
          `n=$(( $(cat "$d/count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$d/count"`,
          `flock -u 9; exec 9>&-`,
          `echo "$n ${t} $*" >> "$d/calls"`,
          `if [ -f "$d/sleep" ]; then touch "$d/sleeping"; sleep "$(cat "$d/sleep")"; fi`,
          `if grep -qx "$n" "$d/fail-at" 2>/dev/null; then echo "injected failure (call $n of ${t})" >&2; echo "$n ${t}" >> "$d/failed"; exit 1; fi`,
          `exec '${real}' "$@"`,
          '',
        ].join('\n'),
      );
      chmodSync(join(d, t), 0o755);
    }
    this.reset();
  }

  reset(): void {
    for (const f of ['count', 'calls', 'failed', 'fail-at', 'sleep', 'sleeping']) rmSync(join(this.dir, f), { force: true });
  }
  calls(): number {
    return Number(readText(join(this.dir, 'count')).trim() || 0);
  }
  /** These calls (numbers from 1, across every wrapped tool) fail; [] for none. */
  failAt(calls: readonly number[]): void {
    if (calls.length === 0) rmSync(join(this.dir, 'fail-at'), { force: true });
    else writeFileSync(join(this.dir, 'fail-at'), calls.map((c) => `${c}\n`).join(''));
  }
  /** The failures injected so far ("N tool" lines). */
  failed(): string[] {
    return readText(join(this.dir, 'failed')).split('\n').filter(Boolean);
  }
  slow(seconds: number | null): void {
    rmSync(join(this.dir, 'sleeping'), { force: true });
    if (seconds === null) rmSync(join(this.dir, 'sleep'), { force: true });
    else writeFileSync(join(this.dir, 'sleep'), `${seconds}\n`);
  }
  sleeping(): boolean {
    return existsSync(join(this.dir, 'sleeping'));
  }
}

/** One line a door's command wrote: "start|stop DOOR SRC MS" (commands below). */
export interface CmdRecord {
  readonly what: string;
  readonly door: string;
  readonly src: string;
  readonly ms: number;
  readonly rest: string;
}

export function records(file: string): CmdRecord[] {
  return readText(file)
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [what, door, src, ms, ...rest] = l.split(' ');
      return { what: what!, door: door!, src: src!, ms: Number(ms), rest: rest.join(' ') };
    });
}

/** A door whose commands append "start|stop NAME %IP% MS [extra]" to `out`. */
export function commandDoor(name: string, ports: readonly string[], out: string, o: { cmdTimeout?: number | null; extra?: string; oneTime?: string } = {}): string {
  const extra = o.extra ? ` ${o.extra}` : '';
  return [
    `[${name}]`,
    o.oneTime ? `  one_time_sequences = ${o.oneTime}` : `  sequence = ${ports.join(',')}`,
    '  seq_timeout = 10',
    `  start_command = echo start ${name} %IP% $(date +%s%3N)${extra} >> ${out}`,
    ...(o.cmdTimeout === null || o.cmdTimeout === undefined ? [] : [`  cmd_timeout = ${o.cmdTimeout}`, `  stop_command = echo stop ${name} %IP% $(date +%s%3N) >> ${out}`]),
    '',
  ].join('\n');
}

/** Source addresses, one per knock: 127.<lane>.<hi>.<lo>, so that every opening is told apart. */
export class Sources {
  private n = 0;
  constructor(private readonly lane: number) {}
  next(): string {
    this.n++;
    return `127.${this.lane}.${Math.floor(this.n / 250)}.${(this.n % 250) + 2}`;
  }
}

export { newSeed, Rng } from '../rng.js';
