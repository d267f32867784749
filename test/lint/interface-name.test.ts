// Interface names reach rule text: `Interface` in [options] (KC116) and the
// CLI's --interface are checked against Linux's rules for names
// (dev_valid_name) plus what cannot be written safely into nft / iptables
// rules; the targets check again before writing (defence in depth). Each
// reproduced case of issue 14 (item 7) is a named test, through the built CLI
// (lint: code, line:col, exit 1; compile: exit 1 and nothing written with -o;
// --interface: exit 2, no stack trace). The real knockd, run as it would be
// on such a config (no -i), does not start either.
// Real nft / iptables-restore on every valid name: test/targets/interface-netns.test.ts.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interfaceNameError, interfaceNameProblem, looksLikeTemplate } from '../../src/frontend/interface-name.js';
import { parseConfigText } from '../../src/frontend/load.js';
import { lintParsed } from '../../src/lint/lint.js';
import { compileIptables, IPTABLES_DEFAULTS } from '../../src/targets/iptables/generate.js';
import { IptablesError } from '../../src/targets/iptables/ruleset.js';
import { iptIfname } from '../../src/targets/iptables/render.js';
import { compileNft, NFT_DEFAULTS, NftError, nftIfname } from '../../src/targets/nft/generate.js';
import { ensureBuilt, knockcAsync, pool, type CliRun } from '../cli/built.js';
import { KNOCKD_BIN } from '../compat/run-knockd.js';
import { toolPath } from '../netns-env.js';

/** The values of issue 14, item 7, and whether they read as an unrendered template. */
const CASES: ReadonlyArray<{ name: string; value: string; template: boolean; says: RegExp }> = [
  { name: 'injection eth0" accept #', value: 'eth0" accept #', template: false, says: /contains a quote \('"'\)/ },
  { name: 'Jinja {{ network_interface }}', value: '{{ network_interface }}', template: true, says: /unrendered template/ },
  { name: 'shell ${PRIMARY_INTERFACE}', value: '${PRIMARY_INTERFACE}', template: true, says: /unrendered template/ },
  { name: 'quoted ""$interface""', value: '""$interface""', template: true, says: /unrendered template/ },
  { name: 'empty quotes ""', value: '""', template: false, says: /contains a quote/ },
  { name: '16 bytes', value: 'abcdefghijklmnop', template: false, says: /16 bytes long, over 15.*Linux allows no such name/ },
  { name: 'a/b', value: 'a/b', template: false, says: /contains '\/'.*Linux allows no such name/ },
  { name: 'a:b', value: 'a:b', template: false, says: /contains ':'.*Linux allows no such name/ },
];

/** The Interface value starts at line 2, column 17. */
const config = (iface: string): string =>
  ['[options]', `    Interface = ${iface}`, '', '[openSSH]', '    sequence = 7000,8000,9000', '    seq_timeout = 5',
    '    start_command = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT', '    cmd_timeout = 10',
    '    stop_command = /sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT', '', '[web]', '    sequence = 7001',
    '    target = 198.51.100.7', '    start_command = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 80 -j ACCEPT', ''].join('\n');

const CLEAN = config('eth0');
const STACK = /^\s+at /m;

