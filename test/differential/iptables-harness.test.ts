// Checks of the differential test's own machinery (address text, the iptables-save reader, the
// namespace runner, the canonical commands that load initial states), against the real
// iptables / ip6tables of both variants. Independent of knockc's command model.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { netnsReady } from '../netns-env.js';
import { canonAddr, canonNet } from './ipt-addr.js';
import { readSave, ruleKey } from './ipt-save-reader.js';
import { DIFF_TOOLS, runBatch, VARIANTS, type ExecResult, type Variant } from './ipt-runner.js';
import { caseArb, loadable, renderCmd, type Fam, type RuleSpec } from './ipt-spec.js';

describe('address text (glibc inet_ntop) and destinations', () => {
  it('prints IPv6 like inet_ntop', () => {
    expect(canonAddr('2001:db8:0:0:0:0:0:2', 'ip6')).toBe('2001:db8::2');
    expect(canonAddr('2001:DB8:0:1:0:0:0:5', 'ip6')).toBe('2001:db8:0:1::5');
    expect(canonAddr('2001:db8:0:0:1:0:0:0', 'ip6')).toBe('2001:db8:0:0:1::');
    expect(canonAddr('2001:db8:0:1:0:1:0:1', 'ip6')).toBe('2001:db8:0:1:0:1:0:1');
    expect(canonAddr('::2', 'ip6')).toBe('::2');
    expect(canonAddr('198.51.100.2', 'ip6')).toBeNull();
    expect(canonAddr('2001:db8::2', 'ip')).toBeNull();
  });
  it('writes destinations as grant keys do', () => {
    expect(canonNet('203.0.113.7/24', 'ip')).toBe('203.0.113.0/24');
    expect(canonNet('203.0.113.7/32', 'ip')).toBe('203.0.113.7');
    expect(canonNet('0.0.0.0/0', 'ip')).toBe('*');
    expect(canonNet('2001:db8:ffff:0:0:0:0:7/64', 'ip6')).toBe('2001:db8:ffff::/64');
    expect(canonNet('2001:DB8:FFFF::5/128', 'ip6')).toBe('2001:db8:ffff::5');
    expect(canonNet('203.0.113.5/33', 'ip')).toBeNull();
  });
});

