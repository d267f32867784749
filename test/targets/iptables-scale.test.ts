// Traffic that is not a knock walks few iptables rules however many doors:
// the knock-port and granted-port dispatches of a large config are search
// trees over port ranges (iptables has no verdict maps). Counted with the
// interpreter of the generated rules (ipt-machine.ts) on the benchmark's own
// configs (bench/lib.ts doorsConfig: 3 knock ports and 1 granted port per
// door). The trees are at most DISPATCH_LEVELS deep, because nf_tables
// refuses rulesets nested more than 15 chains deep (CHAIN_DEPTH_MAX): as
// root, the 1000-door rules are loaded and hooked into INPUT for real, with
// iptables-nft and iptables-legacy, in a scratch network namespace.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { doorsConfig } from '../../bench/lib.js';
import { parseConfigText } from '../../src/frontend/load.js';
import type { Packet } from '../../src/model/packet.js';
import { CHAIN_DEPTH_MAX, DISPATCH_LEVELS, DISPATCH_LINEAR_MAX, type IptRuleset } from '../../src/targets/iptables/ruleset.js';
import { chainDepth } from '../../src/targets/iptables/dispatch.js';
import { compileIptables, IPTABLES_DEFAULTS } from '../../src/targets/iptables/generate.js';
import { toRuleset } from '../../src/targets/iptables/translate.js';
import { IptMachine } from './ipt-machine.js';

const packet = (proto: 'tcp' | 'udp', port: number, family: 'ip' | 'ip6' = 'ip'): Packet => ({
  time: 1,
  family,
  src: family === 'ip' ? '198.51.100.2' : '2001:db8::2',
  dst: family === 'ip' ? '198.51.100.1' : '2001:db8::1',
  dstLocal: true,
  iif: 'eth0',
  proto,
  port,
  flags: proto === 'tcp' ? ['syn'] : [],
  ctNew: true,
});

const compiled = new Map<string, ReturnType<typeof compileIptables>>();
function compile(doors: number, guard: boolean, family: 'ip' | 'ip6' = 'ip'): ReturnType<typeof compileIptables> {
  const key = `${doors}/${guard}/${family}`;
  let r = compiled.get(key);
  if (!r) {
    const parsed = parseConfigText(doorsConfig(doors), { file: `doors-${doors}.conf` });
    if (!parsed.config) throw new Error('doorsConfig rejected');
    r = compileIptables(parsed.config, { ...IPTABLES_DEFAULTS, family, guard, iface: 'eth0', version: 'TEST', source: `doors-${doors}.conf` });
    compiled.set(key, r);
  }
  return r;
}

/** Knock ports of doorsConfig(n): door i knocks 10000+3i (tcp), +1 (udp), +2 (tcp); it grants tcp/40000+i. */
function isKnock(n: number, proto: 'tcp' | 'udp', port: number): boolean {
  const off = port - 10000;
  if (off < 0 || off >= 3 * n) return false;
  return proto === 'udp' ? off % 3 === 1 : off % 3 !== 1;
}

/** Not knocks: the benchmark's udp/5353, well-known ports, every port around and between the knock and grant ports. */
function nonKnocks(n: number): Packet[] {
  const out: Packet[] = [packet('udp', 5353), packet('tcp', 80), packet('tcp', 22), packet('udp', 65535), packet('tcp', 1)];
  for (const proto of ['tcp', 'udp'] as const) {
    for (let port = 9990; port < 10000 + 3 * n + 10; port++) if (!isKnock(n, proto, port)) out.push(packet(proto, port));
  }
  // Granted ports, from a source without the grant (the guard drops them, the default lets them on).
  for (let port = 39990; port < 40000 + n + 10; port++) out.push(packet('udp', port), packet('tcp', port));
  return out;
}

/** The most rules one packet of `ps` walks. */
function worst(ruleset: IptRuleset, ps: readonly Packet[]): number {
  let rules = 0;
  for (const p of ps) {
    // A fresh machine per packet: no state carried over (these packets change none anyway).
    const m = new IptMachine(ruleset);
    m.run(p);
    rules = Math.max(rules, m.evaluated);
  }
  return rules;
}

/** Rules a packet walks in a tree of `entries` entries of its protocol, at most: the span rule, a few range rules per level, the leaves. */
function treeWalk(entries: number): number {
  if (entries <= DISPATCH_LINEAR_MAX) return entries;
  let groups = 2;
  while (groups ** (DISPATCH_LEVELS - 1) * DISPATCH_LINEAR_MAX < entries) groups++;
  return 1 + (DISPATCH_LEVELS - 1) * groups + DISPATCH_LINEAR_MAX;
}
/** Rules a packet of the other protocol walks past: the span rule, or the few entries. */
const spanWalk = (entries: number): number => Math.min(entries, DISPATCH_LINEAR_MAX + 1) > DISPATCH_LINEAR_MAX ? 1 : entries;

