/**
 * What the lab compares: the real knockd (the oracle) and every knockc target,
 * each deployed on its own lab server the way an administrator would.
 *
 * Adding a target is one entry in KNOCKC_TARGETS.
 *
 *   knockd          knockd -i eth0 running the config's iptables commands against
 *                   setDefaultDropFirewall (INPUT policy DROP, new TCP to the
 *                   protected ports dropped unless a command ACCEPTs it)
 *   nft             `knockc compile -i eth0`: table inet knockc behind setDefaultDropFirewall
 *                   (as knockd), whose INPUT accepts the packets knockc's grants mark
 *                   through knockc's standing rule (src/attach/), as `knockc apply` adds it
 *   nft-guard       table inet knockc and knockc's guard table on an open server (what
 *                   `knockc apply` loads on a host without a firewall)
 *   nft-into        `knockc compile -i eth0 --into "inet filter"` loaded into the
 *                   user's table inet filter (input policy drop, established
 *                   accepted, everything but new TCP to the protected ports accepted)
 *   iptables        `knockc compile -i eth0 --target iptables --family 4|6` loaded with
 *                   iptables-restore --noflush behind setDefaultDropFirewall,
 *                   hooked with `-I INPUT 1 -j knockc_input`
 *   iptables-guard  the same with --guard, on an open server
 *
 * Standalone targets (nft-guard, iptables-guard) only guard the ports a door grants:
 * a port no door grants stays as the rest of the firewall leaves it (open here).
 */
import type { KnockdConfig } from '../../src/frontend/config.js';
import { parseConfigText } from '../../src/frontend/load.js';
import { guardEntries, guardScript } from '../../src/attach/guard.js';
import { iptStandingArgs } from '../../src/attach/standing.js';
import { DEFAULT_MARK } from '../../src/model/mark.js';
import { planDoors } from '../../src/model/plan.js';
import { compileIptables, IPTABLES_DEFAULTS } from '../../src/targets/iptables/generate.js';
import { compileNft, NFT_DEFAULTS } from '../../src/targets/nft/generate.js';
import { defaultDropRules, heredoc, RESET_FIREWALL_SH, startLab, type Family, type Lab, type LabOptions, type LabServer } from './lab.js';
import { assertOnTime, playTrace, srcName, type ProbeResult, type Trace, type TraceRun } from './trace.js';

export const LAB_IFACE = 'eth0';
/** Ports the lab servers listen on and the default-drop firewalls protect. */
export const PROTECTED_PORTS = [22, 2222];

export interface DeployOptions {
  /** TCP ports the base firewall drops (default PROTECTED_PORTS). */
  protectedPorts?: number[];
}

export interface Target {
  readonly name: string;
  readonly kind: 'knockd' | 'knockc';
  /** Guards granted ports itself on an open server: ports no door grants are not closed. */
  readonly standalone: boolean;
  /** Resets the server and deploys `config` (knockd.conf text). */
  deploy(server: LabServer, config: string, opts?: DeployOptions): Promise<void>;
}

export function parseOrThrow(text: string, file = 'lab.conf'): KnockdConfig {
  const r = parseConfigText(text, { file });
  if (!r.config) {
    throw new Error(`config rejected by knockc:\n${text}\n${r.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n')}`);
  }
  return r.config;
}

const COMMON = { version: 'lab', source: 'lab.conf' } as const;

export function compileNftText(config: string, into: boolean): string {
  return compileNft(parseOrThrow(config), {
    ...NFT_DEFAULTS,
    ...COMMON,
    iface: LAB_IFACE,
    into: into ? { family: 'inet', table: 'filter', chain: 'input', forwardChain: null } : null,
  }).text;
}

export function compileIptablesFor(config: string, family: Family, guard: boolean): ReturnType<typeof compileIptables> {
  return compileIptables(parseOrThrow(config), {
    ...IPTABLES_DEFAULTS,
    ...COMMON,
    family: family === 6 ? 'ip6' : 'ip',
    guard,
    iface: LAB_IFACE,
  });
}

