// An interpreter of knockc's generated iptables rules (the IptRuleset the
// templates render): chain traversal with -j/-g/RETURN as the kernel does it
// (a chain entered by -g returns to the last -j), xt_recent's
// --rcheck/--set/--remove, --dport ranges, matches evaluated left to right
// and stopping at the first false one. Shared by the semantics and the scale
// tests.
import type { Packet } from '../../src/model/packet.js';
import { TOP_CHAINS, type Frag, type IptChain, type IptRuleset } from '../../src/targets/iptables/ruleset.js';

export type Verdict = 'accept' | 'drop' | 'continue';

/** iptables + xt_recent, as far as knockc's rules use them. */
export class IptMachine {
  private readonly chains = new Map<string, IptChain>();
  /** Rules evaluated so far (every rule a packet reaches, matching or not): the per-packet cost. */
  evaluated = 0;
  /** The deepest chain nesting reached (jumps and gotos both count). */
  maxDepth = 0;
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
    this.maxDepth = Math.max(this.maxDepth, depth);
    const c = this.chains.get(name);
    if (!c) throw new Error(`no chain ${name}`);
    for (const r of c.rules) {
      this.evaluated++;
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