let tmp = '';
beforeAll(() => {
  ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'knockc-iface-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const write = (name: string, text: string): string => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};

function noTrace(r: CliRun): void {
  expect(r.stderr).not.toMatch(STACK);
  expect(r.stderr).not.toContain('internal error');
}

describe('Interface in [options]: KC116 at the value (front end)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const parsed = parseConfigText(config(c.value), { file: 'x.conf' });
      expect(parsed.config).toBeNull();
      const ds = lintParsed(parsed).filter((d) => d.severity === 'error');
      expect(ds.map((d) => [d.code, d.range.start.line, d.range.start.col])).toEqual([['KC116', 2, 17]]);
      expect(ds[0]!.message).toMatch(c.says);
      expect(ds[0]!.message).toContain(JSON.stringify(c.value));
      expect(looksLikeTemplate(c.value)).toBe(c.template);
    });
  }

  it('knockd keeps the first non-empty Interface; an empty one is as good as none', () => {
    const two = parseConfigText(CLEAN.replace('    Interface = eth0', '    Interface = \n    Interface = eth1\n    Interface = {{ x }}'), { file: 'x.conf' });
    expect(two.config?.options.interface.value).toBe('eth1');
    const empty = parseConfigText(CLEAN.replace('    Interface = eth0', '    Interface ='), { file: 'x.conf' });
    expect(empty.config?.options.interface.value).toBeNull();
    expect(lintParsed(empty).map((d) => d.code)).toContain('KC403');
  });

  it('names Linux allows and knockc can write pass (eth0, wlp3s0, br-lan, veth1@x, 15 bytes)', () => {
    for (const n of ['eth0', 'wlp3s0', 'br-lan', 'enp0s31f6.100', 'veth1@x', 'wg_0', 'a', '...', '-x', 'abcdefghijklmno', '#!%&()', 'a+b', 'a*b']) {
      expect(interfaceNameProblem(n), n).toBeNull();
      expect(parseConfigText(config(n), { file: 'x.conf' }).config?.options.interface.value, n).toBe(n);
    }
  });

  it('refused: what Linux refuses, what the rule syntaxes cannot hold, wildcards', () => {
    const linux = ['', '.', '..', 'a b', 'a\tb', 'a/b', 'a:b', 'x'.repeat(16)];
    const ours = ['a"b', "a'b", 'a`b', 'a\\b', 'a$b', 'a{b', 'a}b', 'eth+', 'eth*', 'a\u0001b', 'a\u007fb', 'é'];
    for (const n of linux) expect(interfaceNameProblem(n)?.linux, JSON.stringify(n)).toBe(true);
    for (const n of ours) expect(interfaceNameProblem(n)?.linux, JSON.stringify(n)).toBe(false);
  });

  it('property: a value with a byte outside the allowed set, or over 15 bytes, is always refused', () => {
    const bad = fc.oneof(
      fc.tuple(fc.string({ maxLength: 7 }), fc.constantFrom(' ', '\t', '\n', '/', ':', '"', "'", '`', '\\', '$', '{', '}', '\0', '\u00e9', '\u2028'), fc.string({ maxLength: 7 }))
        .map(([a, c, b]) => a + c + b),
      fc.string({ unit: fc.constantFrom('a', 'b', '0', '-'), minLength: 16, maxLength: 40 }),
    );
    fc.assert(fc.property(bad, (v) => interfaceNameError(v, 'Interface') !== null), { numRuns: 2000 });
  });
});

describe('the targets check again before writing (defence in depth)', () => {
  const cfg = parseConfigText(CLEAN, { file: 'x.conf' }).config!;
  for (const c of CASES) {
    it(`${c.name}: --interface given to the generators directly`, () => {
      expect(() => compileNft(cfg, { ...NFT_DEFAULTS, iface: c.value, version: '0', source: 'x' })).toThrow(NftError);
      expect(() => compileIptables(cfg, { ...IPTABLES_DEFAULTS, iface: c.value, version: '0', source: 'x' })).toThrow(IptablesError);
    });
  }
  it('a valid name is written quoted for nft and as one word for iptables-restore', () => {
    expect(nftIfname('eth0')).toBe('"eth0"');
    expect(iptIfname('eth0')).toBe('eth0');
    const nft = compileNft(cfg, { ...NFT_DEFAULTS, iface: null, version: '0', source: 'x' }).text;
    expect(nft).toContain('iifname "eth0" fib daddr . iif type local');
    expect(nft).toContain('iifname "eth0" ip daddr 198.51.100.7');
    const ipt = compileIptables(cfg, { ...IPTABLES_DEFAULTS, iface: null, version: '0', source: 'x' }).text;
    expect(ipt).toContain('-i eth0 -m addrtype --dst-type LOCAL --limit-iface-in');
    expect(ipt).toContain('-i eth0 -d 198.51.100.7');
  });
});

