// What one start/stop command line does for a knocker of one family, as /bin/sh and the real
// tools would do it: the commands run in order, `A && B` runs B only when A succeeded,
// `A || B` only when it failed, a command meant for the other family fails, and a delete
// fails when there is nothing to delete.
//
// The outcome is worked out by running the line on every starting state that matters (each
// rule it touches absent, or present in enough copies), and is a kernel grant only when it
// is the same for all of them: a rule ends present whatever the start ('open'), ends with
// fewer copies or none ('revoke'), or keeps its presence ('nothing', left out). Anything
// else depends on what the firewall holds when the line runs, and goes to the runtime.
import { analyseCommand } from './commands.js';
import { grantKey, type Family, type GrantAction, type GrantCommand, type RuntimeReason } from './grant.js';

export interface KeyedEffect {
  /** grantKey(action.target). */
  readonly key: string;
  readonly effect: 'open' | 'revoke';
  /** The first command that acts on this grant. */
  readonly action: GrantAction;
  /** The rules (as their tool tells them apart: GrantAction.rule) that give this grant. */
  readonly rules: readonly string[];
}

export type LineEffect =
  | { readonly kind: 'empty' }
  /** Rules not listed are unchanged; no effects: the line changes nothing for this family. */
  | { readonly kind: 'effects'; readonly effects: readonly KeyedEffect[] }
  | ({ readonly kind: 'runtime' } & RuntimeReason);

/** Starting states tried at most (each rule's possible copy counts, multiplied). */
const MAX_STATES = 4096;

/** One rule of one store, as the line's commands change it. */
interface Slot {
  readonly id: string;
  readonly key: string;
  readonly rule: string;
  readonly store: GrantAction['store'];
  readonly action: GrantAction;
  /** Starting copy counts worth trying: 0 .. deletes + 1 for 'copies', 0 and 1 for 'set'. */
  readonly starts: number;
}

/** The rule an action changes, in its store. */
function slotOf(a: GrantAction): { id: string; key: string; rule: string } {
  const key = grantKey(a.target);
  const rule = a.rule ?? key;
  return { id: `${a.store.name}\n${key}\n${rule}`, key, rule };
}

const cache = new Map<string, LineEffect>();

export function lineEffect(line: string, family: Family): LineEffect {
  const id = `${family}\n${line}`;
  let r = cache.get(id);
  if (r === undefined) {
    r = compute(line, family);
    if (cache.size < 100_000) cache.set(id, r);
  }
  return r;
}

function compute(line: string, family: Family): LineEffect {
  const a = analyseCommand(line);
  if (a.kind === 'empty') return a;
  if (a.kind === 'opaque') return { kind: 'runtime', code: a.code, token: a.token, offset: a.offset, reason: a.reason };
  const commands = a.commands.map((c) => ({ join: c.join, actions: c.actions.filter((x) => x.families.includes(family)) }));
  const slots = slotsOf(commands);
  if ('conflict' in slots) return slots.conflict;
  const total = slots.list.reduce((n, s) => n * (s.starts + 1), 1);
  if (total > MAX_STATES) {
    const first = slots.list[0] as Slot;
    return runtime(first.action, `the line changes too many rules to work out (${total} starting states)`);
  }

  // Per slot: does it end present in every state, keep its presence in every state, lose a copy (or have none) in every state.
  const open = slots.list.map(() => true);
  const keeps = slots.list.map(() => true);
  const loses = slots.list.map(() => true);
  const index = new Map(slots.list.map((s, i) => [s.id, i]));
  const counts = new Array<number>(slots.list.length).fill(0);
  for (let state = 0; state < total; state++) {
    let rest = state;
    const start = slots.list.map((s) => {
      const c = rest % (s.starts + 1);
      rest = Math.floor(rest / (s.starts + 1));
      return c;
    });
    start.forEach((c, i) => (counts[i] = c));
    run(commands, counts, index);
    slots.list.forEach((_, i) => {
      const before = start[i] as number;
      const after = counts[i] as number;
      if (after === 0) open[i] = false;
      if (after > 0 !== before > 0) keeps[i] = false;
      if (!(after === 0 || after < before)) loses[i] = false;
    });
  }

  const effects: KeyedEffect[] = [];
  for (const [i, s] of slots.list.entries()) {
    if (open[i]) effects.push({ key: s.key, effect: 'open', action: s.action, rules: [s.rule] });
    else if (keeps[i]) continue;
    else if (loses[i]) effects.push({ key: s.key, effect: 'revoke', action: s.action, rules: [s.rule] });
    else return runtime(s.action, 'whether this rule ends open depends on what the firewall holds when the line runs (a delete fails when its rule is absent; `&&` and `||` follow that)');
  }
  // Rules of one grant written differently (only adds: see slotsOf) give it together.
  const merged: KeyedEffect[] = [];
  for (const e of effects) {
    const i = merged.findIndex((m) => m.key === e.key);
    if (i < 0) merged.push(e);
    else merged[i] = { ...(merged[i] as KeyedEffect), rules: [...(merged[i] as KeyedEffect).rules, ...e.rules].sort() };
  }
  return { kind: 'effects', effects: merged };
}

