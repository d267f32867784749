// The iptables rendering means what the IR means: an interpreter of the
// generated rules (iptables chain traversal with -j/-g/RETURN, xt_recent's
// --rcheck/--set/--remove, matches evaluated left to right and stopping at
// the first false one) runs the same random scenarios as the model-level
// equivalence test next to the IR interpreter, and must log the same stages
// and openings and let the same probes through, in both modes (default
// "accept like knockd", and --guard).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FlagName, KnockdConfig } from '../../src/frontend/config.js';
import { parseConfigText } from '../../src/frontend/load.js';
import type { Family } from '../../src/model/grant.js';
import { rule, type Match, type Program, type SetDecl } from '../../src/model/ir.js';
import { IrMachine } from '../../src/model/ir-interpreter.js';
import type { Packet } from '../../src/model/packet.js';
import { compileIptables, IPTABLES_DEFAULTS, renderIptables, TOP_CHAINS, toRuleset, type Frag, type IptChain, type IptRuleset } from '../../src/targets/iptables.js';
import { configText, GRANT_PORTS, LOCAL4, LOCAL6, scenarioArb } from '../model/random-scenarios.js';

const seed = process.env.KNOCKC_SEED ? Number(process.env.KNOCKC_SEED) : Date.now() % 2 ** 31;
const runs = Number(process.env.KNOCKC_RUNS ?? 400);

type Verdict = 'accept' | 'drop' | 'continue';

/** iptables + xt_recent, as far as knockc's rules use them. */
class IptMachine {
  private readonly chains = new Map<string, IptChain>();
  /** list -> source -> time of the newest stamp (--rcheck --seconds looks at the newest). */
  private readonly lists = new Map<string, Map<string, number>>();
  readonly log: Array<{ time: number; src: string; prefix: string }> = [];

  constructor(ruleset: IptRuleset) {
    for (const c of ruleset.chains) this.chains.set(c.name, c);
    for (const l of ruleset.lists) this.lists.set(l.name, new Map());
  }

  /** A packet on INPUT (local destination) or FORWARD, through knockc's hook there. */
  run(p: Packet): Verdict {
    const r = this.call(p.dstLocal ? TOP_CHAINS.input : TOP_CHAINS.forward, p, 0);
    return r === 'return' ? 'continue' : r;
  }

  private list(name: string): Map<string, number> {
    const l = this.lists.get(name);
    if (!l) throw new Error(`rule uses list ${name}, which the ruleset does not declare`);
    return l;
  }

  // The kernel's test is `now - stamp <= seconds` in jiffies; the IR's sets expire at `now - start >= timeout`.
  // They differ only when a packet comes exactly one timeout after the stamp, to the jiffy.
  private live(list: string, src: string, now: number, seconds: number | null): boolean {
    const t = this.list(list).get(src);
    return t !== undefined && (seconds === null || now - t < seconds);
  }

  private match(f: Frag, p: Packet): boolean {
    switch (f.k) {
      case 'iif':
        return p.iif === f.name;
      case 'daddr':
        return p.dst === f.addr;
      case 'proto':
        return p.proto === f.proto;
      case 'dport':
        return p.port >= f.lo && p.port <= f.hi;
      case 'tcp-flags':
        return f.mask.every((x) => p.flags.includes(x) === f.set.includes(x));
      case 'syn-only':
        return p.flags.includes('syn') && !p.flags.some((x) => x === 'ack' || x === 'rst' || x === 'fin');
      case 'multiport':
        return f.ranges.some((r) => p.port >= r.lo && p.port <= r.hi);
      case 'dst-local':
        return p.dstLocal;
      case 'ct-new':
        return p.ctNew;
      case 'not-ct-new':
        return !p.ctNew;
      case 'recent-check':
        return this.live(f.list, p.src, p.time, f.seconds);
      case 'recent-absent':
        return !this.live(f.list, p.src, p.time, f.seconds);
      case 'recent-set':
        this.list(f.list).set(p.src, p.time);
        return true;
      case 'recent-remove':
        return this.list(f.list).delete(p.src);
      case 'comment':
        return true;
    }
  }

  private call(name: string, p: Packet, depth: number): 'accept' | 'drop' | 'return' {
    if (depth > 64) throw new Error(`chain depth over 64 at ${name}`);
    const c = this.chains.get(name);
    if (!c) throw new Error(`no chain ${name}`);
    for (const r of c.rules) {
      // Matches run left to right; the first false one ends the rule (later --set/--remove do not run).
      if (!r.match.every((f) => this.match(f, p))) continue;
      const t = r.target;
      if (!t) continue;
      switch (t.k) {
        case 'accept':
        case 'drop':
          return t.k;
        case 'return':
          return 'return';
        case 'log':
          this.log.push({ time: p.time, src: p.src, prefix: t.prefix.replace(/^knockc /, '').replace(/ $/, '') });
          continue;
        case 'nflog':
          this.log.push({ time: p.time, src: p.src, prefix: t.prefix.replace(/^knockc /, 'notify ') });
          continue;
        case 'jump': {
          const v = this.call(t.chain, p, depth + 1);
          if (v !== 'return') return v;
          continue;
        }
        case 'goto': {
          // -g: when the target returns, so does this chain.
          return this.call(t.chain, p, depth + 1);
        }
      }
    }
    return 'return';
  }
}

