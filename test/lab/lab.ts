/**
 * knockc Docker integration lab.
 *
 *   const lab = await startLab({ clients: 2 });
 *   await lab.server.loadNft(compiled);
 *   await lab.clients[0]!.knock(['7000', '8000', '9000:udp'], { family: 6 });
 *   expect(await lab.clients[0]!.probe(22, { family: 6 })).toBe('open');
 *   await lab.stop();
 *
 * One user-defined INTERNAL Docker network per lab (a free /27 of
 * 198.51.100.0/24 or 203.0.113.0/24 and a random 2001:db8:XXXX::/64), one
 * server (NET_ADMIN, NET_RAW; socat listeners on TCP 22 and 2222, IPv4 and
 * IPv6) and N clients (NET_ADMIN, NET_RAW), all from the lab image (see build-image.sh),
 * each with a fixed IPv4 and IPv6 address:
 *   gateway .1 / ::1 (the host's bridge), server .2 / ::2, client i .(3+i) / ::(3+i).
 * No container has a default route (lab-init removes them: Docker 20.10 gives
 * an --internal IPv6 network a default route through the host, which forwards
 * IPv6), so test traffic cannot leave the lab.
 *
 * No Ryuk: every container and network carries knockc.lab.* labels; lab.stop()
 * removes them, and startLab() first removes leftovers of dead processes on
 * this host.
 */
import './lab-env.js';
import { iptStandingArgs } from '../../src/attach/standing.js';
import { DEFAULT_MARK } from '../../src/model/mark.js';
import { errMsg, imageAvailable, isCI, processAlive, sanitize, type ImageStatus } from './docker-image.js';

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { describe, beforeAll, afterAll } from 'vitest';
import {
  GenericContainer,
  Wait,
  getContainerRuntimeClient,
  type ContainerRuntimeClient,
  type StartedTestContainer,
} from 'testcontainers';

// ---------------------------------------------------------------------------
// Image and availability

/** The one place that decides which image the lab runs. */
export function labImage(): string {
  return process.env['KNOCKC_LAB_IMAGE'] || 'knockc-lab:latest';
}

export { isCI };
export type LabStatus = ImageStatus;

/** Whether Docker answers and the lab image exists (cached). Never throws. */
export function labAvailable(): Promise<LabStatus> {
  return imageAvailable(labImage(), 'lab image', 'test/lab/build-image.sh');
}

/** Throws a clear error when the lab cannot run (use where skipping is not an option). */
export async function requireLab(): Promise<string> {
  const status = await labAvailable();
  if (!status.ok) throw new Error(`knockc lab unavailable: ${status.reason}`);
  return status.image;
}

const status = await labAvailable();
if (!status.ok) {
  if (isCI()) {
    // CI must fail, not skip, when the lab cannot run.
    throw new Error(`knockc lab unavailable (CI=${process.env['CI']}): ${status.reason}`);
  }
  console.warn(`[knockc lab] skipping Docker lab tests: ${status.reason}`);
}

/**
 * `describe` when the lab can run; `describe.skip` otherwise (outside CI).
 * In CI an unavailable lab makes importing this module throw, so the test fails.
 */
export const describeLab = describe.skipIf(!status.ok);

/**
 * Starts a lab in beforeAll and stops it in afterAll of the enclosing describe.
 *   const ctx = useLab({ clients: 2 });  test('...', async () => { ctx.lab.server... })
 */
export function useLab(options: LabOptions = {}): { readonly lab: Lab } {
  let lab: Lab | undefined;
  beforeAll(async () => {
    lab = await startLab(options);
  });
  afterAll(async () => {
    await lab?.stop();
  });
  return {
    get lab(): Lab {
      if (!lab) throw new Error('lab not started (useLab must be called inside describe, used inside tests)');
      return lab;
    },
  };
}

// ---------------------------------------------------------------------------
// Types

export type Family = 4 | 6;

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export class LabExecError extends Error {
  constructor(
    readonly node: string,
    readonly command: string[],
    readonly result: ExecResult,
  ) {
    super(
      `[${node}] command failed (exit ${result.exitCode}): ${command.join(' ')}\n` +
        (result.stderr.trim() ? `stderr:\n${result.stderr.trimEnd()}\n` : '') +
        (result.stdout.trim() ? `stdout:\n${result.stdout.trimEnd()}` : ''),
    );
    this.name = 'LabExecError';
  }
}

