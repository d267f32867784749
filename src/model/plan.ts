// What each door does when it opens, per address family: kernel grants
// (opened for a time or until revoked, or revoked), nothing, or a command
// only the runtime can run. Shared by lint, explain and every generator.
import type { Door, KnockdConfig, Located, Setting } from '../frontend/config.js';
import type { Range } from '../frontend/source.js';
import type { Family, GrantTarget } from './grant.js';
import { lineEffect, type KeyedEffect, type LineEffect } from './line-effect.js';

export const FAMILIES: readonly Family[] = ['ip', 'ip6'];

export type Lifetime = { readonly kind: 'timed'; readonly seconds: number } | { readonly kind: 'until-revoked' };

export interface GrantRef {
  /** Family-qualified grant identity: equal keys open the same hole. */
  readonly key: string;
  readonly family: Family;
  readonly target: GrantTarget;
  readonly tool: string;
}

export type FamilyPlan =
  | { readonly kind: 'nothing'; readonly why: string }
  | {
      readonly kind: 'kernel';
      readonly opens: ReadonlyArray<GrantRef & { readonly lifetime: Lifetime }>;
      readonly revokes: readonly GrantRef[];
    }
  | {
      readonly kind: 'runtime';
      /** KC401 not understood, KC402 stop is not the start's inverse, KC407 depends on run-time state, KC408 not reproducible in the kernel. */
      readonly code: 'KC401' | 'KC402' | 'KC407' | 'KC408';
      readonly reason: string;
      readonly range: Range;
      readonly token: string;
    };

export interface DoorPlan {
  readonly door: Door;
  /** Identifier used for kernel objects: unique, [a-z0-9_], stable for a given config. */
  readonly id: string;
  readonly families: Readonly<Record<Family, FamilyPlan>>;
  /** The runtime must run for this door to do all it should (commands, or one-time sequences). */
  readonly needsRuntime: boolean;
}

export interface Cmd {
  readonly text: string;
  readonly from: Located<string> | null;
}

function pick(primary: Setting<string | null>, fallback: Setting<string | null> | null): Cmd | null {
  if (primary.value !== null) return { text: primary.value, from: primary.from };
  if (fallback && fallback.value !== null) return { text: fallback.value, from: fallback.from };
  return null;
}

/** The commands knockd runs for a source of this family: IPv6 falls back to the IPv4 ones. */
export function familyCommands(door: Door, family: Family): { readonly start: Cmd | null; readonly stop: Cmd | null } {
  return family === 'ip6'
    ? { start: pick(door.startCommand6, door.startCommand), stop: pick(door.stopCommand6, door.stopCommand) }
    : { start: pick(door.startCommand, null), stop: pick(door.stopCommand, null) };
}

function rangeAt(cmd: Cmd, offset: number, length: number): Range {
  const r = cmd.from?.range;
  if (!r) throw new Error('internal: command without a source');
  return {
    start: { ...r.start, col: r.start.col + offset },
    end: { ...r.start, col: r.start.col + offset + Math.max(1, length) },
  };
}

function runtimeAt(cmd: Cmd, e: Extract<LineEffect, { kind: 'runtime' }>): FamilyPlan {
  return { kind: 'runtime', code: e.code, reason: e.reason, token: e.token, range: rangeAt(cmd, e.offset, e.token.length) };
}

function refOf(e: KeyedEffect, family: Family): GrantRef {
  return { key: `${family}|${e.key}`, family, target: e.action.target, tool: e.action.tool };
}

/** A grant opened for this lifetime (spelt out: a `{ ...g, lifetime }` copy is several times larger). */
function opening(g: GrantRef, lifetime: Lifetime): GrantRef & { readonly lifetime: Lifetime } {
  return { key: g.key, family: g.family, target: g.target, tool: g.tool, lifetime };
}

function planFamily(door: Door, family: Family): FamilyPlan {
  const { start, stop } = familyCommands(door, family);
  // knockd runs nothing (not even the stop command) without a non-empty start command.
  if (!start || start.text === '') return { kind: 'nothing', why: 'no start command' };
  const s = lineEffect(start.text, family);
  if (s.kind === 'empty') return { kind: 'nothing', why: 'empty start command' };
  if (s.kind === 'runtime') return runtimeAt(start, s);
  if (s.effects.length === 0) {
    const other = family === 'ip6' ? 'IPv4' : 'IPv6';
    const acts = lineEffect(start.text, family === 'ip' ? 'ip6' : 'ip');
    return {
      kind: 'nothing',
      why:
        acts.kind === 'effects' && acts.effects.length > 0
          ? `the start command acts on ${other} only and fails for this family`
          : 'the start command changes no rule for this family',
    };
  }
  const adds = s.effects.filter((e) => e.effect === 'open').map((e) => refOf(e, family));
  const deletes = s.effects.filter((e) => e.effect === 'revoke').map((e) => refOf(e, family));

  if (!stop) {
    return { kind: 'kernel', opens: adds.map((g) => opening(g, { kind: 'until-revoked' })), revokes: deletes };
  }
  const t = lineEffect(stop.text, family);
  if (t.kind === 'runtime') return runtimeAt(stop, t);
  const stopEffects = t.kind === 'effects' ? t.effects : [];
  // The stop command must take away exactly what the start command gave, nothing else.
  // (Rule by rule: iptables -D finds only the rule written with the same matches in the same order.)
  const opened = s.effects.filter((e) => e.effect === 'open');
  const inverse =
    deletes.length === 0 &&
    stopEffects.length === opened.length &&
    stopEffects.every((e) => e.effect === 'revoke' && opened.some((o) => o.key === e.key && o.rules.join('\n') === e.rules.join('\n')));
  if (!inverse) {
    return {
      kind: 'runtime',
      code: 'KC402',
      reason: 'the stop command does not delete exactly what the start command adds',
      token: stop.text,
      range: rangeAt(stop, 0, stop.text.length),
    };
  }
  const secs = door.cmdTimeout.value;
  // sleep(cmd_timeout): 0 closes at once; a negative value sleeps ~136 years.
  if (secs === 0) return { kind: 'nothing', why: 'cmd_timeout 0 closes the grant as soon as it opens' };
  const lifetime: Lifetime = secs < 0 ? { kind: 'until-revoked' } : { kind: 'timed', seconds: secs };
  return { kind: 'kernel', opens: adds.map((g) => opening(g, lifetime)), revokes: [] };
}

function slug(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  return s.slice(0, 24) || 'door';
}

export function planDoor(door: Door): DoorPlan {
  const families = { ip: planFamily(door, 'ip'), ip6: planFamily(door, 'ip6') };
  const needsRuntime = door.sequenceFrom.kind === 'one-time' || FAMILIES.some((f) => families[f].kind === 'runtime');
  return { door, id: `d${door.index}_${slug(door.name)}`, families, needsRuntime };
}

/**
 * Whether the runtime, not the kernel, acts when this door opens for a source of this
 * family. One-time doors always: the kernel cannot retire a sequence, so their openings
 * must pass through the runtime, which marks the sequence used before anything opens.
 */
export function runtimeActs(p: DoorPlan, f: Family): boolean {
  return p.door.sequenceFrom.kind === 'one-time' || p.families[f].kind === 'runtime';
}

export function planDoors(config: KnockdConfig): DoorPlan[] {
  return config.doors.map((d) => planDoor(d));
}