/** The user's table for --into: default-drop input, like setDefaultDropFirewall in nft. */
export function userFilterTable(ports: number[]): string {
  return [
    'table inet filter {',
    '  chain input {',
    '    type filter hook input priority filter; policy drop;',
    '    ct state established,related accept',
    '    iif lo accept',
    '    meta l4proto != tcp accept',
    `    tcp dport != { ${ports.join(', ')} } accept`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Shell: back to an open server, then `more`, in one exec (deploys happen before every scenario). */
async function resetAnd(server: LabServer, more: string[]): Promise<void> {
  await server.stopKnockd();
  await server.script([RESET_FIREWALL_SH, ...more].join('\n'));
}

const defaultDropSh = (ports: number[]): string[] => {
  const rules = defaultDropRules(ports);
  return [`iptables-restore ${heredoc(rules)}`, `ip6tables-restore ${heredoc(rules)}`];
};

function iptablesSh(config: string, guard: boolean, ports: number[]): string[] {
  const out = guard ? [] : defaultDropSh(ports);
  for (const family of [4, 6] as const) {
    const r = compileIptablesFor(config, family, guard);
    const tool = family === 6 ? 'ip6tables' : 'iptables';
    out.push(`${tool}-restore --noflush ${heredoc(r.text)}`);
    for (const h of r.ruleset.hooks) out.push(`${tool} -I ${h.builtin} 1 -j ${h.chain}`);
    // xt_recent lists can outlive their rules for a moment (iptables-nft destroys them
    // asynchronously) and be picked up again by name: start every scenario with empty lists.
    for (const l of r.ruleset.lists) out.push(`[ ! -e /proc/net/xt_recent/${l.name} ] || echo / > /proc/net/xt_recent/${l.name}`);
  }
  return out;
}

export const KNOCKD: Target = {
  name: 'knockd',
  kind: 'knockd',
  standalone: false,
  async deploy(server, config, opts = {}) {
    await resetAnd(server, defaultDropSh(opts.protectedPorts ?? PROTECTED_PORTS));
    await server.startKnockd(config, { iface: LAB_IFACE });
  },
};

/** knockd on a server without any other firewall: its ACCEPT rules change nothing (everything is open). */
export const KNOCKD_OPEN_SERVER: Target = {
  name: 'knockd',
  kind: 'knockd',
  standalone: true,
  async deploy(server, config) {
    await resetAnd(server, []);
    await server.startKnockd(config, { iface: LAB_IFACE });
  },
};

export const ALL_KNOCKC_TARGETS: readonly Target[] = [
  {
    name: 'nft',
    kind: 'knockc',
    standalone: false,
    deploy: (server, config, opts = {}) =>
      resetAnd(server, [
        ...defaultDropSh(opts.protectedPorts ?? PROTECTED_PORTS),
        ...['iptables', 'ip6tables'].map((t) => `${t} -I INPUT 1 ${iptStandingArgs(DEFAULT_MARK).map((a) => (a.includes(' ') ? `"${a}"` : a)).join(' ')}`),
        `nft -f - ${heredoc(compileNftText(config, false))}`,
      ]),
  },
  {
    name: 'nft-guard',
    kind: 'knockc',
    standalone: true,
    deploy: (server, config) =>
      resetAnd(server, [`nft -f - ${heredoc(compileNftText(config, false))}`, `nft -f - ${heredoc(guardScript(guardEntries(planDoors(parseOrThrow(config))).entries, DEFAULT_MARK))}`]),
  },
  {
    name: 'nft-into',
    kind: 'knockc',
    standalone: false,
    deploy: (server, config, opts = {}) =>
      resetAnd(server, [
        `nft -f - ${heredoc(userFilterTable(opts.protectedPorts ?? PROTECTED_PORTS))}`,
        `nft -f - ${heredoc(compileNftText(config, true))}`,
      ]),
  },
  {
    name: 'iptables',
    kind: 'knockc',
    standalone: false,
    deploy: (server, config, opts = {}) => resetAnd(server, iptablesSh(config, false, opts.protectedPorts ?? PROTECTED_PORTS)),
  },
  {
    name: 'iptables-guard',
    kind: 'knockc',
    standalone: true,
    deploy: (server, config, opts = {}) => resetAnd(server, iptablesSh(config, true, opts.protectedPorts ?? PROTECTED_PORTS)),
  },
];

/** KNOCKC_LAB_TARGETS=nft,iptables limits the knockc targets (local debugging; CI runs all). */
export const KNOCKC_TARGETS: readonly Target[] = (() => {
  const only = process.env['KNOCKC_LAB_TARGETS']?.split(',').map((s) => s.trim()).filter(Boolean);
  if (!only?.length) return ALL_KNOCKC_TARGETS;
  const picked = ALL_KNOCKC_TARGETS.filter((t) => only.includes(t.name));
  if (picked.length !== only.length) throw new Error(`KNOCKC_LAB_TARGETS: unknown target in ${only.join(',')}`);
  return picked;
})();

// ---------------------------------------------------------------------------
// Lanes: one server per target, several lanes per lab, shared clients.

export interface Lane {
  readonly index: number;
  /** Target name -> its server in this lane. */
  readonly servers: ReadonlyMap<string, LabServer>;
  readonly targets: readonly Target[];
}

export interface TargetLab {
  readonly lab: Lab;
  readonly lanes: readonly Lane[];
}

/** Hands out lanes (of one or several labs) to concurrent tests, in turn. */
export class LanePool {
  private readonly free: Lane[];
  private readonly waiting: Array<(l: Lane) => void> = [];

  constructor(
    readonly labs: readonly TargetLab[],
  ) {
    this.free = labs.flatMap((l) => [...l.lanes]);
  }

  get size(): number {
    return this.labs.reduce((n, l) => n + l.lanes.length, 0);
  }

  /** Runs fn with a free lane (waiting for one) and the lab it belongs to. */
  async withLane<T>(fn: (lane: Lane, lab: Lab) => Promise<T>): Promise<T> {
    const lane = this.free.shift() ?? (await new Promise<Lane>((r) => this.waiting.push(r)));
    try {
      return await fn(lane, this.labs.find((l) => l.lanes.includes(lane))!.lab);
    } finally {
      const w = this.waiting.shift();
      if (w) w(lane);
      else this.free.push(lane);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.labs.map((l) => l.lab.stop()));
  }
}

/**
 * A lab with `lanes` x targets.length servers and `clients` clients.
 * A lab /27 holds 29 containers: lanes * targets + clients <= 29.
 */
export async function startTargetLab(opts: {
  targets: readonly Target[];
  lanes?: number;
  clients?: number;
  name?: string;
  serverTcpPorts?: number[];
}): Promise<TargetLab> {
  const lanes = opts.lanes ?? 1;
  const clients = opts.clients ?? 2;
  const nServers = lanes * opts.targets.length;
  const labOpts: LabOptions = { clients, extraServers: nServers - 1 };
  if (opts.name) labOpts.name = opts.name;
  if (opts.serverTcpPorts) labOpts.serverTcpPorts = opts.serverTcpPorts;
  const lab = await startLab(labOpts);
  const out: Lane[] = [];
  for (let i = 0; i < lanes; i++) {
    const servers = new Map<string, LabServer>();
    opts.targets.forEach((t, j) => servers.set(t.name, lab.servers[i * opts.targets.length + j]!));
    out.push({ index: i, servers, targets: opts.targets });
  }
  return { lab, lanes: out };
}

/** Starts `count` target labs at once; stops the started ones if one fails. */
export async function startLanePool(count: number, opts: Parameters<typeof startTargetLab>[0]): Promise<LanePool> {
  const rs = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => startTargetLab({ ...opts, name: `${opts.name ?? 'lab'}${count > 1 ? i : ''}` })),
  );
  const ok = rs.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const bad = rs.find((r) => r.status === 'rejected');
  if (bad) {
    await Promise.all(ok.map((l) => l.lab.stop()));
    throw (bad as PromiseRejectedResult).reason;
  }
  return new LanePool(ok);
}

