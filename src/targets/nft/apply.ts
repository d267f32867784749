// knockc apply / remove for the nft target: read what is live, build one
// script (removal of the old objects when --into, the compiled rules, the
// carried-over state), and hand it to `nft -f` as one transaction. Nothing
// here prints: the CLI formats the reports.
import type { KnockdConfig } from '../../frontend/config.js';
import type { Program } from '../../model/ir.js';
import { HostError, type Runner } from '../../host/runner.js';
import { grantSets, listDeployments, nftLoad, readTable, readTableForApply, type Deployment, type LiveTable } from './live.js';
import { diffReload, type ReloadDiff } from './diff.js';
import { mapNftErrors, type MappedError } from './errors.js';
import { foreignObjects, foreignReferences, hookRules, reloadScript, removalScript, type NftLocation } from './script.js';
import { planCarryOver, type CarryPlan } from './carry.js';
import { grantWords, isKnockcName } from '../../model/names.js';
import { Refused } from '../target.js';

export interface NftApplyRequest {
  readonly run: Runner;
  readonly config: KnockdConfig;
  readonly compiled: { readonly text: string; readonly program: Program };
  readonly location: NftLocation;
  readonly maxSources: number | null;
  readonly dryRun: boolean;
}

export interface NftApplyReport {
  readonly location: NftLocation;
  readonly diff: ReloadDiff;
  readonly carry: CarryPlan;
  readonly script: string;
  /** dry run: nft -c accepted the script; apply: the kernel loaded it. */
  readonly ok: boolean;
  readonly errors: readonly MappedError[];
  readonly nftStderr: string;
  readonly ms: { readonly read: number; readonly load: number; readonly total: number };
}

export const locationText = (l: { mode: string; family: string; table: string }): string =>
  l.mode === 'standalone' ? `table ${l.family} ${l.table}` : `table ${l.family} ${l.table} (--into)`;

/** Checks what is live at the location before anything is built; throws Refused. */
function checkLocation(loc: NftLocation, live: LiveTable | null): void {
  if (loc.mode === 'standalone') {
    if (!live) return;
    const foreign = foreignObjects(live);
    if (foreign.length) {
      throw new Refused(
        `table ${loc.family} ${loc.table} exists and is not knockc's (it holds ${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}); ` +
          `knockc replaces its own table as a whole, so it will not touch this one: choose another --table, or load into it with --into "${loc.family} ${loc.table}"`,
      );
    }
    return;
  }
  if (!live) throw new Refused(`--into: table ${loc.family} ${loc.table} does not exist (create your table first, or leave out --into for knockc's own table)`);
  for (const c of [loc.chain, loc.forwardChain]) {
    if (c === null) continue;
    if (isKnockcName(c)) throw new Refused(`--into: chain ${c} is one of knockc's own names; name your chain`);
    if (!live.chains.some((x) => x.name === c)) {
      throw new Refused(`--into: table ${loc.family} ${loc.table} has no chain "${c}" (your chains: ${live.chains.filter((x) => !isKnockcName(x.name)).map((x) => x.name).join(', ') || 'none'})`);
    }
  }
  const foreign = foreignReferences(live);
  if (foreign.length) {
    const r = foreign[0]!;
    throw new Refused(
      `--into: rule ${r.handle} of your chain ${r.chain} jumps to ${r.targets.filter(isKnockcName).join(', ')} without knockc's "knockc" comment; ` +
        `knockc cannot replace its chains while it does: delete it (nft delete rule ${loc.family} ${loc.table} ${r.chain} handle ${r.handle})`,
    );
  }
}

