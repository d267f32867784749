// Which door each live door chain and door tag belongs to, read from the rules and the door
// registry (knockc_doorkey4: `TAG comment "[door] line N: ..."`): door state lives in sets
// shared by every door (knockc_armed4, ...), keyed by source and door tag, so the sets no
// longer say whose elements they hold.
import { doorChainOf, doorLabel, familyOfName, isKnockcName, isSharedStateSet, type DoorLabel } from '../../model/names.js';
import type { LiveTable } from './live.js';

export interface LiveDoors {
  /** `ip|TAG` -> its door's label, from the door registry (knockc_doorkey4) and the rules. */
  readonly labelByTag: ReadonlyMap<string, DoorLabel>;
  /** Door id (d3) -> its label: the rules that jump to its door chain carry it. */
  readonly labels: ReadonlyMap<string, DoorLabel>;
  /** `ip|TAG` -> door id: the set statements of the door chain name its tag. */
  readonly byTag: ReadonlyMap<string, string>;
  /** `knockc_stage4_2#TAG`: every shared set and tag that a live rule uses. */
  readonly tagged: ReadonlySet<string>;
}

export const tagKey = (family: string | null, tag: number | null): string => `${family}|${tag}`;

export function liveDoors(t: LiveTable): LiveDoors {
  const labels = new Map<string, DoorLabel>();
  const byTag = new Map<string, string>();
  const tagged = new Set<string>();
  for (const r of t.rules) {
    if (!isKnockcName(r.chain)) continue;
    const l = doorLabel(r.comment);
    if (l) {
      for (const target of r.targets) {
        const id = doorChainOf(target);
        if (id && !labels.has(id)) labels.set(id, l);
      }
    }
    const own = doorChainOf(r.chain);
    for (const o of r.setOps) {
      if (o.tag === null || !isSharedStateSet(o.set)) continue;
      tagged.add(`${o.set}#${o.tag}`);
      if (own) byTag.set(tagKey(familyOfName(o.set), o.tag), own);
    }
  }
  const labelByTag = new Map<string, DoorLabel>();
  for (const [k, id] of byTag) {
    const l = labels.get(id);
    if (l) labelByTag.set(k, l);
  }
  for (const s of t.sets) {
    if (!/^knockc_doorkey[46]$/.test(s.name)) continue;
    for (const e of s.elements) {
      const l = doorLabel(e.comment);
      if (l && e.tag !== null) labelByTag.set(tagKey(familyOfName(s.name), e.tag), l);
    }
  }
  return { labels, byTag, tagged, labelByTag };
}