export interface LabOptions {
  /** Number of client containers (default 1; clients + servers at most 13). */
  clients?: number;
  /**
   * Servers besides `server` (default 0): lab.servers[1..], at host .(3+clients+j) / ::(3+clients+j),
   * each like `server` (same listeners). One lab can so compare several rulesets side by side.
   */
  extraServers?: number;
  /** TCP ports the server listens on, IPv4 and IPv6 (default [22, 2222]). */
  serverTcpPorts?: number[];
  /** UDP ports on which the server answers each datagram (default none). */
  serverUdpPorts?: number[];
  /** Image to run (default labImage()). */
  image?: string;
  /** A short word put into container names, e.g. the test file (debugging aid). */
  name?: string;
  /** Give up (and clean up) when the containers have not started by then (default 120 s). */
  startTimeoutMs?: number;
  /** IPv6 on the containers' lo (::1), which Docker turns off (default false). */
  loopback6?: boolean;
}

export type ProbeState = 'open' | 'refused' | 'timeout';

export interface ProbeOptions {
  family?: Family;
  /** Connect timeout (default 1000 ms). A SYN that is dropped costs this long. */
  timeoutMs?: number;
  /** Address to connect to (default: the server's address of `family`). */
  host?: string;
}

export interface KnockOptions {
  family?: Family;
  /** Milliseconds between knocks (knock -d). Default: none. */
  delayMs?: number;
  /** Address to knock at (default: the server's address of `family`). */
  host?: string;
}

export interface SendTcpOptions {
  port: number;
  /** hping3-style letters: F S R P A U E C; '' or '-' = no flag. Default 'S'. */
  flags?: string;
  family?: Family;
  host?: string;
  sport?: number;
  seq?: number;
  ack?: number;
  /** Number of segments (consecutive sequence numbers). Default 1. */
  count?: number;
  payload?: string;
}

export interface SendUdpOptions {
  port: number;
  family?: Family;
  host?: string;
  sport?: number;
  payload?: string;
  count?: number;
}

export interface StartKnockdOptions {
  /** Interface knockd listens on (default eth0, the lab network inside the container). */
  iface?: string;
  /** Extra knockd arguments, e.g. ['-4']. */
  args?: string[];
  /** How long to wait for "listening on IFACE" (default 10 s). */
  readyTimeoutMs?: number;
}

export interface LabNetwork {
  name: string;
  id: string;
  subnet4: string;
  subnet6: string;
  gateway4: string;
  gateway6: string;
}

// ---------------------------------------------------------------------------
// Nodes

const LAB_DIR = '/tmp/knockc-lab';
/** Shell function: is PID running (present and not a zombie)? */
const ALIVE = `alive() { [ -r /proc/$1/stat ] && ! grep -q ') Z ' /proc/$1/stat; }`;
const SEND = '/usr/local/bin/lab-send';
const TRACE = '/usr/local/bin/lab-trace';
const INIT = '/usr/local/bin/lab-init';
/** What the Perl senders share (lab-send, lab-trace, bench/lab/*.pl `use lib` this directory). */
const LABKIT = '/usr/local/lib/knockc-lab/LabKit.pm';

export class LabNode {
  private fileCounter = 0;

  constructor(
    readonly name: string,
    readonly container: StartedTestContainer,
    readonly ip4: string,
    readonly ip6: string,
    protected readonly lab: { readonly server: { ip4: string; ip6: string } | undefined },
  ) {}

  /** This node's address of the given family. */
  ip(family: Family): string {
    return family === 6 ? this.ip6 : this.ip4;
  }

  /** Runs a command (argv, or a string for `sh -c`); never throws on a non-zero exit. */
  async exec(cmd: string[] | string): Promise<ExecResult> {
    const argv = typeof cmd === 'string' ? ['sh', '-c', cmd] : cmd;
    const r = await this.container.exec(argv);
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  }

  /** Like exec, but throws LabExecError on a non-zero exit; returns stdout. */
  async run(cmd: string[] | string): Promise<string> {
    const argv = typeof cmd === 'string' ? ['sh', '-c', cmd] : cmd;
    const r = await this.exec(argv);
    if (r.exitCode !== 0) throw new LabExecError(this.name, argv, r);
    return r.stdout;
  }

