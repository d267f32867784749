// Golden files for the iptables target: every fixture compiles, for IPv4 and
// IPv6, to the reference rulesets under test/golden/iptables/, and every
// reference passes `iptables-restore --test --noflush` (ip6tables-restore for
// IPv6) with both iptables-nft and iptables-legacy. As root, each is also
// loaded for real into a scratch network namespace, twice, next to rules of
// "the user's" that must stay untouched. Refresh with: npm run golden:refresh
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/frontend/load.js';
import { compileIptables, IPTABLES_DEFAULTS, type IptablesOptions } from '../../src/targets/iptables/generate.js';
import { IptablesError, logPrefix, LOG_PREFIX_MAX } from '../../src/targets/iptables/ruleset.js';

const FIXTURES = 'fixtures';
const GOLDEN = 'test/golden/iptables';
const update = process.env.KNOCKC_UPDATE_GOLDEN === '1';
const CI = process.env.CI === 'true';
const SBIN = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];
const which = (tool: string): string | undefined => SBIN.map((d) => join(d, tool)).find((p) => existsSync(p));
const isRoot = process.getuid?.() === 0;
const ipPath = which('ip');

type Fam = '4' | '6';
const FAMS: Fam[] = ['4', '6'];
const tool = (f: Fam): string => (f === '4' ? 'iptables' : 'ip6tables');
/** The restore commands each golden file must pass: the distribution's default and both variants. */
const RESTORES = (f: Fam): string[] => [`${tool(f)}-restore`, `${tool(f)}-nft-restore`, `${tool(f)}-legacy-restore`];

const variants: Array<{ suffix: string; opts: Partial<IptablesOptions> }> = [
  { suffix: '', opts: {} },
  { suffix: '.guard-log', opts: { guard: true, log: true, iface: 'eth0' } },
];

function compileFixture(file: string, fam: Fam, opts: Partial<IptablesOptions>): string | null {
  const r = parseConfigText(readFileSync(join(FIXTURES, file), 'utf8'), { file: `fixtures/${file}` });
  if (!r.config) return null;
  return compileIptables(r.config, { ...IPTABLES_DEFAULTS, ...opts, family: fam === '4' ? 'ip' : 'ip6', version: 'GOLDEN', source: `fixtures/${file}` }).text;
}

const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.conf')).sort();
const goldenPath = (f: string, suffix: string, fam: Fam): string => join(GOLDEN, `${basename(f, '.conf')}${suffix}.v${fam}.rules`);

describe('iptables golden files', () => {
  it('has fixtures to compile', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(10);
  });
  if (CI) {
    for (const f of FAMS) {
      for (const r of RESTORES(f)) it(`has ${r} in CI`, () => expect(which(r), `${r} is not installed: CI must install iptables`).toBeDefined());
    }
  }

  for (const f of fixtures) {
    for (const v of variants) {
      for (const fam of FAMS) {
        const golden = goldenPath(f, v.suffix, fam);
        it(`${f}${v.suffix} IPv${fam}`, () => {
          const text = compileFixture(f, fam, v.opts);
          // Every fixture is a config knockd accepts: all of them compile.
          expect(text).not.toBeNull();
          if (update || !existsSync(golden)) {
            mkdirSync(GOLDEN, { recursive: true });
            if (update) writeFileSync(golden, text!);
          }
          expect(existsSync(golden), `missing ${golden}: run npm run golden:refresh`).toBe(true);
          expect(text).toBe(readFileSync(golden, 'utf8'));
          // iptables-restore --test needs root (it reads the kernel's tables); CI runs as root.
          for (const cmd of isRoot || CI ? RESTORES(fam) : []) {
            const path = which(cmd);
            if (!path) continue;
            const r = spawnSync(path, ['--test', '--noflush'], { input: text!, encoding: 'utf8' });
            expect(r.stderr, cmd).toBe('');
            expect(r.status, cmd).toBe(0);
          }
        });
      }
    }
  }
});