describe('iptables: per-packet cost of non-knock traffic vs doors', () => {
  for (const guard of [true, false]) {
    it(`${guard ? '--guard' : 'default'}: a few dozen rules at most from 1 to 1000 doors, thousands with one rule per port`, () => {
      for (const n of [1, 10, 100, 1000]) {
        const r = compile(n, guard);
        // knockc_input is one dispatch over the knock ports and the granted ports: the tcp tree
        // (2n knock ports and n granted ports) then the udp span rule, or the tcp span rule then
        // the udp tree (n knock ports); then a granted port's own chain (accept, guard).
        const bound = Math.max(treeWalk(3 * n) + spanWalk(n), spanWalk(3 * n) + treeWalk(n)) + 2;
        const walked = worst(r.ruleset, nonKnocks(n));
        expect(walked, `${n} doors: ${walked} rules, at most ${bound}`).toBeLessThanOrEqual(bound);
        if (n === 1000) {
          expect(walked).toBeLessThanOrEqual(60);
          // The same program with its dispatches walked one rule per entry (the old rendering).
          const linear = worst(toRuleset(r.program, 'ip', { dispatchLevels: 0 }), [packet('udp', 5353), packet('tcp', 80)]);
          expect(linear).toBeGreaterThanOrEqual(4000);
          // The benchmark's flood (udp/5353), below every knock and granted port: no more rules than with 1 door.
          expect(worst(r.ruleset, [packet('udp', 5353)])).toBeLessThanOrEqual(worst(compile(1, guard).ruleset, [packet('udp', 5353)]));
        }
        expect(chainDepth(r.ruleset.chains)).toBeLessThanOrEqual(CHAIN_DEPTH_MAX);
      }
      // Five compiles of up to 1000 doors: seconds on an idle machine, far more beside other suites.
    }, 90_000);
  }

  it('still opens a door of the 1000, and the dispatches still lead every port to its chain', () => {
    const r = compile(1000, true);
    const m = new IptMachine(r.ruleset);
    const src = '198.51.100.7';
    const at = (proto: 'tcp' | 'udp', port: number, time: number): Packet => ({ ...packet(proto, port), src, time });
    // Door 777: 12331/tcp, 12332/udp, 12333/tcp; it grants tcp/40777.
    expect(m.run(at('tcp', 40777, 1))).toBe('drop');
    ([['tcp', 12331], ['udp', 12332], ['tcp', 12333]] as const).forEach(([proto, port], i) => expect(m.run(at(proto, port, 2 + i))).toBe('continue'));
    expect(m.run(at('tcp', 40777, 6))).toBe('accept');
    expect(m.run(at('tcp', 40778, 6))).toBe('drop');
    expect(m.run({ ...at('tcp', 40777, 6), src: '198.51.100.8' })).toBe('drop');
  });

  it('keeps chain names within 28 characters and the nesting within CHAIN_DEPTH_MAX, shallower trees when it must', () => {
    const r = compile(1000, true);
    for (const c of r.ruleset.chains) expect(c.name.length, c.name).toBeLessThanOrEqual(28);
    expect(r.ruleset.chains.some((c) => /^knockc_input_t\d+-\d+$/.test(c.name))).toBe(true);
    // Deeper trees would nest too deep: the generator falls back to fewer levels.
    const deep = toRuleset(r.program, 'ip', { dispatchLevels: 10 });
    expect(chainDepth(deep.chains)).toBeLessThanOrEqual(CHAIN_DEPTH_MAX);
    expect(chainDepth(toRuleset(r.program, 'ip', { dispatchLevels: 0 }).chains)).toBeLessThan(chainDepth(r.ruleset.chains));
  });
});

// ---------------------------------------------------------------------------------------------
// The real kernel: nf_tables checks the nesting when the chains are hooked into INPUT.

const SBIN = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];
const which = (tool: string): string | undefined => SBIN.map((d) => join(d, tool)).find((p) => existsSync(p));
const ipPath = which('ip');
const canNetns = process.getuid?.() === 0 && ipPath !== undefined;

describe.skipIf(!canNetns && process.env.CI !== 'true')('iptables: many doors in a real kernel', () => {
  for (const variant of ['nft', 'legacy'] as const) {
    // iptables-legacy has no nesting limit, and takes ~20 s to load 1000 doors: 100 (as deep) is enough there.
    const doors = variant === 'nft' ? 1000 : 100;
    for (const family of ['ip', 'ip6'] as const) {
      it(`iptables-${variant}, IPv${family === 'ip' ? 4 : 6}, ${doors} doors: loads, and hooks into INPUT behind two chains of the user's`, () => {
        const tool = `${family === 'ip' ? 'iptables' : 'ip6tables'}-${variant}`;
        const restore = which(`${tool}-restore`);
        const cmd = which(tool);
        if (!restore || !cmd) {
          expect(process.env.CI, `${tool} is not installed`).not.toBe('true');
          return;
        }
        const ns = `knockc-scale-${process.pid}-${variant}-${family}`;
        const sh = (args: string[], input?: string): { status: number | null; stderr: string } => {
          const r = spawnSync(ipPath!, ['netns', 'exec', ns, ...args], { input, encoding: 'utf8' });
          return { status: r.status, stderr: r.stderr };
        };
        expect(spawnSync(ipPath!, ['netns', 'add', ns]).status).toBe(0);
        try {
          const r = compile(doors, true, family);
          expect(chainDepth(r.ruleset.chains)).toBe(chainDepth(compile(1000, true, family).ruleset.chains));
          const text = r.text;
          const loaded = sh([restore, '--noflush'], text);
          expect(loaded.stderr).toBe('');
          expect(loaded.status).toBe(0);
          // The user's INPUT -> u1 -> u2 -> knockc_input: the nesting nf_tables checks on this insert.
          for (const c of ['u1', 'u2']) expect(sh([cmd, '-N', c]).status).toBe(0);
          expect(sh([cmd, '-A', 'u1', '-j', 'u2']).status).toBe(0);
          expect(sh([cmd, '-A', 'u2', '-j', 'knockc_input']).stderr).toBe('');
          const hooked = sh([cmd, '-I', 'INPUT', '1', '-j', 'u1']);
          expect(hooked.stderr).toBe('');
          expect(hooked.status).toBe(0);
        } finally {
          spawnSync(ipPath!, ['netns', 'del', ns]);
        }
      }, 120_000);
    }
  }
});
