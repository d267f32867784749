// Issue 17, items 1-5, at the level of the runtime's logic and files (no kernel, no root): the
// door tag, the one-time line check, the scheduler of stops, and what happens when a write fails.
// The same items against the real kernel: issue17-netns.test.ts; seeded faults: faults-netns.test.ts.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { KnockdConfig, OneTimeEntry } from '../../src/frontend/config.js';
import { parseConfigText } from '../../src/frontend/load.js';
import { readOneTimeEntries } from '../../src/frontend/one-time.js';
import { doorId, NOTIFY_PREFIX_MAX, notifyPrefix, parseNotifyPrefix } from '../../src/model/notify.js';
import { checkUnchanged, OneTimeChangedError, retire, unusedSequences } from '../../src/runtime/one-time-file.js';
import { PendingStore, type PendingStop } from '../../src/runtime/pending.js';
import { Runtime, type RuntimeHost } from '../../src/runtime/runtime.js';
import { Stops, STATE_RETRY_MS } from '../../src/runtime/stops.js';

const dir = mkdtempSync(join(tmpdir(), 'knockc-17-'));
function load(text: string): KnockdConfig {
  const r = parseConfigText(text, { file: 'k.conf', cwd: dir });
  if (!r.config) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.config;
}
const ev = (prefix: string, src = '198.51.100.7') => ({ prefix, src, family: 'ip' as const, at: 0 });

class Host implements RuntimeHost {
  journal: string[] = [];
  files = new Map<string, string>();
  onDisk: PendingStop[] = [];
  saveError: Error | null = null;
  loadError: Error | null = null;
  clock = 1_000_000;
  async deploy(c: KnockdConfig): Promise<void> {
    this.journal.push(`deploy ${c.doors.map((d) => `${d.name}=${d.knocks.map((k) => k.port).join(',')}`).join(' ')}`);
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
    if (this.loadError) throw this.loadError;
    return this.onDisk;
  }
  savePending(list: readonly PendingStop[]): void {
    if (this.saveError) throw this.saveError;
    this.onDisk = [...list];
    this.journal.push(`save ${list.length}`);
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
  execs(): string[] {
    return this.journal.filter((l) => l.startsWith('exec ')).map((l) => l.slice(5));
  }
}

const SHUTDOWN = '[shutdown]\n sequence = 7100,7200,7300\n start_command = echo shutdown %IP%\n';
const OPENALL = '[openall]\n sequence = 7400,7500,7600\n start_command = echo openall %IP%\n';
const tagOf = (c: KnockdConfig, name: string): string => notifyPrefix(c.doors.find((d) => d.name === name)!);

describe('issue 17 #1: door identity in kernel events is stable across reloads', () => {
  it('the event of a door deleted by a reload is logged and dropped, never run as the door now at its index', async () => {
    const before = load(SHUTDOWN + OPENALL);
    const after = load(OPENALL);
    const h = new Host();
    const rt = new Runtime(after, h, new Stops(h));
    await rt.start();
    rt.handle(ev(tagOf(before, 'shutdown'), '198.51.100.1'));
    rt.handle(ev(tagOf(before, 'openall'), '198.51.100.2'));
    expect(h.execs()).toEqual(['echo openall 198.51.100.2']);
    expect(h.journal).toContain(`log 198.51.100.1: event of a door that is not in the loaded config ("${tagOf(before, 'shutdown')}": deleted or changed by a reload, or rules of another config): dropped`);
  });

  it('a door keeps its tag wherever it sits; any change to what it does changes the tag', () => {
    const a = load(SHUTDOWN + OPENALL);
    const b = load(OPENALL + '[x]\n sequence = 1\n start_command = true\n' + SHUTDOWN);
    expect(tagOf(b, 'openall')).toBe(tagOf(a, 'openall'));
    expect(tagOf(b, 'shutdown')).toBe(tagOf(a, 'shutdown'));
    const variants = [
      OPENALL.replace('echo openall', 'echo OPENALL'),
      OPENALL.replace('7600', '7601'),
      OPENALL.replace('[openall]', '[openal1]'),
      OPENALL + ' cmd_timeout = 5\n stop_command = echo x\n',
      OPENALL + ' seq_timeout = 9\n',
      OPENALL + ' tcpflags = syn\n',
      OPENALL + ' start_command_6 = echo six %IP%\n',
      OPENALL + ' target = 198.51.100.9\n',
    ];
    const ids = variants.map((v) => doorId(load(v).doors[0]!));
    expect(new Set([doorId(a.doors[1]!), ...ids]).size).toBe(variants.length + 1);
  });

  it('an event whose door changed (same name and place, another command) is dropped', async () => {
    const before = load(OPENALL);
    const after = load(OPENALL.replace('echo openall', 'echo changed'));
    const h = new Host();
    const rt = new Runtime(after, h, new Stops(h));
    await rt.start();
    rt.handle(ev(tagOf(before, 'openall')));
    expect(h.execs()).toEqual([]);
  });

  it('tags fit every target whole: at most 63 bytes (iptables-legacy NFLOG), and read back', () => {
    const seq = join(dir, 'big.seq');
    writeFileSync(seq, `${'\n'.repeat(999)} 1,2,3\n`);
    const c = load(`[${'n'.repeat(200)}]\n one_time_sequences = ${seq}\n start_command = ${'x'.repeat(500)}\n`);
    const tag = notifyPrefix(c.doors[0]!);
    expect(tag).toMatch(/^knockc [0-9a-f]{16} L1000 [0-9a-f]{8}$/);
    expect(Buffer.byteLength(tag.replace('L1000', 'L999999999'))).toBeLessThanOrEqual(NOTIFY_PREFIX_MAX);
    expect(NOTIFY_PREFIX_MAX).toBe(63);
    expect(parseNotifyPrefix(`${tag}\0`)).toEqual({ door: doorId(c.doors[0]!), line: 1000, seq: tag.split(' ')[3] });
    expect(parseNotifyPrefix('knockc d0')).toBeNull();
    expect(parseNotifyPrefix('knockc 0123456789abcdef L1')).toBeNull();
  });

  it('a one-time completion of a sequence the file no longer holds at that line (file rewritten, config reloaded) opens nothing', async () => {
    const path = join(dir, 'rw.seq');
    writeFileSync(path, ' 1,2,3\n');
    const before = load(`[ot]\n one_time_sequences = ${path}\n start_command = echo ot %IP%\n`);
    const h = new Host();
    h.files.set(path, ' 7,8,9\n');
    const rt = new Runtime(before, h, new Stops(h));
    await rt.start();
    rt.handle(ev(tagOf(before, 'ot'))); // line 1, but of " 1,2,3"
    await rt.idle();
    expect(h.execs()).toEqual([]);
    expect(h.files.get(path)).toBe(' 7,8,9\n');
  });
});

describe('issue 17 #2: pending stops run on time whatever happens to the rules', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a reload whose rules are refused (and whose restore is refused too) leaves the stop armed: it runs at its time', async () => {
    const h = new Host();
    const stops = new Stops(h);
    stops.resume();
    const conf = load('[cmd]\n sequence = 1,2\n start_command = echo start %IP%\n cmd_timeout = 12\n stop_command = echo stop %IP%\n');
    const first = new Runtime(conf, h, stops);
    await first.start();
    first.handle(ev(notifyPrefix(conf.doors[0]!)));
    // SIGHUP: the running runtime stops, the new one's rules are refused, and so are the old ones again.
    first.stop();
    h.deploy = async () => {
      throw new Error('nft refused');
    };
    await expect(new Runtime(conf, h, stops).start()).rejects.toThrow('nft refused');
    await expect(new Runtime(conf, h, stops).start()).rejects.toThrow('nft refused');
    h.clock += 12_000;
    await vi.advanceTimersByTimeAsync(12_000);
    expect(h.execs()).toEqual(['echo start 198.51.100.7', 'echo stop 198.51.100.7']);
    expect(h.onDisk).toEqual([]);
  });
});

