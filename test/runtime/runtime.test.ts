// The runtime's decisions with a fake host: what runs, in which order, and
// what is durable before anything acts (the order is the crash-safety).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { KnockdConfig, OneTimeEntry } from '../../src/frontend/config.js';
import { parseConfigText } from '../../src/frontend/load.js';
import { readOneTimeEntries } from '../../src/frontend/one-time.js';
import type { PendingStop } from '../../src/runtime/pending.js';
import { Runtime, substitute, type RuntimeHost } from '../../src/runtime/runtime.js';
import { Stops, type StopsHost } from '../../src/runtime/stops.js';
import { checkUnchanged } from '../../src/runtime/one-time-file.js';
import { notifyPrefix } from '../../src/model/notify.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'knockc-rt-'));

function load(text: string): KnockdConfig {
  const r = parseConfigText(text, { file: 'rt.conf', cwd: dir });
  if (!r.config) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.config;
}

/** A host that records every step in one journal, with one-time files kept in memory. */
class FakeHost implements RuntimeHost, StopsHost {
  journal: string[] = [];
  deployed: KnockdConfig[] = [];
  saved: PendingStop[][] = [];
  pendingOnDisk: PendingStop[] = [];
  files = new Map<string, string>();
  clock = 1_000_000;
  failDeploy = false;
  async deploy(config: KnockdConfig): Promise<void> {
    if (this.failDeploy) throw new Error('nft refused');
    this.deployed.push(config);
    this.journal.push(`deploy ${config.doors.map((d) => `${d.name}=${d.knocks.map((k) => k.port).join(',')}`).join(' ')}`);
  }
  async exec(command: string): Promise<number | null> {
    this.journal.push(`exec ${command}`);
    return 0;
  }
  now(): number {
    return this.clock;
  }
  log(msg: string): void {
    this.journal.push(`log ${msg}`);
  }
  loadPending(): PendingStop[] {
    return this.pendingOnDisk;
  }
  savePending(list: readonly PendingStop[]): void {
    this.pendingOnDisk = [...list];
    this.journal.push(`save ${list.map((p) => p.command).join(' | ')}`);
  }
  unusedSequences(path: string): OneTimeEntry[] {
    return readOneTimeEntries(path, Buffer.from(this.files.get(path) ?? ''));
  }
  retire(path: string, e: OneTimeEntry): void {
    const t = this.files.get(path)!;
    checkUnchanged(path, Buffer.from(t), e);
    this.files.set(path, t.slice(0, e.offset) + '#' + t.slice(e.offset + 1));
    this.journal.push(`retire line ${e.line}`);
  }
}

const CMD_DOOR = `[cmd]
  sequence = 7000,8000
  start_command = echo start %IP%
  start_command_6 = echo start6 %IP%
  cmd_timeout = 5
  stop_command = echo stop %IP% %IP%
`;
const SSH_DOOR = `[ssh]
  sequence = 9000
  start_command = iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
  cmd_timeout = 10
  stop_command = iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
`;
const ev = (prefix: string, src = '198.51.100.7', family: 'ip' | 'ip6' = 'ip') => ({ prefix, src, family, at: 0 });

/** A runtime over the fake host, with its own scheduler of stops (read from the fake state file). */
function runtimeOf(config: KnockdConfig, h: FakeHost): Runtime {
  const stops = new Stops(h);
  stops.resume();
  return new Runtime(config, h, stops);
}
/** The tag the kernel's rules carry for door `index` of the config as loaded (one-time doors: at their current line). */
const tagOf = (rt: Runtime, index: number): string => notifyPrefix(rt.liveConfig().doors.find((d) => d.index === index)!);

