/**
 * The attachment matrix (issue 16): for one kind of host firewall, set up from
 * Debian's real packages on a lab server (the host-firewall image), `knockc
 * apply` with no deployment flag must find that firewall, attach its standing
 * rule there, and from then on, with real packets from two clients:
 *
 *   - before a knock, the protected ports are closed in BOTH families;
 *   - a knock opens the port for the knocker only, in its family only, on the
 *     granted port only; an IPv4-only door never opens over IPv6;
 *   - the grant closes on its timeout;
 *   - loopback and the host's other allowed port (80) are never touched;
 *   - closed after `nft delete table inet knockc` (knockc's objects deleted by
 *     someone else), after `knockc remove` (= systemctl stop knockc), and
 *     after the firewall's own reload; open again after knockc re-attaches
 *     (the firewalls whose reload keeps the standing rule need no step);
 *   - `knockc remove --purge` leaves the host's rules and files byte-identical
 *     to before apply.
 *
 * knockc runs here, on the test host (deploy() as `knockc apply` calls it);
 * its commands run in the server container (host-runner.ts), whose /etc is
 * the host's configuration.
 */
import { expect } from 'vitest';
import { parseConfigText } from '../../src/frontend/load.js';
import { deploy, connect } from '../../src/deploy/deploy.js';
import type { HostKind } from '../../src/attach/detect.js';
import { DEFAULT_MARK } from '../../src/model/mark.js';
import { nftTarget, type NftTargetOptions } from '../../src/targets/nft/target.js';
import type { Target } from '../../src/targets/target.js';
import { iptRule } from './doors.js';
import { labRunner } from './host-runner.js';
import { sleep, startLab, type Lab, type LabClient, type LabServer } from './lab.js';
import { hostfwImage } from './hostfw.js';

/** ssh (22) for both families; web (2222) IPv4 only: an IPv6 knocker gets nothing (the usual knockd config). */
export const ATTACH_CONFIG = [
  '[ssh]',
  '  sequence = 7000,8000:udp,9000',
  '  seq_timeout = 10',
  `  start_command = ${iptRule('-A', 22)}`,
  `  start_command_6 = ${iptRule('-A', 22, true)}`,
  '  cmd_timeout = 5',
  `  stop_command = ${iptRule('-D', 22)}`,
  `  stop_command_6 = ${iptRule('-D', 22, true)}`,
  '',
  '[web]',
  '  sequence = 6001,6002:udp',
  '  seq_timeout = 10',
  `  start_command = ${iptRule('-A', 2222)}`,
  '  cmd_timeout = 5',
  `  stop_command = ${iptRule('-D', 2222)}`,
  '',
].join('\n');

export const SSH_KNOCK = ['7000', '8000:udp', '9000'];
export const WEB_KNOCK = ['6001', '6002:udp'];

/** How a host kind is set up, reloaded, and read back for the byte-identical check. */
export interface HostSetup {
  readonly kind: HostKind;
  /** Shell run on the server: installs the firewall (ports 22 and 2222 closed, 80 open, lo and established accepted). */
  readonly setup: string;
  /** Shell: the firewall's own reload (what its admin runs after editing it). */
  readonly reload: string;
  /** Does the reload keep knockc's doors working with no step of knockc's? */
  readonly reloadKeepsDoors: boolean;
  /** Shell printing the host's rules and configuration files (compared before apply and after purge). */
  readonly snapshot: string;
  /** Shell that succeeds when the standing rule (or guard) is loaded: checked right after the firewall's reload. */
  readonly standingLoaded: string;
  /**
   * What `knockc run` runs for a door knockc does not compile (a knockd command for this firewall,
   * %IP% the knocker), and its undo: it must open exactly as under knockd, knockc's own rules
   * being no obstacle (absent on a host without a firewall, where knockc's guard is one).
   */
  readonly runtimeAccept?: { readonly open: string; readonly close: string };
  /** No firewall: the ports are open before apply and after purge (knockc's guard closes them in between). */
  readonly openWithoutKnockc?: boolean;
}

export interface Attached {
  readonly lab: Lab;
  readonly server: LabServer;
  readonly c0: LabClient;
  readonly c1: LabClient;
  readonly out: string[];
  apply(): Promise<string>;
  remove(purge?: boolean): Promise<string>;
}