  async writeFile(path: string, content: string, mode = 0o644): Promise<void> {
    await this.container.copyContentToContainer([{ content, target: path, mode }]);
  }

  async readFile(path: string): Promise<string> {
    return this.run(['cat', path]);
  }

  /** A fresh file name under /tmp/knockc-lab. */
  protected tmpName(stem: string, ext: string): string {
    this.fileCounter += 1;
    return `${LAB_DIR}/${stem}-${this.fileCounter}.${ext}`;
  }

  protected target(family: Family, host: string | undefined): string {
    if (host) return host;
    const s = this.lab.server;
    if (!s) throw new Error('no server in this lab');
    return family === 6 ? s.ip6 : s.ip4;
  }

  /** TCP connect from this node, with a detailed outcome and its duration. */
  async probeDetail(port: number, opts: ProbeOptions = {}): Promise<{ state: ProbeState; ms: number }> {
    const family = opts.family ?? 4;
    const timeoutMs = opts.timeoutMs ?? 1000;
    const host = this.target(family, opts.host);
    const secs = (timeoutMs / 1000).toFixed(3);
    const ncWait = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
    const t0 = performance.now();
    const r = await this.exec([
      'timeout', '-s', 'KILL', secs,
      'nc', `-${family}`, '-z', '-v', '-n', '-w', ncWait, host, String(port),
    ]);
    const ms = Math.round(performance.now() - t0);
    if (r.exitCode === 0) return { state: 'open', ms };
    if (/refused/i.test(r.stderr)) return { state: 'refused', ms };
    return { state: 'timeout', ms };
  }

  /**
   * 'open' when a TCP connect succeeds within the timeout (default 1 s), else 'closed'.
   * A dropped SYN is retransmitted after 1 s: right after a knock to the real
   * knockd (whose command runs a little later), wait for the grant first
   * (e.g. eventually(...) on `iptables -S`) or probe with timeoutMs >= 1500.
   */
  async probe(port: number, opts: ProbeOptions = {}): Promise<'open' | 'closed'> {
    return (await this.probeDetail(port, opts)).state === 'open' ? 'open' : 'closed';
  }
}

export class LabClient extends LabNode {
  /**
   * Knocks with the real `knock` client: ports like 7000, '7000', '8000:udp'.
   * Resolves when the last knock has been sent (not when the server reacted).
   */
  async knock(ports: Array<string | number>, opts: KnockOptions = {}): Promise<void> {
    const family = opts.family ?? 4;
    const argv = ['knock', `-${family}`];
    if (opts.delayMs !== undefined) argv.push('-d', String(Math.round(opts.delayMs)));
    argv.push(this.target(family, opts.host), ...ports.map(String));
    await this.run(argv);
  }

  /**
   * Sends hand-made TCP segments (any flags, IPv4 or IPv6) with lab-send.pl
   * over a raw socket. Returns at once; replies are handled (RST) by the kernel.
   */
  async sendTcp(opts: SendTcpOptions): Promise<void> {
    const family = opts.family ?? 4;
    const argv = [
      'perl', SEND,
      `dst=${this.target(family, opts.host)}`,
      `dport=${opts.port}`,
      `flags=${opts.flags === undefined ? 'S' : opts.flags === '' ? '-' : opts.flags}`,
    ];
    if (opts.sport !== undefined) argv.push(`sport=${opts.sport}`);
    if (opts.seq !== undefined) argv.push(`seq=${opts.seq}`);
    if (opts.ack !== undefined) argv.push(`ack=${opts.ack}`);
    if (opts.count !== undefined) argv.push(`count=${opts.count}`);
    if (opts.payload !== undefined) argv.push(`payload=${opts.payload}`);
    await this.run(argv);
  }

  /** Sends UDP datagrams (default one, empty payload). */
  async sendUdp(opts: SendUdpOptions): Promise<void> {
    const family = opts.family ?? 4;
    const argv = ['perl', SEND, 'proto=udp', `dst=${this.target(family, opts.host)}`, `dport=${opts.port}`];
    if (opts.sport !== undefined) argv.push(`sport=${opts.sport}`);
    if (opts.count !== undefined) argv.push(`count=${opts.count}`);
    if (opts.payload !== undefined) argv.push(`payload=${opts.payload}`);
    await this.run(argv);
  }

