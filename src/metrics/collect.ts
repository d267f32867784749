// What the metrics need beyond `knockc status`'s view, read from the kernel the same way
// status reads it (and only read): knocks per stage from the counters of the rules that
// advance an attempt, and how full each knockc set / xt_recent list is against its limit.
import type { Runner } from '../host/runner.js';
import { isSharedGrantSet, doorChainOf, doorChainRoot, doorIdOfName, doorLabel, isKnockcName, listRole, setMeaning } from '../model/names.js';
import { readFilter, readRecent } from '../targets/iptables/host.js';
import type { Backend } from '../targets/iptables/preflight.js';
import { isKnockc, listsOf, liveKnockc, ruleFacts, type SaveTable } from '../targets/iptables/restore.js';
import { readTable, type LiveTable, type NftFamily } from '../targets/nft/live.js';
import type { DeploymentStatus } from '../targets/status.js';
import { whereOf, type SetFill, type StageKnocks, type Where } from './status-metrics.js';

/** nft's bound for a dynamic set declared without a size (docs: nft(8), "size"). */
export const NFT_DEFAULT_SET_SIZE = 65535;
const ADVANCE = /^stage (\d+) -> (\d+)$/;

class Stages {
  readonly out = new Map<string, StageKnocks>();
  add(where: Where, door: string, line: number, stage: number, n: number): void {
    const key = `${door}\0${line}\0${stage}`;
    const prev = this.out.get(key);
    this.out.set(key, { where, door, line, stage, knocks: (prev?.knocks ?? 0) + n });
  }
}

/** Knocks per stage and set fill of one nft deployment's table. */
export function nftDetails(where: Where, t: LiveTable): { stages: StageKnocks[]; sets: SetFill[] } {
  // A door chain's door: the labelled rules that jump to it say it ("[door] line N"), whether
  // the door's state is in sets of its own or in sets shared by every door; a per-door set's
  // comment says it too.
  const doorOf = new Map<string, { door: string; line: number }>();
  for (const r of t.rules) {
    const l = isKnockcName(r.chain) ? doorLabel(r.comment) : null;
    if (!l) continue;
    for (const target of r.targets) {
      const id = doorChainOf(target);
      if (id && !doorOf.has(id)) doorOf.set(id, { door: l.door, line: l.line });
    }
  }
  for (const s of t.sets) {
    const id = doorIdOfName(s.name);
    const l = doorLabel(s.comment);
    if (id && l && !doorOf.has(id) && isKnockcName(s.name) && setMeaning(s.name).role !== 'grant') doorOf.set(id, { door: l.door, line: l.line });
  }
  const st = new Stages();
  for (const r of t.rules) {
    if (!r.counter || !isKnockcName(r.chain)) continue;
    const id = doorChainOf(r.chain);
    const adv = ADVANCE.exec(r.comment ?? '');
    const d = id ? doorOf.get(id) : undefined;
    if (d && adv) st.add(where, d.door, d.line, Number(adv[2]), r.counter.packets);
    const l = doorLabel(r.comment);
    if (!id && l && (l.rest === 'stage 1' || l.rest === 'one-knock door')) st.add(where, l.door, l.line, 1, r.counter.packets);
  }
  const sets = t.sets
    .filter((s) => isKnockcName(s.name))
    .map((s) => {
      const id = doorIdOfName(s.name);
      return { where, set: s.name, role: isSharedGrantSet(s.name) ? 'grant' : setMeaning(s.name).role, door: (id && doorOf.get(id)?.door) ?? null, entries: s.elements.length, limit: s.size ?? NFT_DEFAULT_SET_SIZE };
    });
  return { stages: [...st.out.values()], sets };
}

/** Knocks per stage of one iptables family, and the knockc lists' fill (`entries`: per list). */
export function iptablesDetails(where: Where, save: SaveTable, entries: ReadonlyMap<string, number>, limit: number | null): { stages: StageKnocks[]; sets: SetFill[] } {
  const rules = save.rules.filter((r) => isKnockc(r.chain)).map((r) => ({ ...r, f: ruleFacts(r.spec) }));
  // A door's chain is the one its labelled start rules jump to.
  const doorOf = new Map<string, { door: string; line: number }>();
  for (const r of rules) {
    const l = doorLabel(r.f.comment);
    const id = r.f.target ? doorChainRoot(r.f.target.chain) : null;
    if (l && id) doorOf.set(id, { door: l.door, line: l.line });
  }
  const st = new Stages();
  const listDoor = new Map<string, string>();
  for (const r of rules) {
    const id = doorChainRoot(r.chain);
    const adv = ADVANCE.exec(r.f.comment ?? '');
    const d = id && r.chain === id ? doorOf.get(id) : undefined;
    if (d) for (const u of r.f.recent) listDoor.set(u.list, d.door);
    if (d && adv) st.add(where, d.door, d.line, Number(adv[2]), r.packets ?? 0);
    const l = doorLabel(r.f.comment);
    if (l) for (const u of r.f.recent) if (listRole(u.list) !== 'grant') listDoor.set(u.list, l.door);
    if (l && (l.rest === 'stage 1' || l.rest === 'one-knock door')) st.add(where, l.door, l.line, 1, r.packets ?? 0);
  }
  const sets = [...listsOf(liveKnockc(save)).keys()].sort().map((list) => ({ where, set: list, role: listRole(list), door: listRole(list) === 'grant' ? null : (listDoor.get(list) ?? null), entries: entries.get(list) ?? 0, limit }));
  return { stages: [...st.out.values()], sets };
}

/** xt_recent's ip_list_tot (sources per list), or null when the module's parameter cannot be read. */
async function recentListSize(run: Runner): Promise<number | null> {
  const r = await run(['cat', '/sys/module/xt_recent/parameters/ip_list_tot']);
  const n = Number(r.stdout.trim());
  return r.code === 0 && Number.isInteger(n) && n > 0 ? n : null;
}

/** Stage knocks and set fill for every deployment `knockc status` found. */
export async function collectDetails(run: Runner, deployments: readonly DeploymentStatus[]): Promise<{ stages: StageKnocks[]; sets: SetFill[] }> {
  const stages: StageKnocks[] = [];
  const sets: SetFill[] = [];
  for (const d of deployments) {
    const where = whereOf(d);
    if (d.target === 'nft') {
      const t = await readTable(run, d.family as NftFamily, d.table);
      if (!t) continue;
      const x = nftDetails(where, t);
      stages.push(...x.stages);
      sets.push(...x.sets);
    } else {
      const save = await readFilter(run, (d.backend ?? 'nft') as Backend, d.family as 'ip' | 'ip6', true);
      const lists = [...listsOf(liveKnockc(save)).keys()];
      const recent = await readRecent(run, lists);
      const x = iptablesDetails(where, save, new Map(lists.map((l) => [l, recent.get(l)?.length ?? 0])), lists.length ? await recentListSize(run) : null);
      stages.push(...x.stages);
      sets.push(...x.sets);
    }
  }
  return { stages, sets };
}