async function sh(server: LabServer, script: string): Promise<string> {
  const r = await server.exec(['sh', '-c', script]);
  if (r.exitCode !== 0) throw new Error(`server script failed (${r.exitCode}):\n${script}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

export async function startAttachLab(h: HostSetup): Promise<Attached> {
  const lab = await startLab({ image: hostfwImage(), clients: 2, serverTcpPorts: [22, 2222, 80], loopback6: true, name: `attach-${h.kind}` });
  const server = lab.server;
  await sh(server, h.setup);
  const run = labRunner(server);
  const out: string[] = [];
  const say = { out: (t: string) => void out.push(t), err: (t: string) => void out.push(t) };
  const options: NftTargetOptions = { location: { mode: 'standalone', family: 'inet', table: 'knockc' }, maxSources: null, mark: DEFAULT_MARK, hostFirewall: 'auto', etc: '/etc' };
  const target = nftTarget as unknown as Target<unknown>;
  const parsed = parseConfigText(ATTACH_CONFIG, { file: 'knockd.conf' });
  if (!parsed.config) throw new Error('attach config rejected');
  const config = parsed.config;
  return {
    lab,
    server,
    c0: lab.clients[0]!,
    c1: lab.clients[1]!,
    out,
    async apply() {
      const from = out.length;
      await deploy({ target, options, iface: null, log: false, version: 'lab', source: 'knockd.conf', run, say, config, diagnostics: parsed.diagnostics, dryRun: false, printScript: false, verbose: false, warn: () => undefined });
      return out.slice(from).join('');
    },
    async remove(purge = false) {
      const from = out.length;
      const session = await connect(target, { ...options, location: null }, run, say, false, 'remove');
      await session.remove(false, purge);
      return out.slice(from).join('');
    },
  };
}

type State = 'open' | 'closed';

/** The four probes that matter: client 0 and 1, IPv4 and IPv6, on one port. */
async function states(a: Attached, port: number): Promise<Record<'c0v4' | 'c0v6' | 'c1v4' | 'c1v6', State>> {
  const [c0v4, c0v6, c1v4, c1v6] = await Promise.all([a.c0.probe(port, { family: 4 }), a.c0.probe(port, { family: 6 }), a.c1.probe(port, { family: 4 }), a.c1.probe(port, { family: 6 })]);
  return { c0v4, c0v6, c1v4, c1v6 };
}

const ALL_CLOSED = { c0v4: 'closed', c0v6: 'closed', c1v4: 'closed', c1v6: 'closed' } as const;
const ALL_OPEN = { c0v4: 'open', c0v6: 'open', c1v4: 'open', c1v6: 'open' } as const;

/** The host's own connections (lo, both families) and its allowed port 80 (both families, from a client): open, whatever knockc does. */
async function untouched(a: Attached, when: string): Promise<void> {
  const got = {
    lo4: await a.server.probe(22, { host: '127.0.0.1' }),
    lo6: await a.server.probe(22, { host: '::1', family: 6 }),
    web4: await a.c1.probe(80, { family: 4 }),
    web6: await a.c1.probe(80, { family: 6 }),
  };
  expect(got, `loopback and port 80 ${when}`).toEqual({ lo4: 'open', lo6: 'open', web4: 'open', web6: 'open' });
}

/** Knocks ssh from client 0 in `family`; the port opens for it only, in that family only. */
async function knockOpens(a: Attached, family: 4 | 6, when: string, openAlready: 'c0v4' | null = null): Promise<void> {
  await a.c0.knock(SSH_KNOCK, { family, delayMs: 50 });
  await sleep(200);
  const want = { ...ALL_CLOSED, [`c0v${family}`]: 'open', ...(openAlready ? { [openAlready]: 'open' } : {}) };
  expect(await states(a, 22), `ssh after an IPv${family} knock ${when}`).toEqual(want);
}

/** The whole matrix for one host kind. Returns the log of knockc's output (for the report). */
export async function runAttachMatrix(h: HostSetup): Promise<string> {
  const a = await startAttachLab(h);
  try {
    const before = await sh(a.server, h.snapshot);
    // Not yet loaded (boot before knockc.service): the host firewall alone: closed.
    const without = h.openWithoutKnockc ? ALL_OPEN : ALL_CLOSED;
    expect(await states(a, 22), 'ssh before apply').toEqual(without);
    await untouched(a, 'before apply');

    const applied = await a.apply();
    expect(applied).toContain(`knockc: host firewall: ${h.kind} (`);
    expect(await states(a, 22), 'ssh after apply, before a knock').toEqual(ALL_CLOSED);
    expect(await states(a, 2222), 'web after apply, before a knock').toEqual(ALL_CLOSED);
    await untouched(a, 'after apply');

    // Open for the knocker only, in its family only, on the granted port only.
    await knockOpens(a, 4, 'after apply');
    expect(await states(a, 2222), 'web while ssh is granted').toEqual(ALL_CLOSED);
    await knockOpens(a, 6, 'IPv6', 'c0v4');
    // The IPv4-only door: an IPv4 knock opens 2222 over IPv4; an IPv6 knock opens nothing.
    await a.c1.knock(WEB_KNOCK, { family: 4, delayMs: 50 });
    await a.c1.knock(WEB_KNOCK, { family: 6, delayMs: 50 });
    await sleep(200);
    expect(await states(a, 2222), 'web after IPv4 and IPv6 knocks of client 1').toEqual({ ...ALL_CLOSED, c1v4: 'open' });
    await untouched(a, 'while granted');

    // Timeout: cmd_timeout = 5.
    await sleep(5_500);
    expect(await states(a, 22), 'ssh after the grant timed out').toEqual(ALL_CLOSED);

    // Someone deletes knockc's table: closed; apply re-attaches.
    await knockOpens(a, 4, 'before the table is deleted');
    await sh(a.server, 'nft delete table inet knockc');
    expect(await states(a, 22), 'ssh after knockc table deleted').toEqual(ALL_CLOSED);
    await untouched(a, 'after the table was deleted');
    await a.apply();
    await knockOpens(a, 4, 'after re-apply');

    // The firewall's own reload: closed or still working, never open to others.
    await sh(a.server, h.reload);
    expect((await a.server.exec(['sh', '-c', h.standingLoaded])).exitCode, 'the standing rule is loaded by the firewall reload itself').toBe(0);
    const afterReload = await states(a, 22);
    expect(afterReload.c1v4, 'a non-knocker after the firewall reload').toBe('closed');
    expect(afterReload.c1v6).toBe('closed');
    expect(afterReload.c0v6).toBe('closed');
    await untouched(a, 'after the firewall reload');
    if (h.reloadKeepsDoors) await knockOpens(a, 4, 'after the firewall reload (no knockc step)');
    await a.apply();
    await knockOpens(a, 4, 'after the firewall reload and re-apply');
    await knockOpens(a, 6, 'after the firewall reload and re-apply', 'c0v4');

    // A runtime door's own accept (the command knockd would run) opens, next to knockc's grants.
    if (h.runtimeAccept) {
      await sh(a.server, h.runtimeAccept.open.replaceAll('%IP%', a.c1.ip4));
      expect((await states(a, 22)).c1v4, "a runtime door's own accept, with knockc loaded").toBe('open');
      await sh(a.server, h.runtimeAccept.close.replaceAll('%IP%', a.c1.ip4));
      expect((await states(a, 22)).c1v4, "after the runtime door's stop command").toBe('closed');
    }

    // knockc remove (systemctl stop knockc): closed to everyone, the knocker included.
    const removed = await a.remove(false);
    expect(removed).toContain('closed to everyone now');
    expect(await states(a, 22), 'ssh after knockc remove').toEqual(ALL_CLOSED);
    await a.c0.knock(SSH_KNOCK, { family: 4, delayMs: 50 });
    await sleep(200);
    expect(await states(a, 22), 'a knock after knockc remove').toEqual(ALL_CLOSED);
    await untouched(a, 'after remove');

    // Purge: the host exactly as before apply.
    await a.apply();
    await a.remove(true);
    expect(await sh(a.server, h.snapshot), 'rules and files after remove --purge').toBe(before);
    expect(await states(a, 22), 'ssh after purge').toEqual(without);
    await untouched(a, 'after purge');
    return a.out.join('');
  } finally {
    await a.lab.stop();
  }
}

/** The host firewall files and rules as text (one snapshot format for every kind). */
export const SNAPSHOT_COMMON = [
  'for f in /etc/nftables.conf /etc/iptables/rules.v4 /etc/iptables/rules.v6 /etc/ufw/before.rules /etc/ufw/before6.rules; do',
  '  [ -e "$f" ] && { echo "== $f"; cat "$f"; }',
  'done',
  'echo "== /etc/knockc"; ls -A /etc/knockc 2>/dev/null',
  'echo "== /etc/firewalld"; [ -d /etc/firewalld ] && (cd /etc/firewalld && find . -type f | sort | xargs -r md5sum)',
  'for t in iptables-nft ip6tables-nft iptables-legacy ip6tables-legacy; do echo "== $t"; $t -S 2>/dev/null; done',
  // Counters change with traffic: listed without them.
  'echo "== nft"; nft list ruleset | grep -v "counter packets"',
].join('\n');