  /**
   * Plays a timed trace with lab-trace.pl (see that file for the line format):
   * packets and probes at exact offsets from `start` (seconds since the epoch).
   * Returns lab-trace's output lines.
   */
  async playTrace(lines: string[]): Promise<string[]> {
    const file = this.tmpName('trace', 'txt');
    await this.writeFile(file, `${lines.join('\n')}\n`);
    const out = await this.run(['perl', TRACE, file]);
    return out.split('\n').filter((l) => l !== '');
  }

  /**
   * Raw hping3 (IPv4 only: hping3 has no IPv6 support). Note that with -c it
   * waits about 1 s when no reply comes; prefer sendTcp.
   */
  async hping(args: string[]): Promise<ExecResult> {
    return this.exec(['hping3', ...args]);
  }
}

export class LabServer extends LabNode {
  private knockdPid: number | undefined;

  /** Loads an nftables ruleset with `nft -f`; throws with nft's stderr on failure. */
  async loadNft(text: string, opts: { checkOnly?: boolean } = {}): Promise<void> {
    const file = this.tmpName('ruleset', 'nft');
    await this.writeFile(file, text);
    const argv = opts.checkOnly ? ['nft', '-c', '-f', file] : ['nft', '-f', file];
    const r = await this.exec(argv);
    if (r.exitCode !== 0) throw new LabExecError(this.name, argv, r);
  }

  /** Runs `nft ARGS` and returns stdout, e.g. nft(['list', 'set', 'inet', 'knockc', 'grant4']). */
  async nft(args: string[]): Promise<string> {
    return this.run(['nft', ...args]);
  }

  /** iptables-restore / ip6tables-restore (iptables-nft, like the host). */
  async iptablesRestore(text: string, opts: { family?: Family; noflush?: boolean } = {}): Promise<void> {
    const family = opts.family ?? 4;
    const file = this.tmpName(`rules-v${family}`, 'txt');
    await this.writeFile(file, text.endsWith('\n') ? text : `${text}\n`);
    const argv = [family === 6 ? 'ip6tables-restore' : 'iptables-restore'];
    if (opts.noflush) argv.push('--noflush');
    argv.push(file);
    const r = await this.exec(argv);
    if (r.exitCode !== 0) throw new LabExecError(this.name, argv, r);
  }

  /** Runs iptables / ip6tables with ARGS, returns stdout; throws on failure. */
  async iptables(args: string[], opts: { family?: Family } = {}): Promise<string> {
    return this.run([opts.family === 6 ? 'ip6tables' : 'iptables', ...args]);
  }

  /**
   * The firewall knockd's usual commands (`iptables -A INPUT -s %IP% ... -j ACCEPT`)
   * expect, in IPv4 and IPv6: INPUT policy DROP, loopback, established/related
   * and everything except TCP to `ports` accepted. So only new TCP connections
   * to `ports` are dropped, unless a later-appended rule accepts them.
   */
  async setDefaultDropFirewall(opts: { ports?: number[]; families?: Family[]; standing?: boolean } = {}): Promise<void> {
    const text = defaultDropRules(opts.ports);
    for (const family of opts.families ?? [4, 6]) {
      await this.iptablesRestore(text, { family });
      // knockc's standing rule, first in INPUT, as `knockc apply` adds it (src/attach/iptables.ts).
      if (opts.standing) await this.iptables(['-I', 'INPUT', '1', ...iptStandingArgs(DEFAULT_MARK)], { family });
    }
  }

  /**
   * Back to an open server: iptables filter tables flushed with ACCEPT policies
   * (v4, v6) and every nftables table deleted except Docker's `ip nat` (the
   * container's embedded DNS). Conntrack entries are not flushed.
   */
  async resetFirewall(): Promise<void> {
    await this.run(`set -e\n${RESET_FIREWALL_SH}`);
  }

  /**
   * Runs a shell script (sh -e) in one `docker exec`: the cheap way to do many
   * steps (each exec costs ~100 ms, more when several labs are busy).
   */
  async script(text: string): Promise<string> {
    // One argument may hold at most 128 KiB (MAX_ARG_STRLEN): big scripts go through a file.
    if (Buffer.byteLength(text) < 64 * 1024) return this.run(['sh', '-e', '-c', text]);
    const file = this.tmpName('script', 'sh');
    await this.writeFile(file, text);
    return this.run(['sh', '-e', file]);
  }

