// The built `knockc run` in a scratch network namespace (real nft, real
// NFLOG, real tcpdump; knocks are TCP connects to 127.0.0.1 inside the
// namespace): messages, exit codes, PID file, the swap of a one-time
// sequence, and pending stops that survive a kill -9. Packets between hosts,
// random kills and the iptables target are in test/lab/runtime.test.ts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ensureBuilt } from '../cli/built.js';
import { netnsReady, toolPath } from '../netns-env.js';

const ready = netnsReady('knockc run netns tests', ['ip', 'nft', 'tcpdump', 'setpriv', 'bash']);
const IP = toolPath('ip');

const NS = `knockc-run-${process.pid}`;
const tmp = mkdtempSync(join(tmpdir(), 'knockc-run-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function inNs(argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(IP!, ['netns', 'exec', NS, ...argv], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** TCP SYNs to 127.0.0.1 (closed ports answer RST): one knock per port. */
function knock(...ports: number[]): void {
  const r = inNs(['bash', '-c', ports.map((p) => `(exec 3<>/dev/tcp/127.0.0.1/${p}) 2>/dev/null`).join('; ') + '; true']);
  if (r.status !== 0) throw new Error(r.stderr);
}
const nftList = (): string => inNs(['nft', 'list', 'ruleset']).stdout;
const read = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8') : '');

interface Running {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}
const running: Running[] = [];

async function start(args: string[], untilReady = true): Promise<Running> {
  const child = spawn(IP!, ['netns', 'exec', NS, process.execPath, CLI, 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  child.stdout!.resume();
  const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  const r: Running = { child, stderr: () => err, exited };
  running.push(r);
  if (untilReady) {
    const t0 = Date.now();
    while (!/; ready\n/.test(err)) {
      if (child.exitCode !== null || Date.now() - t0 > 15_000) throw new Error(`knockc run did not get ready:\n${err}`);
      await sleep(20);
    }
  }
  return r;
}

// Generous: beside the lab suites a reload (parse, nft -f) can take seconds; a pass takes ms.
async function until(what: string, f: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe.skipIf(!ready)('knockc run (CLI, scratch network namespace)', () => {
  beforeAll(() => {
    ensureBuilt();
    spawnSync(IP!, ['netns', 'del', NS]);
    expect(spawnSync(IP!, ['netns', 'add', NS]).status).toBe(0);
    inNs(['ip', 'link', 'set', 'lo', 'up']);
  });
  afterEach(async () => {
    for (const r of running.splice(0)) {
      r.child.kill('SIGKILL');
      await r.exited;
    }
    inNs(['nft', 'delete', 'table', 'inet', 'knockc']);
  });
  afterAll(() => {
    spawnSync(IP!, ['netns', 'del', NS]);
  });

  it('runs commands on completion, logs like knockd, stops cleanly on SIGTERM leaving the rules loaded', async () => {
    const out = join(tmp, 'a.out');
    const logFile = join(tmp, 'a.log');
    const pid = join(tmp, 'a.pid');
    const conf = join(tmp, 'a.conf');
    writeFileSync(conf, `[options]\n  LogFile = ${logFile}\n[hello]\n  sequence = 7001,7002\n  start_command = echo start %IP% >> ${out}\n`);
    const r = await start([conf, '--state-dir', join(tmp, 'a.state'), '--pid-file', pid]);
    // The PID file holds the runtime's own pid (a child of `ip netns exec`).
    expect(Number(read(pid).trim())).toBeGreaterThan(0);
    expect(readFileSync(`/proc/${read(pid).trim()}/cmdline`, 'utf8')).toContain('run\0');
    expect(r.stderr()).toMatch(/^knockc: knockc run \S+: 1 door\(s\) handled here \(hello\), kernel events from NFLOG group 4242; ready$/m);
    const t0 = Date.now();
    knock(7001, 7002);
    await until('the start command', () => read(out) === 'start 127.0.0.1\n');
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(read(logFile)).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d\] 127\.0\.0\.1: hello: OPEN SESAME\n\[[^\]]+\] hello: running command: echo start 127\.0\.0\.1 >> \S+\n/m);
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    expect(existsSync(pid)).toBe(false);
    expect(nftList()).toMatch(/log prefix "knockc [0-9a-f]{16}" group 4242 queue-threshold 1/);
  });

  it('a pending stop command survives kill -9 and runs on time after a restart, once', async () => {
    const out = join(tmp, 'b.out');
    const conf = join(tmp, 'b.conf');
    const state = join(tmp, 'b.state');
    writeFileSync(conf, `[cmd]\n  sequence = 7101,7102\n  start_command = echo start >> ${out}\n  cmd_timeout = 3\n  stop_command = echo stop $(date +%s%3N) >> ${out}\n`);
    const a = await start([conf, '--state-dir', state, '--pid-file', join(tmp, 'b.pid')]);
    knock(7101, 7102);
    await until('the start command', () => read(out).startsWith('start'));
    const opened = Date.now();
    expect(JSON.parse(read(join(state, 'pending.json'))).pending).toHaveLength(1);
    a.child.kill('SIGKILL');
    await a.exited;
    await sleep(500);
    const b = await start([conf, '--state-dir', state, '--pid-file', join(tmp, 'b.pid')]);
    await until('the stop command', () => read(out).includes('stop'), 6000);
    const at = Number(/stop (\d+)/.exec(read(out))![1]);
    expect(at - opened).toBeGreaterThan(2700);
    expect(at - opened).toBeLessThan(4000);
    await sleep(1500);
    expect(read(out).match(/stop/g)).toHaveLength(1);
    expect(JSON.parse(read(join(state, 'pending.json'))).pending).toEqual([]);
    expect(b.stderr()).toMatch(/127\.0\.0\.1: cmd: command timeout/);
  });

  it('status shows the runtime: running or not, and its pending stops per door (from pending.json)', async () => {
    const out = join(tmp, 's.out');
    const conf = join(tmp, 's.conf');
    const state = join(tmp, 's.state');
    const pidFile = join(tmp, 's.pid');
    writeFileSync(conf, `[door1]\n  sequence = 7151,7152\n  start_command = echo start >> ${out}\n  cmd_timeout = 60\n  stop_command = echo stop %IP% >> ${out}\n`);
    const a = await start([conf, '--state-dir', state, '--pid-file', pidFile]);
    knock(7151, 7152);
    await until('the start command', () => read(out).startsWith('start'));
    const status = (args: string[]) => inNs([process.execPath, CLI, 'status', '--state-dir', state, '--pid-file', pidFile, ...args]);
    const s = status([]);
    expect(s.status, s.stderr).toBe(0);
    const pid = read(pidFile).trim();
    expect(s.stdout).toContain(`knockc run: running (pid ${pid}); 1 pending stop command\n`);
    expect(s.stdout).toMatch(/\nDOOR +SOURCE +STOP +COMMAND\ndoor1 +127\.0\.0\.1 +in (59|60)\.\ds +echo stop 127\.0\.0\.1 >> \S+\n\nopen until their stop: \[door1\] 1 \(from \S+pending\.json\)\n$/);
    const j = JSON.parse(status(['--json']).stdout) as { version: number; runtime: { pid: number; pending: Array<{ door: string; source: string; dueMs: number }> } };
    expect(j.version).toBe(1);
    expect(j.runtime.pid).toBe(Number(pid));
    expect(j.runtime.pending).toMatchObject([{ door: 'door1', source: '127.0.0.1' }]);
    a.child.kill('SIGKILL');
    await a.exited;
    const after = status([]);
    expect(after.stdout).toContain(`knockc run: not running (no live process in ${pidFile}); 1 pending stop command, run when it starts (overdue ones at once)`);
  });

  it('one-time: a used line gets "#", the kernel gets the next sequence, the old one opens nothing', async () => {
    const out = join(tmp, 'c.out');
    const seq = join(tmp, 'c.seq');
    writeFileSync(seq, ' 7201,7202\n 7301,7302\n');
    const conf = join(tmp, 'c.conf');
    writeFileSync(conf, `[ot]\n  one_time_sequences = ${seq}\n  start_command = echo open %IP% >> ${out}\n[other]\n  sequence = 7401\n  start_command = echo other >> ${out}\n`);
    const r = await start([conf, '--state-dir', join(tmp, 'c.state'), '--pid-file', join(tmp, 'c.pid')]);
    expect(nftList()).toMatch(/prefix "knockc [0-9a-f]{16} L1 [0-9a-f]{8}"/);
    knock(7201, 7202);
    await until('the first opening', () => read(out) === 'open 127.0.0.1\n');
    expect(read(seq)).toBe('#7201,7202\n 7301,7302\n');
    await until('the swap', () => / L2 [0-9a-f]{8}"/.test(nftList()));
    knock(7201, 7202);
    await sleep(400);
    expect(read(out)).toBe('open 127.0.0.1\n');
    knock(7301, 7302);
    await until('the second opening', () => read(out) === 'open 127.0.0.1\nopen 127.0.0.1\n');
    // Used up: that door is gone from the kernel, the other still works.
    await until('the door to close', () => !/ L\d+ [0-9a-f]{8}"/.test(nftList()));
    // The log line follows the kernel change: wait for it rather than race the runtime's stderr pipe.
    await until('the closing to be logged', () => /ot: no more sequences left in the one time sequences file \S+: door closed/.test(r.stderr()));
    knock(7401);
    await until('the other door', () => read(out).endsWith('other\n'));
    expect(r.child.exitCode).toBe(null);
  });

  it('one-time with --target iptables: the swap reloads the recent-list rules, the old sequence opens nothing', async () => {
    const out = join(tmp, 'i.out');
    const seq = join(tmp, 'i.seq');
    writeFileSync(seq, ' 7801,7802\n 7811,7812\n 7821,7822\n');
    const conf = join(tmp, 'i.conf');
    writeFileSync(conf, `[ot]\n  one_time_sequences = ${seq}\n  start_command = echo open %IP% >> ${out}\n`);
    const save = (): string => inNs(['iptables-save', '-t', 'filter']).stdout;
    await start([conf, '--target', 'iptables', '--state-dir', join(tmp, 'i.state'), '--pid-file', join(tmp, 'i.pid')]);
    expect(save()).toMatch(/--nflog-prefix "knockc [0-9a-f]{16} L1 [0-9a-f]{8}"/);
    knock(7801, 7802);
    await until('the first opening', () => read(out) === 'open 127.0.0.1\n');
    await until('the swap', () => /--nflog-prefix "knockc [0-9a-f]{16} L2 [0-9a-f]{8}"/.test(save()));
    expect(read(seq)).toBe('#7801,7802\n 7811,7812\n 7821,7822\n');
    knock(7801, 7802);
    await sleep(400);
    expect(read(out)).toBe('open 127.0.0.1\n');
    knock(7811, 7812);
    await until('the second opening', () => read(out) === 'open 127.0.0.1\nopen 127.0.0.1\n');
    expect(read(seq)).toBe('#7801,7802\n#7811,7812\n 7821,7822\n');
    inNs([process.execPath, CLI, 'remove', '--target', 'iptables']);
  });

  it('a second runtime is refused (NFLOG group taken): exit 3, and the first keeps working', async () => {
    const out = join(tmp, 'd.out');
    const conf = join(tmp, 'd.conf');
    writeFileSync(conf, `[d]\n  sequence = 7501\n  start_command = echo d >> ${out}\n`);
    await start([conf, '--state-dir', join(tmp, 'd.state'), '--pid-file', join(tmp, 'd.pid')]);
    const second = await start([conf, '--state-dir', join(tmp, 'd2.state'), '--pid-file', join(tmp, 'd2.pid')], false);
    expect(await second.exited).toBe(3);
    // It says which process holds the group (issue 17 item 7), not that tcpdump is missing.
    const first = Number(read(join(tmp, 'd.pid')).trim());
    expect(second.stderr()).toMatch(
      new RegExp(`^knockc: NFLOG group 4242 is already taken by process \\d+ \\(tcpdump -Z root -i nflog:4242 [^)]*\\), started by process ${first} \\([^)]*cli\\.js run [^)]*\\): one reader per group; stop it \\(another knockc run\\?\\), or give this one another group with --nflog-group N\nknockc: the rules were not loaded\n$`),
    );
    expect(second.stderr()).not.toContain('Debian package tcpdump');
    knock(7501);
    await until('the first runtime to act', () => read(out) === 'd\n');
  });

  it('SIGHUP reloads the config like knockd; a broken config on SIGHUP keeps the running one', async () => {
    const out = join(tmp, 'g.out');
    const conf = join(tmp, 'g.conf');
    writeFileSync(conf, `[one]\n  sequence = 7701\n  start_command = echo one >> ${out}\n`);
    const r = await start([conf, '--state-dir', join(tmp, 'g.state'), '--pid-file', join(tmp, 'g.pid')]);
    const pid = Number(read(join(tmp, 'g.pid')));
    writeFileSync(conf, `[two]\n  sequence = 7702\n  start_command = echo two >> ${out}\n`);
    process.kill(pid, 'SIGHUP');
    await until('the reload', () => /reload: \S+ loaded \(1 door\(s\) handled here\)/.test(r.stderr()));
    knock(7701);
    knock(7702);
    await until('the new door', () => read(out) === 'two\n');
    writeFileSync(conf, `[three]\n  sequence = 70000\n  start_command = echo three >> ${out}\n`);
    process.kill(pid, 'SIGHUP');
    await until('the refused reload', () => /reload: \S+ has errors, keeping the running config: \S+:2:\d+: .*70000/.test(r.stderr()));
    knock(7702);
    await until('the old door, still working', () => read(out) === 'two\ntwo\n');
    expect(r.child.exitCode).toBe(null);
  });

  it('a config whose doors need no runtime: loads the rules, says so, exits 0', () => {
    const conf = join(tmp, 'e.conf');
    writeFileSync(conf, '[ssh]\n  sequence = 7601\n  start_command = iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n');
    const r = inNs([process.execPath, CLI, 'run', conf, '--state-dir', join(tmp, 'e.state')]);
    expect(r.stderr).toBe('knockc: no door needs the runtime: the rules are loaded and the kernel does everything; exiting\n');
    expect(r.status).toBe(0);
    expect(nftList()).toContain('comment "grant hook=input proto=tcp dport=22 ');
  });

  it('a config error is reported with file:line:col and exit 1; nothing is loaded', () => {
    const conf = join(tmp, 'f.conf');
    writeFileSync(conf, '[bad]\n  sequence = 70000\n  start_command = true\n');
    // What earlier tests loaded (knockc's table; the guard of this firewall-less namespace) goes first.
    inNs(['nft', 'delete', 'table', 'inet', 'knockc']);
    inNs(['nft', 'delete', 'table', 'inet', 'knockc_guard']);
    expect(nftList()).not.toContain('knockc');
    const r = inNs([process.execPath, CLI, 'run', conf]);
    expect(r.stderr).toContain(`${conf}:2:14: error: section bad: port 70000 is invalid (over 65535) [KC106]`);
    expect(r.status).toBe(1);
    expect(nftList()).not.toContain('knockc');
  });
});
