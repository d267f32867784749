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
import { grantKey, type Family, type GrantAction, type GrantCommand } from './grant.js';

export interface KeyedEffect {
  /** grantKey(action.target). */
  readonly key: string;
  readonly effect: 'open' | 'revoke';
  /** The first command that acts on this rule. */
  readonly action: GrantAction;
}

export type LineEffect =
  | { readonly kind: 'empty' }
  /** Rules not listed are unchanged; no effects: the line changes nothing for this family. */
  | { readonly kind: 'effects'; readonly effects: readonly KeyedEffect[] }
  | {
      readonly kind: 'runtime';
      readonly code: 'KC401' | 'KC407' | 'KC408';
      readonly token: string;
      readonly offset: number;
      readonly reason: string;
    };

/** Starting states tried at most (each rule's possible copy counts, multiplied). */
const MAX_STATES = 4096;

/** One rule of one store, as the line's commands change it. */
interface Slot {
  readonly key: string;
  readonly store: GrantAction['store'];
  readonly action: GrantAction;
  /** Starting copy counts worth trying: 0 .. deletes + 1 for 'copies', 0 and 1 for 'set'. */
  readonly starts: number;
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
  const index = new Map(slots.list.map((s, i) => [slotId(s.store.name, s.key), i]));
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
    if (open[i]) effects.push({ key: s.key, effect: 'open', action: s.action });
    else if (keeps[i]) continue;
    else if (loses[i]) effects.push({ key: s.key, effect: 'revoke', action: s.action });
    else return runtime(s.action, 'whether this rule ends open depends on what the firewall holds when the line runs (a delete fails when its rule is absent; `&&` and `||` follow that)');
  }
  return { kind: 'effects', effects };
}

function slotId(store: string, key: string): string {
  return `${store}\n${key}`;
}

function runtime(at: GrantAction, reason: string): LineEffect {
  return { kind: 'runtime', code: 'KC407', token: at.tool, offset: at.offset, reason };
}

type Listed = ReadonlyArray<Pick<GrantCommand, 'join' | 'actions'>>;

/** The rules the line touches for this family; the same rule through two stores is refused. */
function slotsOf(commands: Listed): { list: Slot[] } | { conflict: LineEffect } {
  const byKey = new Map<string, { store: GrantAction['store']; action: GrantAction; deletes: number }>();
  for (const c of commands) {
    for (const a of c.actions) {
      const key = grantKey(a.target);
      const s = byKey.get(key);
      if (s === undefined) {
        byKey.set(key, { store: a.store, action: a, deletes: a.op === 'delete' ? 1 : 0 });
      } else if (s.store.name !== a.store.name) {
        return {
          conflict: runtime(a, `the line changes the same rule through ${s.store.name} and ${a.store.name}, which may or may not share their rules on the host`),
        };
      } else if (a.op === 'delete') {
        s.deletes++;
      }
    }
  }
  const list = [...byKey.entries()].map(([key, s]) => ({
    key,
    store: s.store,
    action: s.action,
    starts: s.store.kind === 'copies' ? s.deletes + 1 : 1,
  }));
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
      const i = index.get(slotId(a.store.name, grantKey(a.target))) as number;
      const have = counts[i] as number;
      if (a.op === 'add') counts[i] = a.store.kind === 'copies' ? have + 1 : 1;
      else if (have > 0) counts[i] = a.store.kind === 'copies' ? have - 1 : 0;
      else if (a.store.kind === 'copies') ok = false; // iptables -D: "Bad rule (does a matching rule exist in that chain?)"
    }
  });
}