  /**
   * Runs the real knockd (`knockd -i IFACE -c FILE -v`) in the background and
   * waits until it listens. One knockd at a time: a running one is stopped first.
   */
  async startKnockd(config: string, opts: StartKnockdOptions = {}): Promise<void> {
    await this.stopKnockd();
    const iface = opts.iface ?? 'eth0';
    const conf = `${LAB_DIR}/knockd.conf`;
    await this.writeFile(conf, config);
    const script = [
      'iface=$1; conf=$2; shift 2',
      'rm -f /var/log/knockd.out',
      'setsid knockd -i "$iface" -c "$conf" -v "$@" </dev/null >/var/log/knockd.out 2>&1 &',
      'echo $!',
    ].join('\n');
    const out = await this.run(['sh', '-c', script, 'sh', iface, conf, ...(opts.args ?? [])]);
    const pid = Number(out.trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`startKnockd: unexpected pid output ${JSON.stringify(out)}`);
    this.knockdPid = pid;
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 10_000);
    for (;;) {
      const r = await this.exec([
        'sh', '-c',
        `${ALIVE}; grep -q 'listening on' /var/log/knockd.out && exit 0; alive ${pid} && exit 1; exit 2`,
      ]);
      if (r.exitCode === 0) return;
      if (r.exitCode === 2 || Date.now() > deadline) {
        const output = await this.knockdOutput();
        this.knockdPid = undefined;
        await this.exec(['sh', '-c', `kill -KILL -${pid} 2>/dev/null; true`]);
        throw new Error(
          `knockd ${r.exitCode === 2 ? 'exited' : 'did not start listening'} (iface ${iface}); output:\n${output.trimEnd()}`,
        );
      }
      await sleep(50);
    }
  }

  async stopKnockd(): Promise<void> {
    const pid = this.knockdPid;
    if (pid === undefined) return;
    this.knockdPid = undefined;
    // knockd and its children (pending stop_command sleepers) share a process group.
    await this.exec([
      'sh', '-c',
      `${ALIVE}; kill -TERM -${pid} 2>/dev/null; for i in $(seq 50); do alive ${pid} || exit 0; sleep 0.05; done; kill -KILL -${pid}; true`,
    ]);
  }

  /** knockd's verbose output since the last startKnockd (events, command results). */
  async knockdOutput(): Promise<string> {
    return (await this.exec(['cat', '/var/log/knockd.out'])).stdout;
  }
}

/** iptables-restore input of setDefaultDropFirewall (the same for IPv4 and IPv6). */
export function defaultDropRules(ports: number[] = [22, 2222]): string {
  return [
    '*filter',
    ':INPUT DROP [0:0]',
    ':FORWARD ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    '-A INPUT -i lo -j ACCEPT',
    '-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    '-A INPUT ! -p tcp -j ACCEPT',
    `-A INPUT -p tcp -m multiport ! --dports ${ports.join(',')} -j ACCEPT`,
    'COMMIT',
    '',
  ].join('\n');
}

/** Shell commands of resetFirewall (for scripts that do more in the same exec). */
export const RESET_FIREWALL_SH = [
  'for t in iptables ip6tables; do',
  '  for c in INPUT FORWARD OUTPUT; do $t -P $c ACCEPT; done',
  '  $t -F; $t -X',
  'done',
  'nft list tables | while read -r _ fam name; do',
  '  [ "$fam $name" = "ip nat" ] && continue',
  '  nft delete table "$fam" "$name"',
  'done',
].join('\n');

/** `cat <<'DELIM'` heredoc of `text` for a shell script (the delimiter never occurs in text). */
export function heredoc(text: string): string {
  let delim = 'KNOCKC_LAB_EOF';
  while (text.includes(delim)) delim += '_';
  return `<<'${delim}'\n${text.endsWith('\n') ? text : `${text}\n`}${delim}`;
}

