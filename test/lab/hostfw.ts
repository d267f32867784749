/**
 * The real ufw and the real firewalld as oracles (issue 14): containers of the
 * host-firewall image (build-image.sh --variant hostfw) in which knockd's command
 * lines run exactly as knockd runs them (`/bin/sh -c LINE`, %IP% already
 * substituted), and the rules they leave are read back.
 *
 *   const fw = await startHostFw('ufw');
 *   const [r] = await fw.runBatch([{ setup: [], line: 'ufw allow from 198.51.100.2 to any port 22 proto tcp' }]);
 *   r.run.exit          // 0
 *   r.after.v4          // ['-A ufw-user-input -s 198.51.100.2/32 -p tcp -m tcp --dport 22 -j ACCEPT']
 *   await fw.stop();
 *
 * One container per HostFw, in its own network namespace without any network
 * (`--network none`: nothing leaves it), with NET_ADMIN and NET_RAW:
 *   ufw        `ufw --force enable` (iptables-nft); rules read with `iptables -S
 *              ufw-user-input` and `ip6tables -S ufw6-user-input` (ufw's IPv6 chains
 *              are ufw6-*); reset between cases by restoring ufw's pristine
 *              user.rules / user6.rules and the tables as they were right after
 *              `ufw enable` (iptables-restore, 30 ms; `ufw --force reset` + enable
 *              takes 2.5 s).
 *   firewalld  dbus-daemon + `firewalld --nofork --nopid`, ready when `firewall-cmd
 *              --state` says running; rules read from firewalld's runtime rich rules
 *              (D-Bus getRichRules of zone public and of the zones a case names, after
 *              the line only) and from nft's `table inet firewalld` (chain
 *              filter_INPUT_ZONES, which decides which zone a packet goes to, and the
 *              filter_IN_<zone>_allow chains); reset between cases by removing the
 *              rich rules left (D-Bus), and, when firewalld's nft table is still not
 *              as it was (zone bindings...), by restoring the pristine /etc/firewalld
 *              and reloading (0.3 s); nothing is done after a case without setup that
 *              left no rich rule, no nft change and no iptables rule.
 * A batch of cases runs as ONE shell script in ONE `docker exec` (each ufw or
 * firewall-cmd call is a Python start-up, 0.1-0.3 s; an exec costs ~0.1 s more),
 * its output delimited by markers with a random nonce and parsed here.
 *
 * No Ryuk: containers carry knockc.lab.* labels like lab.ts's (so its reaper
 * removes them too); stop() removes them, and startHostFw() first removes those
 * of dead processes on this host.
 */
import './lab-env.js';

import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { describe } from 'vitest';
import { GenericContainer, getContainerRuntimeClient, type ContainerRuntimeClient, type StartedTestContainer } from 'testcontainers';
import { imageAvailable, isCI, processAlive, sanitize, type ImageStatus } from './docker-image.js';

// ---------------------------------------------------------------------------
// Image and availability

export function hostfwImage(): string {
  return process.env['KNOCKC_HOSTFW_IMAGE'] || 'knockc-hostfw:latest';
}

export type HostFwStatus = ImageStatus;

/** Whether Docker answers and the host-firewall image exists (cached). Never throws. */
export function hostfwAvailable(): Promise<HostFwStatus> {
  return imageAvailable(hostfwImage(), 'host-firewall image', 'test/lab/build-image.sh --variant hostfw');
}

const status = await hostfwAvailable();
if (!status.ok) {
  if (isCI()) throw new Error(`knockc host-firewall lab unavailable (CI=${process.env['CI']}): ${status.reason}`);
  console.warn(`[knockc hostfw] skipping ufw / firewalld tests: ${status.reason}`);
}

/** `describe` when Docker and the image are there; `describe.skip` otherwise (outside CI; in CI importing this module throws). */
export const describeHostFw = describe.skipIf(!status.ok);

// ---------------------------------------------------------------------------
// Cases and results

export type HostFwTool = 'ufw' | 'firewalld';

export interface HostFwCase {
  /** Shell commands run first, in order, each with `/bin/sh -c` (their results are in HostFwResult.setup). */
  readonly setup: readonly string[];
  /** The command line, run as knockd runs it: `/bin/sh -c LINE`, %IP% already substituted. */
  readonly line: string;
}

export interface CmdResult {
  readonly exit: number;
  /** stdout and stderr together. */
  readonly output: string;
}

/** `-A` lines of one chain as `iptables -S` / `ip6tables -S` print them. */
export interface ChainRules {
  readonly v4: readonly string[];
  readonly v6: readonly string[];
}

