// Runs the REAL knockd 0.8 on one compatibility case and reports whether it
// accepted the configuration.
//
// How the verdict is decided (observed on Debian's knockd 0.8):
// - We run `knockd -D -v -i lo -c <dir>/knockd.conf` with the temp dir as cwd.
//   knockd flushes its debug/verbose output line by line, even into a pipe.
// - An accepted config makes knockd print "listening on lo..." and keep
//   running. We wait a short grace period after that line, check the process
//   is still alive, then stop it with SIGTERM (it exits with code 15 after
//   printing "closing...").
// - A rejected config makes knockd print its reason on stderr and exit with
//   code 1 within milliseconds (for some errors followed by the usage text
//   on stdout).
// - If knockd neither exits nor says "listening on" within HARD_DEADLINE_MS,
//   it kept running: that counts as accept too.
// In foreground mode (no -d) knockd writes no pid file, so parallel runs do
// not collide; each run gets its own temp dir, so relative LogFile and
// one-time-sequence files stay private to the run.

import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const KNOCKD_BIN: string = process.env.KNOCKD_BIN ?? '/usr/sbin/knockd';

/** Name of the config file inside the temp dir (a case's `files` may not use it). */
export const CONFIG_NAME = 'knockd.conf';

const LISTENING = 'listening on ';
const GRACE_MS = 300;
const HARD_DEADLINE_MS = 4000;
const KILL_WAIT_MS = 2000;

export interface KnockdRunInput {
  name?: string;
  text: string;
  files?: Record<string, string>;
}

export interface KnockdRun {
  verdict: 'accept' | 'reject';
  /** stdout and stderr together, in arrival order. */
  output: string;
  /** stderr alone (where knockd prints its error messages). */
  stderr: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunOptions {
  iface?: string;
  bin?: string;
}

function safeRelative(name: string): string {
  const norm = path.posix.normalize(name);
  if (
    name === '' ||
    path.isAbsolute(name) ||
    norm.startsWith('../') ||
    norm === '..' ||
    norm === '.' ||
    norm === CONFIG_NAME
  ) {
    throw new Error(`case file name not allowed: ${JSON.stringify(name)}`);
  }
  return norm;
}

export async function runRealKnockd(
  kase: KnockdRunInput,
  opts: RunOptions = {},
): Promise<KnockdRun> {
  const bin = opts.bin ?? KNOCKD_BIN;
  const iface = opts.iface ?? 'lo';
  const dir = await mkdtemp(path.join(tmpdir(), 'knockc-compat-'));
  try {
    for (const [name, content] of Object.entries(kase.files ?? {})) {
      const target = path.join(dir, safeRelative(name));
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, content, 'utf8');
    }
    const conf = path.join(dir, CONFIG_NAME);
    await writeFile(conf, kase.text, 'utf8');
    return await runIn(bin, ['-D', '-v', '-i', iface, '-c', conf], dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function runIn(bin: string, args: string[], cwd: string): Promise<KnockdRun> {
  return new Promise<KnockdRun>((resolve, reject) => {
    const child = spawn(bin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let stderr = '';
    let exited = false;
    let decided: 'accept' | null = null;
    let graceTimer: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    const hardTimer = setTimeout(() => decideAccept(), HARD_DEADLINE_MS);

    function stop(): void {
      if (exited) return;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, KILL_WAIT_MS);
    }

    function decideAccept(): void {
      if (exited || decided) return;
      decided = 'accept';
      stop();
    }

    function onData(chunk: Buffer, isErr: boolean): void {
      const s = chunk.toString('utf8');
      output += s;
      if (isErr) stderr += s;
      if (!graceTimer && !decided && output.includes(LISTENING)) {
        graceTimer = setTimeout(() => decideAccept(), GRACE_MS);
      }
    }

    child.stdout.on('data', (c: Buffer) => onData(c, false));
    child.stderr.on('data', (c: Buffer) => onData(c, true));
    child.on('error', (err) => {
      exited = true;
      clearTimeout(hardTimer);
      if (graceTimer) clearTimeout(graceTimer);
      reject(err);
    });
    // 'close' fires after the process exited AND its pipes are drained.
    child.on('close', (code, signal) => {
      exited = true;
      clearTimeout(hardTimer);
      if (graceTimer) clearTimeout(graceTimer);
      if (killTimer) clearTimeout(killTimer);
      resolve({
        verdict: decided === 'accept' ? 'accept' : 'reject',
        output,
        stderr,
        exitCode: code,
        signal,
      });
    });
  });
}
