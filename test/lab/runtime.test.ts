/**
 * `knockc run` (the runtime) against a real kernel, with real packets: the
 * runtime runs on the test host inside the lab server's network namespace
 * (runtime-host.ts); knocks come from a lab client; the doors' commands write
 * to host temp files, which is how the tests see what ran and when.
 *
 * What this proves:
 *  1. a command door runs start_command with the knocker's address (IPv4 and
 *     IPv6) at once and stop_command cmd_timeout seconds later; knockd-style
 *     log lines on stderr and in the LogFile; the PID file;
 *  2. a pending stop survives a crash (kill -9) and a restart: it runs on time
 *     (opening + cmd_timeout) and exactly once, also across a further crash;
 *  3. one-time sequences under random crashes (kill -9 in half the rounds, at a
 *     random moment from before the last knock arrives to after the runtime is
 *     done with it; seeded: KNOCKC_SEED=N repeats rounds and delays): every
 *     command ran after its line was marked '#' (the command records how many
 *     lines were marked), lines are used in order, the kernel's sequence is the
 *     file's first unused line after every restart, no retired sequence opens
 *     again, the runtime keeps progressing; a crash before the event was read
 *     leaves the sequence usable (the next round knocks it again);
 *  4. a used-up one-time file closes that door only: it is gone from the
 *     kernel, the runtime keeps running, a compiled door still opens tcp/22;
 *  5. compiled doors keep working with the runtime stopped (SIGTERM) or
 *     crashed (kill -9); runtime-only doors then do nothing;
 *  6. --target iptables: a command door through -j NFLOG.
 *
 *   CI=true npx vitest run test/lab/runtime.test.ts
 *   KNOCKC_SEED=123 CI=true npx vitest run test/lab/runtime.test.ts -t one-time   # same kill pattern
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from 'vitest';
import { ensureBuilt } from '../cli/built.js';
import { describeLab, eventually, sleep, useLab, type Family } from './lab.js';
import { killAllRuntimes, LabRuntime, netnsOf } from './runtime-host.js';
import { newSeed, Rng } from './scenarios.js';

const seed = process.env['KNOCKC_SEED'] ? Number(process.env['KNOCKC_SEED']) >>> 0 : newSeed();
console.info(`[runtime] seed ${seed} (re-run with KNOCKC_SEED=${seed})`);

const IPT = (op: 'A' | 'D', six = false): string => `/usr/sbin/ip${six ? '6' : ''}tables -${op} INPUT -s %IP% -p tcp --dport 22 -j ACCEPT`;
const CMD_SEQ = ['7000', '8000:udp', '9000'];

/** A door whose commands only the runtime can run: they append "start|stop IP NANOSECONDS" to `out`. */
function commandDoor(name: string, out: string, cmdTimeout: number): string {
  return [
    `[${name}]`,
    '  sequence = 7000,8000:udp,9000',
    '  seq_timeout = 10',
    '  tcpflags = syn',
    `  start_command = echo start %IP% $(date +%s%N) >> ${out}`,
    `  cmd_timeout = ${cmdTimeout}`,
    `  stop_command = echo stop %IP% $(date +%s%N) >> ${out}`,
    '',
  ].join('\n');
}

/** A door compiled fully to the kernel: tcp/22 for the knocker for 10 s. */
const SSH_DOOR = [
  '[ssh]',
  '  sequence = 6000:udp',
  '  seq_timeout = 5',
  `  start_command = ${IPT('A')}`,
  `  start_command_6 = ${IPT('A', true)}`,
  '  cmd_timeout = 10',
  `  stop_command = ${IPT('D')}`,
  `  stop_command_6 = ${IPT('D', true)}`,
  '',
].join('\n');

interface Line {
  what: string;
  ip: string;
  /** Epoch milliseconds (from date +%s%N in the command). */
  ms: number;
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') : [];
}

