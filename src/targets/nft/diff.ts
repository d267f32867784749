// What a reload changes, in knockc's terms: doors (kept with their attempts
// in progress, restarted, new, removed), grants (kept with their sources,
// new, removed) and the kernel objects (sets, chains) behind them.
import type { KnockdConfig } from '../../frontend/config.js';
import type { Program } from '../../model/ir.js';
import { grantSets, type LiveTable } from './live.js';
import { inlinedEntries } from './generate.js';
import { doorLabel, familyOfName, grantWords, isKnockcName, isSharedStateSet, names, setMeaning, withoutKey } from '../../model/names.js';
import { liveDoors as readLiveDoors, tagKey } from './doors.js';
import { plural } from '../../text.js';

export type DoorChangeKind = 'kept' | 'restarted' | 'new' | 'removed' | 'reloaded';

export interface DoorChange {
  readonly door: string;
  readonly line: number;
  readonly change: DoorChangeKind;
  /** Sources mid-sequence now (kept when the door is kept, dropped otherwise). */
  readonly attempts: number;
}

export interface GrantChange {
  readonly grant: string;
  readonly key: string;
  readonly change: 'kept' | 'new' | 'removed';
  readonly sources: number;
}

export interface ObjectChange {
  readonly kind: 'set' | 'chain';
  readonly name: string;
  /** + new, - removed, ~ same name with another meaning (its elements go elsewhere or are dropped), > renamed (same meaning). */
  readonly change: '+' | '-' | '~' | '>';
  readonly note: string;
}

export interface ReloadDiff {
  readonly doors: readonly DoorChange[];
  readonly grants: readonly GrantChange[];
  readonly objects: readonly ObjectChange[];
  readonly unchanged: { readonly sets: number; readonly chains: number };
  /** Nothing was loaded before. */
  readonly fresh: boolean;
}


export function diffReload(live: LiveTable | null, program: Program, config: KnockdConfig): ReloadDiff {
  const liveSets = (live?.sets ?? []).filter((s) => isKnockcName(s.name));
  const liveChains = (live?.chains ?? []).filter((c) => isKnockcName(c.name));
  const liveKeys = new Set(liveSets.map((s) => s.key).filter((k): k is string => k !== null));

  // Doors that are live: from their sets' and rules' comments.
  const liveDoors = new Map<string, number>();
  for (const s of liveSets) {
    const l = doorLabel(s.comment);
    if (l) liveDoors.set(l.door, l.line);
  }
  for (const r of live?.rules ?? []) {
    const l = doorLabel(r.comment);
    if (l && isKnockcName(r.chain)) liveDoors.set(l.door, liveDoors.get(l.door) ?? l.line);
  }
  const tagged = live ? readLiveDoors(live) : null;
  for (const l of tagged?.labelByTag.values() ?? []) liveDoors.set(l.door, liveDoors.get(l.door) ?? l.line);

  // Sources mid-sequence per door: the elements of its armed sets (in the shared ones, with its tag).
  const attemptsOf = new Map<string, number>();
  for (const s of liveSets) {
    if (setMeaning(s.name).role !== 'armed') continue;
    if (isSharedStateSet(s.name)) {
      for (const e of s.elements) {
        const l = tagged?.labelByTag.get(tagKey(familyOfName(s.name), e.tag));
        if (l) attemptsOf.set(l.door, (attemptsOf.get(l.door) ?? 0) + 1);
      }
      continue;
    }
    const l = doorLabel(s.comment);
    if (l) attemptsOf.set(l.door, (attemptsOf.get(l.door) ?? 0) + s.elements.length);
  }
  // A state set means the same across the reload when its key is live (a set of its own, as an earlier knockc loaded it), or its shared set and tag.
  const isLive = (s: Program['sets'][number]): boolean =>
    liveKeys.has(s.key) ||
    (s.store !== undefined && ((tagged?.tagged.has(`${s.store.set}#${s.store.tag}`) ?? false) || (tagged?.labelByTag.has(tagKey(s.family, s.store.tag)) ?? false)));
  const armedCount = (door: string): number => attemptsOf.get(door) ?? 0;
  // The new program's state sets per door index.
  const setsOf = new Map<number, typeof program.sets[number][]>();
  for (const s of program.sets) {
    if (s.door !== null) setsOf.set(s.door, [...(setsOf.get(s.door) ?? []), s]);
  }

  const doors: DoorChange[] = [];
  for (const d of config.doors) {
    const mine = setsOf.get(d.index) ?? [];
    const wasLive = liveDoors.has(d.name);
    const attempts = wasLive ? armedCount(d.name) : 0;
    let change: DoorChangeKind;
    if (!wasLive) change = 'new';
    else if (mine.length === 0) change = 'reloaded';
    else change = mine.every(isLive) ? 'kept' : 'restarted';
    doors.push({ door: d.name, line: d.header.range.start.line, change, attempts });
  }
  const newNames = new Set(config.doors.map((d) => d.name));
  for (const [door, line] of liveDoors) {
    if (!newNames.has(door)) doors.push({ door, line, change: 'removed', attempts: armedCount(door) });
  }

  const grants: GrantChange[] = [];
  const newGrants = program.sets.filter((s) => s.role === 'grant');
  const liveGrants = live ? grantSets(live) : [];
  const liveGrantsByKey = new Map<string, typeof liveGrants>();
  for (const s of liveGrants) if (s.key) liveGrantsByKey.set(s.key, [...(liveGrantsByKey.get(s.key) ?? []), s]);
  for (const g of newGrants) {
    const l = liveGrantsByKey.get(g.key) ?? [];
    const lifetime = g.timeout === null ? 'until revoked' : `${g.timeout} s`;
    grants.push({
      grant: `${grantWords(g.comment)} (IPv${g.family === 'ip' ? 4 : 6}, ${lifetime})`,
      key: g.key,
      change: l.length ? 'kept' : 'new',
      sources: l.reduce((n, s) => n + s.elements.length, 0),
    });
  }
  const grantKeys = new Set(program.sets.map((s) => s.key));
  for (const s of liveGrants) {
    if (s.key && grantKeys.has(s.key)) continue;
    const lifetime = s.timeoutMs === null ? 'until revoked' : `${Math.round(s.timeoutMs / 1000)} s`;
    grants.push({ grant: `${grantWords(s.comment)} (IPv${familyOfName(s.name) === 'ip6' ? 6 : 4}, ${lifetime})`, key: s.key ?? '', change: 'removed', sources: s.elements.length });
  }

  const objects: ObjectChange[] = [];
  let sameSets = 0;
  const liveByName = new Map(liveSets.map((s) => [s.name, s]));
  const liveByKey = new Map(liveSets.filter((s) => s.key).map((s) => [s.key!, s]));
  const newKeys = new Set(program.sets.map((s) => s.key));
  const shared = new Set<string>();
  for (const s of program.sets) {
    if (s.store) {
      // A shared set: new, or there (its doors' elements are matched by tag).
      if (shared.has(s.store.set)) continue;
      shared.add(s.store.set);
      if (liveByName.has(s.store.set)) sameSets++;
      else objects.push({ kind: 'set', name: s.store.set, change: '+', note: s.role === 'grant' ? 'grants shared by every grant' : 'door state shared by every door' });
      continue;
    }
    const l = liveByName.get(s.name);
    const moved = liveByKey.get(s.key);
    if (!l && moved) objects.push({ kind: 'set', name: s.name, change: '>', note: `was ${moved.name} (same meaning: its elements move)` });
    else if (!l) objects.push({ kind: 'set', name: s.name, change: '+', note: s.comment });
    else if (l.key !== s.key) objects.push({ kind: 'set', name: s.name, change: '~', note: `now: ${s.comment}; was: ${withoutKey(l.comment) || '?'}` });
    else sameSets++;
  }
  const newSetNames = new Set(program.sets.map((s) => s.store?.set ?? s.name));
  for (const s of program.sets) if (s.role === 'grant' && s.store) newSetNames.add(names.grantRegistry(s.family));
  for (const d of program.doorTags ?? []) newSetNames.add(names.doorRegistry(d.family));
  for (const s of liveSets) if (!newSetNames.has(s.name) && !(s.key && newKeys.has(s.key))) objects.push({ kind: 'set', name: s.name, change: '-', note: withoutKey(s.comment) });
  const newChainNames = new Set(program.chains.map((c) => c.name));
  const liveChainNames = new Set(liveChains.map((c) => c.name));
  let sameChains = 0;
  // Written into the hook's chain (input, knockc_input): never a chain of the table.
  const inlined = inlinedEntries(program);
  for (const c of program.chains) {
    if (inlined.has(c.name)) continue;
    if (liveChainNames.has(c.name)) sameChains++;
    else if (live) objects.push({ kind: 'chain', name: c.name, change: '+', note: c.comment });
  }
  for (const c of liveChains) {
    if (!newChainNames.has(c.name) && !Object.values(names.top).includes(c.name)) objects.push({ kind: 'chain', name: c.name, change: '-', note: '' });
  }
  return { doors, grants, objects, unchanged: { sets: sameSets, chains: sameChains }, fresh: live === null };
}