function runtime(at: GrantAction, reason: string): LineEffect {
  return { kind: 'runtime', code: 'KC407', token: at.tool, offset: at.offset, reason };
}

type Listed = ReadonlyArray<Pick<GrantCommand, 'join' | 'actions'>>;

/**
 * The rules the line touches for this family. One grant through two stores, or written as two
 * rules and deleted in one of them, is refused: whether the tool sees one rule or two there
 * (iptables and iptables-legacy may share their rules or not; `--dport 0:65535` is a bare
 * `-m tcp`) decides what a delete finds.
 */
function slotsOf(commands: Listed): { list: Slot[] } | { conflict: LineEffect } {
  const slots = new Map<string, { slot: Omit<Slot, 'starts'>; deletes: number }>();
  const byKey = new Map<string, { store: string; rules: Set<string>; deletes: boolean }>();
  for (const c of commands) {
    for (const a of c.actions) {
      const { id, key, rule } = slotOf(a);
      const g = byKey.get(key) ?? { store: a.store.name, rules: new Set<string>(), deletes: false };
      byKey.set(key, g);
      if (g.store !== a.store.name) {
        return { conflict: runtime(a, `the line changes the same rule through ${g.store} and ${a.store.name}, which may or may not share their rules on the host`) };
      }
      g.rules.add(rule);
      g.deletes ||= a.op === 'delete';
      if (g.rules.size > 1 && g.deletes) {
        return { conflict: runtime(a, 'the line adds and deletes this grant written as different rules: iptables -D finds a rule only with the same matches in the same order') };
      }
      const s = slots.get(id) ?? { slot: { id, key, rule, store: a.store, action: a }, deletes: 0 };
      slots.set(id, s);
      if (a.op === 'delete') s.deletes++;
    }
  }
  const list = [...slots.values()].map(({ slot, deletes }) => ({ ...slot, starts: slot.store.kind === 'copies' ? deletes + 1 : 1 }));
  return { list };
}

/** Runs the and-or list on `counts` (copies per slot), as sh does. */
function run(commands: Listed, counts: number[], index: ReadonlyMap<string, number>): void {
  let ok = true; // exit status of the last command that ran
  commands.forEach((c, n) => {
    const runs = n === 0 || c.join === ';' || (c.join === '&&' ? ok : !ok);
    if (!runs) return;
    // A command with nothing for this family is one that fails for it (see GrantAction.families).
    ok = c.actions.length > 0;
    for (const a of c.actions) {
      const i = index.get(slotOf(a).id) as number;
      const have = counts[i] as number;
      if (a.op === 'add') counts[i] = a.store.kind === 'copies' ? have + 1 : 1;
      else if (have > 0) counts[i] = a.store.kind === 'copies' ? have - 1 : 0;
      else if (a.store.kind === 'copies') ok = false; // iptables -D: "Bad rule (does a matching rule exist in that chain?)"
    }
  });
}