export async function applyNft(req: NftApplyRequest): Promise<NftApplyReport> {
  const t0 = performance.now();
  const { location: loc, run } = req;
  const live = await readTableForApply(run, loc.family, loc.table);
  const readAt = performance.now();
  checkLocation(loc, live);
  // Only knockc's objects of the live table matter from here on (diff and carry-over look at knockc_* only).
  const previous = live && hasKnockc(live) ? live : null;
  const diff = diffReload(previous, req.compiled.program, req.config);
  // Time left is counted as late as possible: right before the script goes to nft.
  const carry = planCarryOver(previous, req.compiled.program.sets, {
    family: loc.family,
    table: loc.table,
    elapsedMs: performance.now() - readAt,
    maxSources: req.maxSources,
  });
  const script = reloadScript(loc, live, req.compiled.text, carry.lines);
  const loaded = await nftLoad(run, script.text, { check: req.dryRun });
  const t1 = performance.now();
  const errors = loaded.ok ? [] : mapNftErrors(loaded.stderr, script, req.compiled.program, req.config);
  return {
    location: loc,
    diff,
    carry,
    script: script.text,
    ok: loaded.ok,
    errors,
    nftStderr: loaded.stderr,
    ms: { read: readAt - t0, load: loaded.ms, total: t1 - t0 },
  };
}

const hasKnockc = (t: LiveTable): boolean => t.sets.some((s) => isKnockcName(s.name)) || t.chains.some((c) => isKnockcName(c.name));

export interface RemoveReport {
  readonly removed: ReadonlyArray<{
    readonly where: Deployment;
    readonly sets: number;
    readonly chains: number;
    readonly hooks: number;
    /** Standalone: the grants whose ports knockc guarded (they are now as the user's firewall leaves them). */
    readonly unguarded: readonly string[];
  }>;
  readonly ok: boolean;
  readonly stderr: string;
  readonly ms: number;
}

/**
 * Removes knockc from the given locations (or from every table where it is found): its own
 * table, or its knockc_* chains, sets and hook rules in a user's table. All in one transaction;
 * nothing to remove is success (remove is idempotent).
 */
export async function removeNft(run: Runner, where: readonly Deployment[] | null): Promise<RemoveReport> {
  const t0 = performance.now();
  const targets = where ?? (await listDeployments(run));
  const parts: string[] = [];
  const removed: Array<RemoveReport['removed'][number]> = [];
  for (const d of targets) {
    const live = await readTable(run, d.family, d.table);
    if (!live) continue;
    if (d.mode === 'standalone') {
      const foreign = foreignObjects(live);
      if (foreign.length) {
        throw new Refused(
          `table ${d.family} ${d.table} is not knockc's (it holds ${foreign.slice(0, 3).join(', ')}); not removing it` +
            (hasKnockc(live) ? ` (to remove only knockc's objects from it: --into "${d.family} ${d.table}")` : ''),
        );
      }
    } else {
      const foreign = foreignReferences(live);
      if (foreign.length) {
        const r = foreign[0]!;
        throw new Refused(`rule ${r.handle} of chain ${r.chain} in table ${d.family} ${d.table} jumps to a knockc chain without knockc's comment; delete it first`);
      }
    }
    const text = removalScript(d, live);
    if (!text) continue;
    parts.push(text);
    removed.push({
      where: d,
      sets: live.sets.filter((s) => isKnockcName(s.name) || d.mode === 'standalone').length,
      chains: live.chains.filter((c) => isKnockcName(c.name) || d.mode === 'standalone').length,
      hooks: d.mode === 'into' ? hookRules(live).length : 0,
      unguarded: d.mode === 'standalone' ? [...new Set(grantSets(live).filter((s) => /\bproto=(tcp|udp)\b/.test(s.comment ?? '')).map((s) => grantWords(s.comment)))].sort() : [],
    });
  }
  if (parts.length === 0) return { removed: [], ok: true, stderr: '', ms: performance.now() - t0 };
  const r = await nftLoad(run, parts.join(''));
  if (!r.ok && !r.stderr) throw new HostError('nft -f failed without a message');
  return { removed: r.ok ? removed : [], ok: r.ok, stderr: r.stderr, ms: performance.now() - t0 };
}
