// knockc status for the nft target: what the kernel knows right now, per door: sources
// mid-sequence (stage, time left), active grants (source, door, time left),
// and the counters of knocks, openings and resets. Read from the kernel
// only (the config is not needed): set names and comments (and, for the sets
// shared by every door, the door chains' set statements and the registries)
// say what each set holds, rule comments and counters say what each rule did.
import { grantSets, type Deployment, type LiveTable } from './live.js';
import { liveDoors, tagKey } from './doors.js';
import { doorChainOf, doorIdOfName, doorLabel, familyOfName, grantWords, isKnockcName, isSharedStateSet, setMeaning } from '../../model/names.js';
import type { AttemptStatus, Counters, DeploymentStatus, GrantStatus } from '../status.js';
import { bySource } from '../status.js';

export function deploymentStatus(d: Deployment, t: LiveTable): DeploymentStatus {
  const sets = t.sets.filter((s) => isKnockcName(s.name));
  // Door index (d0, d1, ...) -> name and line, from set comments and rule comments.
  const doors = new Map<string, { name: string; line: number; stages: number; counters: Counters | null; attempts: AttemptStatus[] }>();
  const byName = new Map<string, string>();
  const touch = (id: string, name: string, line: number) => {
    let e = doors.get(id);
    if (!e) {
      e = { name, line, stages: 1, counters: null, attempts: [] };
      doors.set(id, e);
      byName.set(`${name}|${line}`, id);
    }
    return e;
  };
  for (const s of sets) {
    const id = doorIdOfName(s.name);
    const l = doorLabel(s.comment);
    if (!id || !l || setMeaning(s.name).role === 'grant') continue;
    const e = touch(id, l.door, l.line);
    const m = setMeaning(s.name);
    if (m.role === 'stage') e.stages = Math.max(e.stages, m.knocks + 1);
  }
  // Doors whose state is in the shared sets: their labels and tags are in the rules (doors.ts).
  const live = liveDoors(t);
  for (const [id, l] of live.labels) touch(id, l.door, l.line);
  for (const r of t.rules) {
    const id = doorChainOf(r.chain);
    const e = id ? doors.get(id) : undefined;
    const adv = e ? /^stage (\d+) -> (\d+)$/.exec(r.comment ?? '') : null;
    if (e && adv) e.stages = Math.max(e.stages, Number(adv[2]));
  }
  // Rules: door chains knockc_doorF_dN (advances, wrong knocks) and start rules labelled "[door] line N".
  const ruleDoor = (chain: string, comment: string | null): string | null => {
    const id = doorChainOf(chain);
    if (id) return doors.has(id) ? id : null;
    const l = doorLabel(comment);
    if (!l || !isKnockcName(chain)) return null;
    const key = `${l.door}|${l.line}`;
    const known = byName.get(key);
    if (known) return known;
    touch(key, l.door, l.line);
    return key;
  };
  const add = (id: string, f: (c: Counters) => void): void => {
    const e = doors.get(id)!;
    e.counters ??= { knocks: 0, openings: 0, resets: 0 };
    f(e.counters);
  };
  for (const r of t.rules) {
    if (!r.counter || !isKnockcName(r.chain)) continue;
    const id = ruleDoor(r.chain, r.comment);
    if (!id) continue;
    const n = r.counter.packets;
    const e = doors.get(id)!;
    const adv = /^stage (\d+) -> (\d+)$/.exec(r.comment ?? '');
    const label = doorLabel(r.comment);
    if (adv) add(id, (c) => {
      c.knocks += n;
      if (Number(adv[2]) === e.stages) c.openings += n;
    });
    else if (/^wrong knock/.test(r.comment ?? '')) add(id, (c) => {
      c.knocks += n;
      c.resets += n;
    });
    else if (label?.rest === 'stage 1') add(id, (c) => (c.knocks += n));
    else if (label?.rest === 'one-knock door') add(id, (c) => {
      c.knocks += n;
      c.openings += n;
    });
  }
  // Attempts: sources in a door's armed set, at the highest stage set that holds them.
  for (const s of sets) {
    if (setMeaning(s.name).role !== 'armed' || !isSharedStateSet(s.name)) continue;
    const fam = familyOfName(s.name);
    // Stage sets of this family: source . tag -> the highest stage holding it.
    const reached = new Map<string, number>();
    for (const st of sets) {
      const m = setMeaning(st.name);
      if (m.role !== 'stage' || !isSharedStateSet(st.name) || familyOfName(st.name) !== fam) continue;
      for (const x of st.elements) reached.set(`${x.addr}|${x.tag}`, Math.max(reached.get(`${x.addr}|${x.tag}`) ?? 1, m.knocks));
    }
    for (const el of s.elements) {
      const id = live.byTag.get(tagKey(fam, el.tag));
      const e = id ? doors.get(id) : undefined;
      if (e) e.attempts.push({ source: el.addr, stage: reached.get(`${el.addr}|${el.tag}`) ?? 1, expiresMs: el.expiresMs });
    }
  }
  for (const s of sets) {
    if (setMeaning(s.name).role !== 'armed' || isSharedStateSet(s.name)) continue;
    const id = doorIdOfName(s.name)!;
    const e = doors.get(id);
    if (!e) continue;
    const fam = familyOfName(s.name);
    for (const el of s.elements) {
      let stage = 1;
      for (const st of sets) {
        const m = setMeaning(st.name);
        if (m.role === 'stage' && doorIdOfName(st.name) === id && familyOfName(st.name) === fam && st.elements.some((x) => x.addr === el.addr)) {
          stage = Math.max(stage, m.knocks);
        }
      }
      e.attempts.push({ source: el.addr, stage, expiresMs: el.expiresMs });
    }
  }
  // Grants: which doors open each grant set (rules that add or refresh it).
  const grants: GrantStatus[] = [];
  for (const s of grantSets(t)) {
    const openers = new Set<string>();
    const isMine = (o: { set: string; tag: number | null }): boolean => (s.store ? o.set === s.store.set && o.tag === s.store.tag : o.set === s.name);
    for (const r of t.rules) {
      if (!r.setOps.some((o) => isMine(o) && (o.op === 'add' || o.op === 'update'))) continue;
      const id = ruleDoor(r.chain, r.comment);
      if (id) openers.add(doors.get(id)!.name);
    }
    for (const el of s.elements) {
      grants.push({
        source: el.addr,
        grant: grantWords(s.comment),
        doors: [...openers].sort(),
        expiresMs: el.expiresMs,
        timeoutMs: el.timeoutMs ?? s.timeoutMs,
      });
    }
  }
  const doorList = [...doors.values()]
    .map((e) => ({ ...e, attempts: e.attempts.sort((a, b) => bySource(a.source, b.source)) }))
    .sort((a, b) => a.line - b.line || a.name.localeCompare(b.name));
  grants.sort((a, b) => bySource(a.source, b.source) || a.grant.localeCompare(b.grant));
  return { target: 'nft', family: d.family, table: d.table, mode: d.mode, doors: doorList, grants };
}
