// Live state across a reload: the elements (sources mid-sequence, grants) of
// every live set whose key equals the key of a set in the new program are
// re-added to the new set, with the time they had left, by `add element`
// lines appended to the very script that replaces the rules, so the reload
// and the carry-over are one transaction. Keys change when what gives the
// elements their meaning changes (a door's sequence, flags, timeouts, name;
// a grant's match or lifetime): those sets start empty. Door state lives in
// sets shared by every door (knockc_armed4, ...), keyed by source and door tag:
// there an element is carried when the new program has the same set and tag
// (the tag is the door's stable identity, like a key).
import type { SetDecl } from '../../model/ir.js';
import { isKnockcName, isRegistry, isSharedGrantSet, isSharedStateSet } from '../../model/names.js';
import { formatNftTime, grantSets, type LiveElement, type LiveSet, type LiveTable } from './live.js';

/** Elements with less time left than this are not carried (they expire during the reload anyway). */
export const MIN_CARRY_MS = 20;
/** Elements per `add element` line. */
const CHUNK = 512;

export interface CarriedSet {
  readonly from: string;
  readonly to: string;
  readonly key: string;
  readonly count: number;
  /** Elements that did not fit the new set's size. */
  readonly overflow: number;
}

export interface DroppedSet {
  readonly name: string;
  readonly comment: string | null;
  readonly count: number;
}

export interface CarryPlan {
  /** `add element` commands for the reload script. */
  readonly lines: readonly string[];
  readonly carried: readonly CarriedSet[];
  /** Live sets with elements and no set of the same key in the new program. */
  readonly dropped: readonly DroppedSet[];
}

export interface CarryOptions {
  readonly family: string;
  readonly table: string;
  /** Time since the live table was read: subtracted from every element's time left. */
  readonly elapsedMs: number;
  /** `size` of the new sets (--max-sources); null = the kernel's 65535. */
  readonly maxSources: number | null;
}

const ADDRESS = /^[0-9A-Fa-f:.]+$/;
const KERNEL_SET_MAX = 65535;

function elementText(e: LiveElement, live: LiveSet, decl: SetDecl, elapsedMs: number): string | null {
  if (!ADDRESS.test(e.addr)) return null;
  const key = decl.store ? `${e.addr} . ${decl.store.tag}` : e.addr;
  if (decl.timeout === null) return key;
  if (e.expiresMs === null) return key;
  const left = e.expiresMs - elapsedMs;
  if (left < MIN_CARRY_MS) return null;
  const timeout = Math.max(e.timeoutMs ?? live.timeoutMs ?? decl.timeout * 1000, left);
  return `${key} timeout ${formatNftTime(timeout)} expires ${formatNftTime(left)}`;
}

/** The carry-over of `live` (null: nothing loaded yet) into a program with sets `next`. */
export function planCarryOver(live: LiveTable | null, next: readonly SetDecl[], o: CarryOptions): CarryPlan {
  const lines: string[] = [];
  const carried: CarriedSet[] = [];
  const dropped: DroppedSet[] = [];
  if (!live) return { lines, carried, dropped };
  const byKey = new Map<string, SetDecl[]>();
  for (const d of next) byKey.set(d.key, [...(byKey.get(d.key) ?? []), d]);
  const byTag = new Map<string, SetDecl>();
  for (const d of next) if (d.store) byTag.set(`${d.store.set}#${d.store.tag}`, d);
  const cap = Math.min(o.maxSources ?? KERNEL_SET_MAX, KERNEL_SET_MAX);
  const target = new Map<string, { live: LiveSet; decl: SetDecl; elems: Map<string, { text: string; left: number }> }>();
  const carry = (s: LiveSet, decl: SetDecl, elements: readonly LiveElement[]): void => {
    const t = target.get(decl.name) ?? { live: s, decl, elems: new Map() };
    for (const e of elements) {
      const text = elementText(e, s, decl, o.elapsedMs);
      if (text === null) continue;
      const left = e.expiresMs === null ? Infinity : e.expiresMs - o.elapsedMs;
      const prev = t.elems.get(e.addr);
      if (!prev || prev.left < left) t.elems.set(e.addr, { text, left });
    }
    target.set(decl.name, t);
  };
  // The shared grant set's elements go by grant (grantSets: each tag with its key, from the registry).
  const sets = [...live.sets.filter((s) => !isSharedGrantSet(s.name) && !isRegistry(s.name) && !/^knockc_grant[46]_g\d+_/.test(s.name)), ...grantSets(live)];
  for (const s of sets) {
    if (!isKnockcName(s.name) || s.elements.length === 0) continue;
    if (isSharedStateSet(s.name)) {
      const byDoor = new Map<number | null, LiveElement[]>();
      for (const e of s.elements) byDoor.set(e.tag, [...(byDoor.get(e.tag) ?? []), e]);
      let lost = 0;
      for (const [tag, elements] of byDoor) {
        const decl = tag === null ? undefined : byTag.get(`${s.name}#${tag}`);
        if (decl) carry(s, decl, elements);
        else lost += elements.length;
      }
      if (lost) dropped.push({ name: s.name, comment: s.comment, count: lost });
      continue;
    }
    const decls = s.key ? (byKey.get(s.key) ?? []) : [];
    if (decls.length === 0) {
      dropped.push({ name: s.name, comment: s.comment, count: s.elements.length });
      continue;
    }
    for (const decl of decls) carry(s, decl, s.elements);
  }
  // The size bound is the loaded set's: a shared set holds the elements of every door.
  const loaded = new Map<string, Array<{ name: string; e: { text: string; left: number } }>>();
  for (const [name, t] of target) {
    const set = t.decl.store?.set ?? name;
    const all = loaded.get(set) ?? [];
    for (const e of t.elems.values()) all.push({ name, e });
    loaded.set(set, all);
  }
  const kept = new Map<string, number>();
  for (const [set, all] of loaded) {
    // Longest-lived first, so that a smaller new size keeps those with the most time left.
    const k = all.sort((a, b) => b.e.left - a.e.left).slice(0, cap);
    for (const x of k) kept.set(x.name, (kept.get(x.name) ?? 0) + 1);
    for (let i = 0; i < k.length; i += CHUNK) {
      lines.push(`add element ${o.family} ${o.table} ${set} { ${k.slice(i, i + CHUNK).map((x) => x.e.text).join(', ')} }`);
    }
  }
  for (const [name, t] of target) {
    const n = kept.get(name) ?? 0;
    carried.push({ from: t.live.name, to: name, key: t.decl.key, count: n, overflow: t.elems.size - n });
  }
  return { lines, carried, dropped };
}
