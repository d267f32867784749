// The CLI tests run the BUILT knockc (dist/cli.js, bundled), as users do. `npm test`
// builds first; when dist/ is missing or older than src/ (a bare `vitest run`
// after an edit), ensureBuilt() runs the build once, under a lock so that test
// files running in parallel do not build over each other.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/cli.js');

function newestSource(): number {
  let newest = 0;
  for (const entry of readdirSync(join(ROOT, 'src'), { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

function isFresh(): boolean {
  try {
    return statSync(CLI).mtimeMs >= newestSource();
  } catch {
    return false;
  }
}

const sleep = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

let checked = false;

/** Builds dist/ if it is missing or older than src/ (checked once per test file). */
export function ensureBuilt(): void {
  if (checked) return;
  checked = true;
  if (isFresh()) return;
  const lock = join(tmpdir(), `knockc-build-${createHash('sha1').update(ROOT).digest('hex').slice(0, 12)}.lock`);
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock} (remove it if no build is running)`);
      sleep(200);
    }
  }
  try {
    if (isFresh()) return;
    // The package's own build script: one definition of what the built CLI is (tsc, then the bundle).
    const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}${r.stderr}`);
  } finally {
    rmdirSync(lock);
  }
}

export interface CliRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function knockc(args: readonly string[], opts: { input?: string | Uint8Array; dropCaps?: readonly string[]; cwd?: string } = {}): CliRun {
  const argv = [...withoutCaps(opts.dropCaps ?? []), process.execPath, CLI, ...args];
  const r: SpawnSyncReturns<string> = spawnSync(argv[0]!, argv.slice(1), {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    input: opts.input ?? '',
    maxBuffer: 64 << 20,
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The prefix that runs a command as root without these capabilities (setpriv), e.g. without
 * dac_override: root then meets file permissions like any user, yet still reaches the checkout
 * wherever it lies (another user, such as nobody, may not: a CI checkout in a mode-700 directory).
 */
export function withoutCaps(caps: readonly string[]): string[] {
  if (caps.length === 0) return [];
  const list = caps.map((c) => `-${c}`).join(',');
  return ['setpriv', `--inh-caps=${list}`, `--bounding-set=${list}`];
}

/** The same, without blocking the test worker: for long series of runs. */
export function knockcAsync(args: readonly string[], opts: { input?: string | Uint8Array } = {}): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolvePromise({ status, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    // A command that does not read its input closes the pipe early: that is fine.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs jobs with at most `limit` at a time, results in order. */
export async function pool<T, R>(items: readonly T[], limit: number, job: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await job(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
