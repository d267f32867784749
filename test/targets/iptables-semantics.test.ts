// The iptables rendering means what the IR means: an interpreter of the
// generated rules (iptables chain traversal with -j/-g/RETURN, xt_recent's
// --rcheck/--set/--remove, matches evaluated left to right and stopping at
// the first false one) runs the same random scenarios as the model-level
// equivalence test next to the IR interpreter, and must log the same stages
// and openings and let the same probes through, in both modes (default
// "accept like knockd", and --guard).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KnockdConfig } from '../../src/frontend/config.js';
import { parseConfigText } from '../../src/frontend/load.js';
import type { Family } from '../../src/model/grant.js';
import { IrMachine } from '../../src/model/ir-interpreter.js';
import type { Packet } from '../../src/model/packet.js';
import { compileIptables, IPTABLES_DEFAULTS, TOP_CHAINS, type Frag, type IptChain, type IptRuleset } from '../../src/targets/iptables.js';
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