export interface Lab {
  readonly id: string;
  readonly network: LabNetwork;
  readonly server: LabServer;
  /** `server` first, then the extra servers (LabOptions.extraServers). */
  readonly servers: LabServer[];
  readonly clients: LabClient[];
  /** Time startLab took. */
  readonly startMs: number;
  /** Removes containers and network; idempotent; never throws for already-gone objects. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

// ---------------------------------------------------------------------------
// startLab

const LABEL = 'knockc.lab';
const LABEL_PID = 'knockc.lab.pid';
const LABEL_HOST = 'knockc.lab.host';
const MAX_CLIENTS = 12;
/** Hosts .2 to .30 of the lab's /27. */
const MAX_NODES = 29;

const assets = {
  init: readFileSync(new URL('./lab-init.sh', import.meta.url), 'utf8'),
  send: readFileSync(new URL('./lab-send.pl', import.meta.url), 'utf8'),
  trace: readFileSync(new URL('./lab-trace.pl', import.meta.url), 'utf8'),
  labkit: readFileSync(new URL('./LabKit.pm', import.meta.url), 'utf8'),
};

/** GenericContainer with fixed addresses on a user-defined network. */
class LabContainer extends GenericContainer {
  withFixedAddresses(network: string, ip4: string, ip6: string): this {
    this.createOpts.NetworkingConfig = {
      EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: ip4, IPv6Address: ip6 } } },
    };
    return this.withNetworkMode(network);
  }

  /** IPv6 on lo (Docker turns it off in containers): the host's own IPv6 connections. */
  withLoopback6(): this {
    this.hostConfig.Sysctls = { ...(this.hostConfig.Sysctls ?? {}), 'net.ipv6.conf.lo.disable_ipv6': '0' };
    return this;
  }
}

