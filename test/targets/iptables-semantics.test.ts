// The iptables rendering means what the IR means: an interpreter of the
// generated rules (iptables chain traversal with -j/-g/RETURN, xt_recent's
// --rcheck/--set/--remove, matches evaluated left to right and stopping at
// the first false one) runs the same random scenarios as the model-level
// equivalence test next to the IR interpreter, and must log the same stages
// and openings and let the same probes through, in both modes (default
// "accept like knockd", and --guard). Each scenario also runs on the same
// program rendered with every dispatch as a search tree (dispatchLinearMax 1:
// the random doors have too few ports for the default to build one).
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
import { compileIptables, IPTABLES_DEFAULTS } from '../../src/targets/iptables/generate.js';
import { renderIptables } from '../../src/targets/iptables/render.js';
import { toRuleset } from '../../src/targets/iptables/translate.js';
import { IptMachine } from './ipt-machine.js';
import { configText, GRANT_PORTS, LOCAL4, LOCAL6, scenarioArb } from '../model/random-scenarios.js';

const seed = process.env.KNOCKC_SEED ? Number(process.env.KNOCKC_SEED) : Date.now() % 2 ** 31;
const runs = Number(process.env.KNOCKC_RUNS ?? 400);

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
          const machines = new Map<Family, { ir: IrMachine; ipt: IptMachine; tree: IptMachine }>();
          for (const family of ['ip', 'ip6'] as const) {
            const r = compileIptables(config, { ...IPTABLES_DEFAULTS, family, guard, iface: 'eth0', log: true, version: 'TEST', source: 'random.conf' });
            const tree = new IptMachine(toRuleset(r.program, family, { dispatchLinearMax: 1 }));
            machines.set(family, { ir: new IrMachine(r.program), ipt: new IptMachine(r.ruleset), tree });
          }
          const end = (trace[trace.length - 1]?.time ?? 0) + 12;
          let i = 0;
          for (let t = 0.25; t < end; t += 0.5) {
            while (i < trace.length && trace[i]!.time <= t) {
              const p = trace[i++]!;
              const m = machines.get(p.family)!;
              const want = m.ir.pass(p);
              expect(m.ipt.run(p), `knock at t=${p.time}`).toBe(want);
              expect(m.tree.run(p), `knock at t=${p.time} (trees)`).toBe(want);
            }
            for (const src of new Set(trace.map((p) => p.src))) {
              for (const port of GRANT_PORTS) {
                const p = probe(src, port, t);
                const m = machines.get(p.family)!;
                const want = m.ir.pass(p);
                expect(m.ipt.run(p), `t=${t} ${src} port ${port}`).toBe(want);
                expect(m.tree.run(p), `t=${t} ${src} port ${port} (trees)`).toBe(want);
              }
            }
          }
          for (const { ir, ipt, tree } of machines.values()) {
            const show = (l: { time: number; src: string; prefix: string }): string => `${l.time} ${l.src} ${l.prefix}`;
            expect(ipt.log.map(show)).toEqual(ir.log.map(show));
            expect(tree.log.map(show)).toEqual(ir.log.map(show));
          }
        }),
        { seed, numRuns: runs, endOnFailure: true },
      );
    }, 120_000);
  }
});