describe('issue 17: a one-time swap the kernel refuses is tried again', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('the used sequence stays refused meanwhile, and the next one loads as soon as the kernel takes it', async () => {
    const path = join(dir, 'retry.seq');
    writeFileSync(path, ' 4,5,6\n 7,8,9\n');
    const c = load(`[ot]\n one_time_sequences = ${path}\n start_command = echo ot %IP%\n`);
    const h = new Host();
    h.files.set(path, ' 4,5,6\n 7,8,9\n');
    const rt = new Runtime(c, h, new Stops(h));
    await rt.start();
    const used = notifyPrefix(rt.liveConfig().doors[0]!);
    const deploy = h.deploy.bind(h);
    let refuse = 2;
    h.deploy = async (x) => {
      if (refuse-- > 0) throw new Error('iptables-restore refused the rules');
      return deploy(x);
    };
    rt.handle(ev(used, '198.51.100.1'));
    await rt.idle();
    rt.handle(ev(used, '198.51.100.2'));
    await vi.advanceTimersByTimeAsync(5000);
    await rt.idle();
    expect(h.journal.filter((l) => l.startsWith('deploy'))).toEqual(['deploy ot=4,5,6']);
    await vi.advanceTimersByTimeAsync(5000);
    await rt.idle();
    expect(h.journal.filter((l) => l.startsWith('deploy'))).toEqual(['deploy ot=4,5,6', 'deploy ot=7,8,9']);
    expect(h.journal).toContain('log ot: the next sequence is loaded');
    expect(h.execs()).toEqual(['echo ot 198.51.100.1']);
    rt.stop();
  });
});