describe('knockc run: command doors', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('%IP% is replaced everywhere, like knockd parse_cmd', () => {
    expect(substitute('a %IP% b %IP%%IP%', '2001:db8::1')).toBe('a 2001:db8::1 b 2001:db8::12001:db8::1');
  });

  it('runs the start command, saves the stop BEFORE it, runs the stop after cmd_timeout and forgets it', async () => {
    const h = new FakeHost();
    const rt = runtimeOf(load(CMD_DOOR), h);
    await rt.start();
    h.journal = [];
    rt.handle(ev(tagOf(rt, 0)));
    expect(h.journal).toEqual([
      'log 198.51.100.7: cmd: OPEN SESAME',
      'save echo stop 198.51.100.7 198.51.100.7',
      'log cmd: running command: echo start 198.51.100.7',
      'exec echo start 198.51.100.7',
    ]);
    h.journal = [];
    h.clock += 4999;
    await vi.advanceTimersByTimeAsync(4999);
    expect(h.journal).toEqual([]);
    h.clock += 1;
    await vi.advanceTimersByTimeAsync(1);
    expect(h.journal).toEqual([
      'log 198.51.100.7: cmd: command timeout',
      'log cmd: running command: echo stop 198.51.100.7 198.51.100.7',
      'exec echo stop 198.51.100.7 198.51.100.7',
      'save ',
    ]);
    expect(h.pendingOnDisk).toEqual([]);
  });

  it('IPv6 sources use start_command_6, and the stop falls back to stop_command', async () => {
    const h = new FakeHost();
    const rt = runtimeOf(load(CMD_DOOR), h);
    await rt.start();
    rt.handle(ev(tagOf(rt, 0), '2001:db8::7', 'ip6'));
    expect(h.journal).toContain('exec echo start6 2001:db8::7');
    expect(h.pendingOnDisk.map((p) => p.command)).toEqual(['echo stop 2001:db8::7 2001:db8::7']);
  });

  it('each opening has its own stop (knockd: open twice, close twice)', async () => {
    const h = new FakeHost();
    const rt = runtimeOf(load(CMD_DOOR), h);
    await rt.start();
    rt.handle(ev(tagOf(rt, 0)));
    h.clock += 2000;
    await vi.advanceTimersByTimeAsync(2000);
    rt.handle(ev(tagOf(rt, 0)));
    expect(h.pendingOnDisk).toHaveLength(2);
    h.clock += 3000;
    await vi.advanceTimersByTimeAsync(3000);
    expect(h.pendingOnDisk).toHaveLength(1);
    h.clock += 2000;
    await vi.advanceTimersByTimeAsync(2000);
    expect(h.journal.filter((l) => l.startsWith('exec echo stop'))).toHaveLength(2);
  });

  it('a restart re-arms saved stops at their due time; overdue ones run at once', async () => {
    const h = new FakeHost();
    h.pendingOnDisk = [
      { id: 'a', door: 'cmd', src: '198.51.100.1', command: 'echo late', due: h.clock - 10 },
      { id: 'b', door: 'cmd', src: '198.51.100.2', command: 'echo later', due: h.clock + 3000 },
    ];
    const rt = runtimeOf(load(CMD_DOOR), h);
    await rt.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.journal.filter((l) => l.startsWith('exec'))).toEqual(['exec echo late']);
    h.clock += 3000;
    await vi.advanceTimersByTimeAsync(3000);
    expect(h.journal.filter((l) => l.startsWith('exec'))).toEqual(['exec echo late', 'exec echo later']);
    expect(h.pendingOnDisk).toEqual([]);
  });

  it('a wait longer than a timer allows (cmd_timeout of 30 days) is re-armed, not run early', async () => {
    const h = new FakeHost();
    const rt = runtimeOf(load(CMD_DOOR.replace('cmd_timeout = 5', 'cmd_timeout = 2592000')), h);
    await rt.start();
    rt.handle(ev(tagOf(rt, 0)));
    h.clock += 2 ** 31;
    await vi.advanceTimersByTimeAsync(2 ** 31);
    expect(h.journal.some((l) => l.startsWith('exec echo stop'))).toBe(false);
    h.clock += 2592000 * 1000 - 2 ** 31;
    await vi.advanceTimersByTimeAsync(2592000 * 1000 - 2 ** 31);
    expect(h.journal.some((l) => l.startsWith('exec echo stop'))).toBe(true);
  });

  it('kernel doors, unknown doors and prefixes that are not ours are left alone', async () => {
    const h = new FakeHost();
    const rt = runtimeOf(load(SSH_DOOR + CMD_DOOR), h);
    await rt.start();
    h.journal = [];
    rt.handle(ev(tagOf(rt, 0))); // ssh: the kernel grants it
    rt.handle(ev('someone else'));
    rt.handle(ev('knockc 0123456789abcdef'));
    rt.handle(ev('knockc d1'));
    expect(h.journal).toEqual([
      'log 198.51.100.7: event of a door that is not in the loaded config ("knockc 0123456789abcdef": deleted or changed by a reload, or rules of another config): dropped',
      'log 198.51.100.7: event with a knockc tag this version does not write ("knockc d1": rules of another knockc version loaded?): dropped',
    ]);
  });

  it('no start command: nothing runs, not even the stop command (knockd)', async () => {
    const h = new FakeHost();
    const rt = runtimeOf(load('[d]\n sequence = 1,2\n start_command = \n stop_command = echo x\n'), h);
    await rt.start();
    rt.handle(ev(tagOf(rt, 0)));
    expect(h.journal.filter((l) => l.startsWith('exec') || l.startsWith('save'))).toEqual([]);
  });
});

