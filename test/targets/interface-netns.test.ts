// Every interface name knockc accepts (generated from Linux's rules, dev_valid_name, minus what
// knockc refuses: see src/frontend/interface-name.ts) compiles, from `Interface = NAME` in a
// knockd.conf, into files the real tools accept: `nft -c -f`, `iptables-restore --test`,
// `ip6tables-restore --test`. Then the files are loaded and read back (nft -j list ruleset,
// iptables-save): every interface match names exactly that interface. Each run of the tools is
// in a throwaway network namespace (unshare -n): nothing on the host is touched.
// Needs root, unshare, nft, iptables-restore, ip6tables-restore, iptables-save; under CI=true
// their absence fails the test.
//
// A failure prints the seed; replay with
//   KNOCKC_SEED=<seed> npx vitest run test/targets/interface-netns.test.ts
// (KNOCKC_IFACE_RUNS=<n> changes the number of names, default 200).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { IFNAME_CHARS, IFNAME_MAX_BYTES, interfaceNameProblem } from '../../src/frontend/interface-name.js';
import { parseConfigText } from '../../src/frontend/load.js';
import { compileIptables, IPTABLES_DEFAULTS } from '../../src/targets/iptables/generate.js';
import { compileNft, NFT_DEFAULTS } from '../../src/targets/nft/generate.js';
import { netnsReady, toolPath } from '../netns-env.js';

const ready = netnsReady('interface-name netns tests', ['unshare', 'sh', 'nft', 'iptables-restore', 'ip6tables-restore', 'iptables-save']);
const T = {
  unshare: toolPath('unshare')!,
  sh: toolPath('sh')!,
  nft: toolPath('nft')!,
  ipt: toolPath('iptables-restore')!,
  ip6t: toolPath('ip6tables-restore')!,
  save: toolPath('iptables-save')!,
};

const SEED = process.env.KNOCKC_SEED ? Number(process.env.KNOCKC_SEED) : Math.floor(Math.random() * 0x7fffffff);
const RUNS = Number(process.env.KNOCKC_IFACE_RUNS ?? '') || 200;
/** Names whose nft file is also loaded and read back. */
const LOADED = 40;