describe('issue 17 #3: I/O failures are logged and survived; a stop that cannot be kept means no start (fail closed)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  const CMD = '[cmd]\n sequence = 1,2\n start_command = echo start %IP%\n cmd_timeout = 5\n stop_command = echo stop %IP%\n';
  const PLAIN = '[plain]\n sequence = 3\n start_command = echo plain %IP%\n';
  const enospc = () => Object.assign(new Error('cannot write /var/lib/knockc/pending.json: no space left on device (ENOSPC)'), { code: 'ENOSPC' });

  it('the stop cannot be saved: nothing runs for that opening, it says why, and the other doors work', async () => {
    const h = new Host();
    const stops = new Stops(h);
    stops.resume();
    const c = load(CMD + PLAIN);
    const rt = new Runtime(c, h, stops);
    await rt.start();
    h.saveError = enospc();
    expect(() => rt.handle(ev(notifyPrefix(c.doors[0]!)))).not.toThrow();
    rt.handle(ev(notifyPrefix(c.doors[1]!)));
    expect(h.execs()).toEqual(['echo plain 198.51.100.7']);
    expect(h.journal).toContain('log 198.51.100.7: cmd: cannot save the stop command: cannot write /var/lib/knockc/pending.json: no space left on device (ENOSPC)');
    expect(h.journal).toContain('log 198.51.100.7: cmd: start command not run: its stop command could not be saved (fail closed)');
    expect(stops.pending()).toEqual([]);
  });

  it('a one-time door whose stop cannot be saved keeps its sequence unused', async () => {
    const path = join(dir, 'ot3.seq');
    writeFileSync(path, ' 4,5,6\n 7,8,9\n');
    const c = load(`[ot]\n one_time_sequences = ${path}\n start_command = echo ot %IP%\n cmd_timeout = 5\n stop_command = echo unot %IP%\n`);
    const h = new Host();
    h.files.set(path, ' 4,5,6\n 7,8,9\n');
    const stops = new Stops(h);
    stops.resume();
    const rt = new Runtime(c, h, stops);
    await rt.start();
    h.saveError = enospc();
    rt.handle(ev(notifyPrefix(rt.liveConfig().doors[0]!)));
    await rt.idle();
    expect(h.execs()).toEqual([]);
    expect(h.files.get(path)).toBe(' 4,5,6\n 7,8,9\n');
  });

  it('the state file cannot be updated after a stop ran: the stop is not run again, and the file is written once it can be', async () => {
    const h = new Host();
    const stops = new Stops(h);
    stops.resume();
    const c = load(CMD);
    const rt = new Runtime(c, h, stops);
    await rt.start();
    rt.handle(ev(notifyPrefix(c.doors[0]!)));
    h.saveError = enospc();
    h.clock += 5000;
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.execs()).toEqual(['echo start 198.51.100.7', 'echo stop 198.51.100.7']);
    expect(h.onDisk).toHaveLength(1);
    expect(h.journal.some((l) => l.includes('the stop command ran, but the state file could not be updated'))).toBe(true);
    h.clock += STATE_RETRY_MS;
    await vi.advanceTimersByTimeAsync(STATE_RETRY_MS);
    expect(h.onDisk).toHaveLength(1);
    h.saveError = null;
    h.clock += STATE_RETRY_MS;
    await vi.advanceTimersByTimeAsync(STATE_RETRY_MS);
    expect(h.onDisk).toEqual([]);
    expect(h.journal).toContain('log the state file is written again');
    expect(h.execs()).toHaveLength(2);
  });

  it('a state file that cannot be read at start: its doors with a stop refuse to start (its stops must not be overwritten) until a later read works', async () => {
    const h = new Host();
    h.loadError = new Error('/var/lib/knockc/pending.json: not a knockc state file (not JSON)');
    const stops = new Stops(h);
    expect(stops.resume()).toBe(false);
    const c = load(CMD + PLAIN);
    const rt = new Runtime(c, h, stops);
    await rt.start();
    rt.handle(ev(notifyPrefix(c.doors[0]!)));
    rt.handle(ev(notifyPrefix(c.doors[1]!)));
    expect(h.execs()).toEqual(['echo plain 198.51.100.7']);
    expect(h.journal.filter((l) => l.startsWith('save'))).toEqual([]);
    h.loadError = null;
    expect(stops.resume()).toBe(true);
    rt.handle(ev(notifyPrefix(c.doors[0]!)));
    expect(h.execs()).toEqual(['echo plain 198.51.100.7', 'echo start 198.51.100.7']);
  });

  it('PendingStore: a failed write leaves the old file and no temporary file; reasons are plain words with the code', () => {
    const d = mkdtempSync(join(dir, 'ro-'));
    const store = new PendingStore(join(d, 'pending.json'));
    store.save([{ id: '1', door: 'd', src: '198.51.100.1', command: 'x', due: 1 }]);
    // A state directory under a file fails for root too (root ignores permission bits).
    const bad = new PendingStore(join(d, 'pending.json', 'sub', 'pending.json'));
    expect(() => bad.save([])).toThrow(/^cannot write .*pending\.json\/sub\/pending\.json: not a directory \(ENOTDIR\)$/);
    expect(readdirSync(d)).toEqual(['pending.json']);
    expect(store.load()).toHaveLength(1);
    writeFileSync(join(d, 'pending.json'), '{');
    expect(() => store.load()).toThrow(/pending\.json: not a knockc state file \(not JSON\)/);
  });
});

