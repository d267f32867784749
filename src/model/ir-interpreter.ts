// Runs an IR program on simulated packets, with kernel set semantics:
// `add` keeps an element's timer, `update` restarts it, an element expires
// `timeout` seconds after its timer started. This is "the model of the
// compiled rules" the property tests compare with knockd's.
import type { Chain, Line, Match, Program, SetDecl, Stmt } from './ir.js';
import type { Hook } from './grant.js';
import type { Packet } from './packet.js';

export interface Logged {
  readonly time: number;
  readonly src: string;
  readonly prefix: string;
}

type Verdict = 'accept' | 'drop' | 'continue';

const MAX_DEPTH = 64;

export class IrMachine {
  private readonly chains = new Map<string, Chain>();
  private readonly sets = new Map<string, SetDecl>();
  /** set -> source -> time its timer started */
  private readonly elements = new Map<string, Map<string, number>>();
  readonly log: Logged[] = [];
  /** Rules and lookups evaluated so far: the per-packet cost the scale test measures. */
  evaluated = 0;

  constructor(private readonly program: Program) {
    for (const c of program.chains) this.chains.set(c.name, c);
    for (const s of program.sets) {
      this.sets.set(s.name, s);
      this.elements.set(s.name, new Map());
    }
  }

  /**
   * A packet through knockc's chain of `hook` (default: input when it is addressed to this
   * host, else forward): knock tracking, then grants. The verdict: accept (granted, or --into's
   * accept), drop (the standalone guard) or continue (knockc has no say).
   */
  pass(p: Packet, hook: Hook = p.dstLocal ? 'input' : 'forward'): Verdict {
    const entry = this.program.entries[p.family]?.[hook];
    if (!entry) return 'continue';
    return this.runChain(entry, p, 0);
  }

  has(set: string, src: string, now: number): boolean {
    const started = this.elements.get(set)?.get(src);
    if (started === undefined) return false;
    const t = this.sets.get(set)!.timeout;
    if (t !== null && now >= started + t) {
      this.elements.get(set)!.delete(src);
      return false;
    }
    return true;
  }

  members(set: string, now: number): string[] {
    return [...(this.elements.get(set)?.keys() ?? [])].filter((s) => this.has(set, s, now));
  }

  private runChain(name: string, p: Packet, depth: number): Verdict {
    if (depth > MAX_DEPTH) throw new Error(`internal: chain depth over ${MAX_DEPTH} at ${name}`);
    const chain = this.chains.get(name);
    if (!chain) throw new Error(`internal: no chain ${name}`);
    for (const line of chain.lines) {
      const r = this.runLine(line, p, depth);
      if (r === 'return') return 'continue';
      if (r !== 'next') return r;
    }
    return 'continue';
  }

  /** 'next' = go on with the next line; 'return' = leave this chain; else a final verdict. */
  private runLine(line: Line, p: Packet, depth: number): 'next' | 'return' | Verdict {
    this.evaluated++;
    if (line.kind === 'dispatch') {
      const e = line.entries.find((x) => x.proto === p.proto && x.port === p.port);
      if (!e) return 'next';
      const v = this.runChain(e.chain, p, depth + 1);
      // A goto entry ends the dispatching chain too; after a jump entry it goes on.
      if (v === 'continue') return e.jump ? 'next' : 'return';
      return v;
    }
    if (!line.match.every((m) => this.matches(m, p))) return 'next';
    for (const s of line.stmts) {
      if (!this.exec(s, p)) return 'next';
    }
    const v = line.verdict;
    if (!v) return 'next';
    switch (v.k) {
      case 'accept':
        return 'accept';
      case 'drop':
        return 'drop';
      case 'return':
        return 'return';
      case 'goto': {
        const r = this.runChain(v.chain, p, depth + 1);
        return r === 'continue' ? 'return' : r;
      }
      case 'jump': {
        const r = this.runChain(v.chain, p, depth + 1);
        return r === 'continue' ? 'next' : r;
      }
    }
  }

  private matches(m: Match, p: Packet): boolean {
    switch (m.k) {
      case 'proto':
        return p.proto === m.proto;
      case 'dport':
        return p.proto !== 'icmp' && p.port === m.port;
      case 'dports':
        return p.proto !== 'icmp' && m.ranges.some((r) => p.port >= r.lo && p.port <= r.hi);
      case 'tcp-flags':
        return p.proto === 'tcp' && m.mask.every((f) => p.flags.includes(f) === m.set.includes(f));
      case 'dst-local':
        return p.dstLocal && (m.iface === null || p.iif === m.iface);
      case 'daddr':
        return p.dst === m.addr;
      case 'iif':
        return p.iif === m.name;
      case 'src-in':
        return this.has(m.set, p.src, p.time);
      case 'ct-new':
        return p.ctNew;
      case 'syn-only':
        return p.proto === 'tcp' && p.flags.includes('syn') && !p.flags.some((f) => f === 'ack' || f === 'rst' || f === 'fin');
    }
  }

  /** false when the statement fails (a full set), which ends the rule like in the kernel. */
  private exec(s: Stmt, p: Packet): boolean {
    switch (s.k) {
      case 'set-add':
        if (!this.has(s.set, p.src, p.time)) this.elements.get(s.set)!.set(p.src, p.time);
        return true;
      case 'set-refresh':
        this.elements.get(s.set)!.set(p.src, p.time);
        return true;
      case 'set-del':
        this.elements.get(s.set)!.delete(p.src);
        return true;
      case 'log':
        this.log.push({ time: p.time, src: p.src, prefix: s.prefix });
        return true;
      case 'notify':
        this.log.push({ time: p.time, src: p.src, prefix: s.prefix.replace(/^knockc /, 'notify ') });
        return true;
      case 'mark':
        // The mark only matters with the accept that follows it (a grant): the verdict says it.
        return true;
    }
  }
}