describe('through the built CLI', () => {
  for (const c of CASES) {
    it(`lint, compile (nft, iptables): ${c.name}`, async () => {
      const file = write(`${c.name.replace(/\W+/g, '_')}.conf`, config(c.value));
      const lint = await knockcAsync(['lint', file]);
      noTrace(lint);
      expect(lint.status).toBe(1);
      expect(lint.stdout).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:17: error: Interface .* \\[KC116\\]$`, 'm'));
      expect(lint.stdout).toMatch(c.says);
      for (const target of ['nft', 'iptables']) {
        const out = join(tmp, `${c.name.replace(/\W+/g, '_')}.${target}`);
        const r = await knockcAsync(['compile', '--target', target, '-o', out, file]);
        noTrace(r);
        expect(r.status, r.stderr).toBe(1);
        expect(r.stderr).toContain(`${file}:2:17: error: `);
        expect(r.stdout).toBe('');
        expect(existsSync(out)).toBe(false);
      }
    });
  }

  it('--interface: the same values are a usage error (exit 2); nothing is written, apply changes nothing', async () => {
    const file = write('clean.conf', CLEAN);
    const runs = await pool(CASES, 4, async (c) => {
      const out = join(tmp, `opt_${c.name.replace(/\W+/g, '_')}.nft`);
      const compile = await knockcAsync(['compile', '--interface', c.value, '-o', out, file]);
      const lint = await knockcAsync(['lint', '--interface', c.value, file]);
      // Refused before anything touches the host (no root needed, no netns: nothing is run).
      const apply = await knockcAsync(['apply', '--dry-run', '--interface', c.value, file]);
      return { c, out, compile, lint, apply };
    });
    for (const { c, out, compile, lint, apply } of runs) {
      for (const r of [compile, lint, apply]) {
        noTrace(r);
        expect(r.status, `${c.name}: ${r.stderr}`).toBe(2);
        expect(r.stderr.split('\n')[0]).toBe(`knockc: ${interfaceNameError(c.value, '--interface')}`);
      }
      expect(existsSync(out)).toBe(false);
      expect(apply.stderr).toMatch(/nothing was changed\n$/);
      if (c.template) expect(compile.stderr).toContain('looks like an unrendered template');
    }
    expect(readdirSync(tmp).filter((n) => n.startsWith('opt_'))).toEqual([]);
  });

  it('--interface "" is refused too (an unset shell variable)', async () => {
    const r = await knockcAsync(['compile', '--interface', '', write('clean2.conf', CLEAN)]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('knockc: --interface "" is not an interface name: it is empty (Linux allows no such name, so knockd would not start)\n');
  });
});

// ------------------------------------------------------------------ the real knockd

const inCI = process.env.CI === 'true';
const UNSHARE = toolPath('unshare');
function whyNoKnockd(): string | null {
  try {
    accessSync(KNOCKD_BIN, constants.X_OK);
  } catch {
    return `${KNOCKD_BIN} is not installed (apt-get install knockd)`;
  }
  if (process.getuid?.() !== 0) return 'knockd needs root';
  if (UNSHARE === undefined) return 'unshare (util-linux) is missing';
  return null;
}
const noKnockd = whyNoKnockd();
if (noKnockd !== null && inCI) throw new Error(`the knockd check of KC116 needs knockd, root and unshare under CI: ${noKnockd}`);

describe.skipIf(noKnockd !== null)('the real knockd on these configs (no -i, so Interface counts; scratch network namespace)', () => {
  for (const c of CASES) {
    it(`does not start: ${c.name}`, () => {
      const file = write(`knockd_${c.name.replace(/\W+/g, '_')}.conf`, config(c.value));
      // Foreground: knockd exits at once when pcap cannot open the interface; a start would be killed at 4 s.
      const r = spawnSync(UNSHARE!, ['-n', 'timeout', '4', KNOCKD_BIN, '-D', '-v', '-c', file], { encoding: 'utf8', cwd: tmp });
      expect(r.status, r.stdout + r.stderr).toBe(1);
      expect(r.stdout + r.stderr).toMatch(/could not open /);
    });
  }
});
