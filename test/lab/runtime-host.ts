/**
 * `knockc run` in a lab server's kernel: the runtime runs on the test host
 * (the lab image has no node), inside the server container's network
 * namespace (`nsenter --net=/proc/PID/ns/net node dist/cli.js run ...`).
 * nft, iptables, tcpdump and the doors' commands are the host's binaries,
 * run in that namespace: the commands write to host files, which is how
 * tests see them. Shared by test/lab/runtime.test.ts and bench/runtime.ts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LabServer } from './lab.js';

export const KNOCKC_CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** /proc/PID/ns/net of a lab container (its first process, on this host). */
export function netnsOf(server: LabServer): string {
  const id = server.container.getId();
  const r = spawnSync('docker', ['inspect', '-f', '{{.State.Pid}}', id], { encoding: 'utf8' });
  const pid = Number(r.stdout.trim());
  if (r.status !== 0 || !Number.isInteger(pid) || pid <= 0) throw new Error(`docker inspect ${id}: ${r.stderr || r.stdout}`);
  return `/proc/${pid}/ns/net`;
}

export interface RuntimeStart {
  /** knockd.conf on the host. */
  readonly conf: string;
  readonly stateDir: string;
  readonly pidFile: string;
  /** Extra arguments of `knockc run`, e.g. ['--target', 'iptables']. */
  readonly args?: readonly string[];
  /** Wait this long for "; ready" (default 20 s). */
  readonly readyTimeoutMs?: number;
}

/** Every runtime started by this process, so that a failing test still ends them. */
const live = new Set<LabRuntime>();
process.once('exit', () => {
  for (const rt of live) rt.kill9();
});

/** One `knockc run` process (nsenter execs node: the child's PID is node's). */
export class LabRuntime {
  readonly pid: number;
  private err = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private done = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly startedAt: number,
  ) {
    if (child.pid === undefined) throw new Error('knockc run: spawn failed');
    this.pid = child.pid;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => (this.err += s));
    child.stdout!.resume();
    this.exited = new Promise((res) => {
      child.on('exit', (code, signal) => {
        this.done = true;
        live.delete(this);
        res({ code, signal });
      });
    });
    live.add(this);
  }

  /** Starts `knockc run` in `netns` and waits for its "; ready" line (throws with its output otherwise). */
  static async start(netns: string, o: RuntimeStart): Promise<LabRuntime> {
    const argv = [`--net=${netns}`, process.execPath, KNOCKC_CLI, 'run', o.conf, '--state-dir', o.stateDir, '--pid-file', o.pidFile, ...(o.args ?? [])];
    const child = spawn('nsenter', argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    const rt = new LabRuntime(child, Date.now());
    const deadline = Date.now() + (o.readyTimeoutMs ?? 20_000);
    while (!/; ready\n/.test(rt.err)) {
      if (rt.done || Date.now() > deadline) {
        rt.kill9();
        await rt.exited;
        throw new Error(`knockc run ${rt.done ? 'exited' : 'was not ready in time'}; stderr:\n${rt.err}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return rt;
  }

  get stderr(): string {
    return this.err;
  }

  get running(): boolean {
    return !this.done;
  }

  /** Like a crash: SIGKILL to node only (its tcpdump ends by its parent-death signal). */
  kill9(): void {
    if (!this.done) this.child.kill('SIGKILL');
  }

  /** SIGTERM, then waits for the exit. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.done) this.child.kill('SIGTERM');
    return this.exited;
  }

  /** PIDs of node's children (tcpdump, running commands). */
  children(): number[] {
    try {
      return readFileSync(`/proc/${this.pid}/task/${this.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }
}

/** Ends every runtime still running (SIGKILL) and waits for them: for afterEach / afterAll. */
export async function killAllRuntimes(): Promise<void> {
  const all = [...live];
  for (const rt of all) rt.kill9();
  await Promise.all(all.map((rt) => rt.exited));
}
