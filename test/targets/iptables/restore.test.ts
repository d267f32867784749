// The pure parts of apply / remove / status --target iptables: restore inputs built from
// recorded iptables-save text, /proc/net/xt_recent and /proc/timer_list parsing, the dry-run
// diff, status; and the rollback of IPv4 when IPv6 fails (through a fake runner).
// Fixtures recorded with iptables-nft 1.8.9 (HZ=250) after `knockc apply --target iptables two-doors.conf`
// (knockc 844506b: knockc_input dispatches knock and granted ports itself), a full knock from
// 198.51.100.2 and a first knock from 198.51.100.3 (test/targets/live-fixtures/record.sh). The
// *.v0-layout.txt ones were recorded the same way with the knockc before 844506b (knockc_input
// -> knockc_knock4, knockc_grant4_in): a deployment an upgrade starts from.
import { describe, expect, it } from 'vitest';
import { buildRestore, foreignReferences, listsOf, liveKnockc, parseRestoreInput, parseSave, ruleFacts, ruleKey } from '../../../src/targets/iptables/restore.js';
import { clockFromTimerList, compactAddr, hzFromSamples, leftMs, parseRecent, parseRecentFiles } from '../../../src/targets/iptables/recent.js';
import { diffIptables } from '../../../src/targets/iptables/diff.js';
import { iptablesStatus } from '../../../src/targets/iptables/status.js';
import { applyIptables, removeIptables } from '../../../src/targets/iptables/host.js';
import { compileIptables, IPTABLES_DEFAULTS } from '../../../src/targets/iptables/generate.js';
import type { Family } from '../../../src/model/grant.js';
import { config, fakeRunner, fixture } from '../live-helpers.js';

const SAVE = fixture('iptables-save-two-doors.txt');
const RECENT = fixture('xt_recent-two-doors.txt');
const TIMER = fixture('timer_list-two-doors.txt');
const compiled = (family: Family, text = fixture('two-doors.conf')) => {
  const c = compileIptables(config(text), { ...IPTABLES_DEFAULTS, family, version: 'TEST', source: 'two-doors.conf' });
  return { text: c.text, hooks: c.ruleset.hooks };
};
const EMPTY = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j DROP\nCOMMIT\n';