/** The diff for a terminal. */
export function formatDiff(d: ReloadDiff, where: string): string {
  const out: string[] = [];
  out.push(d.fresh ? `${where}: nothing loaded yet; would load:` : `${where}: would change:`);
  out.push('  doors:');
  for (const c of d.doors) {
    const label = `[${c.door}] line ${c.line}`;
    const text = {
      kept: `unchanged${c.attempts ? `, ${plural(c.attempts, 'attempt')} in progress kept` : ''}`,
      restarted: `changed${c.attempts ? `: ${plural(c.attempts, 'attempt')} in progress restart` : ': attempts in progress restart'}`,
      new: 'new',
      removed: `removed${c.attempts ? `: ${plural(c.attempts, 'attempt')} in progress dropped` : ''}`,
      reloaded: 'reloaded (one knock: no state)',
    }[c.change];
    const sign = { kept: '=', restarted: '~', new: '+', removed: '-', reloaded: '=' }[c.change];
    out.push(`    ${sign} ${label}: ${text}`);
  }
  if (d.doors.length === 0) out.push('    (none)');
  if (d.grants.length) {
    out.push('  grants:');
    for (const g of d.grants) {
      const text = {
        kept: `kept${g.sources ? `, ${plural(g.sources, 'source')} ${g.sources === 1 ? 'keeps' : 'keep'} it` : ''}`,
        new: 'new',
        removed: `removed${g.sources ? `: ${plural(g.sources, 'source')} lose it` : ''}`,
      }[g.change];
      out.push(`    ${{ kept: '=', new: '+', removed: '-' }[g.change]} ${g.grant}: ${text}`);
    }
  }
  const count = (kind: 'set' | 'chain', c: ObjectChange['change']): number => d.objects.filter((o) => o.kind === kind && o.change === c).length;
  out.push(
    `  objects: sets +${count('set', '+')} -${count('set', '-')} ~${count('set', '~')} >${count('set', '>')} =${d.unchanged.sets}, chains +${count('chain', '+')} -${count('chain', '-')} =${d.unchanged.chains} (every rule is reloaded)`,
  );
  if (!d.fresh) for (const o of d.objects) out.push(`    ${o.change} ${o.kind} ${o.name}${o.note ? `  ${o.note}` : ''}`);
  return `${out.join('\n')}\n`;
}
