// What a dry run of `apply --target iptables` prints: per family, doors, xt_recent lists
// (with their live sources), chains and jumps.
import { buildRestore, listsOf, liveKnockc, ruleFacts, ruleKey, type KnockcRules, type SaveTable } from './restore.js';
import { liveEntries, type KernelClock, type RecentEntry } from './recent.js';
import { doorLabel, listRole as roleOf } from '../../model/names.js';

/** Doors named by rule comments ("[door] line N"). */
function doorsOf(rules: KnockcRules): Set<string> {
  const out = new Set<string>();
  for (const c of rules.chains) {
    for (const r of c.rules) {
      const l = doorLabel(ruleFacts(r).comment);
      if (l) out.add(`[${l.door}] line ${l.line}`);
    }
  }
  return out;
}

/** A readable diff of knockc's objects in one family: doors, xt_recent lists (with live sources), chains, jumps. */
export function diffIptables(
  where: string,
  current: SaveTable,
  want: KnockcRules,
  recent: ReadonlyMap<string, readonly RecentEntry[]>,
  clock: KernelClock | null,
): { text: string; kept: number; dropped: number; changed: boolean } {
  const live = liveKnockc(current);
  const plan = buildRestore(current, want);
  const out: string[] = [];
  const oldDoors = doorsOf(live);
  const newDoors = doorsOf(want);
  const doorLines = [
    ...[...newDoors].map((d) => `    ${oldDoors.has(d) ? '=' : '+'} ${d}`),
    ...[...oldDoors].filter((d) => !newDoors.has(d)).map((d) => `    - ${d}`),
  ];
  if (doorLines.length) out.push('  doors:', ...doorLines);

  const oldLists = listsOf(live);
  const newLists = listsOf(want);
  let kept = 0;
  let dropped = 0;
  const listLines: string[] = [];
  const count = (name: string, seconds: number | null): number => liveEntries(recent.get(name) ?? [], seconds, clock).length;
  const src = (n: number): string => `${n} source${n === 1 ? '' : 's'}`;
  for (const [name, seconds] of newLists) {
    if (oldLists.has(name)) {
      const n = count(name, oldLists.get(name) ?? null);
      kept += n;
      listLines.push(`    = ${name} (${roleOf(name)}): kept${n ? `, with ${src(n)}` : ''}`);
    } else listLines.push(`    + ${name} (${roleOf(name)}, ${seconds === null ? 'until removed' : `${seconds} s`}): new`);
  }
  for (const [name, seconds] of oldLists) {
    if (newLists.has(name)) continue;
    const n = count(name, seconds);
    dropped += n;
    listLines.push(`    - ${name} (${roleOf(name)}): no longer used${n ? `, ${src(n)} dropped` : ''}`);
  }
  if (listLines.length) out.push('  xt_recent lists:', ...listLines);

  const oldChains = new Map(live.chains.map((c) => [c.name, c.rules.map(ruleKey).join('\n')]));
  const chainLines: string[] = [];
  let same = 0;
  for (const c of want.chains) {
    const before = oldChains.get(c.name);
    if (before === undefined) chainLines.push(`    + chain ${c.name} (${c.rules.length} rule${c.rules.length === 1 ? '' : 's'})`);
    else if (before !== c.rules.map(ruleKey).join('\n')) chainLines.push(`    ~ chain ${c.name} (rules changed)`);
    else same++;
  }
  for (const s of plan.chainsDeleted) chainLines.push(`    - chain ${s}`);
  for (const h of plan.hooksAdded) chainLines.push(`    + jump ${h.builtin} -j ${h.chain} (inserted at the top of ${h.builtin})`);
  for (const h of plan.hooksDeleted) chainLines.push(`    - jump ${h.builtin} -j ${h.chain}`);
  const changed = chainLines.length > 0;
  out.push(`  chains: ${changed ? '' : 'unchanged, '}${same} chain${same === 1 ? '' : 's'} unchanged (every rule is reloaded; counters restart)`, ...chainLines);
  return { text: `${where}: ${changed || dropped ? 'would change' : 'no change'}:\n${out.join('\n')}\n`, kept, dropped, changed };
}