describe('iptables-save and restore inputs', () => {
  it('reads chains, rules and counters of the filter table', () => {
    const t = parseSave(SAVE);
    expect(t.chains.slice(0, 4)).toEqual(['INPUT', 'FORWARD', 'OUTPUT', 'knockc_active4_t']);
    expect(t.rules[0]).toEqual({ chain: 'INPUT', spec: '-j knockc_input', packets: 4 });
    expect(liveKnockc(t).hooks).toEqual([{ builtin: 'INPUT', chain: 'knockc_input' }]);
    expect(liveKnockc(t).chains).toHaveLength(16);
    expect(parseSave('*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j X\nCOMMIT\n')).toEqual({ chains: [], rules: [] });
  });

  it('first apply: declares and fills the chains, then inserts the jump at the top of INPUT, in one input', () => {
    const want = parseRestoreInput(compiled('ip').text, compiled('ip').hooks);
    const p = buildRestore(parseSave(EMPTY), want);
    const lines = p.input!.split('\n');
    expect(lines[0]).toBe('*filter');
    expect(lines[1]).toBe(':knockc_input - [0:0]');
    expect(lines.filter((l) => l.startsWith(':'))).toHaveLength(16);
    expect(lines.slice(-3)).toEqual(['-I INPUT 1 -j knockc_input', 'COMMIT', '']);
    expect(p.hooksAdded).toEqual([{ builtin: 'INPUT', chain: 'knockc_input' }]);
    expect(p.chainsDeleted).toEqual([]);
  });

  it('re-apply: keeps the existing jump, deletes a duplicate, and flushes then deletes chains no longer declared', () => {
    const extra = SAVE.replace('COMMIT', ':knockc_door4_d9 - [0:0]\n:knockc_door4_d9_s0 - [0:0]\n[0:0] -A knockc_door4_d9 -g knockc_door4_d9_s0\n[0:0] -A INPUT -j knockc_input\n[0:0] -A FORWARD -j knockc_forward\nCOMMIT');
    const want = parseRestoreInput(compiled('ip').text, compiled('ip').hooks);
    const p = buildRestore(parseSave(extra), want);
    expect(p.input!.split('\n').slice(-8)).toEqual([
      '-D INPUT -j knockc_input',
      '-D FORWARD -j knockc_forward',
      '-F knockc_door4_d9',
      '-F knockc_door4_d9_s0',
      '-X knockc_door4_d9',
      '-X knockc_door4_d9_s0',
      'COMMIT',
      '',
    ]);
    expect(p.hooksAdded).toEqual([]);
    expect(p.input).not.toContain('-I INPUT');
  });

  it('remove: deletes the jumps and every knockc chain, nothing else; nothing to do gives no input', () => {
    const p = buildRestore(parseSave(SAVE.replace('COMMIT', '[0:0] -A INPUT -p tcp -m tcp --dport 80 -j ACCEPT\nCOMMIT')), { chains: [], hooks: [] });
    const lines = p.input!.trim().split('\n');
    expect(lines[0]).toBe('*filter');
    expect(lines[1]).toBe('-D INPUT -j knockc_input');
    expect(lines.filter((l) => l.startsWith('-F knockc_'))).toHaveLength(16);
    expect(lines.filter((l) => l.startsWith('-X knockc_'))).toHaveLength(16);
    expect(lines.findIndex((l) => l.startsWith('-X'))).toBeGreaterThan(lines.findLastIndex((l) => l.startsWith('-F')));
    expect(p.input).not.toContain('80');
    expect(buildRestore(parseSave(EMPTY), { chains: [], hooks: [] }).input).toBeNull();
  });

  it('finds rules of the user that use knockc chains (knockc cannot delete those chains)', () => {
    expect(foreignReferences(parseSave(SAVE))).toEqual([]);
    const t = parseSave(SAVE.replace('COMMIT', '[0:0] -A INPUT -p tcp -j knockc_gp4_in_t22\nCOMMIT'));
    expect(foreignReferences(t).map((r) => r.spec)).toEqual(['-p tcp -j knockc_gp4_in_t22']);
  });

  it('a rule as knockc writes it and as iptables-save prints it back have the same key', () => {
    const want = parseRestoreInput(compiled('ip').text, []);
    const live = liveKnockc(parseSave(SAVE));
    for (const c of want.chains) {
      const l = live.chains.find((x) => x.name === c.name)!;
      expect(l.rules.map(ruleKey)).toEqual(c.rules.map(ruleKey));
    }
    expect(ruleKey('-p tcp --syn -d 198.51.100.1 -j LOG --log-prefix "a b" --log-level info')).toBe(ruleKey('-d 198.51.100.1/32 -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j LOG --log-prefix "a b" --log-level 6'));
  });

  it('reads what a rule does with xt_recent lists', () => {
    const f = ruleFacts('-m recent ! --rcheck --seconds 5 --name knockc_stage4_a --mask 255.255.255.255 --rsource -m recent --set --name knockc_stage4_a -m comment --comment "stage 1 -> 2" -g knockc_door4_d0_s1');
    expect(f.recent).toEqual([
      { list: 'knockc_stage4_a', op: 'rcheck', negated: true, seconds: 5 },
      { list: 'knockc_stage4_a', op: 'set', negated: false, seconds: null },
    ]);
    expect(f.comment).toBe('stage 1 -> 2');
    expect(f.target).toEqual({ how: '-g', chain: 'knockc_door4_d0_s1' });
    expect([...listsOf(liveKnockc(parseSave(SAVE)))]).toContainEqual(['knockc_grant4_c82f3af2e42b', 30]);
  });
});

describe('/proc/net/xt_recent and the kernel clock', () => {
  it('parses entries, per list, with IPv6 sources in short form', () => {
    expect(parseRecent('src=2001:0db8:0000:0000:0000:0000:0000:0005 ttl: 0 last_seen: 4295885749 oldest_pkt: 1 4295885749\n')).toEqual([{ source: '2001:db8::5', lastSeen: 4295885749 }]);
    const m = parseRecentFiles(RECENT);
    expect(m.get('knockc_grant4_c82f3af2e42b')).toEqual([{ source: '198.51.100.2', lastSeen: 4299641517 }]);
    expect(compactAddr('198.51.100.2')).toBe('198.51.100.2');
  });

  it('derives HZ from jiffies and the monotonic clock of /proc/timer_list (INITIAL_JIFFIES = 2^32 - 300 HZ)', () => {
    expect(clockFromTimerList(TIMER)).toEqual({ hz: 250, jiffies: 4299641547 });
    // HZ=1000, 10 minutes after boot; HZ=100 just after boot (jiffies still below 2^32).
    expect(clockFromTimerList(`now at ${600e9} nsecs\njiffies: ${2 ** 32 - 300_000 + 600_000}\n`)!.hz).toBe(1000);
    expect(clockFromTimerList(`now at ${10e9} nsecs\njiffies: ${2 ** 32 - 30_000 + 1000}\n`)!.hz).toBe(100);
    expect(clockFromTimerList('now at 5 nsecs\njiffies: 17\n')).toBeNull();
    expect(clockFromTimerList('nothing')).toBeNull();
    // Fallback: two reads 250 ms apart.
    expect(hzFromSamples('now at 1000000000 nsecs\njiffies: 5000\n', 'now at 1250000000 nsecs\njiffies: 5075\n')).toEqual({ hz: 300, jiffies: 5075 });
  });

  it('time left = --seconds minus the age of the newest stamp', () => {
    const clock = { hz: 250, jiffies: 1250 };
    expect(leftMs({ source: 'x', lastSeen: 1000 }, 5, clock)).toBe(4000);
    expect(leftMs({ source: 'x', lastSeen: 1000 }, null, clock)).toBeNull();
    expect(leftMs({ source: 'x', lastSeen: 1000 }, 5, null)).toBeNull();
  });
});

