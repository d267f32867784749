// `knockc apply|remove|status --target iptables` against the host, through a
// Runner: read with {ip,ip6}tables-{nft,legacy}-save, write with
// {ip,ip6}tables-{nft,legacy}-restore --noflush (one transaction per family).
//
// Both families in one apply: both inputs are first checked with
// `restore --test`; then IPv4 is loaded, then IPv6. A restore is atomic per
// table, so a failure leaves that family as it was; when IPv6 fails after
// IPv4 was loaded, knockc's IPv4 objects are put back as they were (the rules
// iptables-save printed before the apply, in one more restore), so the kernel
// ends as before (the counters of the restored rules restart from zero).
import type { Family } from '../../model/grant.js';
import type { Backend } from './preflight.js';
import { HostError, runOk, type Runner } from '../../host/runner.js';
import type { DeploymentStatus } from '../status.js';
import { Refused } from '../target.js';
import { buildRestore, foreignReferences, listsOf, liveKnockc, parseRestoreInput, parseSave, type Hook, type KnockcRules, type SaveTable } from './restore.js';
import { clockFromTimerList, hzFromSamples, parseRecentFiles, type KernelClock, type RecentEntry } from './recent.js';
import { diffIptables } from './diff.js';
import { iptablesStatus } from './status.js';

export const FAMILIES: readonly Family[] = ['ip', 'ip6'];
export const famText = (f: Family): string => (f === 'ip' ? 'IPv4' : 'IPv6');
export const toolOf = (backend: Backend, f: Family, what: 'save' | 'restore' | ''): string =>
  `${f === 'ip' ? 'iptables' : 'ip6tables'}-${backend}${what ? `-${what}` : ''}`;
export const whereText = (backend: Backend, f: Family): string => `iptables-${backend} ${famText(f)} (table filter)`;

export async function readFilter(run: Runner, backend: Backend, f: Family, counters = false): Promise<SaveTable> {
  return parseSave(await runOk(run, [toolOf(backend, f, 'save'), ...(counters ? ['-c'] : []), '-t', 'filter']));
}

export interface RestoreResult {
  readonly ok: boolean;
  readonly stderr: string;
  readonly ms: number;
}

export async function restore(run: Runner, backend: Backend, f: Family, input: string, test = false): Promise<RestoreResult> {
  const t0 = performance.now();
  const r = await run([toolOf(backend, f, 'restore'), '--noflush', ...(test ? ['--test'] : [])], input);
  if (r.code === 127) throw new HostError(`${toolOf(backend, f, 'restore')} not found (apt-get install iptables)`);
  return { ok: r.code === 0, stderr: r.stderr || r.stdout || `exit ${r.code}`, ms: performance.now() - t0 };
}

/** The sources of xt_recent lists (one process for all of them; a list the kernel lacks is empty). */
export async function readRecent(run: Runner, lists: readonly string[]): Promise<Map<string, RecentEntry[]>> {
  if (lists.length === 0) return new Map();
  const r = await run(['grep', '-H', '', ...lists.map((l) => `/proc/net/xt_recent/${l}`)]);
  return parseRecentFiles(r.stdout);
}

/**
 * The kernel's HZ and current jiffies, which xt_recent's timestamps count in (`getconf CLK_TCK`
 * is USER_HZ, always 100, not the kernel's HZ). From /proc/timer_list (root only): one read
 * usually suffices (see clockFromTimerList); otherwise a second read 250 ms later measures it.
 * Null when /proc/timer_list cannot be read: times left are then shown as unknown.
 */
export async function readClock(run: Runner): Promise<KernelClock | null> {
  const a = await run(['cat', '/proc/timer_list']);
  if (a.code !== 0) return null;
  const once = clockFromTimerList(a.stdout);
  if (once) return once;
  await new Promise((r) => setTimeout(r, 250));
  const b = await run(['cat', '/proc/timer_list']);
  return b.code === 0 ? hzFromSamples(a.stdout, b.stdout) : null;
}

function refuseForeign(backend: Backend, f: Family, t: SaveTable): void {
  const foreign = foreignReferences(t);
  if (foreign.length) {
    const r = foreign[0]!;
    throw new Refused(
      `your rule \`-A ${r.chain} ${r.spec}\` (${toolOf(backend, f, '')}) uses a knockc chain; knockc cannot replace or delete its chains while it does: delete it first`,
    );
  }
}

