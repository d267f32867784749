// The IR program of one family as iptables chains: rules, the sub-chains multi-statement rules
// need, and the search trees of dispatches, shrunk while the chains nest too deep.
import { RECENT_SECONDS_MAX } from './check.js';
import type { Family } from '../../model/grant.js';
import type { Chain, Program, Rule } from '../../model/ir.js';
import { CHAIN_DEPTH_MAX, checkChainName, DISPATCH_LEVELS, DISPATCH_LINEAR_MAX, IptablesError, TOP_CHAINS, type IptChain, type IptList, type IptRule, type IptRuleset } from './ruleset.js';
import { comment, listNames, matchAlternatives, stmtRule, verdictTarget, type ListMap } from './matches.js';
import { dispatchLeaf, dispatchRules, longestPath } from './dispatch.js';

/**
 * An IR chain as one iptables chain plus the sub-chains its multi-statement rules and large
 * dispatches need. `levels(i)`: how deep the search tree of the dispatch on line i may nest (0:
 * linear); `owners` learns which line each tree chain belongs to.
 */
function translateChain(c: Chain, lists: ListMap, linearMax: number, levels: (line: number) => number, owners: Map<string, number>): IptChain[] {
  const subs: IptChain[] = [];
  const trees: IptChain[] = [];
  const perLine: IptRule[][] = c.lines.map((line, i) => {
    const rules: IptRule[] = [];
    if (line.kind === 'rule') translateRule(c.name, i, line, lists, rules, subs);
    return rules;
  });
  const big = c.lines.filter((l) => l.kind === 'dispatch' && l.entries.length > linearMax).length;
  // Right to left: a dispatch's tree needs the rules that follow it (its "rest").
  for (let i = c.lines.length - 1; i >= 0; i--) {
    const line = c.lines[i]!;
    if (line.kind !== 'dispatch') continue;
    if (line.entries.length <= linearMax || levels(i) === 0) {
      perLine[i] = line.entries.map(dispatchLeaf);
      continue;
    }
    const base = big > 1 ? `${c.name}_${i}` : c.name;
    const after = perLine.slice(i + 1).flat();
    const rest = after.length ? checkChainName(`${base}_rest`) : null;
    const before = trees.length;
    perLine[i] = dispatchRules(c.name, base, line, rest, linearMax, levels(i), trees);
    for (const t of trees.slice(before)) owners.set(t.name, i);
    // Only tree chains go to REST (none when each protocol's entries are few).
    if (rest && trees.length > before) {
      trees.push({ name: rest, comment: `${c.name} after its dispatch, for ports in a range of the dispatch's search tree but not in the dispatch`, rules: after });
    }
  }
  return [{ name: checkChainName(c.name), comment: c.comment, rules: perLine.flat() }, ...subs, ...trees];
}


function translateRule(chain: string, index: number, r: Rule, lists: ListMap, rules: IptRule[], subs: IptChain[]): void {
  const alts = matchAlternatives(r.match, lists);
  // No packet can match: the rule has no effect.
  if (alts.length === 0) return;
  const verdict = r.verdict ? verdictTarget(r.verdict) : null;
  const note = comment(r.comment);
  if (r.stmts.length === 0) {
    for (const a of alts) rules.push({ match: [...a, ...note], target: verdict });
    return;
  }
  const stmtRules = r.stmts.map((s) => stmtRule(s, lists));
  if (r.match.length === 0) {
    // Nothing to evaluate once: the statements and the verdict follow in this very chain.
    stmtRules.forEach((s, j) => rules.push({ match: [...(j === 0 ? note : []), ...s.match], target: s.target }));
    if (verdict) rules.push({ match: [], target: verdict });
    return;
  }
  const only = stmtRules[0]!;
  if (r.stmts.length === 1 && verdict === null) {
    // One statement and no verdict: it can end the rule (a failed --remove) without changing anything else.
    for (const a of alts) rules.push({ match: [...a, ...note, ...only.match], target: only.target });
    return;
  }
  if (r.stmts.every((s) => s.k === 'set-refresh')) {
    // --set always matches: statements and verdict fit in one rule.
    for (const a of alts) rules.push({ match: [...a, ...note, ...stmtRules.flatMap((s) => s.match)], target: verdict });
    return;
  }
  const sub = checkChainName(`${chain}_s${index}`);
  // Falling off the end of SUB returns to whoever called the chain that went to it with -g:
  // that is IR `return` (and, after the last -g, IR `goto`).
  const leaves = r.verdict?.k === 'return' || r.verdict?.k === 'goto';
  const tail: IptRule[] = verdict && verdict.k !== 'return' ? [{ match: [], target: verdict }] : [];
  subs.push({ name: sub, comment: `${chain} rule ${index + 1}${r.comment ? ` (${r.comment})` : ''}: statements, then the verdict`, rules: [...stmtRules, ...tail] });
  for (const a of alts) rules.push({ match: [...a, ...note], target: { k: leaves ? 'goto' : 'jump', chain: sub } });
}

