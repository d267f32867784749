// How knockc talks to the kernel: by running the firewall tools (nft,
// iptables-restore, ...). Everything that touches the host goes through a
// Runner, so the same code runs on this host (localRunner) or elsewhere
// (the Docker lab runs the commands inside a container).
import { spawn } from 'node:child_process';

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs argv (no shell), feeding `stdin` when given. Never throws for a failing command. */
export type Runner = (cmd: readonly string[], stdin?: string) => Promise<RunResult>;

/** Directories searched for the firewall tools besides PATH (they live in sbin, often not on a user's PATH). */
const SBIN = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

/** The production runner: child processes on this host. A missing program gives code 127. */
export const localRunner: Runner = (cmd, stdin) =>
  new Promise((resolve) => {
    const [prog, ...args] = cmd;
    if (!prog) {
      resolve({ code: 127, stdout: '', stderr: 'empty command' });
      return;
    }
    const path = [...(process.env['PATH'] ?? '').split(':').filter(Boolean), ...SBIN].join(':');
    const child = spawn(prog, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PATH: path, LC_ALL: 'C' } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => undefined);
    child.on('error', (e: NodeJS.ErrnoException) => {
      resolve({ code: e.code === 'ENOENT' ? 127 : 126, stdout: '', stderr: `${prog}: ${e.message}` });
    });
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.end(stdin ?? '');
  });

/** Thrown when a host command fails in a way the caller does not handle. */
export class HostError extends Error {
  constructor(
    message: string,
    readonly result?: RunResult,
  ) {
    super(message);
  }
}

/** Runs and returns stdout; throws HostError with the tool's own message otherwise. */
export async function runOk(run: Runner, cmd: readonly string[], stdin?: string): Promise<string> {
  const r = await run(cmd, stdin);
  if (r.code !== 0) {
    const msg = r.code === 127 ? `${cmd[0]} not found` : (r.stderr.trim() || r.stdout.trim() || `exit ${r.code}`);
    throw new HostError(`\`${cmd.join(' ')}\` failed: ${msg}`, r);
  }
  return r.stdout;
}
