/**
 * What the lab benchmarks share: deploying knockd and knockc's compiled rules on a
 * lab server (the way an administrator would), the in-container helper scripts,
 * and reading the server's counters.
 *
 * The lab itself (containers, network, labels, clean-up) is test/lab/lab.ts.
 */
import { readFileSync } from 'node:fs';
import { startLab, type Lab, type LabClient, type LabNode, type LabOptions, type LabServer } from '../test/lab/lab.js';
import { guardEntries, guardScript } from '../src/attach/guard.js';
import { parseConfigText } from '../src/frontend/load.js';
import { DEFAULT_MARK } from '../src/model/mark.js';
import { planDoors } from '../src/model/plan.js';
import { compileCli, type Family } from './lib.js';

export const IFACE = 'eth0';
/** Ports the lab servers listen on; knockd's default-drop firewall protects them. */
export const PROTECTED = [22, 2222];

/** The benchmark door pair: open tcp/22 for the knocker until the closing door revokes it. */
export const OPEN_SEQ = '7000,8000:udp,9000';
export const CLOSE_SEQ = '9000,8000:udp,7000';
export const DOOR_CONF = `# knockc benchmark doors (bench/labkit.ts)
[openSSH]
	sequence        = ${OPEN_SEQ}
	seq_timeout     = 5
	tcpflags        = syn
	start_command   = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
	start_command_6 = /sbin/ip6tables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT

[closeSSH]
	sequence        = ${CLOSE_SEQ}
	seq_timeout     = 5
	tcpflags        = syn
	start_command   = /sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
	start_command_6 = /sbin/ip6tables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
`;

export type TargetName = 'knockd' | 'knockc nft' | 'knockc iptables' | 'no rules';

const SCRIPTS = {
  flood: readFileSync(new URL('./lab/flood.pl', import.meta.url), 'utf8'),
  knockConnect: readFileSync(new URL('./lab/knock-connect.pl', import.meta.url), 'utf8'),
  udpFlood: readFileSync(new URL('./lab/udp-flood.pl', import.meta.url), 'utf8'),
};
export const FLOOD = '/usr/local/bin/bench-flood';
export const KNOCK_CONNECT = '/usr/local/bin/bench-knock-connect';
export const UDP_FLOOD = '/usr/local/bin/bench-udp-flood';

export async function installScripts(node: LabNode): Promise<void> {
  await node.writeFile(FLOOD, SCRIPTS.flood, 0o755);
  await node.writeFile(KNOCK_CONNECT, SCRIPTS.knockConnect, 0o755);
  await node.writeFile(UDP_FLOOD, SCRIPTS.udpFlood, 0o755);
}

// ---------------------------------------------------------------------------
// Labs: always stopped, also on Ctrl-C.

const running = new Set<Lab>();
let hooked = false;

function hookSignals(): void {
  if (hooked) return;
  hooked = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      console.error(`\n[bench] ${sig}: removing ${running.size} lab(s)...`);
      void Promise.allSettled([...running].map((l) => l.stop())).finally(() => process.exit(130));
    });
  }
}

/** Starts a lab, runs fn, and always stops the lab (containers and network). */
export async function withLab<T>(opts: LabOptions, fn: (lab: Lab) => Promise<T>): Promise<T> {
  hookSignals();
  const lab = await startLab(opts);
  running.add(lab);
  try {
    await Promise.all([...lab.servers, ...lab.clients].map(installScripts));
    return await fn(lab);
  } finally {
    running.delete(lab);
    await lab.stop();
  }
}

// ---------------------------------------------------------------------------
// Deployments

const pids = new WeakMap<LabServer, number>();

/** Stops a knockd started by deployKnockd, then opens the server (no rules at all). */
export async function resetServer(server: LabServer): Promise<void> {
  const pid = pids.get(server);
  if (pid !== undefined) {
    pids.delete(server);
    await server.exec(['sh', '-c', `kill -KILL -${pid} 2>/dev/null; true`]);
  }
  await server.resetFirewall();
}

/**
 * knockd as a daemon runs it: `knockd -i eth0 -c FILE`, no -v (which prints a line per
 * packet) and no log file, behind a default-drop firewall (INPUT policy DROP; new TCP to
 * the protected ports dropped unless knockd's command ACCEPTs the source). The most
 * favourable setting for knockd. Ready when its capture socket is open.
 */
export async function deployKnockd(server: LabServer, conf: string): Promise<number> {
  await resetServer(server);
  await server.setDefaultDropFirewall({ ports: PROTECTED });
  const file = '/tmp/knockc-lab/bench-knockd.conf';
  await server.writeFile(file, conf);
  const out = await server.run(['sh', '-c', `setsid knockd -i ${IFACE} -c ${file} </dev/null >/dev/null 2>&1 & echo $!`]);
  const pid = Number(out.trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`knockd: unexpected pid ${JSON.stringify(out)}`);
  pids.set(server, pid);
  // knockd's packet socket appears in /proc/net/packet once pcap is open; the filter follows at once.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await server.exec(['sh', '-c', `[ -d /proc/${pid} ] || exit 2; [ "$(wc -l < /proc/net/packet)" -gt 1 ] && exit 0; exit 1`]);
    if (r.exitCode === 0) break;
    if (r.exitCode === 2) throw new Error('knockd exited at start-up');
    if (Date.now() > deadline) throw new Error('knockd did not open its capture socket within 15 s');
    await new Promise((res) => setTimeout(res, 100));
  }
  await new Promise((res) => setTimeout(res, 300));
  return pid;
}