export async function startLab(options: LabOptions = {}): Promise<Lab> {
  const t0 = performance.now();
  const image = options.image ?? (await requireLab());
  const nClients = options.clients ?? 1;
  if (!Number.isInteger(nClients) || nClients < 0 || nClients > MAX_CLIENTS) {
    throw new Error(`clients must be an integer in 0..${MAX_CLIENTS}`);
  }
  const nExtra = options.extraServers ?? 0;
  if (!Number.isInteger(nExtra) || nExtra < 0 || 1 + nClients + nExtra > MAX_NODES) {
    throw new Error(`extraServers must be an integer >= 0, with 1 + clients + extraServers <= ${MAX_NODES}`);
  }
  const client = await getContainerRuntimeClient();
  await reapStaleLabs(client).catch(() => undefined);

  const id = randomBytes(4).toString('hex');
  const labels = { [LABEL]: id, [LABEL_PID]: String(process.pid), [LABEL_HOST]: hostname() };
  const network = await createLabNetwork(client, id, labels);
  const prefix = `knockc-lab-${options.name ? `${sanitize(options.name)}-` : ''}${id}`;

  const tcpPorts = options.serverTcpPorts ?? [22, 2222];
  const udpPorts = options.serverUdpPorts ?? [];
  const base4 = network.subnet4.split('/')[0]!.split('.').map(Number);
  const base6 = network.subnet6.split('::')[0]!;
  const addr4 = (host: number): string => [...base4.slice(0, 3), base4[3]! + host].join('.');
  const addr6 = (host: number): string => `${base6}::${host.toString(16)}`;

  const holder: { server: LabServer | undefined } = { server: undefined };

  const make = (role: string, host: number, caps: string[], env: Record<string, string>) =>
    (options.loopback6 ? new LabContainer(image).withLoopback6() : new LabContainer(image))
      .withName(`${prefix}-${role}`)
      .withHostname(role)
      .withLabels({ ...labels, 'knockc.lab.role': role })
      .withFixedAddresses(network.name, addr4(host), addr6(host))
      .withAddedCapabilities(...caps)
      .withEnvironment(env)
      .withCopyContentToContainer([
        { content: assets.init, target: INIT, mode: 0o755 },
        { content: assets.send, target: SEND, mode: 0o755 },
        { content: assets.trace, target: TRACE, mode: 0o755 },
        { content: assets.labkit, target: LABKIT, mode: 0o644 },
      ])
      .withEntrypoint([])
      .withCommand(['sh', '-c', `mkdir -p ${LAB_DIR} && exec ${INIT}`])
      .withWaitStrategy(Wait.forLogMessage('knockc-lab ready'))
      .withStartupTimeout(30_000);

  const specs = [
    {
      role: 'server',
      host: 2,
      c: make('server', 2, ['NET_ADMIN', 'NET_RAW'], {
        LAB_TCP_PORTS: tcpPorts.join(' '),
        LAB_UDP_PORTS: udpPorts.join(' '),
      }),
    },
    ...Array.from({ length: nClients }, (_, i) => ({
      role: `client${i}`,
      host: 3 + i,
      // NET_ADMIN only so that lab-init can remove the default routes.
      c: make(`client${i}`, 3 + i, ['NET_ADMIN', 'NET_RAW'], {}),
    })),
    ...Array.from({ length: nExtra }, (_, j) => ({
      role: `server${j + 1}`,
      host: 3 + nClients + j,
      c: make(`server${j + 1}`, 3 + nClients + j, ['NET_ADMIN', 'NET_RAW'], {
        LAB_TCP_PORTS: tcpPorts.join(' '),
        LAB_UDP_PORTS: udpPorts.join(' '),
      }),
    })),
  ];

  const starts = specs.map((s) => s.c.start());
  const settled = Promise.allSettled(starts);
  const startTimeoutMs = options.startTimeoutMs ?? 120_000;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    settled,
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), startTimeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    // Docker is stuck (seen under heavy load): clean up whatever starts late.
    for (const p of starts) p.then((c) => c.stop({ timeout: 1 }), () => undefined).catch(() => undefined);
    void settled.then(() => removeByLabel(client, LABEL, id)).catch(() => undefined);
    throw new Error(`startLab: containers did not start within ${startTimeoutMs} ms (Docker overloaded or stuck?)`);
  }
  const started = outcome;
  const containers: StartedTestContainer[] = [];
  const failures: unknown[] = [];
  for (const r of started) {
    if (r.status === 'fulfilled') containers.push(r.value);
    else failures.push(r.reason);
  }

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.allSettled(containers.map((c) => c.stop({ timeout: 1 })));
    // Containers that failed to start are not in `containers`: remove by label.
    await removeByLabel(client, LABEL, id);
  };

  if (failures.length > 0) {
    await stop();
    throw new Error(`startLab: ${failures.length} container(s) failed to start: ${failures.map(errMsg).join('; ')}`);
  }

  const server = new LabServer(`${prefix}-server`, containers[0]!, addr4(2), addr6(2), holder);
  holder.server = server;
  const clients = containers
    .slice(1, 1 + nClients)
    .map((c, i) => new LabClient(`${prefix}-client${i}`, c, addr4(3 + i), addr6(3 + i), holder));
  const extra = containers
    .slice(1 + nClients)
    .map((c, j) => new LabServer(`${prefix}-server${j + 1}`, c, addr4(3 + nClients + j), addr6(3 + nClients + j), holder));
  const servers = [server, ...extra];

  const lab: Lab = {
    id,
    network,
    server,
    servers,
    clients,
    startMs: Math.round(performance.now() - t0),
    stop: async () => {
      await Promise.all(servers.map((s) => s.stopKnockd().catch(() => undefined)));
      await stop();
    },
    [Symbol.asyncDispose]: async () => lab.stop(),
  };
  return lab;
}

// ---------------------------------------------------------------------------
// Network, clean-up

