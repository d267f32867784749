// knockc run counts the commands it runs (commands.json in its state directory) and
// `knockc status --format openmetrics` exports them: the real `knockc run` in a scratch
// network namespace (real nft, NFLOG, tcpdump; knocks are TCP connects to 127.0.0.1 inside
// it), a door whose start command succeeds and whose stop command fails; the counts go on
// across a restart. Read back with the official OpenMetrics parser.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ensureBuilt } from '../cli/built.js';
import { netnsReady, toolPath } from '../netns-env.js';
import { oraclesReady, parseOpenMetrics, sampleValue } from './oracles.js';

const ready = netnsReady('knockc run command-count tests', ['ip', 'nft', 'tcpdump', 'setpriv', 'bash']) && oraclesReady();
const IP = toolPath('ip')!;
const NS = `knockc-cnt-${process.pid}`;
const tmp = mkdtempSync(join(tmpdir(), 'knockc-cnt-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function inNs(argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(IP, ['netns', 'exec', NS, ...argv], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
function knock(...ports: number[]): void {
  const r = inNs(['bash', '-c', ports.map((p) => `(exec 3<>/dev/tcp/127.0.0.1/${p}) 2>/dev/null`).join('; ') + '; true']);
  if (r.status !== 0) throw new Error(r.stderr);
}
const read = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8') : '');
async function until(what: string, f: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const running: Array<{ child: ChildProcess; exited: Promise<number | null> }> = [];
async function start(args: string[]): Promise<{ child: ChildProcess; exited: Promise<number | null> }> {
  const child = spawn(IP, ['netns', 'exec', NS, process.execPath, CLI, 'run', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  const r = { child, exited };
  running.push(r);
  await until(`knockc run ready (${err})`, () => /; ready\n/.test(err) || child.exitCode !== null, 15_000);
  if (child.exitCode !== null) throw new Error(`knockc run ended:\n${err}`);
  return r;
}

describe.skipIf(!ready)('knockc run command counts in the metrics (scratch network namespace)', () => {
  beforeAll(() => {
    ensureBuilt();
    spawnSync(IP, ['netns', 'del', NS], { stdio: 'ignore' });
    expect(spawnSync(IP, ['netns', 'add', NS]).status).toBe(0);
    inNs(['ip', 'link', 'set', 'lo', 'up']);
  });
  afterEach(async () => {
    for (const r of running.splice(0)) {
      r.child.kill('SIGKILL');
      await r.exited;
    }
  });
  afterAll(() => {
    spawnSync(IP, ['netns', 'del', NS], { stdio: 'ignore' });
    rmSync(tmp, { recursive: true, force: true });
  });

  it('counts started and failed commands, across a restart', { timeout: 60_000 }, async () => {
    const out = join(tmp, 'out');
    const conf = join(tmp, 'knockd.conf');
    const state = join(tmp, 'state');
    const pid = join(tmp, 'run.pid');
    // The start command succeeds; the stop command, a second later, exits 3.
    writeFileSync(conf, `[door1]\n  sequence = 7401,7402\n  start_command = echo start >> ${out}\n  cmd_timeout = 1\n  stop_command = echo stop >> ${out}; exit 3\n`);
    const metrics = () => {
      const r = inNs([process.execPath, CLI, 'status', '--state-dir', state, '--pid-file', pid, '--format', 'openmetrics']);
      expect(r.status, r.stderr).toBe(0);
      return parseOpenMetrics(r.stdout);
    };
    const counts = () => read(join(state, 'commands.json'));

    const a = await start([conf, '--state-dir', state, '--pid-file', pid]);
    expect(sampleValue(metrics(), 'knockc_runtime_commands_total')).toBeUndefined(); // none run yet
    knock(7401, 7402);
    await until('the stop command to be counted', () => counts().includes('"run":2'));
    let m = metrics();
    expect(sampleValue(m, 'knockc_runtime_up')).toBe(1);
    expect(sampleValue(m, 'knockc_runtime_commands_total')).toBe(2);
    expect(sampleValue(m, 'knockc_runtime_commands_failed_total')).toBe(1);
    expect(read(out)).toBe('start\nstop\n');

    a.child.kill('SIGKILL');
    await a.exited;
    expect(sampleValue(metrics(), 'knockc_runtime_up')).toBe(0);
    await start([conf, '--state-dir', state, '--pid-file', pid]);
    knock(7401, 7402);
    await until('the second stop command to be counted', () => counts().includes('"run":4'));
    m = metrics();
    expect(sampleValue(m, 'knockc_runtime_commands_total')).toBe(4);
    expect(sampleValue(m, 'knockc_runtime_commands_failed_total')).toBe(2);
    expect(JSON.parse(counts())).toEqual({ version: 1, run: 4, failed: 2 });
  });
});