function events(path: string): Line[] {
  return lines(path).map((l) => {
    const [what, ip, ns] = l.split(' ');
    return { what: what!, ip: ip!, ms: Number(ns) / 1e6 };
  });
}

describeLab('knockc run (runtime) in a real kernel', () => {
  const ctx = useLab({ clients: 1, name: 'runtime' });
  let netns = '';
  const dirs: string[] = [];
  let dir = '';

  const start = (conf: string, args: string[] = []): Promise<LabRuntime> =>
    LabRuntime.start(netns, { conf, stateDir: join(dir, 'state'), pidFile: join(dir, 'knockc.pid'), args });
  const writeConf = (text: string): string => {
    const p = join(dir, 'knockd.conf');
    writeFileSync(p, `[options]\n  LogFile = ${join(dir, 'knockc.log')}\n\n${text}`);
    return p;
  };
  const ruleset = (): Promise<string> => ctx.lab.server.nft(['list', 'ruleset']);

  beforeAll(() => {
    ensureBuilt();
    netns = netnsOf(ctx.lab.server);
  });
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'knockc-runtime-lab-'));
    dirs.push(dir);
    await ctx.lab.server.resetFirewall();
  });
  afterEach(async () => {
    await killAllRuntimes();
  });
  afterAll(async () => {
    await killAllRuntimes();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('command door: start_command with the knocker\'s address at once (IPv4, IPv6), stop_command cmd_timeout (3 s) later; log lines, PID file', async () => {
    const client = ctx.lab.clients[0]!;
    const out = join(dir, 'out');
    const rt = await start(writeConf(commandDoor('cmd', out, 3)));
    expect(readFileSync(join(dir, 'knockc.pid'), 'utf8').trim()).toBe(String(rt.pid));
    expect(rt.stderr).toMatch(/^knockc: knockc run \S+: 1 door\(s\) handled here \(cmd\), kernel events from NFLOG group 4242; ready$/m);
    // The runtime's door reports to NFLOG group 4242.
    expect(await ruleset()).toMatch(/log prefix "knockc [0-9a-f]{16}" group 4242/);

    // A wrong order opens nothing.
    await client.knock(['7000', '9000', '8000:udp']);
    await sleep(500);
    expect(lines(out)).toEqual([]);

    const sent = {} as Record<Family, { before: number; after: number }>;
    for (const family of [4, 6] as const) {
      const before = Date.now();
      await client.knock(CMD_SEQ, { family });
      sent[family] = { before, after: Date.now() };
      const ip = client.ip(family);
      expect(await eventually(() => events(out).some((e) => e.what === 'start' && e.ip === ip), { timeoutMs: 3000, intervalMs: 20 })).toBe(true);
    }
    expect(await eventually(() => events(out).filter((e) => e.what === 'stop').length === 2, { timeoutMs: 6000, intervalMs: 50 })).toBe(true);
    await sleep(300);
    const ev = events(out);
    expect(ev.map((e) => `${e.what} ${e.ip}`).sort()).toEqual([`start ${client.ip4}`, `start ${client.ip6}`, `stop ${client.ip4}`, `stop ${client.ip6}`].sort());
    for (const family of [4, 6] as const) {
      const ip = client.ip(family);
      const s = ev.find((e) => e.what === 'start' && e.ip === ip)!;
      const t = ev.find((e) => e.what === 'stop' && e.ip === ip)!;
      // Promptly: after the knock began, within 1 s of `knock` returning (docker exec included).
      expect(s.ms).toBeGreaterThanOrEqual(sent[family].before - 5);
      expect(s.ms - sent[family].after).toBeLessThan(1000);
      expect(t.ms - s.ms).toBeGreaterThanOrEqual(2500);
      expect(t.ms - s.ms).toBeLessThanOrEqual(4500);
    }
    // knockd's words, on stderr and in the LogFile ("[YYYY-MM-DD HH:MM] " prefix).
    const log = readFileSync(join(dir, 'knockc.log'), 'utf8');
    for (const ip of [client.ip4, client.ip6]) {
      for (const l of [`${ip}: cmd: OPEN SESAME`, `cmd: running command: echo start ${ip} $(date +%s%N) >> ${out}`, `${ip}: cmd: command timeout`, `cmd: running command: echo stop ${ip} $(date +%s%N) >> ${out}`]) {
        expect(rt.stderr).toContain(`knockc: ${l}\n`);
        expect(log).toMatch(new RegExp(`^\\[\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\] ${l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
      }
    }
    expect(rt.running).toBe(true);
  }, 30_000);

  test('a pending stop survives a crash: kill -9, restart with the same --state-dir, the stop runs on time and exactly once', async () => {
    const client = ctx.lab.clients[0]!;
    const out = join(dir, 'out');
    const conf = writeConf(commandDoor('cmd', out, 5));
    const first = await start(conf);
    await client.knock(CMD_SEQ);
    expect(await eventually(() => lines(out).length === 1, { timeoutMs: 3000, intervalMs: 20 })).toBe(true);
    const opened = events(out)[0]!;
    expect([opened.what, opened.ip]).toEqual(['start', client.ip4]);
    first.kill9();
    await first.exited;
    const crashedAt = Date.now();

    // The stop is in the state file, due cmd_timeout after the opening.
    const saved = JSON.parse(readFileSync(join(dir, 'state', 'pending.json'), 'utf8')) as { pending: Array<{ src: string; command: string; due: number }> };
    expect(saved.pending).toHaveLength(1);
    expect(saved.pending[0]!.src).toBe(client.ip4);
    expect(saved.pending[0]!.command).toBe(`echo stop ${client.ip4} $(date +%s%N) >> ${out}`);
    expect(Math.abs(saved.pending[0]!.due - (opened.ms + 5000))).toBeLessThan(300);

    const second = await start(conf);
    const restartMs = Date.now() - crashedAt;
    expect(lines(out)).toHaveLength(1); // not run early by the restart
    expect(await eventually(() => lines(out).length === 2, { timeoutMs: 7000, intervalMs: 20 })).toBe(true);
    const stop = events(out)[1]!;
    expect([stop.what, stop.ip]).toEqual(['stop', client.ip4]);
    expect(stop.ms - opened.ms).toBeGreaterThanOrEqual(4500);
    expect(stop.ms - opened.ms).toBeLessThanOrEqual(6000);
    expect(second.stderr).toContain(`knockc: ${client.ip4}: cmd: command timeout\n`);
    await eventually(() => (JSON.parse(readFileSync(join(dir, 'state', 'pending.json'), 'utf8')) as { pending: unknown[] }).pending.length === 0, { timeoutMs: 2000 });
    expect((JSON.parse(readFileSync(join(dir, 'state', 'pending.json'), 'utf8')) as { pending: unknown[] }).pending).toEqual([]);

    // Exactly once: another crash and restart does not run it again.
    second.kill9();
    await second.exited;
    const third = await start(conf);
    await sleep(1500);
    expect(lines(out)).toHaveLength(2);
    expect(third.stderr).not.toContain('command timeout');
    console.info(`[runtime] restart after kill -9: ready in ${restartMs} ms; stop ran ${Math.round(stop.ms - opened.ms)} ms after the opening (cmd_timeout 5 s)`);
  }, 30_000);

  test('one-time sequences under random crashes: used lines retired first, in order, never open twice; the kernel follows the file', async () => {
    const client = ctx.lab.clients[0]!;
    const N = 12;
    const ROUNDS = 10;
    const seqOf = (i: number): string[] => [`${21000 + 10 * i + 1}`, `${21000 + 10 * i + 2}:udp`, `${21000 + 10 * i + 3}`];
    const seqFile = join(dir, 'sequences');
    // A blank at the start of each line: the '#' of a used line goes over it (knockd's advice).
    writeFileSync(seqFile, Array.from({ length: N }, (_, i) => ` ${seqOf(i).join(',')}\n`).join(''));
    const out = join(dir, 'opened');
    const conf = writeConf(
      ['[oneTime]', `  one_time_sequences = ${seqFile}`, '  seq_timeout = 10', '  tcpflags = syn', `  start_command = echo opened %IP% $(grep -c '^#' ${seqFile}) >> ${out}`, ''].join('\n'),
    );
    /** How many lines were marked used when each command ran (retire comes first: line L's command sees >= L). */
    const markedAtOpening = (): number[] => lines(out).map((l) => Number(l.split(' ')[2]));
    const file = (): string[] => readFileSync(seqFile, 'utf8').split('\n').slice(0, N);
    const firstUnused = (): number => file().findIndex((l) => !l.startsWith('#'));
    /** 0-based lines the kernel's one-time door is at (log prefix "knockc <door> L<line> <sequence>"). */
    const kernelAt = async (): Promise<number[]> => [...new Set([...(await ruleset()).matchAll(/log prefix "knockc [0-9a-f]{16} L(\d+) [0-9a-f]{8}"/g)].map((m) => Number(m[1]) - 1))];

    const rng = new Rng(seed);
    // Half the rounds crash (in random order), each at a random moment (below).
    const kills = Array.from({ length: ROUNDS }, (_, i) => i < ROUNDS / 2);
    for (let i = kills.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [kills[i], kills[j]] = [kills[j]!, kills[i]!];
    }
    // How long `knock` takes through docker exec: a kill at a random moment within
    // [call, call + knockMs + 60 ms] can come before the last knock arrives, while the
    // runtime handles it (retire, command, reload) or after it is done.
    const took: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await client.knock(['65000']); // no door's port
      took.push(performance.now() - t0);
    }
    const knockMs = Math.round(took.sort((a, b) => a - b)[2]!);
    const report: string[] = [];
    let rt = await start(conf);
    let openings = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const cur = firstUnused();
      expect(cur, 'sequences file used up early').toBeGreaterThanOrEqual(0);
      // The kernel is at the file's first unused line (after a swap or a restart).
      expect(await kernelAt()).toEqual([cur]);
      const delay = rng.int(0, knockMs + 60);
      const knocked = client.knock(seqOf(cur));
      if (!kills[round]) {
        await knocked;
        const ok = await eventually(async () => lines(out).length === openings + 1 && file()[cur]!.startsWith('#') && (await kernelAt()).join() === String(cur + 1), { timeoutMs: 5000, intervalMs: 25 });
        expect(ok, `round ${round}: line ${cur + 1} did not open / retire / swap (file ${JSON.stringify(file())}, opened ${lines(out).length}, kernel ${await kernelAt()})`).toBe(true);
        expect(markedAtOpening()[openings], `round ${round}: the command of line ${cur + 1} ran before the line was marked used`).toBe(cur + 1);
        openings += 1;
        report.push(`${round}: L${cur + 1} opened`);
        continue;
      }
      const called = performance.now();
      await sleep(delay);
      rt.kill9();
      const killedAt = Math.round(performance.now() - called);
      await Promise.all([rt.exited, knocked]);
      rt = await start(conf);
      const retired = file()[cur]!.startsWith('#');
      const now = lines(out).length;
      // At most one opening, and only for a retired line.
      expect(now - openings).toBeGreaterThanOrEqual(0);
      expect(now - openings).toBeLessThanOrEqual(1);
      if (now > openings) {
        expect(retired, `round ${round}: line ${cur + 1} opened but is not marked used`).toBe(true);
        expect(markedAtOpening()[openings], `round ${round}: the command of line ${cur + 1} ran before the line was marked used`).toBe(cur + 1);
      }
      // Nothing but this line retired; the kernel at the file's first unused line.
      expect(firstUnused()).toBe(retired ? cur + 1 : cur);
      expect(await kernelAt()).toEqual([firstUnused()]);
      report.push(`${round}: L${cur + 1} kill -9 at +${killedAt} ms: ${now > openings ? 'opened' : retired ? 'retired, command not run' : 'event not read: same line again'}`);
      openings = now;
    }
    console.info(`[runtime] one-time (seed ${seed}; knock takes ${knockMs} ms, kills at +0..${knockMs + 60} ms from the call): ${report.join('; ')}`);
    const used = file().filter((l) => l.startsWith('#')).length;
    // Lines are used in order: the marked lines are exactly the first `used` ones.
    expect(file().map((l) => l.startsWith('#'))).toEqual(Array.from({ length: N }, (_, i) => i < used));
    expect(openings).toBeLessThanOrEqual(used);
    expect(openings).toBeGreaterThanOrEqual(ROUNDS / 2); // every round without a crash opened
    expect(lines(out).every((l) => l.startsWith(`opened ${client.ip4} `))).toBe(true);

    // No retired sequence opens again (the runtime is running, and listening).
    for (let i = 0; i < used; i++) await client.knock(seqOf(i));
    await sleep(1500);
    expect(lines(out)).toHaveLength(openings);
    expect(firstUnused()).toBe(used);
    expect(await kernelAt()).toEqual([used]);
    // ... while the current one does (the same client, the same runtime).
    await client.knock(seqOf(used));
    expect(await eventually(() => lines(out).length === openings + 1 && file()[used]!.startsWith('#'), { timeoutMs: 3000, intervalMs: 25 })).toBe(true);
    expect(markedAtOpening()[openings]).toBe(used + 1);
    expect(rt.running).toBe(true);
  }, 90_000);

  test('a used-up one-time file closes that door only: gone from the kernel, the runtime runs on, a compiled door still opens tcp/22', async () => {
    const client = ctx.lab.clients[0]!;
    const seqFile = join(dir, 'once');
    writeFileSync(seqFile, ' 3001,3002:udp,3003\n');
    const out = join(dir, 'opened');
    const conf = writeConf(
      [
        '[once]',
        `  one_time_sequences = ${seqFile}`,
        '  seq_timeout = 10',
        '  tcpflags = syn',
        `  start_command = echo opened %IP% $(date +%s%N) >> ${out}`,
        '',
        SSH_DOOR,
      ].join('\n'),
    );
    const rt = await start(conf);
    expect(await ruleset()).toMatch(/log prefix "knockc [0-9a-f]{16} L1 [0-9a-f]{8}" group 4242/);
    expect(await client.probe(22, { timeoutMs: 700 })).toBe('closed');

    await client.knock(['3001', '3002:udp', '3003']);
    expect(await eventually(async () => lines(out).length === 1 && !/ L\d+ [0-9a-f]{8}"/.test(await ruleset()), { timeoutMs: 5000, intervalMs: 25 })).toBe(true);
    expect(readFileSync(seqFile, 'utf8')).toBe('#3001,3002:udp,3003\n');
    expect(rt.stderr).toMatch(/once: no more sequences left in the one time sequences file .*: door closed/);
    const rules = await ruleset();
    expect(rules).not.toContain('[once]');
    expect(rules).not.toMatch(/dport 3003/);
    expect(rules).toContain('[ssh]');

    // The used sequence does nothing any more; the runtime is still running.
    await client.knock(['3001', '3002:udp', '3003']);
    await sleep(1000);
    expect(lines(out)).toHaveLength(1);
    expect(rt.running).toBe(true);

    // The compiled door: closed before its knock, open after.
    expect(await client.probe(22, { timeoutMs: 700 })).toBe('closed');
    await client.knock(['6000:udp']);
    expect(await client.probe(22)).toBe('open');
    expect(rt.running).toBe(true);
  }, 30_000);

  test('compiled doors keep working with the runtime stopped (SIGTERM) or crashed (kill -9); runtime-only doors do nothing then', async () => {
    const client = ctx.lab.clients[0]!;
    const out = join(dir, 'out');
    const conf = writeConf(`${SSH_DOOR}\n${commandDoor('cmd', out, 3)}`);
    const pidFile = join(dir, 'knockc.pid');

    // Stopped cleanly: exit 0, PID file removed, rules left loaded. (IPv6)
    const first = await start(conf);
    const loaded = await ruleset();
    expect(await first.stop()).toEqual({ code: 0, signal: null });
    expect(first.stderr).toContain('knockc: knockc run: stopping (SIGTERM); the kernel rules stay loaded\n');
    expect(existsSync(pidFile)).toBe(false);
    expect(await ruleset()).toBe(loaded);
    expect(await client.probe(22, { family: 6, timeoutMs: 700 })).toBe('closed');
    await client.knock(CMD_SEQ, { family: 6 });
    await client.knock(['6000:udp'], { family: 6 });
    expect(await client.probe(22, { family: 6 })).toBe('open');

    // Crashed: kill -9 (IPv4; the IPv6 grant above does not open IPv4).
    const second = await start(conf);
    second.kill9();
    expect(await second.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // tcpdump followed node (parent-death signal): nothing listens on the NFLOG group.
    expect(await eventually(() => second.children().length === 0 && !existsSync(`/proc/${second.pid}`), { timeoutMs: 2000 })).toBe(true);
    expect(await client.probe(22, { timeoutMs: 700 })).toBe('closed');
    await client.knock(CMD_SEQ);
    await client.knock(['6000:udp']);
    expect(await client.probe(22)).toBe('open');
    await sleep(1000);
    expect(lines(out)).toEqual([]); // no command ran, for either family

    // Control: with the runtime back, the same knock runs the command (and the missed ones do not).
    const third = await start(conf);
    await sleep(300);
    expect(lines(out)).toEqual([]);
    await client.knock(CMD_SEQ);
    expect(await eventually(() => lines(out).length === 1, { timeoutMs: 3000, intervalMs: 20 })).toBe(true);
    expect(events(out)[0]!.ip).toBe(client.ip4);
    expect(third.running).toBe(true);
  }, 40_000);

  test('--target iptables: a command door through -j NFLOG (IPv4 and IPv6)', async () => {
    const client = ctx.lab.clients[0]!;
    const out = join(dir, 'out');
    const rt = await start(writeConf(commandDoor('cmd', out, 3)), ['--target', 'iptables']);
    expect(await ctx.lab.server.iptables(['-S'])).toMatch(/-j NFLOG --nflog-prefix +"?knockc [0-9a-f]{16}"? --nflog-group 4242/);
    expect(await ctx.lab.server.iptables(['-S'], { family: 6 })).toMatch(/-j NFLOG --nflog-prefix +"?knockc [0-9a-f]{16}"? --nflog-group 4242/);
    expect(await ruleset()).not.toContain('table inet knockc');
    for (const family of [4, 6] as const) {
      await client.knock(CMD_SEQ, { family });
      expect(await eventually(() => events(out).some((e) => e.what === 'start' && e.ip === client.ip(family)), { timeoutMs: 3000, intervalMs: 20 })).toBe(true);
    }
    expect(await eventually(() => events(out).filter((e) => e.what === 'stop').length === 2, { timeoutMs: 6000, intervalMs: 50 })).toBe(true);
    const ev = events(out);
    expect(ev.map((e) => `${e.what} ${e.ip}`).sort()).toEqual([`start ${client.ip4}`, `start ${client.ip6}`, `stop ${client.ip4}`, `stop ${client.ip6}`].sort());
    const s4 = ev.find((e) => e.what === 'start' && e.ip === client.ip4)!;
    const t4 = ev.find((e) => e.what === 'stop' && e.ip === client.ip4)!;
    expect(t4.ms - s4.ms).toBeGreaterThanOrEqual(2500);
    expect(t4.ms - s4.ms).toBeLessThanOrEqual(4500);
    expect(rt.running).toBe(true);
  }, 30_000);
});
