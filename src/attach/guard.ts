// With no host firewall, knockc itself keeps the granted ports closed: a small
// table of its own (inet knockc_guard), separate from the knock-tracking table,
// that drops new connections to those ports, in BOTH families, unless knockc's
// grant marked the packet. It is loaded from /etc/knockc/guard.nft (at boot by
// knockc-guard.service, which knockc.service wants), and stays when knockc is
// stopped or removed: only `knockc remove --purge` takes it out.
import type { DoorPlan } from '../model/plan.js';
import { FAMILIES } from '../model/plan.js';
import type { Family, Hook, PortRange } from '../model/grant.js';
import { markHex, type Mark } from '../model/mark.js';
import { interfaceNameProblem } from '../frontend/interface-name.js';
import { HostError, type Runner } from '../host/runner.js';
import type { HostPaths } from './paths.js';
import { readHostFile, removeHostFile, writeHostFile } from './host-files.js';

export const GUARD_TABLE = 'knockc_guard';

/** A port (or ports) a compiled grant opens; the guard drops new connections there from everyone unmarked. */
export interface GuardEntry {
  readonly hook: Hook;
  /** null: both families (every grant on input; a forwarded grant to an address is that family's). */
  readonly family: Family | null;
  readonly proto: 'tcp' | 'udp';
  readonly dports: readonly PortRange[];
  readonly iif: string | null;
  readonly daddr: string | null;
}

/** A grant the guard cannot close without closing the whole host (every port or every protocol). */
export interface Unguardable {
  readonly door: string;
  readonly what: string;
}

const portsText = (rs: readonly PortRange[]): string => rs.map((r) => (r.lo === r.hi ? `${r.lo}` : `${r.lo}-${r.hi}`)).join(', ');

/** What the guard closes for these doors (deduplicated), and the grants it cannot close. */
export function guardEntries(plans: readonly DoorPlan[]): { readonly entries: readonly GuardEntry[]; readonly unguardable: readonly Unguardable[] } {
  const seen = new Map<string, GuardEntry>();
  const unguardable: Unguardable[] = [];
  for (const p of plans) {
    for (const f of FAMILIES) {
      const plan = p.families[f];
      if (plan.kind !== 'kernel') continue;
      for (const g of plan.opens) {
        const m = g.target.match;
        if (!m.proto || !m.dports) {
          unguardable.push({ door: p.door.name, what: m.proto ? `every ${m.proto} port` : 'every protocol and port' });
          continue;
        }
        // On input the port is this host's service: closed on every address, in both families (a
        // grant to one address opens only that one). Forwarded, it is that address's, in its family.
        const fwd = m.hook === 'forward' && m.daddr !== null;
        const e: GuardEntry = { hook: m.hook, family: fwd ? f : null, proto: m.proto, dports: m.dports, iif: m.iif, daddr: fwd ? m.daddr : null };
        seen.set(JSON.stringify(e), e);
      }
    }
  }
  return { entries: [...seen.values()], unguardable };
}

function quotedIfname(name: string): string {
  const problem = interfaceNameProblem(name);
  if (problem !== null) throw new Error(`interface ${JSON.stringify(name)} cannot be written in an nft rule: ${problem.text}`);
  return `"${name}"`;
}

/**
 * One rule per (protocol, interface, address) with every port in one set: a packet costs one
 * set lookup however many doors there are (a rule per port made 1000 doors cost each packet
 * 1000 comparisons: bench/throughput.ts).
 */
function guardRules(entries: readonly GuardEntry[]): string[] {
  const groups = new Map<string, { e: GuardEntry; ports: PortRange[] }>();
  for (const e of entries) {
    const k = JSON.stringify([e.family, e.proto, e.iif, e.daddr]);
    const g = groups.get(k) ?? { e, ports: [] };
    g.ports.push(...e.dports);
    groups.set(k, g);
  }
  return [...groups.values()].map(({ e, ports }) => {
    const parts: string[] = [];
    if (e.iif) parts.push(`iifname ${quotedIfname(e.iif)}`);
    if (e.family) parts.push(`meta nfproto ${e.family === 'ip' ? 'ipv4' : 'ipv6'}`);
    if (e.daddr) parts.push(`${e.family} daddr ${e.daddr}`);
    const merged = mergeRanges(ports);
    const one = merged.length === 1 && merged[0]!.lo === merged[0]!.hi;
    parts.push(`${e.proto} dport ${one ? `${merged[0]!.lo}` : `{ ${portsText(merged)} }`}`);
    // A new connection, as the standalone guard always tested it: the opening SYN for TCP (no
    // conntrack needed), conntrack's NEW for UDP.
    parts.push(e.proto === 'tcp' ? 'tcp flags & (fin|syn|rst|ack) == syn' : 'ct state new');
    return `${parts.join(' ')} counter drop`;
  });
}