/** "line 7 failed" of iptables-restore, with the line itself. */
export function explainRestoreError(stderr: string, input: string, tool: string): string {
  const lines = input.split('\n');
  const m = /line (\d+) failed/.exec(stderr);
  const bad = m ? lines[Number(m[1]) - 1] : undefined;
  return `${stderr.trim().split('\n').map((l) => `    ${tool}: ${l}`).join('\n')}\n${bad !== undefined ? `    input line ${m![1]}: ${bad}\n` : ''}`;
}

export interface IptCompiled {
  readonly text: string;
  readonly hooks: readonly Hook[];
}

export interface IptApplyReport {
  readonly ok: boolean;
  /** One diff per family, for --dry-run. */
  readonly diff: string;
  /** Live sources in lists the new rules keep / no longer use. */
  readonly kept: number;
  readonly dropped: number;
  readonly inputs: Readonly<Record<Family, string>>;
  /** When !ok: what failed, for the user. */
  readonly error: string;
  /** When IPv6 failed after IPv4 was loaded: whether IPv4 was put back. */
  readonly rolledBack: boolean | null;
  readonly doors: number;
  readonly ms: { read: number; load: number; total: number };
}

export async function applyIptables(req: { run: Runner; backend: Backend; compiled: Readonly<Record<Family, IptCompiled>>; dryRun: boolean }): Promise<IptApplyReport> {
  const { run, backend } = req;
  const t0 = performance.now();
  const before = {} as Record<Family, SaveTable>;
  const want = {} as Record<Family, KnockcRules>;
  const inputs = {} as Record<Family, string>;
  for (const f of FAMILIES) {
    before[f] = await readFilter(run, backend, f);
    refuseForeign(backend, f, before[f]);
    want[f] = parseRestoreInput(req.compiled[f].text, req.compiled[f].hooks);
    inputs[f] = buildRestore(before[f], want[f]).input!;
  }
  const oldLists = FAMILIES.flatMap((f) => [...listsOf(liveKnockc(before[f])).keys()]);
  const recent = await readRecent(run, oldLists);
  const clock = oldLists.length ? await readClock(run) : null;
  const readMs = performance.now() - t0;
  let kept = 0;
  let dropped = 0;
  let diff = '';
  for (const f of FAMILIES) {
    const d = diffIptables(whereText(backend, f), before[f], want[f], recent, clock);
    kept += d.kept;
    dropped += d.dropped;
    diff += d.text;
  }
  const doors = new Set(
    FAMILIES.flatMap((f) => want[f].chains.flatMap((c) => c.rules.map((r) => /--comment "\[([^\]]*)\] line (\d+)/.exec(r)).filter((m) => m !== null).map((m) => `${m[1]}|${m[2]}`))),
  ).size;
  const base = { diff, kept, dropped, inputs, doors };
  const t1 = performance.now();
  for (const f of FAMILIES) {
    const r = await restore(run, backend, f, inputs[f], true);
    if (!r.ok) {
      return { ...base, ok: false, rolledBack: null, error: explainRestoreError(r.stderr, inputs[f], `${toolOf(backend, f, 'restore')} --test`), ms: { read: readMs, load: performance.now() - t1, total: performance.now() - t0 } };
    }
  }
  if (req.dryRun) return { ...base, ok: true, rolledBack: null, error: '', ms: { read: readMs, load: performance.now() - t1, total: performance.now() - t0 } };
  const t2 = performance.now();
  const r4 = await restore(run, backend, 'ip', inputs.ip);
  if (!r4.ok) return { ...base, ok: false, rolledBack: null, error: explainRestoreError(r4.stderr, inputs.ip, toolOf(backend, 'ip', 'restore')), ms: { read: readMs, load: performance.now() - t2, total: performance.now() - t0 } };
  const r6 = await restore(run, backend, 'ip6', inputs.ip6);
  if (!r6.ok) {
    const error = explainRestoreError(r6.stderr, inputs.ip6, toolOf(backend, 'ip6', 'restore'));
    let rolledBack = false;
    try {
      const back = buildRestore(await readFilter(run, backend, 'ip'), liveKnockc(before.ip));
      rolledBack = back.input === null || (await restore(run, backend, 'ip', back.input)).ok;
    } catch {
      rolledBack = false;
    }
    return { ...base, ok: false, rolledBack, error, ms: { read: readMs, load: performance.now() - t2, total: performance.now() - t0 } };
  }
  return { ...base, ok: true, rolledBack: null, error: '', ms: { read: readMs, load: performance.now() - t2, total: performance.now() - t0 } };
}

export interface IptRemoveReport {
  readonly ok: boolean;
  readonly removed: ReadonlyArray<{ family: Family; chains: number; hooks: number }>;
  readonly error: string;
  readonly ms: number;
}

/** Deletes knockc's jumps and knockc_* chains, per family in one restore; nothing there is success. */
export async function removeIptables(run: Runner, backend: Backend): Promise<IptRemoveReport> {
  const t0 = performance.now();
  const before = {} as Record<Family, SaveTable>;
  const plans: Array<{ family: Family; input: string; chains: number; hooks: number }> = [];
  for (const f of FAMILIES) {
    before[f] = await readFilter(run, backend, f);
    refuseForeign(backend, f, before[f]);
    const p = buildRestore(before[f], { chains: [], hooks: [] });
    if (p.input) plans.push({ family: f, input: p.input, chains: p.chainsDeleted.length, hooks: p.hooksDeleted.length });
  }
  const done: typeof plans = [];
  for (const p of plans) {
    const r = await restore(run, backend, p.family, p.input);
    if (!r.ok) {
      // Put back what was already removed, so that a failed remove changes nothing.
      for (const d of done) {
        const back = buildRestore(await readFilter(run, backend, d.family), liveKnockc(before[d.family]));
        if (back.input) await restore(run, backend, d.family, back.input);
      }
      return { ok: false, removed: [], error: explainRestoreError(r.stderr, p.input, toolOf(backend, p.family, 'restore')), ms: performance.now() - t0 };
    }
    done.push(p);
  }
  if (backend === 'nft') for (const p of done) await dropEmptyFilterTable(run, p.family);
  return { ok: true, removed: done.map(({ family, chains, hooks }) => ({ family, chains, hooks })), error: '', ms: performance.now() - t0 };
}

/**
 * A filter table left with nothing but its built-in chains, accepting (usually the `ip6 filter`
 * that knockc's own restore created on a host whose firewall is IPv4 only): deleted, since it
 * cannot change the fate of any packet, and a table knockc made should not outlive it.
 */
async function dropEmptyFilterTable(run: Runner, f: Family): Promise<void> {
  const save = await run([toolOf('nft', f, 'save'), '-t', 'filter']);
  if (save.code !== 0 || !emptyAcceptingFilter(save.stdout)) return;
  await run(['nft', 'delete', 'table', f, 'filter']);
}

/** iptables-save of a filter table with only INPUT, FORWARD, OUTPUT, policy ACCEPT, no rule. */
export function emptyAcceptingFilter(save: string): boolean {
  const lines = save.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const body = lines.filter((l) => l !== '*filter' && l !== 'COMMIT');
  if (!lines.includes('*filter')) return false;
  const chains = body.filter((l) => l.startsWith(':')).map((l) => l.split(/\s+/).slice(0, 2).join(' ')).sort();
  return body.every((l) => l.startsWith(':')) && JSON.stringify(chains) === JSON.stringify([':FORWARD ACCEPT', ':INPUT ACCEPT', ':OUTPUT ACCEPT']);
}

export async function statusIptables(run: Runner, backend: Backend): Promise<DeploymentStatus[]> {
  const saves = {} as Record<Family, SaveTable>;
  for (const f of FAMILIES) saves[f] = await readFilter(run, backend, f, true);
  const lists = FAMILIES.flatMap((f) => [...listsOf(liveKnockc(saves[f])).keys()]);
  const recent = await readRecent(run, lists);
  const clock = lists.length ? await readClock(run) : null;
  const out: DeploymentStatus[] = [];
  for (const f of FAMILIES) {
    const s = iptablesStatus({ family: f, backend, save: saves[f], recent, clock });
    if (s) out.push(s);
  }
  return out;
}

/** knockc chains in the iptables the host does NOT use (left from an earlier choice): worth a warning. */
export async function otherBackendHasKnockc(run: Runner, backend: Backend): Promise<boolean> {
  const other: Backend = backend === 'nft' ? 'legacy' : 'nft';
  for (const f of FAMILIES) {
    // (without -t: asking for a table would create it in a kernel that does not use that iptables)
    const r = await run([toolOf(other, f, 'save')]);
    if (r.code === 0 && liveKnockc(parseSave(r.stdout)).chains.length) return true;
  }
  return false;
}