describe('issue 17 #4: one-time lines are compared exactly, at their exact offset', () => {
  it('retire refuses a line whose text now sits elsewhere (a line was added above it) and leaves the file as it is', () => {
    const f = join(dir, 'prepend.seq');
    writeFileSync(f, ' 1000,2000,3000\n 4000,5000,6000\n');
    const [first] = unusedSequences(f);
    writeFileSync(f, '#x\n 1000,2000,3000\n 4000,5000,6000\n');
    expect(() => retire(f, first!)).toThrow(OneTimeChangedError);
    expect(readFileSync(f, 'utf8')).toBe('#x\n 1000,2000,3000\n 4000,5000,6000\n');
  });

  it('the runtime reads the changed file again: the sequence still current opens once, its own line is retired, the used line is never armed again', async () => {
    const path = join(dir, 'rt4.seq');
    writeFileSync(path, ' 1000,2000,3000\n 4000,5000,6000\n');
    const c = load(`[ot]\n one_time_sequences = ${path}\n start_command = echo ot %IP%\n`);
    const h = new Host();
    h.files.set(path, ' 1000,2000,3000\n 4000,5000,6000\n');
    const rt = new Runtime(c, h, new Stops(h));
    await rt.start();
    const used = notifyPrefix(rt.liveConfig().doors[0]!);
    h.files.set(path, `#x\n${h.files.get(path)!}`);
    rt.handle(ev(used, '198.51.100.1'));
    await rt.idle();
    expect(h.files.get(path)).toBe('#x\n#1000,2000,3000\n 4000,5000,6000\n');
    expect(h.journal.at(-1)).toBe('deploy ot=4000,5000,6000');
    rt.handle(ev(used, '198.51.100.2'));
    await rt.idle();
    expect(h.execs()).toEqual(['echo ot 198.51.100.1']);
  });

  it('a sequence the edited file no longer holds as its current one does not open; the kernel gets the file\'s first unused line', async () => {
    const path = join(dir, 'rt4b.seq');
    writeFileSync(path, ' 1,2,3\n');
    const c = load(`[ot]\n one_time_sequences = ${path}\n start_command = echo ot %IP%\n`);
    const h = new Host();
    h.files.set(path, ' 1,2,3\n 4,5,6\n');
    const rt = new Runtime(c, h, new Stops(h));
    await rt.start();
    const used = notifyPrefix(rt.liveConfig().doors[0]!);
    h.files.set(path, ' 9,9,9\n 1,2,3\n 4,5,6\n');
    rt.handle(ev(used));
    await rt.idle();
    expect(h.execs()).toEqual([]);
    expect(h.files.get(path)).toBe(' 9,9,9\n 1,2,3\n 4,5,6\n');
    expect(h.journal).toContain(`log 198.51.100.7: ot: not opened: ${path} changed on disk and "1,2,3" is no longer its current sequence: not opened`);
    expect(h.journal.at(-1)).toBe('deploy ot=9,9,9');
  });
});

describe('issue 17 #5: cmd_timeout < 0 never runs the stop command', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('the start runs, no stop is kept or run (knockd sleeps a negative int as ~136 years)', async () => {
    const h = new Host();
    const stops = new Stops(h);
    stops.resume();
    const c = load('[neg]\n sequence = 1,2\n start_command = echo start %IP%\n cmd_timeout = -1\n stop_command = echo stop %IP%\n');
    const rt = new Runtime(c, h, stops);
    await rt.start();
    rt.handle(ev(notifyPrefix(c.doors[0]!)));
    h.clock += 10 * 86400_000;
    await vi.advanceTimersByTimeAsync(10 * 86400_000);
    expect(h.execs()).toEqual(['echo start 198.51.100.7']);
    expect(stops.pending()).toEqual([]);
    expect(h.journal).toContain('log neg: cmd_timeout -1 is negative: the stop command never runs (as with knockd)');
  });
});