/** Sorted, overlapping and adjacent ranges joined (nft refuses overlapping set elements). */
function mergeRanges(rs: readonly PortRange[]): PortRange[] {
  const sorted = [...rs].sort((a, b) => a.lo - b.lo);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.lo <= last.hi + 1) out[out.length - 1] = { lo: last.lo, hi: Math.max(last.hi, r.hi) };
    else out.push({ ...r });
  }
  return out;
}

/** The guard table as an nft script that replaces it atomically. */
export function guardScript(entries: readonly GuardEntry[], mark: Mark): string {
  const h = markHex(mark);
  const lines = [
    '#!/usr/sbin/nft -f',
    '# knockc guard: written by knockc apply on a host without a firewall; taken out by',
    '# `knockc remove --purge`. Keeps the ports knockc grants closed in both families to',
    "# every packet that knockc's grants did not mark. Loaded at boot by knockc-guard.service.",
    `table inet ${GUARD_TABLE} {}`,
    `delete table inet ${GUARD_TABLE}`,
    `table inet ${GUARD_TABLE} {`,
  ];
  for (const hook of ['input', 'forward'] as const) {
    const mine = entries.filter((e) => e.hook === hook);
    if (!mine.length) continue;
    lines.push(`\tchain ${hook} {`, `\t\ttype filter hook ${hook} priority filter + 10; policy accept;`);
    if (hook === 'input') lines.push('\t\tiif "lo" accept comment "the host\'s own connections"');
    lines.push(`\t\tmeta mark & ${h} == ${h} accept comment "granted by knockc"`);
    for (const r of guardRules(mine)) lines.push(`\t\t${r}`);
    lines.push('\t}');
  }
  lines.push('}', '');
  return lines.join('\n');
}

/** "tcp/22, udp/53 (both families)" for messages. */
export function guardText(entries: readonly GuardEntry[]): string {
  if (entries.length > 6) return `${guardText(entries.slice(0, 5))} and ${entries.length - 5} more`;
  return entries.map((e) => `${e.proto}/${portsText(e.dports)}${e.hook === 'forward' ? ' forwarded' : ''}${e.daddr ? ` to ${e.daddr}` : ''}${e.iif ? ` on ${e.iif}` : ''}`).join(', ');
}

/** Loads the guard table (atomically replacing it) and saves it for knockc-guard.service. */
export async function ensureGuard(run: Runner, p: HostPaths, entries: readonly GuardEntry[], mark: Mark, dryRun: boolean): Promise<string[]> {
  const script = guardScript(entries, mark);
  const old = await readHostFile(run, p.guardNft);
  const live = await run(['nft', 'list', 'table', 'inet', GUARD_TABLE]);
  const r = await run(['nft', ...(dryRun ? ['-c'] : []), '-f', '-'], script);
  if (r.code !== 0) throw new HostError(`nft refused knockc's guard table: ${r.stderr.trim()}`, r);
  if (dryRun) return [`would load table inet ${GUARD_TABLE} (closes ${guardText(entries)} in both families to every unmarked packet) and save it in ${p.guardNft}`];
  const done = [`${live.code === 0 ? 'reloaded' : 'loaded'} table inet ${GUARD_TABLE}: closes ${guardText(entries)} in both families to every packet knockc did not grant`];
  if (old !== script) {
    await writeHostFile(run, p.guardNft, script, { mkdir: true });
    done.push(`saved it in ${p.guardNft} (knockc-guard.service loads it at boot)`);
  }
  return done;
}

/** Takes the guard table and its file out (remove --purge, or a host firewall now decides). */
export async function purgeGuard(run: Runner, p: HostPaths, dryRun: boolean): Promise<string[]> {
  const done: string[] = [];
  if ((await run(['nft', 'list', 'table', 'inet', GUARD_TABLE])).code === 0) {
    if (!dryRun) {
      const r = await run(['nft', 'delete', 'table', 'inet', GUARD_TABLE]);
      if (r.code !== 0) throw new HostError(`cannot delete table inet ${GUARD_TABLE}: ${r.stderr.trim()}`, r);
    }
    done.push(`${dryRun ? 'would delete' : 'deleted'} table inet ${GUARD_TABLE}`);
  }
  if ((await readHostFile(run, p.guardNft)) !== null) {
    if (!dryRun) await removeHostFile(run, p.guardNft);
    done.push(`${dryRun ? 'would remove' : 'removed'} ${p.guardNft}`);
  }
  return done;
}