/** ufw: the `-A` lines of ufw-user-input and ufw6-user-input, and of INPUT. */
export interface UfwState extends ChainRules {
  /** INPUT (ufw's jumps, and whatever iptables commands of a line put there). */
  readonly input: ChainRules;
}

/**
 * firewalld: the nft chains that decide what is accepted, and the rich rules per zone.
 * The rich rules are read after the line only (each firewall-cmd call costs 0.2 s): in
 * `before` they are null.
 */
export interface FirewalldState {
  /** filter_INPUT_ZONES and every filter_IN_<zone>_allow chain: chain name -> its rule lines, trimmed. */
  readonly chains: ReadonlyMap<string, readonly string[]>;
  /**
   * Zone -> its runtime rich rules (firewalld's D-Bus getRichRules, the text firewall-cmd
   * --list-rich-rules prints), for the default zone public and every zone the case names.
   */
  readonly rich: ReadonlyMap<string, readonly string[]> | null;
  /** DefaultZone= of /etc/firewalld/firewalld.conf (what --set-default-zone writes). */
  readonly defaultZone: string | null;
  /** iptables' INPUT chain (iptables-nft's own table, beside firewalld's): iptables commands of a line. */
  readonly input: ChainRules;
}

export type StateOf<T extends HostFwTool> = T extends 'ufw' ? UfwState : FirewalldState;

export interface HostFwResult<T extends HostFwTool> {
  readonly case: HostFwCase;
  readonly setup: readonly CmdResult[];
  /** State after the setup, before the line. */
  readonly before: StateOf<T>;
  readonly run: CmdResult;
  readonly after: StateOf<T>;
  /** How long the case took in the container (reset, setup, line, reading back), ms. */
  readonly ms: number;
}