describe('configs beyond the seeds', () => {
  const compileText = (text: string, fam: Fam = '4'): string => {
    const r = parseConfigText(text, { file: 'test.conf' });
    expect(r.config, JSON.stringify(r.diagnostics)).toBeDefined();
    return compileIptables(r.config!, { ...IPTABLES_DEFAULTS, family: fam === '4' ? 'ip' : 'ip6', version: 'TEST', source: 'test.conf' }).text;
  };
  const restoreTest = (text: string, fam: Fam): void => {
    const path = which(`${tool(fam)}-restore`);
    if (!path || !(isRoot || CI)) return;
    const r = spawnSync(path, ['--test', '--noflush'], { input: text, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  };

  it('tracks knocks to a Target and grants on FORWARD from the FORWARD hook', () => {
    const text = compileText(
      [
        '[fwd]',
        'sequence = 7000,8000:udp',
        'target = 198.51.100.9',
        'start_command = iptables -I FORWARD -s %IP% -d 198.51.100.9 -p tcp -m multiport --dports 22,80,443,8000:8100 -j ACCEPT',
        'cmd_timeout = 60',
        'stop_command = iptables -D FORWARD -s %IP% -d 198.51.100.9 -p tcp -m multiport --dports 22,80,443,8000:8100 -j ACCEPT',
        '',
      ].join('\n'),
    );
    expect(text).toContain('#   iptables -C FORWARD -j knockc_forward 2>/dev/null || iptables -I FORWARD 1 -j knockc_forward\n');
    // FORWARD: the knock ports (called: tracking, then on), then the forwarded grant.
    expect(text).toContain('-A knockc_forward -p tcp --dport 7000 -j knockc_vis4_t7000\n-A knockc_forward -p udp --dport 8000 -j knockc_vis4_u8000\n');
    expect(text).toMatch(/^-A knockc_forward -d 198\.51\.100\.9 -p tcp -m multiport --dports 22,80,443,8000:8100 -m recent --name knockc_grant4_[0-9a-f]{12} --rcheck --seconds 60 /m);
    // A Target may also be one of this host's addresses: INPUT tracks knocks too, but grants nothing.
    expect(text).toMatch(/^# knockc_input: .*\n-A knockc_input -p tcp --dport 7000 -j knockc_vis4_t7000\n-A knockc_input -p udp --dport 8000 -j knockc_vis4_u8000\n\n/m);
    restoreTest(text, '4');
  });

  it('names xt_recent lists after what they hold, so reloads carry state only where it means the same', () => {
    const door = (name: string, seq: string, port: number, t = 30): string =>
      `[${name}]\nsequence = ${seq}\nstart_command = iptables -A INPUT -s %IP% -p tcp --dport ${port} -j ACCEPT\ncmd_timeout = ${t}\nstop_command = iptables -D INPUT -s %IP% -p tcp --dport ${port} -j ACCEPT\n`;
    const lists = (text: string): string[] => [...new Set([...text.matchAll(/--name (\S+)/g)].map((m) => m[1]!))].sort();
    const ab = compileText(door('ssh', '1,2,3', 22) + door('web', '4,5', 443));
    const ba = compileText(door('web', '4,5', 443) + door('ssh', '1,2,3', 22));
    expect(lists(ab)).toHaveLength(3 + 2 + 2);
    expect(lists(ba)).toEqual(lists(ab));
    // A new cmd_timeout is a new grant list: nothing granted under the old one carries over.
    const longer = compileText(door('ssh', '1,2,3', 22, 60) + door('web', '4,5', 443));
    expect(lists(longer).filter((l) => !lists(ab).includes(l))).toHaveLength(1);
    // Identical doors still get lists of their own.
    const twins = compileText(door('ssh', '1,2', 22) + door('ssh', '1,2', 22));
    expect(lists(twins).filter((l) => l.endsWith('_2'))).toHaveLength(2);
  });

  it('refuses timeouts xt_recent cannot count, at their line', () => {
    const conf = (seq: number, cmd: number): string =>
      `[long]\nsequence = 1,2\nseq_timeout = ${seq}\nstart_command = iptables -A INPUT -s %IP% -j ACCEPT\ncmd_timeout = ${cmd}\nstop_command = iptables -D INPUT -s %IP% -j ACCEPT\n`;
    expect(() => compileText(conf(5, 4294968))).toThrow(IptablesError);
    expect(() => compileText(conf(5, 4294968))).toThrow(/^test\.conf:5:15: cmd_timeout 4294968 of \[long\]/);
    expect(() => compileText(conf(4294968, 10))).toThrow(/^test\.conf:3:15: seq_timeout 4294968/);
    expect(compileText(conf(4294967, 4294967))).toContain('--seconds 4294967');
  });
});

describe('log prefixes fit the LOG target', () => {
  it('keeps short prefixes whole', () => {
    expect(logPrefix('door0: Stage 2')).toBe('knockc door0: Stage 2 ');
  });
  it('shortens the door name, never the event', () => {
    const p = logPrefix('opencloseSSH: OPEN SESAME');
    expect(Buffer.byteLength(p)).toBeLessThanOrEqual(LOG_PREFIX_MAX);
    expect(p).toBe('knockc openclo~: OPEN SESAME ');
    const u = logPrefix('ouvre-la-porte-été: Stage 12');
    expect(Buffer.byteLength(u)).toBeLessThanOrEqual(LOG_PREFIX_MAX);
    expect(u.endsWith('~: Stage 12 ')).toBe(true);
  });
});

// Real loads: kernel-side checks (hook masks, xt_recent names and options) only run on commit.
const canLoad = isRoot && ipPath !== undefined;
describe.skipIf(!canLoad && !CI)('iptables rulesets load for real, twice, and touch nothing else', () => {
  const impls = ['nft', 'legacy'] as const;
  const ns = (impl: string): string => `knockc-ipt-${process.pid}-${impl}`;
  const inNs = (impl: string, cmd: string[], input?: string) =>
    spawnSync(ipPath!, ['netns', 'exec', ns(impl), ...cmd], { input, encoding: 'utf8' });
  const USER_RULES: Record<Fam, string[]> = {
    '4': ['-A INPUT -s 198.51.100.99/32 -j DROP', '-A INPUT -p tcp -m tcp --dport 22 -j DROP', '-A FORWARD -j user_fwd'],
    '6': ['-A INPUT -s 2001:db8::99/128 -j DROP', '-A INPUT -p tcp -m tcp --dport 22 -j DROP', '-A FORWARD -j user_fwd'],
  };

  beforeAll(() => {
    expect(canLoad, 'loading needs root and iproute2').toBe(true);
    for (const impl of impls) {
      spawnSync(ipPath!, ['netns', 'del', ns(impl)]);
      expect(spawnSync(ipPath!, ['netns', 'add', ns(impl)]).status).toBe(0);
      for (const fam of FAMS) {
        const t = `${tool(fam)}-${impl}`;
        expect(inNs(impl, [t, '-N', 'user_fwd']).status).toBe(0);
        for (const r of USER_RULES[fam]) expect(inNs(impl, [t, ...r.split(' ')]).status, r).toBe(0);
      }
    }
  });
  afterAll(() => {
    for (const impl of impls) spawnSync(ipPath!, ['netns', 'del', ns(impl)]);
  });

  /** The header's loading steps, as a user would run them. */
  function load(impl: string, fam: Fam, text: string): void {
    const t = `${tool(fam)}-${impl}`;
    const r = inNs(impl, [`${t}-restore`, '--noflush'], text);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const m of text.matchAll(/^# {3}\S+ -C (INPUT|FORWARD) -j (knockc_\w+) /gm)) {
      if (inNs(impl, [t, '-C', m[1]!, '-j', m[2]!]).status !== 0) expect(inNs(impl, [t, '-I', m[1]!, '1', '-j', m[2]!]).status).toBe(0);
    }
  }
  const save = (impl: string, fam: Fam): string =>
    inNs(impl, [`${tool(fam)}-${impl}-save`, '-t', 'filter']).stdout.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/, '')).join('\n');

  for (const impl of impls) {
    for (const fam of FAMS) {
      it(`every fixture with iptables-${impl}, IPv${fam}`, () => {
        for (const f of fixtures) {
          for (const v of variants) {
            const text = compileFixture(f, fam, v.opts)!;
            load(impl, fam, text);
            const once = save(impl, fam);
            load(impl, fam, text);
            const twice = save(impl, fam);
            expect(twice, `${f}${v.suffix}: second load changed the ruleset`).toBe(once);
            const input = once.split('\n').filter((l) => l.startsWith('-A INPUT'));
            expect(input, `${f}${v.suffix}`).toEqual(['-A INPUT -j knockc_input', ...USER_RULES[fam].filter((r) => r.startsWith('-A INPUT'))]);
            for (const r of USER_RULES[fam]) expect(once).toContain(r);
            // Every chain of this file is there with exactly its rules (chains of earlier files may stay).
            for (const m of text.matchAll(/^:(knockc_\w+) /gm)) {
              const rules = (s: string): number => s.split('\n').filter((l) => l.startsWith(`-A ${m[1]} `)).length;
              expect(once, `${f}${v.suffix}`).toContain(`:${m[1]} -`);
              expect(rules(once), `${f}${v.suffix} ${m[1]}`).toBe(rules(text));
            }
          }
        }
      });
    }
  }
});