async function createLabNetwork(
  client: ContainerRuntimeClient,
  id: string,
  labels: Record<string, string>,
): Promise<LabNetwork> {
  const docker = client.container.dockerode;
  let lastError: unknown;
  for (let attempt = 0; attempt < 8; attempt++) {
    const used = new Set<string>();
    for (const n of await docker.listNetworks()) {
      for (const c of n.IPAM?.Config ?? []) if (c.Subnet) used.add(c.Subnet);
    }
    // A /27 each (29 nodes: the lanes of every target side by side), clear of every network's subnet.
    const span = (cidr: string): [number, number] | null => {
      const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
      if (!m) return null;
      const a = ((Number(m[1]) << 24) >>> 0) + (Number(m[2]) << 16) + (Number(m[3]) << 8) + Number(m[4]);
      const size = 2 ** (32 - Number(m[5]));
      return [a, a + size - 1];
    };
    const taken = [...used].map(span).filter((x): x is [number, number] => x !== null);
    const free4 = shuffle(
      ['198.51.100', '203.0.113'].flatMap((b) => Array.from({ length: 8 }, (_, i) => `${b}.${i * 32}/27`)),
    ).filter((s) => {
      const [lo, hi] = span(s)!;
      return !taken.some(([a, b]) => a <= hi && lo <= b);
    });
    // Prefer 198.51.100.0/24, fall back to 203.0.113.0/24 when it is full.
    free4.sort((a, b) => Number(b.startsWith('198.')) - Number(a.startsWith('198.')));
    const subnet4 = free4[0];
    if (!subnet4) throw new Error('no free /27 left in 198.51.100.0/24 and 203.0.113.0/24 (stale lab networks? see `docker network ls`)');
    let subnet6: string;
    do subnet6 = `2001:db8:${(1 + randomBytes(2).readUInt16BE(0) % 0xfffe).toString(16)}::/64`;
    while (used.has(subnet6));
    const [b4] = subnet4.split('/');
    const o = b4!.split('.').map(Number);
    const gateway4 = `${o[0]}.${o[1]}.${o[2]}.${o[3]! + 1}`;
    const gateway6 = `${subnet6.split('::')[0]}::1`;
    const name = `knockc-lab-${id}${attempt ? `-${attempt}` : ''}`;
    try {
      const net = await client.network.create({
        Name: name,
        CheckDuplicate: true,
        Driver: 'bridge',
        Internal: true,
        EnableIPv6: true,
        Attachable: false,
        Labels: labels,
        IPAM: {
          Driver: 'default',
          Config: [
            { Subnet: subnet4, Gateway: gateway4 },
            { Subnet: subnet6, Gateway: gateway6 },
          ],
        },
      });
      return { name, id: net.id, subnet4, subnet6, gateway4, gateway6 };
    } catch (e) {
      lastError = e;
      // Another lab took the subnet between listing and creating: retry.
      if (!/overlap|already|in use/i.test(errMsg(e))) break;
    }
  }
  throw new Error(`could not create the lab network: ${errMsg(lastError)}`);
}

async function removeByLabel(client: ContainerRuntimeClient, key: string, value: string): Promise<void> {
  const docker = client.container.dockerode;
  const filters = JSON.stringify({ label: [`${key}=${value}`] });
  const cs = await docker.listContainers({ all: true, filters }).catch(() => []);
  await Promise.allSettled(cs.map((c) => docker.getContainer(c.Id).remove({ force: true })));
  const nets = await docker.listNetworks({ filters }).catch(() => []);
  for (const n of nets) {
    for (let i = 0; i < 10; i++) {
      try {
        await docker.getNetwork(n.Id).remove();
        break;
      } catch (e) {
        if (/no such network|not found/i.test(errMsg(e))) break;
        await sleep(200); // endpoints of just-removed containers may linger briefly
      }
    }
  }
}

/** Removes labs left behind by dead processes on this host (no Ryuk here). */
export async function reapStaleLabs(client?: ContainerRuntimeClient): Promise<number> {
  const c = client ?? (await getContainerRuntimeClient());
  const docker = c.container.dockerode;
  const filters = JSON.stringify({ label: [`${LABEL_HOST}=${hostname()}`] });
  const dead = new Set<string>();
  const consider = (labels: Record<string, string> | undefined): void => {
    const labId = labels?.[LABEL];
    const pid = Number(labels?.[LABEL_PID]);
    if (labId && Number.isInteger(pid) && pid > 0 && !processAlive(pid)) dead.add(labId);
  };
  for (const ci of await docker.listContainers({ all: true, filters })) consider(ci.Labels);
  for (const n of await docker.listNetworks({ filters })) consider(n.Labels);
  for (const labId of dead) await removeByLabel(c, LABEL, labId);
  return dead.size;
}


// ---------------------------------------------------------------------------
// Small helpers

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns true (default: every 100 ms for 5 s); returns whether it did. */
export async function eventually(
  fn: () => Promise<boolean> | boolean,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<boolean> {
  const end = Date.now() + (opts.timeoutMs ?? 5000);
  for (;;) {
    if (await fn()) return true;
    if (Date.now() >= end) return false;
    await sleep(opts.intervalMs ?? 100);
  }
}

/** Sleeps until just after the next whole second (knockd counts whole seconds). */
export async function alignToSecond(offsetMs = 50): Promise<void> {
  await sleep(1000 - (Date.now() % 1000) + offsetMs);
}

function shuffle<T>(xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = randomBytes(1)[0]! % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}