describe('knockc run: one-time sequences', () => {
  const FILE = join(dir, 'ot.seq');
  writeFileSync(FILE, ' 6110,6120,6130\n');
  const OT = `[ot]
  one_time_sequences = ${FILE}
  start_command = echo ot %IP%
`;
  const setup = async (text: string) => {
    const h = new FakeHost();
    h.files.set(FILE, text);
    const rt = runtimeOf(load(SSH_DOOR + OT), h);
    await rt.start();
    return { h, rt };
  };

  it('resumes at the first unused line, retires it BEFORE the command, then swaps the sequence', async () => {
    const { h, rt } = await setup('#1,2,3\n 4,5,6\n\n bad:xyz\n 7,8,9\n');
    expect(h.journal).toEqual(['deploy ssh=9000 ot=4,5,6']);
    h.journal = [];
    rt.handle(ev(tagOf(rt, 1)));
    await rt.idle();
    expect(h.journal).toEqual([
      'log 198.51.100.7: ot: OPEN SESAME',
      'retire line 2',
      'log ot: running command: echo ot 198.51.100.7',
      'exec echo ot 198.51.100.7',
      'deploy ssh=9000 ot=7,8,9',
    ]);
    expect(h.files.get(FILE)).toBe('#1,2,3\n#4,5,6\n\n bad:xyz\n 7,8,9\n');
    const live = h.deployed.at(-1)!.doors[1]!;
    expect(live.sequenceFrom.oneTime?.sequences[0]?.line).toBe(5);
  });

  it('a completion of an already retired line (two sources, same sequence) opens nothing', async () => {
    const { h, rt } = await setup(' 4,5,6\n 7,8,9\n');
    const line1 = tagOf(rt, 1);
    rt.handle(ev(line1, '198.51.100.1'));
    rt.handle(ev(line1, '198.51.100.2'));
    await rt.idle();
    expect(h.journal.filter((l) => l.startsWith('exec'))).toEqual(['exec echo ot 198.51.100.1']);
    expect(h.journal).toContain("log 198.51.100.2: ot: sequence of line 1 is not the door's current one (already used, or the file changed): ignored");
  });

  it('a used-up file closes that door only: the rules are loaded without it', async () => {
    const { h, rt } = await setup(' 4,5,6\n');
    const line1 = tagOf(rt, 1);
    rt.handle(ev(line1));
    await rt.idle();
    expect(h.journal.at(-1)).toBe('deploy ssh=9000');
    expect(h.journal).toContain(`log ot: no more sequences left in the one time sequences file ${FILE}: door closed (the other doors keep working)`);
    rt.handle(ev(line1));
    await rt.idle();
    expect(h.journal.filter((l) => l.startsWith('exec'))).toHaveLength(1);
  });

  it('a file used up before start: the door is left out from the start, the others load', async () => {
    const { h } = await setup('#4,5,6\n');
    expect(h.journal).toContain('deploy ssh=9000');
  });

  it('a failed swap keeps the sequence retired and says so', async () => {
    const { h, rt } = await setup(' 4,5,6\n 7,8,9\n');
    h.failDeploy = true;
    rt.handle(ev(tagOf(rt, 1)));
    await rt.idle();
    expect(h.files.get(FILE)).toBe('#4,5,6\n 7,8,9\n');
    expect(h.journal.at(-1)).toMatch(/^log ot: could not load the next sequence \(nft refused\); this door stays shut until it loads \(tried again every 5 s\) or the next reload \(SIGHUP\)$/);
    rt.stop();
  });
});