describe('status and diff from the recorded kernel state', () => {
  const recent = parseRecentFiles(RECENT);
  const clock = clockFromTimerList(TIMER);

  it('per door: attempts with stage and time left, counters; grants with door and time left', () => {
    const s = iptablesStatus({ family: 'ip', backend: 'nft', save: parseSave(SAVE), recent, clock })!;
    expect(s).toMatchObject({ target: 'iptables', backend: 'nft', family: 'ip', table: 'filter' });
    expect(s.doors).toEqual([
      { name: 'openSSH', line: 3, stages: 3, counters: { knocks: 4, openings: 1, resets: 0 }, attempts: [{ source: '198.51.100.3', stage: 1, expiresMs: 4984 }] },
      { name: 'web', line: 13, stages: 1, counters: { knocks: 0, openings: 0, resets: 0 }, attempts: [] },
    ]);
    expect(s.grants).toEqual([{ source: '198.51.100.2', grant: 'tcp/22', doors: ['openSSH'], expiresMs: 29880, timeoutMs: 30000 }]);
    // An expired grant is not shown (xt_recent keeps the entry until it is evicted).
    const late = iptablesStatus({ family: 'ip', backend: 'nft', save: parseSave(SAVE), recent, clock: { hz: 250, jiffies: clock!.jiffies + 31 * 250 } })!;
    expect(late.grants).toEqual([]);
    expect(iptablesStatus({ family: 'ip', backend: 'nft', save: parseSave(EMPTY), recent, clock })).toBeNull();
  });

  it('diff of a changed config: lists kept with their sources, new and dropped lists, chains, doors', () => {
    const changed = fixture('two-doors.conf').replace('cmd_timeout   = 30', 'cmd_timeout   = 40');
    const c = compiled('ip', changed);
    const d = diffIptables('iptables-nft IPv4 (table filter)', parseSave(SAVE), parseRestoreInput(c.text, c.hooks), recent, clock);
    expect(d.text).toMatch(/^iptables-nft IPv4 \(table filter\): would change:\n  doors:\n    = \[openSSH\] line 3\n    = \[web\] line 13\n/);
    expect(d.text).toContain('    = knockc_armed4_226651d435aa (armed): kept, with 1 source\n');
    expect(d.text).toMatch(/    \+ knockc_grant4_\w+ \(grant, 40 s\): new\n/);
    expect(d.text).toContain('    - knockc_grant4_c82f3af2e42b (grant): no longer used, 1 source dropped\n');
    expect(d.text).toMatch(/    ~ chain knockc_gp4_in_t22 \(rules changed\)/);
    expect(d).toMatchObject({ kept: 2, dropped: 1, changed: true });
    const same = compiled('ip');
    expect(diffIptables('x', parseSave(SAVE), parseRestoreInput(same.text, same.hooks), recent, clock).text).toMatch(/^x: no change:[\s\S]*chains: unchanged, 16 chains unchanged/);
  });
});