/**
 * Runs fn for every target of a lane at once; reports every target that failed
 * (not only the first), each error prefixed with the target's name.
 */
export async function forEachTarget(lane: Lane, fn: (target: Target, server: LabServer) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled(lane.targets.map((t) => fn(t, lane.servers.get(t.name)!)));
  const errors = results.flatMap((r, i) =>
    r.status === 'rejected' ? [`[${lane.targets[i]!.name}] ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`] : [],
  );
  if (errors.length) throw new Error(errors.join('\n\n'));
}

// ---------------------------------------------------------------------------
// Running one scenario on a lane

export interface LaneRun {
  readonly run: TraceRun;
  /** Target name -> results, the oracle first when present. */
  readonly results: ReadonlyMap<string, ProbeResult[]>;
  readonly deployMs: number;
  readonly traceMs: number;
}

/**
 * Deploys `config` on every server of the lane, plays the trace, checks the timing.
 * A run whose clients could not keep to the schedule (a stalled machine) says nothing
 * about the rules: it is played again from a fresh deployment, up to `attempts` times.
 */
export async function runOnLane(
  lab: Lab,
  lane: Lane,
  config: string,
  trace: Trace,
  opts: DeployOptions & {
    /** Deploy these servers (by target name) differently. */
    deployers?: Record<string, Target>;
    /** Largest lateness (ms) the trace tolerates (default MAX_LATE_MS). */
    maxLateMs?: number;
    /** Plays in all (default 3). */
    attempts?: number;
  } = {},
): Promise<LaneRun> {
  const attempts = opts.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    const t0 = Date.now();
    await forEachTarget(lane, (t, s) => (opts.deployers?.[t.name] ?? t).deploy(s, config, opts));
    const t1 = Date.now();
    const run = await playTrace(lab, lane.servers, trace);
    const t2 = Date.now();
    if (process.env['KNOCKC_LAB_VERBOSE']) {
      console.info(`[lab] deploy ${t1 - t0} ms, trace ${t2 - t1} ms, max lateness ${run.maxLateMs} ms (at t=${run.lateAt})`);
    }
    try {
      assertOnTime(run, opts.maxLateMs);
    } catch (e) {
      if (attempt >= attempts) throw e;
      console.warn(`[lab] ${(e as Error).message}: playing it again (attempt ${attempt + 1} of ${attempts})`);
      continue;
    }
    return { run, results: run.results, deployMs: t1 - t0, traceMs: t2 - t1 };
  }
}

/** Probes where `target` differs from `reference`, described. */
export function mismatches(trace: Trace, results: ReadonlyMap<string, ProbeResult[]>, reference: readonly ProbeResult[], target: string): string[] {
  const got = results.get(target)!;
  return trace.probes.flatMap((p, i) =>
    got[i] === reference[i] ? [] : [`t=${p.t.toFixed(2)} ${srcName(p.src)} :${p.port}: ${target}=${got[i]}, expected ${reference[i]}`],
  );
}