function parse(text: string): KnockdConfig {
  const r = parseConfigText(text, { file: 'random.conf' });
  if (!r.config) throw new Error(`generated config rejected:\n${text}`);
  return r.config;
}

function probe(src: string, port: number, time: number): Packet {
  const v6 = src.includes(':');
  return { time, family: v6 ? 'ip6' : 'ip', src, dst: v6 ? LOCAL6 : LOCAL4, dstLocal: true, iif: 'eth0', proto: 'tcp', port, flags: ['syn'], ctNew: true };
}

describe('iptables rules behave like the IR program they render', () => {
  for (const guard of [false, true]) {
    it(`${guard ? '--guard' : 'default'}: same stages, openings and verdicts over ${runs} random scenarios (seed ${seed})`, () => {
      fc.assert(
        fc.property(scenarioArb, ({ doors, trace }) => {
          const config = parse(configText(doors));
          const machines = new Map<Family, { ir: IrMachine; ipt: IptMachine }>();
          for (const family of ['ip', 'ip6'] as const) {
            const r = compileIptables(config, { ...IPTABLES_DEFAULTS, family, guard, iface: 'eth0', log: true, version: 'TEST', source: 'random.conf' });
            machines.set(family, { ir: new IrMachine(r.program), ipt: new IptMachine(r.ruleset) });
          }
          const end = (trace[trace.length - 1]?.time ?? 0) + 12;
          let i = 0;
          for (let t = 0.25; t < end; t += 0.5) {
            while (i < trace.length && trace[i]!.time <= t) {
              const p = trace[i++]!;
              const m = machines.get(p.family)!;
              m.ir.knock(p);
              // Knock ports are never granted ports here: the grant part of the hook lets them continue.
              expect(m.ipt.run(p), `knock at t=${p.time}`).toBe(m.ir.admits(p, p.dstLocal ? 'input' : 'forward'));
            }
            for (const src of new Set(trace.map((p) => p.src))) {
              for (const port of GRANT_PORTS) {
                const p = probe(src, port, t);
                const m = machines.get(p.family)!;
                expect(m.ipt.run(p), `t=${t} ${src} port ${port}`).toBe(m.ir.admits(p));
              }
            }
          }
          for (const { ir, ipt } of machines.values()) {
            const show = (l: { time: number; src: string; prefix: string }): string => `${l.time} ${l.src} ${l.prefix}`;
            expect(ipt.log.map(show)).toEqual(ir.log.map(show));
          }
        }),
        { seed, numRuns: runs, endOnFailure: true },
      );
    }, 120_000);
  }
});