export interface HostFw<T extends HostFwTool> {
  readonly tool: T;
  readonly name: string;
  /** Runs the cases one after the other (state reset before each) in one docker exec. */
  runBatch(cases: readonly HostFwCase[]): Promise<Array<HostFwResult<T>>>;
  /** One command in the container, for checks outside batches. */
  exec(cmd: string): Promise<CmdResult>;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Container

const LABEL = 'knockc.lab';
const LABEL_PID = 'knockc.lab.pid';
const LABEL_HOST = 'knockc.lab.host';
const DIR = '/tmp/knockc-hostfw';
/** Per command: firewall-cmd waits up to 25 s for D-Bus; a hung command should not hang the batch. */
const CMD_TIMEOUT_S = 30;

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const INIT: Record<HostFwTool, string> = {
  ufw: `
set -e
mkdir -p ${DIR}/pristine
ufw --force enable >/dev/null 2>&1 || { ufw --force enable; exit 1; }
iptables -S ufw-user-input >/dev/null && ip6tables -S ufw6-user-input >/dev/null
cp /etc/ufw/user.rules /etc/ufw/user6.rules ${DIR}/pristine/
iptables-save >${DIR}/pristine/v4.save && ip6tables-save >${DIR}/pristine/v6.save
echo ready`,
  firewalld: `
set -e
mkdir -p ${DIR} /run/dbus
[ -e /run/dbus/system_bus_socket ] || dbus-daemon --system --fork
setsid firewalld --nofork --nopid </dev/null >/var/log/firewalld.out 2>&1 &
i=0
until [ "$(firewall-cmd --state 2>/dev/null)" = running ]; do
  i=$((i + 1))
  if [ $i -gt 300 ]; then echo 'firewalld did not start'; cat /var/log/firewalld.out; exit 1; fi
  sleep 0.1
done
rm -rf ${DIR}/pristine-firewalld
cp -a /etc/firewalld ${DIR}/pristine-firewalld
nft list table inet firewalld >${DIR}/pristine.nft
echo ready`,
};

/** Shell functions of a batch script: reset and read back, per tool. */
const FUNCTIONS: Record<HostFwTool, string> = {
  ufw: `
reset_state() {
  cp ${DIR}/pristine/user.rules ${DIR}/pristine/user6.rules /etc/ufw/
  iptables-restore ${DIR}/pristine/v4.save && ip6tables-restore ${DIR}/pristine/v6.save
}
setup_done() { :; }
read_state() {
  mark v4; iptables -S ufw-user-input 2>&1
  mark v6; ip6tables -S ufw6-user-input 2>&1
  read_input
}`,
  firewalld: `
FWD='dbus-send --system --print-reply --dest=org.fedoraproject.FirewallD1 /org/fedoraproject/FirewallD1 org.fedoraproject.FirewallD1'
# The runtime rich rules of zone $1, one a line (D-Bus: 15 ms; firewall-cmd: 0.2 s).
rich_of() { $FWD.zone.getRichRules string:"$1" 2>/dev/null | sed -n 's/^ *string "\\(.*\\)"$/\\1/p'; }
full_reload() {
  rm -rf /etc/firewalld && cp -a ${DIR}/pristine-firewalld /etc/firewalld
  $FWD.reload >/dev/null
}
# Back to the pristine state only after a case that may have changed something (it had
# setup commands, or left a rich rule, an nft change or an iptables rule): the rich rules
# left are removed one by one (D-Bus), and a full reload (0.3 s) is done only when the nft
# table is still not as it was (zone bindings, ...).
reset_state() {
  [ -e ${DIR}/dirty ] || return 0
  iptables -F INPUT 2>/dev/null; ip6tables -F INPUT 2>/dev/null
  for z in $ZONES; do
    rich_of "$z" | while IFS= read -r r; do $FWD.zone.removeRichRule string:"$z" string:"$r" >/dev/null; done
  done
  nft list table inet firewalld >${DIR}/nft 2>&1
  cmp -s ${DIR}/nft ${DIR}/pristine.nft || full_reload
  rm -f ${DIR}/dirty
}
setup_done() { touch ${DIR}/dirty; }
read_state() {
  mark nft; nft list table inet firewalld >${DIR}/nft 2>&1; cat ${DIR}/nft
  mark zones
  if [ "$1" = after ]; then
    for z in $ZONES; do echo "zone $z"; rich_of "$z" | tee -a ${DIR}/rich; done
    if [ -s ${DIR}/rich ] || ! cmp -s ${DIR}/nft ${DIR}/pristine.nft; then touch ${DIR}/dirty; fi
    rm -f ${DIR}/rich
  fi
  mark default; sed -n 's/^DefaultZone=//p' /etc/firewalld/firewalld.conf
  read_input
  if [ "$1" = after ] && { iptables -S INPUT; ip6tables -S INPUT; } 2>/dev/null | grep -q '^-A'; then touch ${DIR}/dirty; fi
}`,
};

/**
 * Both tools' containers also read iptables' and ip6tables' INPUT chain (`input`): a line
 * may chain ufw or firewall-cmd with iptables commands, whose rules land there.
 */

/**
 * The zones whose rich rules a firewalld case reads back (and clears): the default zone
 * public and every zone its commands name with --zone.
 */
function zonesOf(c: HostFwCase): string[] {
  const zones = new Set(['public']);
  for (const text of [...c.setup, c.line]) {
    for (const m of text.matchAll(/--zone[= ]([A-Za-z0-9_+-]+)/g)) zones.add(m[1] as string);
  }
  return [...zones];
}

/** Single-quoted for sh. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export async function startHostFw<T extends HostFwTool>(tool: T, opts: { name?: string; image?: string } = {}): Promise<HostFw<T>> {
  const image = opts.image ?? (await requireHostFw());
  const client = await getContainerRuntimeClient();
  await reapStaleHostFw(client).catch(() => undefined);
  const id = randomBytes(4).toString('hex');
  const name = `knockc-hostfw-${tool}-${opts.name ? `${sanitize(opts.name)}-` : ''}${id}`;
  const container: StartedTestContainer = await new GenericContainer(image)
    .withName(name)
    .withHostname(tool)
    .withLabels({ [LABEL]: id, [LABEL_PID]: String(process.pid), [LABEL_HOST]: hostname(), 'knockc.lab.role': `hostfw-${tool}` })
    .withNetworkMode('none')
    .withAddedCapabilities('NET_ADMIN', 'NET_RAW')
    .withEnvironment({ PATH })
    .withEntrypoint([])
    .withCommand(['sleep', 'infinity'])
    .withStartupTimeout(60_000)
    .start();

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await container.stop({ timeout: 1 }).catch(() => undefined);
    await removeByLabel(client, LABEL, id);
  };
  const exec = async (cmd: string): Promise<CmdResult> => {
    const r = await container.exec(['sh', '-c', cmd]);
    return { exit: r.exitCode, output: r.output };
  };

  try {
    const init = await exec(INIT[tool]);
    if (init.exit !== 0 || !init.output.includes('ready')) {
      throw new Error(`starting ${tool} failed (exit ${init.exit}):\n${init.output}`);
    }
  } catch (e) {
    await stop();
    throw e;
  }

  let batches = 0;
  const runBatch = async (cases: readonly HostFwCase[]): Promise<Array<HostFwResult<T>>> => {
    if (cases.length === 0) return [];
    const nonce = randomBytes(6).toString('hex');
    const file = `${DIR}/batch-${++batches}.sh`;
    const parts = [
      `PATH=${PATH}; export PATH`,
      // Only what the functions print on purpose goes to the output: stray messages to a file.
      `exec 2>>${DIR}/stderr`,
      `mark() { printf '\\n@@KC${nonce}@@ %s\\n' "$*"; }`,
      'read_input() { mark in4; iptables -S INPUT 2>&1; mark in6; ip6tables -S INPUT 2>&1; }',
      FUNCTIONS[tool],
      // As knockd: /bin/sh -c LINE, stdin from /dev/null; output captured, exit status kept.
      `run_sh() { timeout -s KILL ${CMD_TIMEOUT_S} /bin/sh -c "$1" </dev/null >${DIR}/out 2>&1; rc=$?; mark "$2" "$rc"; cat ${DIR}/out; }`,
    ];
    cases.forEach((c, i) => {
      if (tool === 'firewalld') parts.push(`ZONES=${shq(zonesOf(c).join(' '))}`);
      parts.push(`mark case ${i} $(date +%s%N)`, `reset_state >${DIR}/out 2>&1 || { mark reset-failed; cat ${DIR}/out; exit 3; }`);
      c.setup.forEach((s) => parts.push(`run_sh ${shq(s)} setup`));
      if (c.setup.length > 0) parts.push('setup_done');
      parts.push('mark before', 'read_state before', `run_sh ${shq(c.line)} run`, 'mark after', 'read_state after');
    });
    parts.push('mark end $(date +%s%N)');
    await container.copyContentToContainer([{ content: `${parts.join('\n')}\n`, target: file, mode: 0o644 }]);
    const r = await container.exec(['sh', file]);
    if (r.exitCode !== 0) throw new Error(`${name}: batch script failed (exit ${r.exitCode}):\n${r.output.slice(-4000)}`);
    return parseBatch(tool, cases, r.output, nonce);
  };

  return { tool, name, runBatch, exec, stop };
}

/** Throws a clear error when the image or Docker is missing. */
export async function requireHostFw(): Promise<string> {
  const s = await hostfwAvailable();
  if (!s.ok) throw new Error(`knockc host-firewall lab unavailable: ${s.reason}`);
  return s.image;
}

// ---------------------------------------------------------------------------
// Parsing a batch's output

interface Section {
  readonly words: readonly string[];
  readonly body: string;
}

function sections(output: string, nonce: string): Section[] {
  const marker = `\n@@KC${nonce}@@ `;
  const chunks = `\n${output}`.split(marker);
  return chunks.slice(1).map((chunk) => {
    const nl = chunk.indexOf('\n');
    const head = nl < 0 ? chunk : chunk.slice(0, nl);
    const body = nl < 0 ? '' : chunk.slice(nl + 1);
    return { words: head.split(' '), body };
  });
}

function parseBatch<T extends HostFwTool>(tool: T, cases: readonly HostFwCase[], output: string, nonce: string): Array<HostFwResult<T>> {
  const secs = sections(output, nonce);
  if (secs.at(-1)?.words[0] !== 'end') throw new Error(`batch output truncated:\n${output.slice(-2000)}`);
  const results: Array<HostFwResult<T>> = [];
  let k = 0;
  const next = (): Section => {
    const s = secs[k++];
    if (s === undefined) throw new Error('batch output: unexpected end');
    return s;
  };
  const readState = (): StateOf<T> => {
    const parts = new Map<string, string>();
    for (let j = 0; j < (tool === 'ufw' ? 4 : 5); j++) {
      const s = next();
      parts.set(s.words[0] as string, s.body);
    }
    return (tool === 'ufw' ? parseUfwState(parts) : parseFirewalldState(parts)) as StateOf<T>;
  };
  for (const [i, c] of cases.entries()) {
    const head = next();
    if (head.words[0] !== 'case' || head.words[1] !== String(i)) throw new Error(`batch output: expected case ${i}, got ${head.words.join(' ')}`);
    const setup: CmdResult[] = [];
    for (let j = 0; j < c.setup.length; j++) {
      const s = next();
      setup.push({ exit: Number(s.words[1]), output: s.body.replace(/\n$/, '') });
    }
    if (next().words[0] !== 'before') throw new Error('batch output: expected before');
    const before = readState();
    const run = next();
    if (run.words[0] !== 'run') throw new Error(`batch output: expected run, got ${run.words.join(' ')}`);
    if (next().words[0] !== 'after') throw new Error('batch output: expected after');
    const after = readState();
    results.push({ case: c, setup, before, run: { exit: Number(run.words[1]), output: run.body.replace(/\n$/, '') }, after, ms: 0 });
  }
  // Each case's duration: from its start mark to the next case's (or the end mark).
  const starts = secs.filter((x) => x.words[0] === 'case' || x.words[0] === 'end').map((x) => Number(x.words.at(-1)) / 1e6);
  results.forEach((r, i) => Object.assign(r, { ms: Math.round((starts[i + 1] ?? 0) - (starts[i] ?? 0)) }));
  return results;
}

function ruleLines(text: string, what: string): string[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const bad = lines.find((l) => !/^-[NAP] /.test(l));
  if (bad !== undefined) throw new Error(`${what}: unexpected output line ${JSON.stringify(bad)}`);
  return lines.filter((l) => l.startsWith('-A '));
}

function parseInput(parts: ReadonlyMap<string, string>): ChainRules {
  return {
    v4: ruleLines(parts.get('in4') ?? '', 'iptables -S INPUT'),
    v6: ruleLines(parts.get('in6') ?? '', 'ip6tables -S INPUT'),
  };
}

function parseUfwState(parts: ReadonlyMap<string, string>): UfwState {
  return {
    v4: ruleLines(parts.get('v4') ?? '', 'iptables -S ufw-user-input'),
    v6: ruleLines(parts.get('v6') ?? '', 'ip6tables -S ufw6-user-input'),
    input: parseInput(parts),
  };
}

/** Chains of `nft list table inet firewalld` that decide what a zone accepts. */
export function firewalldChains(nft: string): Map<string, string[]> {
  const chains = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const raw of nft.split('\n')) {
    const line = raw.trim();
    const m = /^chain (\S+) \{$/.exec(line);
    if (m) {
      const name = m[1] as string;
      current = name === 'filter_INPUT_ZONES' || /^filter_IN_.+_allow$/.test(name) ? [] : undefined;
      if (current) chains.set(name, current);
    } else if (line === '}') {
      current = undefined;
    } else if (current && line !== '' && !line.startsWith('type ') && !line.startsWith('#')) {
      current.push(line);
    }
  }
  return chains;
}

function parseFirewalldState(parts: ReadonlyMap<string, string>): FirewalldState {
  const nft = parts.get('nft') ?? '';
  if (!/table inet firewalld/.test(nft)) throw new Error(`nft list table inet firewalld failed:\n${nft}`);
  const zones = parts.get('zones') ?? '';
  const input = parseInput(parts);
  const defaultZone = (parts.get('default') ?? '').trim() || null;
  if (zones.trim() === '') return { chains: firewalldChains(nft), rich: null, defaultZone, input };
  const rich = new Map<string, string[]>();
  let zone: string[] | undefined;
  for (const line of zones.split('\n')) {
    const z = /^zone (\S+)$/.exec(line);
    if (z) rich.set(z[1] as string, (zone = []));
    else if (line.trim() !== '') {
      if (zone === undefined) throw new Error(`rich rules: unexpected line ${JSON.stringify(line)}`);
      zone.push(line);
    }
  }
  return { chains: firewalldChains(nft), rich, defaultZone, input };
}

// ---------------------------------------------------------------------------
// Clean-up

async function removeByLabel(client: ContainerRuntimeClient, key: string, value: string): Promise<void> {
  const docker = client.container.dockerode;
  const filters = JSON.stringify({ label: [`${key}=${value}`] });
  const cs = await docker.listContainers({ all: true, filters }).catch(() => []);
  await Promise.allSettled(cs.map((c) => docker.getContainer(c.Id).remove({ force: true })));
}

/** Removes host-firewall containers left behind by dead processes on this host. */
export async function reapStaleHostFw(client?: ContainerRuntimeClient): Promise<number> {
  const c = client ?? (await getContainerRuntimeClient());
  const docker = c.container.dockerode;
  const filters = JSON.stringify({ label: [`${LABEL_HOST}=${hostname()}`, 'knockc.lab.role'] });
  let n = 0;
  for (const ci of await docker.listContainers({ all: true, filters })) {
    const role = ci.Labels?.['knockc.lab.role'] ?? '';
    const pid = Number(ci.Labels?.[LABEL_PID]);
    if (role.startsWith('hostfw-') && Number.isInteger(pid) && pid > 0 && !processAlive(pid)) {
      await docker.getContainer(ci.Id).remove({ force: true }).catch(() => undefined);
      n++;
    }
  }
  return n;
}