describe('iptables-save reader', () => {
  const k = '198.51.100.2';
  it('reads plain grants', () => {
    expect(ruleKey('-A INPUT -s 198.51.100.2/32 -p tcp -m tcp --dport 22 -j ACCEPT', 'ip', k)).toBe(
      'hook=input proto=tcp dport=22 daddr=* iif=* syn=0 new=0',
    );
    expect(
      ruleKey('-A FORWARD -s 198.51.100.2/32 -d 203.0.113.0/24 -i eth1 -p udp -m udp --dport 1000:2000 -m state --state NEW -j ACCEPT', 'ip', k),
    ).toBe('hook=forward proto=udp dport=1000-2000 daddr=203.0.113.0/24 iif=eth1 syn=0 new=1');
    expect(ruleKey('-A INPUT -s 198.51.100.2/32 -p tcp -m multiport --dports 22,80:90,22 -m conntrack --ctstate NEW -j ACCEPT', 'ip', k)).toBe(
      'hook=input proto=tcp dport=22,80-90,22 daddr=* iif=* syn=0 new=1',
    );
    expect(ruleKey('-A INPUT -s 198.51.100.2/32 -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j ACCEPT', 'ip', k)).toBe(
      'hook=input proto=tcp dport=* daddr=* iif=* syn=1 new=0',
    );
    expect(ruleKey('-A INPUT -s 198.51.100.2/32 -p tcp -m tcp -j ACCEPT', 'ip', k)).toBe('hook=input proto=tcp dport=* daddr=* iif=* syn=0 new=0');
    expect(ruleKey('-A INPUT -s 2001:db8::2/128 -d 2001:db8:0:0:1::/80 -j ACCEPT', 'ip6', '2001:db8::2')).toBe(
      'hook=input proto=* dport=* daddr=2001:db8:0:0:1::/80 iif=* syn=0 new=0',
    );
  });
  it('calls everything else unknown', () => {
    for (const r of [
      '-A INPUT -s 198.51.100.3/32 -j ACCEPT',
      '-A INPUT -s 198.51.100.0/24 -j ACCEPT',
      '-A INPUT ! -s 198.51.100.2/32 -j ACCEPT',
      '-A INPUT -j ACCEPT',
      '-A INPUT -s 198.51.100.2/32 -j DROP',
      '-A OUTPUT -s 198.51.100.2/32 -j ACCEPT',
      '-A INPUT -s 198.51.100.2/32 -p tcp -m tcp ! --dport 22 -j ACCEPT',
      '-A INPUT -s 198.51.100.2/32 -p tcp -m tcp --sport 22 -j ACCEPT',
      '-A INPUT -s 198.51.100.2/32 -p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG SYN -j ACCEPT',
      '-A INPUT -s 198.51.100.2/32 -p tcp -m multiport --ports 22 -j ACCEPT',
      '-A INPUT -s 198.51.100.2/32 -m state --state NEW,ESTABLISHED -j ACCEPT',
      '-A INPUT -s 198.51.100.2/32 -p ipv6-icmp -j ACCEPT',
      '-A INPUT -s 198.51.100.2/32 -p tcp -m tcp --dport 22 -m multiport --dports 22,23 -j ACCEPT',
    ]) {
      expect(ruleKey(r, 'ip', k), r).toBeNull();
    }
    const s = readSave('*mangle\n-A INPUT -s 198.51.100.2/32 -j ACCEPT\nCOMMIT\n*filter\n-A INPUT -s 198.51.100.2/32 -j ACCEPT\n-A INPUT -s 198.51.100.2/32 -j ACCEPT\nCOMMIT\n', 'ip', k);
    expect([...s.keys]).toEqual([['hook=input proto=* dport=* daddr=* iif=* syn=0 new=0', 2]]);
    expect(s.unknown).toEqual(['mangle: -A INPUT -s 198.51.100.2/32 -j ACCEPT']);
  });
});

const ready = netnsReady('the iptables differential tests', DIFF_TOOLS);

