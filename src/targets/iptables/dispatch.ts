// A dispatch (port -> chain) as iptables rules: linear when small, else a search tree of chains
// over port ranges, within the chain-depth budget.
import type { Proto } from '../../frontend/config.js';
import type { Dispatch } from '../../model/ir.js';
import { CHAIN_NAME_MAX, checkChainName, TOP_CHAINS, type IptChain, type IptRule } from './ruleset.js';

type DispatchEntry = Dispatch['entries'][number];

// A jump entry comes back to the rule after it: the other leaves (other ports) and then the
// tree chain's `-g REST`, so the rules after the dispatch run as the IR says.
export const dispatchLeaf = (e: DispatchEntry): IptRule => ({
  match: [{ k: 'proto', proto: e.proto }, { k: 'dport', lo: e.port, hi: e.port }],
  target: { k: e.jump ? 'jump' : 'goto', chain: checkChainName(e.chain) },
});

/**
 * A tree chain's name: the dispatching chain's (`base`) and the range, so that it does not change
 * when doors elsewhere change. Two five-digit ports after a long base (knockc_grant4_in) do not
 * fit in CHAIN_NAME_MAX: then the ports are written in hexadecimal, separated by "." instead of
 * "-" (so that the two forms never give one name to two ranges).
 */
function treeChainName(base: string, proto: Proto, lo: number, hi: number): string {
  const p = proto === 'tcp' ? 't' : 'u';
  const name = `${base}_${p}${lo}-${hi}`;
  return checkChainName(name.length <= CHAIN_NAME_MAX ? name : `${base}_${p}${lo.toString(16)}.${hi.toString(16)}`);
}

/**
 * A large dispatch as a search tree of chains over port ranges, per protocol, at most `levels`
 * chains deep. The dispatching chain gets one rule for the whole span of the protocol's ports,
 * `-p P --dport MIN:MAX -g SPAN` (a port outside it, most traffic, costs that one rule); SPAN and
 * the chains below it split their sorted entries into a few groups of about equal size,
 * `-p P --dport LO:HI -g GROUP` each (LO and HI: the group's first and last port), as few as the
 * levels left allow, down to at most `linearMax` entries, which end in the dispatch's own
 * `-p P --dport N -g CHAIN` rules. With one level there is no SPAN: the groups are in the
 * dispatching chain. A packet walks a few rules per level; the depth is bounded because
 * nf_tables limits nesting (CHAIN_DEPTH_MAX).
 *
 * Every step is a goto, as the dispatch's own entry is (ir-interpreter.ts: an entry ends the
 * dispatching chain): the jump stack is the one the dispatching chain had, so RETURN (or the end)
 * of an entry's chain returns to whoever called the dispatching chain, as before. A packet whose
 * port falls in a tree chain's range but in no entry must go on after the dispatch, in the
 * dispatching chain: every tree chain ends with `-g REST`, a chain holding the dispatching chain's
 * rules after the dispatch (also reached by goto, so its RETURNs and its end mean what they mean
 * there). With nothing after the dispatch there is no REST: the end of a tree chain entered by
 * goto is then the end of the dispatching chain.
 */
export function dispatchRules(owner: string, base: string, d: Dispatch, rest: string | null, linearMax: number, levels: number, chains: IptChain[]): IptRule[] {
  // Stable: of entries with equal (proto, port) the first wins, as in the IR; the others never match.
  const seen = new Set<string>();
  const sorted = [...d.entries]
    .sort((a, b) => (a.proto === b.proto ? a.port - b.port : a.proto < b.proto ? -1 : 1))
    .filter((e) => !seen.has(`${e.proto}/${e.port}`) && seen.add(`${e.proto}/${e.port}`));
  const tail: IptRule[] = rest ? [{ match: [], target: { k: 'goto', chain: rest } }] : [];
  /** The rules for `es` with `levels` levels of chains below them. */
  const node = (es: readonly DispatchEntry[], levels: number): IptRule[] => {
    if (es.length <= linearMax || levels === 0) return es.map(dispatchLeaf);
    // The fewest groups that leave at most linearMax entries per chain after `levels` levels.
    let groups = 2;
    while (groups ** levels * linearMax < es.length) groups++;
    const size = Math.ceil(es.length / groups);
    const out: IptRule[] = [];
    for (let i = 0; i < es.length; i += size) out.push(group(es.slice(i, i + size), levels - 1));
    return out;
  };
  /** A range rule to a chain holding `es` (with `levels` levels below it). */
  const group = (es: readonly DispatchEntry[], levels: number): IptRule => {
    if (es.length === 1) return dispatchLeaf(es[0]!);
    const { proto, port: lo } = es[0]!;
    const hi = es[es.length - 1]!.port;
    const name = treeChainName(base, proto, lo, hi);
    const rules: IptRule[] = [];
    // Parents before children in the file.
    chains.push({ name, comment: `dispatch of ${owner}: ${proto} ports ${lo}-${hi} (${es.length} entries)`, rules });
    rules.push(...node(es, levels), ...tail);
    return { match: [{ k: 'proto', proto }, { k: 'dport', lo, hi }], target: { k: 'goto', chain: name } };
  };
  const out: IptRule[] = [];
  for (const proto of new Set(sorted.map((e) => e.proto))) {
    const es = sorted.filter((e) => e.proto === proto);
    out.push(...(es.length > linearMax && levels >= 2 ? [group(es, levels - 1)] : node(es, levels)));
  }
  return out;
}

/** The longest path of chains from knockc_input / knockc_forward, -j and -g alike. */
export function longestPath(chains: readonly IptChain[]): string[] {
  const byName = new Map(chains.map((c) => [c.name, c]));
  /** chain -> chains on the longest path from it (itself included), and the next one on it */
  const memo = new Map<string, { depth: number; next: string | null }>();
  const visit = (name: string): number => {
    const hit = memo.get(name);
    if (hit) return hit.depth;
    memo.set(name, { depth: 1, next: null }); // (knockc builds no loops)
    let best = { depth: 1, next: null as string | null };
    for (const r of byName.get(name)?.rules ?? []) {
      if ((r.target?.k === 'jump' || r.target?.k === 'goto') && byName.has(r.target.chain)) {
        const d = 1 + visit(r.target.chain);
        if (d > best.depth) best = { depth: d, next: r.target.chain };
      }
    }
    memo.set(name, best);
    return best.depth;
  };
  let cur: string | null = visit(TOP_CHAINS.forward) > visit(TOP_CHAINS.input) ? TOP_CHAINS.forward : TOP_CHAINS.input;
  const path: string[] = [];
  for (; cur !== null; cur = memo.get(cur)?.next ?? null) path.push(cur);
  return path;
}

/** How many chains deep knockc's rules nest: knockc_input (or knockc_forward) counts as 1. */
export const chainDepth = (chains: readonly IptChain[]): number => longestPath(chains).length;
