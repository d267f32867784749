// Where knockc attaches on this host: the host firewall keeps deciding, and
// accepts what knockc's grants marked through one standing rule in its own
// configuration (standing.ts); with no firewall, knockc's guard table keeps the
// granted ports closed (guard.ts). Detection (detect.ts) picks the firewall
// unless --host-firewall names it.
import { Refused } from '../targets/target.js';
import type { Runner } from '../host/runner.js';
import type { Hook } from '../model/grant.js';
import type { Mark } from '../model/mark.js';
import { decidingNftChains, detectHostFirewall, nftJsonItems, type HostFirewall, type HostKind, type IptVariant } from './detect.js';
import { ensureFirewalld, purgeFirewalld } from './firewalld.js';
import { ensureGuard, GUARD_TABLE, purgeGuard, type GuardEntry, type Unguardable } from './guard.js';
import { ensureIptables, purgeIptables } from './iptables.js';
import { hostPaths } from './paths.js';
import { marksInUse, markUsesText } from './marks-in-use.js';
import { readHostSnapshot, type HostSnapshot } from './snapshot.js';
import { ensureNftables, purgeNftables, standingRulesIn } from './nftables.js';

export interface AttachRequest {
  readonly mark: Mark;
  /** Hooks knockc's grants use (input, forward). */
  readonly hooks: readonly Hook[];
  readonly guard: { readonly entries: readonly GuardEntry[]; readonly unguardable: readonly Unguardable[] };
  /** --host-firewall (auto: detect). */
  readonly host: HostKind | 'auto';
  /** knockc's own nft tables (never a host firewall). */
  readonly own: (family: string, table: string) => boolean;
  /** Root of the host's configuration files (/etc; paths.ts). */
  readonly etc: string;
}

/** knockc's own nft tables for a standalone table of this name: its tracking table and the guard. */
export function knockcTables(table: string): (family: string, name: string) => boolean {
  return (family, name) => family === 'inet' && (name === table || name === GUARD_TABLE);
}

/** The host firewall found (or named), after the checks that refuse with nothing changed. */
export interface AttachPlan {
  readonly host: HostFirewall;
  /** What detection read; attaching reads the standing rules already there from it. */
  readonly snapshot: HostSnapshot;
}

async function iptVariant(run: Runner): Promise<IptVariant> {
  const r = await run(['iptables', '-V']);
  return /legacy/.test(r.stdout) ? 'legacy' : 'nft';
}

async function named(run: Runner, snap: HostSnapshot, kind: HostKind, own: AttachRequest['own']): Promise<HostFirewall> {
  const why = 'named by --host-firewall';
  switch (kind) {
    case 'firewalld':
    case 'none':
      return { kind, why };
    case 'ufw':
    case 'iptables':
      return { kind, why, variant: await iptVariant(run) };
    case 'nftables': {
      const chains = snap.nftJson ? decidingNftChains(snap.nftJson, own) : [];
      if (!chains.length) throw new Refused('--host-firewall nftables: no nftables base chain drops at input or forward here (nothing to attach to); nothing was changed');
      return { kind, why, chains };
    }
  }
}

/** Detects (or takes) the host firewall and refuses what cannot be attached safely; changes nothing. */
export async function planAttach(run: Runner, req: AttachRequest): Promise<AttachPlan> {
  const snap = await readHostSnapshot(run, req.own);
  const host = req.host === 'auto' ? detectHostFirewall(snap, req.own) : await named(run, snap, req.host, req.own);
  const uses = marksInUse(snap, req.mark, req.own);
  if (uses.length) throw new Refused(`${markUsesText(uses, req.mark)}\nchoose other bits with --mark (e.g. --mark 0x02000000); nothing was changed`);
  if (host.kind === 'none' && req.guard.unguardable.length) {
    const u = req.guard.unguardable[0]!;
    throw new Refused(
      `no host firewall here (${host.why}), and [${u.door}] grants ${u.what}: knockc would have to drop every such new connection to keep it closed. ` +
        'Set up a host firewall (knockc then attaches to it), or narrow the grant to ports; nothing was changed',
    );
  }
  return { host, snapshot: snap };
}

/** "host firewall: ufw (ufw's chains are loaded ...)" */
export function hostLine(p: AttachPlan): string {
  return `knockc: host firewall: ${p.host.kind} (${p.host.why})\n`;
}

/** Puts the standing rule (or the guard) in place, live and persistent; what changed, one line each. */
export async function attach(run: Runner, plan: AttachPlan, req: AttachRequest, dryRun: boolean): Promise<string[]> {
  const h = plan.host;
  const p = hostPaths(req.etc);
  switch (h.kind) {
    case 'none':
      if (!req.guard.entries.length) return ['no compiled grant: nothing to keep closed'];
      return ensureGuard(run, p, req.guard.entries, req.mark, dryRun);
    case 'nftables':
      return [...(await ensureNftables(run, p, h.chains, req.hooks, req.mark, dryRun, standingRulesIn(nftJsonItems(plan.snapshot.nftJson ?? '')))), ...(await purgeGuard(run, p, dryRun))];
    case 'iptables':
    case 'ufw':
      return [...(await ensureIptables(run, p, h.kind, h.variant, req.hooks, req.mark, dryRun)), ...(await purgeGuard(run, p, dryRun))];
    case 'firewalld':
      return [...(await ensureFirewalld(run, p, req.hooks, req.mark, dryRun)), ...(await purgeGuard(run, p, dryRun))];
  }
}

/** knockc remove --purge: every standing rule, include, saved line and guard knockc ever added. */
export async function purgeAttachments(run: Runner, etc: string, dryRun = false): Promise<string[]> {
  const p = hostPaths(etc);
  const done = [...(await purgeNftables(run, p, dryRun)), ...(await purgeIptables(run, p, dryRun)), ...(await purgeFirewalld(run, p, dryRun)), ...(await purgeGuard(run, p, dryRun))];
  // knockc's own directory, once empty (apply made it).
  if (!dryRun) await run(['rmdir', '--ignore-fail-on-non-empty', '--', p.knockc]);
  return done;
}