/**
 * `knockc compile -i eth0` (nft, table inet knockc) loaded with nft -f on an open server.
 * Since issue 16 that table only marks what a grant lets in and closes nothing by itself:
 * this is the table's own cost (benchmark 2), not a deployment that keeps a port closed;
 * for that, deployNftBehindFirewall (what latency and flood use) or deployNftGuard.
 */
export async function deployNft(server: LabServer, conf: string, extraArgs: string[] = []): Promise<string> {
  const text = await compileCli(conf, ['-i', IFACE, ...extraArgs]);
  await resetServer(server);
  await server.loadNft(text);
  return text;
}

/**
 * What `knockc apply` loads on a host without a firewall: the table inet knockc of
 * `knockc compile -i eth0` (grants mark packets) and knockc's guard table inet knockc_guard
 * (src/attach/guard.ts: new connections to granted ports dropped unless marked, both
 * families, lo exempted), on an open server.
 */
export async function deployNftGuard(server: LabServer, conf: string): Promise<void> {
  const parsed = parseConfigText(conf, { file: 'bench.conf' });
  if (!parsed.config) throw new Error(`bench config rejected: ${parsed.diagnostics.map((d) => d.message).join('; ')}`);
  const guard = guardScript(guardEntries(planDoors(parsed.config)).entries, DEFAULT_MARK);
  await deployNft(server, conf);
  await server.loadNft(guard);
}

/**
 * A host firewall alone: the default-drop iptables rules knockd's commands expect
 * (test/lab/lab.ts setDefaultDropFirewall, IPv4 and IPv6: INPUT policy DROP; lo, established
 * and everything but new TCP to PROTECTED accepted, so UDP floods pass), and with standing=true
 * knockc's standing rule first in INPUT (src/attach/standing.ts), as `knockc apply` adds it.
 */
export async function deployHostFirewall(server: LabServer, opts: { standing?: boolean } = {}): Promise<void> {
  await resetServer(server);
  await server.setDefaultDropFirewall({ ports: PROTECTED, standing: opts.standing ?? false });
}

/**
 * What `knockc apply` leaves on a host with an iptables firewall: that firewall (the same
 * default-drop rules as deployKnockd's), the standing rule first in INPUT, table inet knockc
 * (`knockc compile -i eth0 ...extraArgs`). "knockc nft" in the latency and flood benchmarks.
 */
export async function deployNftBehindFirewall(server: LabServer, conf: string, extraArgs: string[] = []): Promise<void> {
  const text = await compileCli(conf, ['-i', IFACE, ...extraArgs]);
  await deployHostFirewall(server, { standing: true });
  await server.loadNft(text);
}

/**
 * `knockc compile -i eth0 --target iptables --family 4|6`, loaded as the file's header says
 * (iptables-restore --noflush, then `-I INPUT 1 -j knockc_input`), behind the same default-drop
 * firewall as knockd (guard=false), or with --guard on an open server (guard=true).
 */
export async function deployIptables(server: LabServer, conf: string, opts: { guard?: boolean } = {}): Promise<void> {
  await resetServer(server);
  if (!opts.guard) await server.setDefaultDropFirewall({ ports: PROTECTED });
  for (const family of [4, 6] as const) {
    const args = ['-i', IFACE, '--target', 'iptables', '--family', String(family)];
    if (opts.guard) args.push('--guard');
    const text = await compileCli(conf, args);
    await server.iptablesRestore(text, { family, noflush: true });
    await server.iptables(['-I', 'INPUT', '1', '-j', 'knockc_input'], { family });
  }
  // xt_recent lists outlive their rules for a moment and are picked up again by name: start empty.
  await server.exec(['sh', '-c', 'for f in /proc/net/xt_recent/knockc_*; do [ -e "$f" ] && echo / > "$f"; done; true']);
}

export async function deploy(target: TargetName, server: LabServer, conf: string): Promise<void> {
  if (target === 'knockd') await deployKnockd(server, conf);
  else if (target === 'knockc nft') await deployNftBehindFirewall(server, conf);
  else if (target === 'knockc iptables') await deployIptables(server, conf);
  else await resetServer(server);
}

export function knockdPid(server: LabServer): number | undefined {
  return pids.get(server);
}

// ---------------------------------------------------------------------------
// Running the in-container helpers

export interface Round {
  round: number;
  family: Family;
  state: 'open' | 'timeout' | 'refused' | 'stale';
  connectMs: number;
  knockMs: number;
}

/** Runs knock-connect.pl in `client` against `server`; parses its rounds. */
export async function knockConnect(
  client: LabClient,
  server: LabServer,
  o: { n: number; family: 4 | 6 | 'alt'; timeout?: number; precheck?: number; gap?: number },
): Promise<Round[]> {
  const argv = [
    'perl', KNOCK_CONNECT,
    `dst4=${server.ip4}`, `dst6=${server.ip6}`,
    `open=${OPEN_SEQ}`, `close=${CLOSE_SEQ}`,
    'port=22', `n=${o.n}`, `family=${o.family}`,
    `timeout=${o.timeout ?? 3}`, `precheck=${o.precheck ?? 0.2}`, `gap=${o.gap ?? 0.2}`,
  ];
  const out = await client.run(argv);
  return out
    .split('\n')
    .filter((l) => /^\d+ /.test(l))
    .map((l) => {
      const [round, family, state, connectMs, knockMs] = l.trim().split(/\s+/);
      return {
        round: Number(round),
        family: Number(family) as Family,
        state: state as Round['state'],
        connectMs: Number(connectMs),
        knockMs: Number(knockMs),
      };
    });
}