describe('upgrade from a deployment of the previous layout (knockc_input -> knockc_knock4, knockc_grant4_in)', () => {
  it('re-applying the same config keeps every door and xt_recent list with its sources; only the layout\'s chains change', () => {
    const old = parseSave(fixture('iptables-save-two-doors.v0-layout.txt'));
    const oldRecent = parseRecentFiles(fixture('xt_recent-two-doors.v0-layout.txt'));
    const same = compiled('ip');
    const want = parseRestoreInput(same.text, same.hooks);
    const d = diffIptables('x', old, want, oldRecent, clockFromTimerList(fixture('timer_list-two-doors.v0-layout.txt')));
    expect(d.text).toBe(
      [
        'x: would change:',
        '  doors:',
        '    = [openSSH] line 3',
        '    = [web] line 13',
        '  xt_recent lists:',
        '    = knockc_armed4_226651d435aa (armed): kept, with 1 source',
        '    = knockc_stage4_aff429182449 (stage): kept',
        '    = knockc_stage4_e3be3db3a4e6 (stage): kept, with 1 source',
        '    = knockc_grant4_a697bd3eccb4 (grant): kept',
        '    = knockc_grant4_c82f3af2e42b (grant): kept, with 1 source',
        '  chains: 15 chains unchanged (every rule is reloaded; counters restart)',
        '    ~ chain knockc_input (rules changed)',
        '    - chain knockc_grant4_in',
        '    - chain knockc_knock4',
        '',
      ].join('\n'),
    );
    expect(d).toMatchObject({ kept: 3, dropped: 0, changed: true });
    // One input: the jump from INPUT stays, the two old chains go once nothing uses them.
    const p = buildRestore(old, want);
    expect(p).toMatchObject({ hooksAdded: [], hooksDeleted: [], chainsDeleted: ['knockc_grant4_in', 'knockc_knock4'] });
    const lines = p.input!.split('\n');
    expect(lines.filter((l) => l.startsWith(':'))).toHaveLength(16);
    expect(lines).toContain('-A knockc_input -p tcp --dport 7000 -j knockc_vis4_t7000');
    expect(lines.slice(-6)).toEqual(['-F knockc_grant4_in', '-F knockc_knock4', '-X knockc_grant4_in', '-X knockc_knock4', 'COMMIT', '']);
    expect(p.input).not.toMatch(/^-[ID] INPUT/m);
  });
});

describe('applyIptables / removeIptables through a fake runner', () => {
  const saves: Record<string, string> = { 'iptables-nft-save': SAVE, 'ip6tables-nft-save': EMPTY };
  const host = (fail: (cmd: string, stdin?: string) => boolean) =>
    fakeRunner((cmd, stdin) => {
      const c = cmd.join(' ');
      if (fail(c, stdin)) return { code: 1, stderr: 'ip6tables-restore: line 3 failed\n' };
      if (cmd[0]!.endsWith('-save')) return { stdout: saves[cmd[0]!] };
      if (cmd[0]!.endsWith('-restore')) return { stdout: '' };
      if (cmd[0] === 'grep') return { stdout: RECENT };
      if (c === 'cat /proc/timer_list') return { stdout: TIMER };
      return undefined;
    });
  const req = { backend: 'nft' as const, compiled: { ip: compiled('ip'), ip6: compiled('ip6') } };

  it('checks both families with --test before loading IPv4 then IPv6', async () => {
    const run = host(() => false);
    const r = await applyIptables({ run, ...req, dryRun: false });
    expect(r.ok).toBe(true);
    expect(r.doors).toBe(2);
    expect(run.calls.filter((c) => c.cmd[0]!.endsWith('-restore')).map((c) => c.cmd.join(' '))).toEqual([
      'iptables-nft-restore --noflush --test',
      'ip6tables-nft-restore --noflush --test',
      'iptables-nft-restore --noflush',
      'ip6tables-nft-restore --noflush',
    ]);
  });

  it('--dry-run stops after --test', async () => {
    const run = host(() => false);
    const r = await applyIptables({ run, ...req, dryRun: true });
    expect(r.ok).toBe(true);
    expect(run.calls.filter((c) => c.cmd[0]!.endsWith('-restore') && !c.cmd.includes('--test'))).toEqual([]);
  });

  it('IPv6 refused after IPv4 was loaded: the previous IPv4 knockc rules are restored', async () => {
    const run = host((c) => c === 'ip6tables-nft-restore --noflush');
    const r = await applyIptables({ run, ...req, dryRun: false });
    expect(r.ok).toBe(false);
    expect(r.rolledBack).toBe(true);
    expect(r.error).toContain('input line 3: ');
    const restores = run.calls.filter((c) => c.cmd.join(' ') === 'iptables-nft-restore --noflush');
    expect(restores).toHaveLength(2);
    // The rollback declares the chains that were loaded and refills them with the rules iptables-save printed.
    expect(restores[1]!.stdin).toContain('-A knockc_door4_d0 -p tcp -m tcp --dport 9000 -m recent --rcheck --seconds 5 --name knockc_stage4_aff429182449');
  });

  it('a rule --test rejects: nothing is loaded', async () => {
    const run = host((c) => c.startsWith('iptables-nft-restore --noflush --test'));
    const r = await applyIptables({ run, ...req, dryRun: false });
    expect(r.ok).toBe(false);
    expect(run.calls.filter((c) => c.cmd[0]!.endsWith('-restore') && !c.cmd.includes('--test'))).toEqual([]);
  });

  it('remove: one restore per family that holds knockc objects', async () => {
    const run = host(() => false);
    const r = await removeIptables(run, 'nft');
    expect(r).toMatchObject({ ok: true, removed: [{ family: 'ip', chains: 16, hooks: 1 }] });
    expect(run.calls.filter((c) => c.cmd[0]!.endsWith('-restore'))).toHaveLength(1);
  });
});
