// Where nft keeps the IR's sets (issue 20): door state and grants in sets shared by every door,
// under a tag per door or grant that is unique in its set and does not depend on door order.
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/frontend/load.js';
import { DEFAULT_LOWER, lower } from '../../src/model/lower.js';
import type { Program } from '../../src/model/ir.js';

function program(text: string): Program {
  const r = parseConfigText(text, { file: 'shared.conf' });
  if (!r.config) throw new Error(`config rejected: ${JSON.stringify(r.diagnostics)}`);
  return lower(r.config, DEFAULT_LOWER);
}

const DOOR = (name: string, first: number): string =>
  `[${name}]\nsequence = ${first},${first + 1}:udp,${first + 2}\nseq_timeout = 5\n` +
  `start_command = iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\ncmd_timeout = 30\n` +
  `stop_command = iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n`;

describe('shared sets', () => {
  it('every state and grant set has a store: its role and stage, per family; one tag per door in all its sets', () => {
    const p = program(Array.from({ length: 50 }, (_, i) => DOOR(`door${i}`, 10000 + 3 * i)).join(''));
    for (const s of p.sets) {
      const fam = s.family === 'ip' ? '4' : '6';
      const want = s.role === 'grant' ? `knockc_grant${fam}` : s.role === 'armed' ? `knockc_armed${fam}` : `knockc_stage${fam}_${/_(\d+)$/.exec(s.name)![1]}`;
      expect(s.store?.set).toBe(want);
    }
    const byDoor = new Map<string, Set<number>>();
    for (const s of p.sets) if (s.door !== null) byDoor.set(`${s.family}|${s.door}`, (byDoor.get(`${s.family}|${s.door}`) ?? new Set()).add(s.store!.tag));
    expect([...byDoor.values()].every((tags) => tags.size === 1)).toBe(true);
  });

  it('tags are unique in each shared set, even for doors that are the same in every way', () => {
    const p = program(DOOR('twin', 7000) + DOOR('twin', 7000) + DOOR('other', 8000));
    const seen = new Map<string, Set<number>>();
    for (const s of p.sets) {
      const tags = seen.get(s.store!.set) ?? new Set<number>();
      const n = tags.size;
      tags.add(s.store!.tag);
      seen.set(s.store!.set, tags);
      // a door's sets are in different shared sets, so each adds a new tag to its own
      expect(tags.size).toBe(n + 1);
    }
  });

  it('a door keeps its tag when doors are reordered or added, and gets another when its sequence changes', () => {
    const tagOf = (p: Program, door: number): number => p.sets.find((s) => s.door === door && s.role === 'armed' && s.family === 'ip')!.store!.tag;
    const a = program(DOOR('a', 7000) + DOOR('b', 8000));
    const b = program(DOOR('c', 9000) + DOOR('b', 8000) + DOOR('a', 7000));
    expect(tagOf(b, 2)).toBe(tagOf(a, 0));
    expect(tagOf(b, 1)).toBe(tagOf(a, 1));
    const c = program(DOOR('a', 7100) + DOOR('b', 8000));
    expect(tagOf(c, 0)).not.toBe(tagOf(a, 0));
  });
});