export interface RulesetOptions {
  /** Dispatches with more entries of one protocol than this become a search tree (default DISPATCH_LINEAR_MAX). */
  readonly dispatchLinearMax?: number;
  /** Levels a search tree may nest at most (default DISPATCH_LEVELS; 0: every dispatch linear). */
  readonly dispatchLevels?: number;
}

const rank = (name: string): number => (name === TOP_CHAINS.input ? 0 : name === TOP_CHAINS.forward ? 1 : 2);

/** The IR program of one family as iptables chains and xt_recent lists. */
export function toRuleset(program: Program, family: Family, opts: RulesetOptions = {}): IptRuleset {
  const linearMax = Math.max(1, opts.dispatchLinearMax ?? DISPATCH_LINEAR_MAX);
  const named = listNames(program.sets.filter((s) => s.family === family));
  const lists: IptList[] = [];
  for (const { list, seconds, set } of named.values()) {
    if (seconds !== null && seconds < 1) throw new Error(`internal: list ${list} with a timeout of ${seconds} s`);
    if (seconds !== null && seconds > RECENT_SECONDS_MAX) {
      throw new IptablesError(`${set.comment}: a timeout of ${seconds} s is longer than xt_recent can count (${RECENT_SECONDS_MAX} s, about 49 days); use --target nft, or a shorter timeout`);
    }
    lists.push({ name: list, seconds, comment: set.comment });
  }

  // The entry chains of the IR ARE the chains hooked from INPUT and FORWARD (renamed): no jump
  // in between. A hook without an entry still gets its (empty) chain, as knockc's hooks expect.
  const entry = program.entries[family] ?? {};
  const tops = new Map<string, { name: string; comment: string }>();
  if (entry.input) tops.set(entry.input, { name: TOP_CHAINS.input, comment: 'from INPUT: knock tracking, then grants' });
  if (entry.forward) tops.set(entry.forward, { name: TOP_CHAINS.forward, comment: 'from FORWARD: knocks to a Target, then forwarded grants' });
  const empty = (name: string): IptChain[] => ([...tops.values()].some((t) => t.name === name) ? [] : [{ name, comment: 'nothing to do here', rules: [] }]);
  const top: IptChain[] = [...empty(TOP_CHAINS.input), ...empty(TOP_CHAINS.forward)];
  const mine = program.chains
    .filter((c) => c.family === family)
    .map((c) => {
      const t = tops.get(c.name);
      return t ? { ...c, ...t } : c;
    });
  // Search trees as deep as DISPATCH_LEVELS; while the chains nest deeper than CHAIN_DEPTH_MAX,
  // the last tree on the deepest path loses a level (the first dispatches a packet meets are the
  // ones every packet walks: they keep their depth longest).
  const initial = Math.max(0, opts.dispatchLevels ?? DISPATCH_LEVELS);
  const budget = new Map<string, number>();
  const levelsOf = (c: Chain, i: number): number => budget.get(`${c.name}#${i}`) ?? initial;
  const owner = new Map<string, string>();
  const done = new Map<Chain, { key: string; out: IptChain[] }>();
  const translate = (c: Chain): IptChain[] => {
    const key = c.lines.map((l, i) => (l.kind === 'dispatch' ? levelsOf(c, i) : '')).join(',');
    const hit = done.get(c);
    if (hit?.key === key) return hit.out;
    const owners = new Map<string, number>();
    const out = translateChain(c, named, linearMax, (i) => levelsOf(c, i), owners);
    for (const [name, i] of owners) owner.set(name, `${c.name}#${i}`);
    done.set(c, { key, out });
    return out;
  };
  let chains: IptChain[];
  for (;;) {
    chains = [...top, ...mine.flatMap(translate)];
    const path = longestPath(chains);
    if (path.length <= CHAIN_DEPTH_MAX) break;
    const trees = path.map((n) => owner.get(n)).filter((id): id is string => id !== undefined && (budget.get(id) ?? initial) > 0);
    const last = trees[trees.length - 1];
    if (last === undefined) break; // no tree left on it: as deep as one rule per entry would be
    const onPath = trees.filter((id) => id === last).length;
    budget.set(last, Math.min((budget.get(last) ?? initial) - 1, onPath - 1));
  }
  // The hooked chains first, INPUT's before FORWARD's (stable: the rest keeps its order).
  chains.sort((a, b) => rank(a.name) - rank(b.name));
  const names = new Set<string>();
  for (const c of chains) {
    if (names.has(c.name)) throw new Error(`internal: two iptables chains named ${c.name}`);
    names.add(c.name);
  }
  const hooks = [
    { builtin: 'INPUT' as const, chain: TOP_CHAINS.input },
    ...(entry.forward ? [{ builtin: 'FORWARD' as const, chain: TOP_CHAINS.forward }] : []),
  ];
  return { family, chains, lists, hooks };
}
