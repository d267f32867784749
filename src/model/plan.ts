// What each door does when it opens, per address family: kernel grants
// (opened for a time or until revoked, or revoked), nothing, or a command
// only the runtime can run. Shared by lint, explain and every generator.
import type { Door, KnockdConfig, Located, Setting } from '../frontend/config.js';
import type { Range } from '../frontend/source.js';
import { analyseCommand } from './commands.js';
import { grantKey, type CommandAnalysis, type Family, type GrantAction, type GrantTarget } from './grant.js';

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
  | { readonly kind: 'runtime'; readonly code: 'KC401' | 'KC402'; readonly reason: string; readonly range: Range; readonly token: string };

export interface DoorPlan {
  readonly door: Door;
  /** Identifier used for kernel objects: unique, [a-z0-9_], stable for a given config. */
  readonly id: string;
  readonly families: Readonly<Record<Family, FamilyPlan>>;
  /** The runtime must run for this door to do all it should (commands, or one-time sequences). */
  readonly needsRuntime: boolean;
}

export interface PlanContext {
  /** Under --into, sets of this nft table can be filled by kernel rules. */
  readonly intoTable?: { readonly family: string; readonly name: string } | null;
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

function analyse(cmd: Cmd): CommandAnalysis {
  return analyseCommand(cmd.text);
}

function keyOf(a: GrantAction, family: Family): string {
  return `${family}|${grantKey(a.target)}`;
}

function refOf(a: GrantAction, family: Family): GrantRef {
  return { key: keyOf(a, family), family, target: a.target, tool: a.tool };
}

/** A grant opened for this lifetime (spelt out: a `{ ...g, lifetime }` copy is several times larger). */
function opening(g: GrantRef, lifetime: Lifetime): GrantRef & { readonly lifetime: Lifetime } {
  return { key: g.key, family: g.family, target: g.target, tool: g.tool, lifetime };
}

/** Whether two lists hold the same keys, repeats aside (a command line's few grants: lists beat sets). */
function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  return a.every((k) => b.includes(k)) && b.every((k) => a.includes(k));
}

/** Set-element grants can live in the kernel only inside the table that owns the set. */
function kernelCan(a: GrantAction, ctx: PlanContext): boolean {
  if (a.target.kind !== 'set-element') return true;
  const into = ctx.intoTable;
  return !!into && into.family === a.target.set.family && into.name === a.target.set.table;
}

function planFamily(door: Door, family: Family, ctx: PlanContext): FamilyPlan {
  const { start, stop } = familyCommands(door, family);
  // knockd runs nothing (not even the stop command) without a non-empty start command.
  if (!start || start.text === '') return { kind: 'nothing', why: 'no start command' };
  const s = analyse(start);
  if (s.kind === 'empty') return { kind: 'nothing', why: 'empty start command' };
  if (s.kind === 'opaque') {
    return { kind: 'runtime', code: 'KC401', reason: s.reason, token: s.token, range: rangeAt(start, s.offset, s.token.length) };
  }
  const mine = s.actions.filter((a) => a.families.includes(family));
  if (mine.length === 0) {
    return { kind: 'nothing', why: `the start command acts on ${family === 'ip6' ? 'IPv4' : 'IPv6'} only and fails for this family` };
  }
  const blocked = mine.find((a) => !kernelCan(a, ctx));
  if (blocked) {
    return {
      kind: 'runtime',
      code: 'KC401',
      reason: 'set element of a table knockc does not write to (use --into with that table)',
      token: blocked.tool,
      range: rangeAt(start, blocked.offset, blocked.tool.length),
    };
  }
  const adds = mine.filter((a) => a.op === 'add').map((a) => refOf(a, family));
  const deletes = mine.filter((a) => a.op === 'delete').map((a) => refOf(a, family));

  if (!stop) {
    return { kind: 'kernel', opens: adds.map((g) => opening(g, { kind: 'until-revoked' })), revokes: deletes };
  }
  const t = analyse(stop);
  if (t.kind === 'opaque') {
    return { kind: 'runtime', code: 'KC401', reason: t.reason, token: t.token, range: rangeAt(stop, t.offset, t.token.length) };
  }
  const stopMine = t.kind === 'grants' ? t.actions.filter((a) => a.families.includes(family)) : [];
  const inverse =
    deletes.length === 0 &&
    stopMine.every((a) => a.op === 'delete') &&
    sameKeys(
      adds.map((g) => g.key),
      stopMine.map((a) => keyOf(a, family)),
    );
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

export function planDoor(door: Door, ctx: PlanContext = {}): DoorPlan {
  const families = { ip: planFamily(door, 'ip', ctx), ip6: planFamily(door, 'ip6', ctx) };
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

export function planDoors(config: KnockdConfig, ctx: PlanContext = {}): DoorPlan[] {
  return config.doors.map((d) => planDoor(d, ctx));
}
