// Marks other software on the host already uses (Docker, wg-quick, Kubernetes,
// Calico, ...): knockc's bits must be clear of them, or a packet someone else
// marked would pass the standing rule, and a rule that rewrites the mark could
// take a grant away.
import { markHex, overlaps, type Mark } from '../model/mark.js';
import type { HostSnapshot } from './snapshot.js';
import { isKnockcName } from '../model/names.js';
import { isIptStandingLine, STANDING_COMMENT } from './standing.js';

export interface MarkUse {
  /** Where: "table inet mangle chain prerouting", "iptables-nft mangle", "ip rule". */
  readonly where: string;
  readonly text: string;
}

/**
 * The mark VALUES a rule sets or matches ("--set-xmark 0x4000/0xffffffff" -> 0x4000; nft
 * "mark and 0xffffbfff xor 0x4000" -> 0x4000): a value with our bit means someone else marks
 * packets the way knockc's grants do (their packets would pass the standing rule), or reads
 * knockc's grants as theirs. Masks ("and", "&", "/M") only keep or clear bits: not counted.
 */
export function markValues(text: string): number[] {
  const i = text.search(/\bmark\b|--(set-x?mark|or-mark|and-mark|xor-mark|mark)\b/);
  if (i < 0) return [];
  const out: number[] = [];
  const tokens = text.slice(i).split(/\s+/);
  for (let k = 0; k < tokens.length; k++) {
    const tok = tokens[k]!;
    const num = /^(0x[0-9a-fA-F]+|\d+)(?:\/(?:0x[0-9a-fA-F]+|\d+))?$/.exec(tok);
    if (!num) continue;
    const before = tokens[k - 1] ?? '';
    if (before === 'and' || before === '&' || before === '--and-mark') continue;
    const n = Number(num[1]) >>> 0;
    if (n !== 0) out.push(n);
  }
  return out;
}

/** `nft list ruleset` lines that use a mark overlapping `bits`, outside knockc's own tables. */
export function nftMarkUses(ruleset: string, bits: number, own: (family: string, table: string) => boolean): MarkUse[] {
  const out: MarkUse[] = [];
  let table: { family: string; name: string } | null = null;
  let chain = '';
  for (const raw of ruleset.split('\n')) {
    const l = raw.trim();
    const t = /^table (\S+) (\S+) \{/.exec(l);
    if (t) table = { family: t[1]!, name: t[2]! };
    const c = /^chain (\S+) \{/.exec(l);
    if (c) chain = c[1]!;
    // knockc's own: its tables, its chains in a user's table (--into), its standing rule.
    if (!table || own(table.family, table.name) || isKnockcName(chain) || l.includes(STANDING_COMMENT)) continue;
    if (!/\bmark\b/.test(l) || /^(type|policy|chain|table|set|map)\b/.test(l)) continue;
    // A standing rule as iptables-nft lists it (its comment is not shown): it only reads the bits.
    const standing = /^meta mark & (0x[0-9a-f]+) == (0x[0-9a-f]+)\s+(counter packets \d+ bytes \d+\s+)?accept\b/.exec(l);
    if (standing && standing[1] === standing[2]) continue;
    if (markValues(l).some((n) => overlaps(n, bits))) out.push({ where: `table ${table.family} ${table.name} chain ${chain}`, text: l });
  }
  return out;
}

/** iptables-save lines (any table) that use a mark overlapping `bits`, not knockc's standing rule. */
export function iptMarkUses(save: string, bits: number, tool: string): MarkUse[] {
  const out: MarkUse[] = [];
  let table = '';
  for (const raw of save.split('\n')) {
    const l = raw.trim();
    if (l.startsWith('*')) table = l.slice(1);
    if (!l.startsWith('-A ') || isIptStandingLine(l)) continue;
    if (!/--(set-x?mark|or-mark|and-mark|xor-mark|mark)\b|MARK/.test(l)) continue;
    if (markValues(l).some((n) => overlaps(n, bits))) out.push({ where: `${tool} table ${table}`, text: l });
  }
  return out;
}

/** Every use of the mark's bits by someone else on this host (nft, both iptables variants, ip rule). */
export function marksInUse(snap: HostSnapshot, mark: Mark, own: (family: string, table: string) => boolean): MarkUse[] {
  const out: MarkUse[] = [];
  if (snap.nftText !== null) out.push(...nftMarkUses(snap.nftText, mark.bits, own));
  for (const [tool, save] of Object.entries(snap.iptSave)) if (save !== null) out.push(...iptMarkUses(save, mark.bits, tool));
  for (const l of snap.ipRules) {
    const m = /fwmark (0x[0-9a-f]+|\d+)(?:\/(0x[0-9a-f]+|\d+))?/.exec(l);
    if (m && overlaps(Number(m[1]) >>> 0, mark.bits)) out.push({ where: 'ip rule', text: l.trim() });
  }
  return out;
}

export function markUsesText(uses: readonly MarkUse[], mark: Mark): string {
  const shown = uses.slice(0, 5).map((u) => `  ${u.where}: ${u.text}`);
  const more = uses.length > 5 ? [`  (and ${uses.length - 5} more)`] : [];
  return [`the mark bits ${markHex(mark)} are already used on this host:`, ...shown, ...more].join('\n');
}
