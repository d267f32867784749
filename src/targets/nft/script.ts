// The nft scripts of apply and remove. Each is ONE `nft -f` transaction: the
// kernel applies all of it or none of it.
import { HOOK_COMMENT, isKnockcName, names } from '../../model/names.js';
import type { LiveRule, LiveTable } from './live.js';

/** Standalone: knockc's own table; --into: its knockc_* objects in a user's table. */
export type NftLocation =
  | { readonly mode: 'standalone'; readonly family: 'inet'; readonly table: string }
  | { readonly mode: 'into'; readonly family: 'inet' | 'ip' | 'ip6'; readonly table: string; readonly chain: string; readonly forwardChain: string | null };

/** The rules that hook knockc into a user's chains: in a non-knockc chain, comment "knockc", jumping to knockc_*. */
export function hookRules(t: LiveTable): LiveRule[] {
  return t.rules.filter((r) => !isKnockcName(r.chain) && r.comment === HOOK_COMMENT && r.targets.some(isKnockcName));
}

/** Rules of the user's chains that reach knockc's chains without being knockc's hooks (they would block a removal). */
export function foreignReferences(t: LiveTable): LiveRule[] {
  const hooks = new Set(hookRules(t));
  return t.rules.filter((r) => !isKnockcName(r.chain) && !hooks.has(r) && r.targets.some(isKnockcName));
}

/**
 * What of a standalone table is not knockc's (so that knockc must not delete the table):
 * sets and chains that are neither knockc_* nor knockc's base chains, and base-chain rules
 * that go anywhere but to knockc_* chains.
 */
export function foreignObjects(t: LiveTable): string[] {
  const out: string[] = [];
  const bases = new Set<string>(names.nftBase);
  for (const s of t.sets) if (!isKnockcName(s.name)) out.push(`set ${s.name}`);
  for (const c of t.chains) if (!isKnockcName(c.name) && !bases.has(c.name)) out.push(`chain ${c.name}`);
  for (const r of t.rules) {
    if (isKnockcName(r.chain) || !bases.has(r.chain)) continue;
    // knockc's base-chain rules jump to one knockc_* chain, or look up a port in a verdict map of them.
    if (r.targets.length === 0 || !r.targets.every(isKnockcName)) out.push(`rule ${r.handle} in chain ${r.chain}`);
  }
  return out;
}

/**
 * Commands that take knockc's objects out of a user's table (--into): empty every knockc_*
 * chain (so none references another or a set), delete the hooks by handle, then the chains
 * and the sets. Prefixed to a reload, the new objects are created again in the same transaction.
 */
export function intoRemovalLines(t: LiveTable): string[] {
  const at = `${t.family} ${t.name}`;
  const chains = t.chains.filter((c) => isKnockcName(c.name));
  const sets = t.sets.filter((s) => isKnockcName(s.name));
  return [
    ...chains.map((c) => `flush chain ${at} ${c.name}`),
    ...hookRules(t).map((r) => `delete rule ${at} ${r.chain} handle ${r.handle}`),
    ...chains.map((c) => `delete chain ${at} ${c.name}`),
    ...sets.map((s) => `delete set ${at} ${s.name}`),
  ];
}

export interface ReloadScript {
  readonly text: string;
  /** Lines before the compiled text (to map nft's line numbers back). */
  readonly preludeLines: number;
  /** Lines of the compiled text. */
  readonly compiledLines: number;
}

/** prelude (--into: what is live now goes) + the compiled rules + the carried-over elements. */
export function reloadScript(loc: NftLocation, live: LiveTable | null, compiled: string, carry: readonly string[]): ReloadScript {
  const prelude = loc.mode === 'into' && live ? intoRemovalLines(live) : [];
  const head = prelude.length ? `# knockc apply: what knockc loaded before goes, in the same transaction\n${prelude.join('\n')}\n` : '';
  const body = compiled.endsWith('\n') ? compiled : `${compiled}\n`;
  const tail = carry.length ? `# knockc apply: live attempts and grants carried over (time left as read)\n${carry.join('\n')}\n` : '';
  return { text: head + body + tail, preludeLines: head ? prelude.length + 1 : 0, compiledLines: body.split('\n').length - 1 };
}

/** The script that removes knockc from one location; '' when nothing of knockc's is there. */
export function removalScript(loc: { mode: 'standalone' | 'into' }, live: LiveTable | null): string {
  if (!live) return '';
  if (loc.mode === 'standalone') return `delete table ${live.family} ${live.name}\n`;
  const lines = intoRemovalLines(live);
  return lines.length ? `${lines.join('\n')}\n` : '';
}
