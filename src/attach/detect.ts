// Which firewall decides on this host, read from the kernel's rules: knockc
// attaches its standing rule where that firewall decides (attach.ts). Checked in
// this order, the first that decides wins: firewalld, ufw, iptables (the nft and
// the legacy variant), a plain nftables ruleset, none.
import type { Hook } from '../model/grant.js';
import type { HostSnapshot } from './snapshot.js';

export const HOST_KINDS = ['firewalld', 'ufw', 'iptables', 'nftables', 'none'] as const;
export type HostKind = (typeof HOST_KINDS)[number];

/** iptables-nft (rules in nf_tables through the iptables commands) or the legacy x_tables. */
export type IptVariant = 'nft' | 'legacy';

/** A base chain of a native nftables table that drops or rejects. */
export interface NftBaseChain {
  readonly family: string;
  readonly table: string;
  readonly chain: string;
  readonly hook: Hook;
}

export type HostFirewall =
  | { readonly kind: 'firewalld'; readonly why: string }
  | { readonly kind: 'ufw'; readonly why: string; readonly variant: IptVariant }
  | { readonly kind: 'iptables'; readonly why: string; readonly variant: IptVariant }
  | { readonly kind: 'nftables'; readonly why: string; readonly chains: readonly NftBaseChain[] }
  | { readonly kind: 'none'; readonly why: string };

interface NftJsonChain {
  family: string;
  table: string;
  name: string;
  type?: string;
  hook?: string;
  policy?: string;
}

interface NftJsonRule {
  family: string;
  table: string;
  chain: string;
  expr?: unknown[];
}

/** The iptables commands of a variant (iptables-nft is what `iptables` is on Debian 11+). */
export function iptCommand(variant: IptVariant, v6: boolean): string {
  const base = v6 ? 'ip6tables' : 'iptables';
  return variant === 'legacy' ? `${base}-legacy` : `${base}-nft`;
}

/** A filter table of iptables-save that drops: a DROP policy on INPUT/FORWARD, or a DROP/REJECT rule. */
export function iptDecides(save: string): boolean {
  let filter = false;
  for (const raw of save.split('\n')) {
    const l = raw.trim();
    if (l.startsWith('*')) filter = l === '*filter';
    if (!filter) continue;
    if (/^:(INPUT|FORWARD) DROP\b/.test(l)) return true;
    if (/^-A (INPUT|FORWARD|ufw\S*|\S+) .*-j (DROP|REJECT)\b/.test(l)) return true;
  }
  return false;
}

/** The items of one `nft -j` document, or of several, one per line (a dump per table). */
export function nftJsonItems(json: string): Array<Record<string, unknown>> {
  return json
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => (JSON.parse(l) as { nftables?: Array<Record<string, unknown>> }).nftables ?? []);
}

/** Tables iptables-nft made: table ip/ip6 filter with the built-in chain names. */
function iptablesNftTable(c: NftJsonChain): boolean {
  return (c.family === 'ip' || c.family === 'ip6' || c.family === 'bridge' || c.family === 'arp') && /^[A-Z][A-Z-]*$/.test(c.name);
}

/** Base filter chains of native nft tables (not knockc's, not iptables-nft's) that can drop at input or forward. */
export function decidingNftChains(json: string, own: (family: string, table: string) => boolean): NftBaseChain[] {
  const items = nftJsonItems(json);
  const chains: NftJsonChain[] = [];
  const dropping = new Set<string>();
  const iptTables = new Set<string>();
  for (const it of items) {
    if (it['chain']) {
      const c = it['chain'] as NftJsonChain;
      chains.push(c);
      if (iptablesNftTable(c)) iptTables.add(`${c.family} ${c.table}`);
    } else if (it['rule']) {
      const r = it['rule'] as NftJsonRule;
      const text = JSON.stringify(r.expr ?? []);
      if (/"(drop|reject)"/.test(text)) dropping.add(`${r.family} ${r.table}`);
    }
  }
  const out: NftBaseChain[] = [];
  for (const c of chains) {
    if (c.type !== 'filter' || (c.hook !== 'input' && c.hook !== 'forward')) continue;
    if (c.family !== 'inet' && c.family !== 'ip' && c.family !== 'ip6') continue;
    const t = `${c.family} ${c.table}`;
    if (own(c.family, c.table) || iptTables.has(t)) continue;
    if (c.policy === 'drop' || dropping.has(t)) out.push({ family: c.family, table: c.table, chain: c.name, hook: c.hook });
  }
  return out;
}

/**
 * The host's firewall, from a snapshot of its rules (snapshot.ts). `own`: knockc's tables
 * (tracking and guard), never a host firewall.
 */
export function detectHostFirewall(snap: HostSnapshot, own: (family: string, table: string) => boolean): HostFirewall {
  if (snap.firewalldTable) return { kind: 'firewalld', why: "firewalld's table inet firewalld is loaded (firewalld is running)" };
  for (const variant of ['nft', 'legacy'] as const) {
    const v4 = snap.iptSave[iptCommand(variant, false)];
    if (v4 && /^:ufw-before-input /m.test(v4)) return { kind: 'ufw', why: `ufw's chains are loaded (iptables-${variant}): ufw is active`, variant };
  }
  for (const variant of ['nft', 'legacy'] as const) {
    if (iptDecides(snap.iptSave[iptCommand(variant, false)] ?? '') || iptDecides(snap.iptSave[iptCommand(variant, true)] ?? '')) {
      return { kind: 'iptables', why: `iptables-${variant} rules drop incoming packets (filter table: a DROP policy or DROP/REJECT rules)`, variant };
    }
  }
  const chains = snap.nftJson ? decidingNftChains(snap.nftJson, own) : [];
  if (chains.length) {
    const list = chains.map((c) => `${c.family} ${c.table} ${c.chain}`).join(', ');
    return { kind: 'nftables', why: `nftables base chains drop incoming packets: ${list}`, chains };
  }
  return { kind: 'none', why: 'no firewalld, ufw, iptables or nftables rule drops incoming packets' };
}