describe.skipIf(!ready)('namespace runner and canonical commands (real iptables, both variants)', () => {
  const K4 = '198.51.100.2';
  const K6 = '2001:db8::2';
  const fixed = [
    { line: `iptables -A INPUT -s ${K4} -p tcp --dport 22 -j ACCEPT`, init: [] },
    { line: `iptables -A INPUT --source=${K4} -p tcp --dport 22 -j ACCEPT`, init: [] },
    { line: `/usr/bin/iptables -A INPUT -s ${K4} -j ACCEPT && /usr/local/sbin/ip6tables -A INPUT -s ${K6} -j ACCEPT`, init: [] },
    { line: `/opt/bogus/iptables -A INPUT -s ${K4} -j ACCEPT`, init: [] },
    { line: `iptables-legacy -A INPUT -s ${K4} -j ACCEPT; iptables-nft -A FORWARD -s ${K4} -j ACCEPT`, init: [] },
    { line: `iptables -D INPUT -s ${K4} -p tcp --dport 22 -j ACCEPT`, init: [`iptables -A INPUT -s ${K4} -p tcp --dport 22 -j ACCEPT`, `iptables -A INPUT -s ${K4} -p tcp --dport 22 -j ACCEPT`] },
    { line: `iptables -A INPUT -s ${K4} -p tcp --dport 22 -j ACCEPT`, init: [] },
  ];
  // Every loadable spec the generator makes: its canonical command must read back as its key.
  const specs: { spec: RuleSpec; fam: Fam; knocker: string }[] = [];
  for (const c of fc.sample(caseArb, { seed: 7, numRuns: 400 })) {
    for (const cmd of c.cmds) {
      if (cmd.kind !== 'ipt') continue;
      for (const fam of ['ip', 'ip6'] as const) {
        const knocker = fam === 'ip' ? c.knocker.ip : c.knocker.ip6;
        if (loadable(cmd.spec, fam, knocker) !== null) specs.push({ spec: cmd.spec, fam, knocker });
      }
    }
  }
  const results = new Map<Variant, ExecResult[]>();

  beforeAll(async () => {
    const execs = [
      ...fixed.map((f, id) => ({ id, ...f })),
      ...specs.map((s, i) => ({ id: 1000 + i, line: 'true', init: [(loadable(s.spec, s.fam, s.knocker) as { command: string }).command] })),
    ];
    const all = await Promise.all(VARIANTS.map((v) => runBatch(v, execs)));
    VARIANTS.forEach((v, i) => results.set(v, all[i] as ExecResult[]));
  }, 600_000);

  const get = (v: Variant, id: number): ExecResult => (results.get(v) ?? []).find((r) => r.id === id) as ExecResult;

  it.each(VARIANTS)('%s: a plain command reads back as its key; --source=ADDR is rejected (exit 2)', (v) => {
    const own = v === 'nft' ? 'nft4' : 'leg4';
    const ok = get(v, 0);
    expect(ok.rc).toBe(0);
    expect([...readSave(ok.dumps[own], 'ip', K4).keys]).toEqual([['hook=input proto=tcp dport=22 daddr=* iif=* syn=0 new=0', 1]]);
    const bad = get(v, 1);
    expect(bad.rc).toBe(2);
    expect(bad.out).toContain("host/network `--source=198.51.100.2' not found");
    expect(Object.values(bad.dumps).join('')).not.toContain('-A ');
  });

  it.each(VARIANTS)('%s: bare names and every standard directory are the variant; a bogus directory is not found', (v) => {
    const own = v === 'nft' ? ['nft4', 'nft6'] : ['leg4', 'leg6'];
    const std = get(v, 2);
    expect(std.rc).toBe(0);
    expect(std.dumps[own[0] as 'nft4']).toContain(`-A INPUT -s ${K4}/32 -j ACCEPT`);
    expect(std.dumps[own[1] as 'nft6']).toContain(`-A INPUT -s ${K6}/128 -j ACCEPT`);
    expect(get(v, 3).rc).toBe(127);
    const both = get(v, 4);
    expect(both.dumps.leg4).toContain(`-A INPUT -s ${K4}/32 -j ACCEPT`);
    expect(both.dumps.nft4).toContain(`-A FORWARD -s ${K4}/32 -j ACCEPT`);
    expect(both.dumps.nft4).not.toContain('-A INPUT');
  });

  it.each(VARIANTS)('%s: the initial state is loaded, and reset between cases', (v) => {
    const own = v === 'nft' ? 'nft4' : 'leg4';
    const del = get(v, 5);
    expect(del.initFailed).toEqual([]);
    expect(del.rc).toBe(0);
    expect([...readSave(del.dumps[own], 'ip', K4).keys]).toEqual([['hook=input proto=tcp dport=22 daddr=* iif=* syn=0 new=0', 1]]);
    expect([...readSave(get(v, 6).dumps[own], 'ip', K4).keys]).toEqual([['hook=input proto=tcp dport=22 daddr=* iif=* syn=0 new=0', 1]]);
  });

  it.each(VARIANTS)(`%s: every loadable generated spec (${specs.length}) loads with its canonical command and reads back as its key`, (v) => {
    expect(specs.length).toBeGreaterThan(100);
    const own = (fam: Fam): 'nft4' | 'nft6' | 'leg4' | 'leg6' => `${v === 'nft' ? 'nft' : 'leg'}${fam === 'ip' ? '4' : '6'}` as 'nft4';
    const bad: string[] = [];
    specs.forEach((s, i) => {
      const r = get(v, 1000 + i);
      const l = loadable(s.spec, s.fam, s.knocker) as { key: string; command: string };
      const read = readSave(r.dumps[own(s.fam)], s.fam, s.knocker);
      if (r.initFailed.length > 0 || read.unknown.length > 0 || read.keys.get(l.key) !== 1 || read.keys.size !== 1) {
        bad.push(`${renderCmd(s.spec, { styles: [], order: null, quotes: null })} -> ${l.command} -> ${JSON.stringify([...read.keys])} ${read.unknown.join(' ')} ${r.initFailed.join(' ')}`);
      }
    });
    expect(bad).toEqual([]);
  });
});