const tmp = mkdtempSync(join(tmpdir(), 'knockc-ifnet-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Names as they come: eth0, enp3s0f1, wlp2s0, br-lan, veth12ab, wg0, bond0.100 ... */
const realistic = fc
  .tuple(fc.constantFrom('eth', 'enp', 'wlp', 'br-', 'veth', 'wg', 'bond', 'tun', 'ens', 'lo', 'vlan', 'docker', 'virbr', 'ppp'), fc.nat({ max: 4095 }),
    fc.constantFrom('', 's0', 'f1', '.100', '@if2', '-nic', '_x'))
  .map(([a, n, b]) => `${a}${n}${b}`)
  .filter((n) => n.length <= IFNAME_MAX_BYTES);
/** Any 1-15 bytes of the allowed characters; "." and ".." and a trailing wildcard are not names. */
const anyName = fc
  .string({ unit: fc.constantFrom(...IFNAME_CHARS), minLength: 1, maxLength: IFNAME_MAX_BYTES })
  .filter((n) => n !== '.' && n !== '..' && !/[+*]$/.test(n));
/** The characters the target syntaxes read specially, where they bite: first, last, alone. */
const edgy = fc
  .tuple(fc.constantFrom('#', '!', '-', ';', '@', '%', '&', '|', '<', '>', '(', ')', '[', ']', ',', '=', '*', '+', '.', '~', '^', '?'), fc.string({ unit: fc.constantFrom('a', '0', '_'), maxLength: 6 }), fc.boolean())
  .map(([c, s, first]) => (first ? c + s : s + c))
  .filter((n) => n !== '.' && n !== '..' && !/[+*]$/.test(n));
const name = fc.oneof({ weight: 2, arbitrary: realistic }, { weight: 5, arbitrary: anyName }, { weight: 3, arbitrary: edgy });

/** A door on the host's own addresses (fib / addrtype on the interface) and one with a Target (-i / iifname). */
const config = (iface: string): string =>
  [
    '[options]',
    `    Interface = ${iface}`,
    '[openSSH]',
    '    sequence = 7000,8000:udp,9000',
    '    seq_timeout = 5',
    '    start_command = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
    '    cmd_timeout = 10',
    '    stop_command = /sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
    '[web]',
    '    sequence = 7001',
    '    target = 2001:db8::7',
    '    start_command = /sbin/ip6tables -A INPUT -s %IP% -p tcp --dport 80 -j ACCEPT',
    '[web4]',
    '    sequence = 7002',
    '    target = 198.51.100.7',
    '    start_command = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 80 -j ACCEPT',
    '',
  ].join('\n');

interface Compiled {
  readonly name: string;
  readonly nft: string;
  readonly ipt4: string;
  readonly ipt6: string;
}

function compileAll(n: string, i: number): Compiled {
  const parsed = parseConfigText(config(n), { file: `n${i}.conf` });
  expect(parsed.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message), JSON.stringify(n)).toEqual([]);
  expect(parsed.config!.options.interface.value).toBe(n);
  const c = parsed.config!;
  const meta = { version: 'TEST', source: `n${i}.conf` };
  return {
    name: n,
    nft: compileNft(c, { ...NFT_DEFAULTS, ...meta, table: `k${i}` }).text,
    ipt4: compileIptables(c, { ...IPTABLES_DEFAULTS, ...meta, family: 'ip' }).text,
    ipt6: compileIptables(c, { ...IPTABLES_DEFAULTS, ...meta, family: 'ip6' }).text,
  };
}

/** One shell script in one fresh network namespace. */
function inScratchNs(script: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(T.unshare, ['-n', T.sh, '-c', script], { encoding: 'utf8', maxBuffer: 256 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The names whose own file `tool` rejects (run when the batch fails, to name the culprits). */
function culprits(all: readonly Compiled[], text: (c: Compiled) => string, argv: (file: string) => string): string[] {
  return all.flatMap((c, i) => {
    const f = join(tmp, `one${i}`);
    writeFileSync(f, text(c));
    const r = inScratchNs(argv(f));
    return r.status === 0 ? [] : [`${JSON.stringify(c.name)}: ${r.stderr.trim().split('\n').slice(0, 2).join(' / ')}`];
  });
}

describe.skipIf(!ready)(`valid interface names compile into files the real nft and iptables-restore accept (seed ${SEED})`, () => {
  const names = [...new Set(fc.sample(name, { numRuns: RUNS, seed: SEED }))];
  const why = `seed ${SEED}: replay with KNOCKC_SEED=${SEED}`;

  it('every generated name is valid by knockc\'s rule (1-15 bytes of the allowed characters)', () => {
    for (const n of names) {
      expect(interfaceNameProblem(n), `${why}: ${JSON.stringify(n)}`).toBeNull();
      expect(Buffer.byteLength(n)).toBeLessThanOrEqual(IFNAME_MAX_BYTES);
    }
    expect(names.length).toBeGreaterThan(RUNS / 2);
  });

  let cache: Compiled[] | null = null;
  const compiled = (): Compiled[] => (cache ??= names.map(compileAll));

  it('nft -c -f accepts them', () => {
    const all = compiled();
    const file = join(tmp, 'all.nft');
    writeFileSync(file, all.map((c) => c.nft).join('\n'));
    const r = inScratchNs(`${q(T.nft)} -c -f ${q(file)}`);
    if (r.status !== 0) {
      const bad = culprits(all, (c) => c.nft, (f) => `${q(T.nft)} -c -f ${q(f)}`);
      expect.fail(`${why}: nft rejects ${bad.length} name(s):\n${bad.join('\n')}\n${r.stderr.slice(0, 2000)}`);
    }
  }, 120_000);

  it(`loaded by nft (the first ${LOADED} names), every iifname is exactly the name`, () => {
    // Loading costs ~50 ms a table (the check above, ~3 ms): a sample is loaded.
    const all = compiled().slice(0, LOADED);
    const file = join(tmp, 'some.nft');
    writeFileSync(file, all.map((c) => c.nft).join('\n'));
    const r = inScratchNs(`${q(T.nft)} -f ${q(file)} && ${q(T.nft)} -j list ruleset`);
    expect(r.status, `${why}: ${r.stderr.slice(0, 2000)}`).toBe(0);
    // Every string compared with iifname, per table.
    const seen = new Map<string, Set<string>>();
    const walk = (x: unknown, table: string): void => {
      if (Array.isArray(x)) {
        for (const y of x) walk(y, table);
        return;
      }
      if (x === null || typeof x !== 'object') return;
      const o = x as Record<string, unknown>;
      const m = o['match'] as { left?: { meta?: { key?: string } }; right?: unknown } | undefined;
      if (m?.left?.meta?.key === 'iifname') {
        const set = seen.get(table) ?? new Set<string>();
        set.add(typeof m.right === 'string' ? m.right : JSON.stringify(m.right));
        seen.set(table, set);
      }
      for (const v of Object.values(o)) walk(v, table);
    };
    const listed = JSON.parse(r.stdout) as { nftables: Array<{ rule?: { table: string; expr: unknown } }> };
    for (const item of listed.nftables) if (item.rule) walk(item.rule.expr, item.rule.table);
    all.forEach((c, i) => {
      expect([...(seen.get(`k${i}`) ?? [])], `${why}: ${JSON.stringify(c.name)}`).toEqual([c.name]);
    });
  }, 120_000);

  for (const [fam, tool, text] of [
    ['IPv4', 'ipt', (c: Compiled) => c.ipt4],
    ['IPv6', 'ip6t', (c: Compiled) => c.ipt6],
  ] as const) {
    it(`${tool === 'ipt' ? 'iptables' : 'ip6tables'}-restore --test accepts them (${fam})`, () => {
      const all = compiled();
      const file = join(tmp, `all.${tool}`);
      writeFileSync(file, all.map(text).join('\n'));
      const r = inScratchNs(`${q(T[tool])} --test --noflush ${q(file)}`);
      if (r.status !== 0) {
        const bad = culprits(all, text, (f) => `${q(T[tool])} --test --noflush ${q(f)}`);
        expect.fail(`${why}: ${tool} rejects ${bad.length} name(s):\n${bad.join('\n')}\n${r.stderr.slice(0, 2000)}`);
      }
    }, 120_000);
  }

  it('loaded by iptables-restore, iptables-save shows every -i as exactly the name', () => {
    const all = compiled();
    const files = all.map((c, i) => {
      const f = join(tmp, `load${i}.ipt`);
      writeFileSync(f, c.ipt4);
      return f;
    });
    // Each file refills the same knockc_* chains: save after each load.
    const script = files.map((f, i) => `${q(T.ipt)} --noflush ${q(f)} || exit 1; echo '=== ${i}'; ${q(T.save)} -t filter`).join('\n');
    const r = inScratchNs(script);
    expect(r.status, `${why}: ${r.stderr}`).toBe(0);
    const blocks = r.stdout.split(/^=== \d+\n/m).slice(1);
    expect(blocks.length).toBe(all.length);
    blocks.forEach((b, i) => {
      const ifs = new Set([...b.matchAll(/ -i (\S+)/g)].map((m) => m[1]!));
      expect([...ifs], `${why}: ${JSON.stringify(all[i]!.name)}`).toEqual([all[i]!.name]);
    });
  }, 120_000);
});