// The lowering uses few shapes (statements with no verdict or `return`); the generator handles every
// combination the IR allows. This hand-written program has one rule of each shape.
describe('every IR rule shape', () => {
  const set = (name: string, timeout: number | null): SetDecl => ({ name, family: 'ip', role: 'stage', timeout, comment: name, key: name.slice(-1) });
  const tcp = (port: number): Match[] => [{ k: 'proto', proto: 'tcp' }, { k: 'dport', port }];
  const A = 'knockc_t_a';
  const B = 'knockc_t_b';
  const G = 'knockc_t_g';
  const MAIN = 'knockc_t_main';
  const C2 = 'knockc_t_c2';
  const program: Program = {
    families: ['ip'],
    sets: [set(A, 5), set(B, 3), set(G, null)],
    chains: [
      {
        name: MAIN,
        family: 'ip',
        comment: 'every shape',
        lines: [
          rule(tcp(1), [{ k: 'set-del', set: A }, { k: 'set-add', set: B }, { k: 'log', prefix: 'goto' }], { k: 'goto', chain: C2 }),
          rule(tcp(2), [{ k: 'set-del', set: A }, { k: 'log', prefix: 'jump' }], { k: 'jump', chain: C2 }),
          rule(tcp(3), [{ k: 'set-refresh', set: A }, { k: 'set-refresh', set: B }], { k: 'accept' }),
          rule(tcp(4), [{ k: 'set-del', set: B }, { k: 'log', prefix: 'drop' }], { k: 'drop' }),
          rule(tcp(5), [{ k: 'set-refresh', set: A }], { k: 'return' }),
          rule(tcp(6), [{ k: 'set-add', set: G }, { k: 'notify', prefix: 'knockc d9', group: 7 }], { k: 'accept' }),
          rule(tcp(10), [{ k: 'set-del', set: G }], null, 'revoke'),
          rule([{ k: 'dport', port: 7 }], [{ k: 'log', prefix: 'any proto 7' }], null),
          rule([{ k: 'proto', proto: 'udp' }, { k: 'dports', ranges: Array.from({ length: 20 }, (_, i) => ({ lo: 100 + i, hi: 100 + i })) }], [{ k: 'set-refresh', set: A }], null),
          rule([{ k: 'dports', ranges: [{ lo: 200, hi: 210 }] }, { k: 'proto', proto: 'tcp' }], [{ k: 'log', prefix: 'range' }], null),
          rule([{ k: 'tcp-flags', mask: ['syn', 'ack'], set: ['syn'] }, { k: 'syn-only' }, { k: 'dport', port: 8 }], [{ k: 'log', prefix: 'flags' }], null),
          rule([{ k: 'proto', proto: 'udp' }, { k: 'tcp-flags', mask: ['syn'], set: [] }], [{ k: 'log', prefix: 'never' }], { k: 'accept' }),
          rule([{ k: 'iif', name: 'eth0' }, { k: 'dst-local', iface: 'eth0' }, { k: 'src-in', set: A }, { k: 'dport', port: 9 }, { k: 'proto', proto: 'tcp' }], [{ k: 'log', prefix: 'a live' }], null),
          { kind: 'dispatch', entries: [{ proto: 'udp', port: 11, chain: C2 }, { proto: 'tcp', port: 11, chain: C2 }] },
          rule([{ k: 'not-ct-new' }], [], { k: 'return' }),
          rule([{ k: 'src-in', set: G }, { k: 'ct-new' }], [], { k: 'accept' }),
          rule([], [{ k: 'log', prefix: 'end' }], null),
        ],
      },
      {
        name: C2,
        family: 'ip',
        comment: 'called',
        lines: [
          rule([{ k: 'src-in', set: A }], [{ k: 'log', prefix: 'c2 a' }], null),
          rule([{ k: 'src-in', set: B }], [], { k: 'return' }),
          rule([], [{ k: 'log', prefix: 'c2 end' }], null),
        ],
      },
    ],
    entries: { knock: {}, grant: { ip: { input: MAIN } } },
    runtimeDoors: [],
  };
  const ruleset = toRuleset(program, 'ip');

  const packetArb = fc.record({
    gap: fc.constantFrom(0, 0.5, 1, 2, 4),
    src: fc.constantFrom('198.51.100.2', '198.51.100.3'),
    proto: fc.constantFrom('tcp' as const, 'udp' as const),
    port: fc.constantFrom(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 100, 114, 115, 119, 120, 199, 200, 205, 210, 211),
    flags: fc.oneof(fc.constant(['syn'] as FlagName[]), fc.subarray(['fin', 'syn', 'rst', 'psh', 'ack', 'urg'] as FlagName[])),
    ctNew: fc.boolean(),
    off: fc.constantFrom(false, false, true),
  });

  type Step = { gap: number; src: string; proto: 'tcp' | 'udp'; port: number; flags: FlagName[]; ctNew: boolean; off: boolean };
  function replay(steps: readonly Step[]): void {
    const ir = new IrMachine(program);
    const ipt = new IptMachine(ruleset);
    let t = 0.5;
    for (const s of steps) {
      t += s.gap;
      const p: Packet = { time: t, family: 'ip', src: s.src, dst: '198.51.100.1', dstLocal: true, iif: s.off ? 'eth1' : 'eth0', proto: s.proto, port: s.port, flags: s.proto === 'tcp' ? s.flags : [], ctNew: s.ctNew };
      expect(ipt.run(p), JSON.stringify(p)).toBe(ir.admits(p));
    }
    const show = (l: { time: number; src: string; prefix: string }): string => `${l.time} ${l.src} ${l.prefix}`;
    expect(ipt.log.map(show)).toEqual(ir.log.map(show));
  }

  it('runs like the IR interpreter on random packets', () => {
    fc.assert(fc.property(fc.array(packetArb, { minLength: 1, maxLength: 40 }), replay), { seed, numRuns: runs * 2, endOnFailure: true });
  });

  it('keeps the timer of a live element on set-add', () => {
    const k = (gap: number, port: number): Step => ({ gap, src: '198.51.100.2', proto: 'tcp', port, flags: ['syn'], ctNew: true, off: false });
    // B added at 0.5 and again at 2.5: it still expires at 3.5, so c2 (port 11) at 4.5 no longer sees it.
    replay([k(0, 1), k(2, 1), k(2, 11)]);
  });

  const restore = ['/usr/sbin/iptables-restore', '/sbin/iptables-restore'].find((x) => existsSync(x));
  const canTest = restore !== undefined && process.getuid?.() === 0;
  it.skipIf(!canTest && process.env.CI !== 'true')('renders iptables-restore input for every shape', () => {
    const text = renderIptables(ruleset, { version: 'TEST', source: 'shapes', notifyGroup: 7, guard: false, doors: [], runtimeDoors: [] });
    expect(text).toContain('-m tcp --syn');
    expect(text).toContain('-m multiport --dports 100,101,102,103,104,105,106,107,108,109,110,111,112,113,114 ');
    expect(text).not.toContain('never');
    const r = spawnSync(restore!, ['--test', '--noflush'], { input: text, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
