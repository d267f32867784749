// Live state across a reload: the elements (sources mid-sequence, grants) of
// every live set whose key equals the key of a set in the new program are
// re-added to the new set, with the time they had left, by `add element`
// lines appended to the very script that replaces the rules, so the reload
// and the carry-over are one transaction. Keys change when what gives the
// elements their meaning changes (a door's sequence, flags, timeouts, name;
// a grant's match or lifetime): those sets start empty.
import type { SetDecl } from '../../model/ir.js';
import { isKnockcName } from '../../model/names.js';
import { formatNftTime, type LiveElement, type LiveSet, type LiveTable } from './live.js';

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
  if (decl.timeout === null) return e.addr;
  if (e.expiresMs === null) return e.addr;
  const left = e.expiresMs - elapsedMs;
  if (left < MIN_CARRY_MS) return null;
  const timeout = Math.max(e.timeoutMs ?? live.timeoutMs ?? decl.timeout * 1000, left);
  return `${e.addr} timeout ${formatNftTime(timeout)} expires ${formatNftTime(left)}`;
}

/** The carry-over of `live` (null: nothing loaded yet) into a program with sets `next`. */
export function planCarryOver(live: LiveTable | null, next: readonly SetDecl[], o: CarryOptions): CarryPlan {
  const lines: string[] = [];
  const carried: CarriedSet[] = [];
  const dropped: DroppedSet[] = [];
  if (!live) return { lines, carried, dropped };
  const byKey = new Map<string, SetDecl[]>();
  for (const d of next) byKey.set(d.key, [...(byKey.get(d.key) ?? []), d]);
  const cap = Math.min(o.maxSources ?? KERNEL_SET_MAX, KERNEL_SET_MAX);
  const target = new Map<string, { live: LiveSet; decl: SetDecl; elems: Map<string, { text: string; left: number }> }>();
  for (const s of live.sets) {
    if (!isKnockcName(s.name) || s.elements.length === 0) continue;
    const decls = s.key ? (byKey.get(s.key) ?? []) : [];
    if (decls.length === 0) {
      dropped.push({ name: s.name, comment: s.comment, count: s.elements.length });
      continue;
    }
    for (const decl of decls) {
      const t = target.get(decl.name) ?? { live: s, decl, elems: new Map() };
      for (const e of s.elements) {
        const text = elementText(e, s, decl, o.elapsedMs);
        if (text === null) continue;
        const left = e.expiresMs === null ? Infinity : e.expiresMs - o.elapsedMs;
        const prev = t.elems.get(e.addr);
        if (!prev || prev.left < left) t.elems.set(e.addr, { text, left });
      }
      target.set(decl.name, t);
    }
  }
  for (const [name, t] of target) {
    // Longest-lived first, so that a smaller new size keeps those with the most time left.
    const all = [...t.elems.values()].sort((a, b) => b.left - a.left);
    const kept = all.slice(0, cap);
    carried.push({ from: t.live.name, to: name, key: t.decl.key, count: kept.length, overflow: all.length - kept.length });
    for (let i = 0; i < kept.length; i += CHUNK) {
      lines.push(`add element ${o.family} ${o.table} ${name} { ${kept.slice(i, i + CHUNK).map((e) => e.text).join(', ')} }`);
    }
  }
  return { lines, carried, dropped };
}