// The lowering uses few shapes (statements with no verdict or `return`); the generator handles every
// combination the IR allows. This hand-written program has one rule of each shape, and dispatches
// large enough to become search trees: one followed by more rules (a port in a tree's range but not
// in the dispatch must go on after it), one that ends its chain, entries whose chains return.
describe('every IR rule shape', () => {
  const set = (name: string, timeout: number | null): SetDecl => ({ name, family: 'ip', role: 'stage', timeout, comment: name, door: null, key: name.slice(-1) });
  const tcp = (port: number): Match[] => [{ k: 'proto', proto: 'tcp' }, { k: 'dport', port }];
  const A = 'knockc_t_a';
  const B = 'knockc_t_b';
  const G = 'knockc_t_g';
  const MAIN = 'knockc_t_main';
  const C2 = 'knockc_t_c2';
  const C3 = 'knockc_t_c3';
  const D2 = 'knockc_t_d2';
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
          {
            kind: 'dispatch',
            entries: [
              ...[20, 22, 24, 26, 28, 30, 32, 34, 36].map((port, i) => ({ proto: 'tcp' as const, port, chain: i % 2 ? C3 : C2 })),
              ...[21, 23, 27].map((port) => ({ proto: 'udp' as const, port, chain: C3 })),
            ],
          },
          rule([{ k: 'proto', proto: 'udp' }], [], { k: 'jump', chain: D2 }),
          rule([{ k: 'proto', proto: 'tcp' }, { k: 'dport', port: 80 }], [], { k: 'return' }),
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
      {
        name: C3,
        family: 'ip',
        comment: 'called',
        lines: [
          rule([{ k: 'src-in', set: B }], [{ k: 'log', prefix: 'c3 b' }], { k: 'drop' }),
          rule([{ k: 'src-in', set: A }], [], { k: 'goto', chain: C2 }),
          rule([], [{ k: 'log', prefix: 'c3 end' }], null),
        ],
      },
      {
        name: D2,
        family: 'ip',
        comment: 'a dispatch and nothing after it',
        lines: [{ kind: 'dispatch', entries: [40, 42, 44, 46, 48, 50, 52, 54, 56, 58].map((port, i) => ({ proto: 'udp' as const, port, chain: i % 3 ? C2 : C3 })) }],
      },
    ],
    entries: { knock: {}, grant: { ip: { input: MAIN } } },
    runtimeDoors: [],
  };
  const ruleset = toRuleset(program, 'ip');
  // The default (trees from 9 entries of a protocol), trees from 2, 3 and 5 entries, a one-level
  // tree (many ranges in the dispatching chain), every dispatch linear.
  const rulesets = [
    ruleset,
    ...[1, 2, 4].map((n) => toRuleset(program, 'ip', { dispatchLinearMax: n })),
    toRuleset(program, 'ip', { dispatchLinearMax: 2, dispatchLevels: 1 }),
    toRuleset(program, 'ip', { dispatchLevels: 0 }),
  ];

  const packetArb = fc.record({
    gap: fc.constantFrom(0, 0.5, 1, 2, 4),
    src: fc.constantFrom('198.51.100.2', '198.51.100.3'),
    proto: fc.constantFrom('tcp' as const, 'udp' as const),
    port: fc.constantFrom(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 100, 114, 115, 119, 120, 199, 200, 205, 210, 211, ...Array.from({ length: 22 }, (_, i) => 19 + i), 41, 44, 49, 50, 56, 58, 59),
    flags: fc.oneof(fc.constant(['syn'] as FlagName[]), fc.subarray(['fin', 'syn', 'rst', 'psh', 'ack', 'urg'] as FlagName[])),
    ctNew: fc.boolean(),
    off: fc.constantFrom(false, false, true),
  });

  type Step = { gap: number; src: string; proto: 'tcp' | 'udp'; port: number; flags: FlagName[]; ctNew: boolean; off: boolean };
  function replay(steps: readonly Step[]): void {
    const ir = new IrMachine(program);
    const ipts = rulesets.map((r) => new IptMachine(r));
    let t = 0.5;
    for (const s of steps) {
      t += s.gap;
      const p: Packet = { time: t, family: 'ip', src: s.src, dst: '198.51.100.1', dstLocal: true, iif: s.off ? 'eth1' : 'eth0', proto: s.proto, port: s.port, flags: s.proto === 'tcp' ? s.flags : [], ctNew: s.ctNew };
      const want = ir.pass(p);
      ipts.forEach((ipt, i) => expect(ipt.run(p), `${JSON.stringify(p)} (ruleset ${i})`).toBe(want));
    }
    const show = (l: { time: number; src: string; prefix: string }): string => `${l.time} ${l.src} ${l.prefix}`;
    for (const ipt of ipts) expect(ipt.log.map(show)).toEqual(ir.log.map(show));
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
  it('renders large dispatches as trees of port ranges ending in the dispatch rules', () => {
    const text = renderIptables(ruleset, { version: 'TEST', source: 'shapes', notifyGroup: 7, guard: false, doors: [], runtimeDoors: [] });
    // One rule for the span of the tcp ports, then groups, then the entries.
    expect(text).toContain('-A knockc_t_main -p tcp --dport 20:36 -g knockc_t_main_t20-36\n');
    expect(text).toContain(
      '-A knockc_t_main_t20-36 -p tcp --dport 20:28 -g knockc_t_main_t20-28\n-A knockc_t_main_t20-36 -p tcp --dport 30:36 -g knockc_t_main_t30-36\n-A knockc_t_main_t20-36 -g knockc_t_main_rest\n',
    );
    expect(text).toContain('-A knockc_t_main_t20-28 -p tcp --dport 28 -g knockc_t_c2\n-A knockc_t_main_t20-28 -g knockc_t_main_rest\n');
    // udp has 3 entries: leaves right in the dispatching chain.
    expect(text).toContain('-A knockc_t_main -p udp --dport 21 -g knockc_t_c3\n');
    expect(text).toContain('-A knockc_t_d2 -p udp --dport 40:58 -g knockc_t_d2_u40-58\n');
    expect(text).toContain('-A knockc_t_d2_u40-58 -p udp --dport 40:48 -g knockc_t_d2_u40-48\n');
    // Nothing after D2's dispatch: its tree chains just end.
    expect(text).not.toContain('knockc_t_d2_rest');
    // The small dispatch stays linear.
    expect(text).toContain('-A knockc_t_main -p tcp --dport 11 -g knockc_t_c2\n');
  });

  it.skipIf(!canTest && process.env.CI !== 'true')('renders iptables-restore input for every shape', () => {
    for (const rs of rulesets) {
      const text = renderIptables(rs, { version: 'TEST', source: 'shapes', notifyGroup: 7, guard: false, doors: [], runtimeDoors: [] });
      expect(text).toContain('-m tcp --syn');
      expect(text).toContain('-m multiport --dports 100,101,102,103,104,105,106,107,108,109,110,111,112,113,114 ');
      expect(text).not.toContain('never');
      const r = spawnSync(restore!, ['--test', '--noflush'], { input: text, encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
  });
});
