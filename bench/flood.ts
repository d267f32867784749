/**
 * Benchmark 3: a flood of first-stage knocks from many spoofed sources while a legitimate
 * client knocks 50 times: knockd vs knockc.
 *
 * One lab: a flooding client, a legitimate client, and one server per target (plus one
 * without rules, the baseline for the kernel cost per flood packet). Targets one after
 * the other: the flood (bench/lab/flood.pl, paced, sources ONLY from 203.0.113.0/24 and
 * 2001:db8:ffff::/64, sent only to the lab server) runs, then the legitimate client runs
 * bench/lab/knock-connect.pl; at the end the server's state, memory and CPU are read.
 *
 *   npx tsx --tsconfig bench/tsconfig.json bench/flood.ts
 */
import { readFileSync } from 'node:fs';
import type { Lab, LabClient, LabServer } from '../test/lab/lab.js';
import { deployIptables, deployKnockd, deployNftBehindFirewall, FLOOD, knockConnect, knockdPid, resetServer, withLab, type Round } from './labkit.js';
import { DOOR_CONF } from './labkit.js';
import { barChart, fmt, fmtBytes, fmtInt, isMain, load1, mdTable, percentile, printResult, sleep, slabBytes, type BenchResult, type Check } from './lib.js';

const RATE = Number(process.env['KNOCKC_BENCH_FLOOD_RATE'] ?? 10000);
const V6_SHARE = 0.9;
const LEGIT_ROUNDS = Number(process.env['KNOCKC_BENCH_FLOOD_ROUNDS'] ?? 50);
const WARM_S = 6; // > seq_timeout (5 s): the sets are at their steady-state size
const BASELINE_S = 5;
const MAX_SOURCES = 10000;
/** A knock succeeds when the connect completes within this time (covers TCP's retransmissions at 1 s and 3 s). */
const CONNECT_TIMEOUT_S = 3.5;

interface Target {
  name: string;
  kind: 'knockd' | 'nft' | 'iptables';
  /** Legitimate rounds (default LEGIT_ROUNDS). */
  rounds?: number;
  deploy(server: LabServer): Promise<void>;
}

const TARGETS: Target[] = [
  { name: 'knockd', kind: 'knockd', deploy: async (s) => void (await deployKnockd(s, DOOR_CONF)) },
  { name: 'knockc nft', kind: 'nft', deploy: (s) => deployNftBehindFirewall(s, DOOR_CONF) },
  { name: 'knockc iptables', kind: 'iptables', deploy: (s) => deployIptables(s, DOOR_CONF) },
  {
    name: `knockc nft --max-sources ${MAX_SOURCES}`,
    kind: 'nft',
    // Its IPv6 rounds are expected to time out (3.5 s each): fewer rounds keep the run short.
    rounds: 10,
    deploy: (s) => deployNftBehindFirewall(s, DOOR_CONF, ['--max-sources', String(MAX_SOURCES)]),
  },
];

/**
 * Every server: a table of the benchmark's own, at a priority before everything else,
 * counting the spoofed packets that arrive (per family) and exempting the knock ports from
 * connection tracking: otherwise every spoofed SYN would create a conntrack entry (the lab's
 * containers track connections for Docker's DNS NAT), and the flood would measure conntrack,
 * the same for knockd and knockc, and eat the host's memory. Knocks need no conntrack.
 */
const BENCH_TABLE = `table inet knockc_bench {
	counter flood4 {}
	counter flood6 {}
	chain pre {
		type filter hook prerouting priority -400; policy accept;
		tcp dport { 7000, 9000 } notrack
		udp dport 8000 notrack
		ip saddr 203.0.113.0/24 counter name "flood4"
		ip6 saddr 2001:db8:ffff::/64 counter name "flood6"
	}
}
`;

const CGROUP_CPU_NS =
  'if [ -r /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then cat /sys/fs/cgroup/cpuacct/cpuacct.usage; ' +
  "else awk '/^usage_usec/ { printf \"%d\\n\", $2 * 1000 }' /sys/fs/cgroup/cpu.stat; fi";

/**
 * Kernel bytes per nft set element (IPv6 key, timeout), measured: N elements added to a set
 * like knockc's on the server without rules, the host's slab caches compared before and after
 * (only caches that grew by more than 16 bytes per element: the rest is other work's noise).
 * Elements added by packets (knockc's `update @set`) are the same objects.
 */
async function bytesPerElement(server: LabServer): Promise<{ bytes: number; caches: string } | null> {
  const n = 50000;
  const elems = Array.from({ length: n }, (_, i) => `2001:db8:fffe::${((i + 1) >> 16).toString(16)}:${((i + 1) & 0xffff).toString(16)}`);
  await server.loadNft('table inet knockc_calib {\n\tset s { type ipv6_addr; flags dynamic,timeout; timeout 300s; }\n}\n');
  const a = slabBytes();
  if (!a) return null;
  await server.loadNft(`add element inet knockc_calib s { ${elems.join(', ')} }\n`);
  const b = slabBytes()!;
  await server.run(['nft', 'delete', 'table', 'inet', 'knockc_calib']);
  const grew = [...b].map(([k, v]) => [k, (v - (a.get(k) ?? 0)) / n] as const).filter(([, d]) => d > 16);
  return { bytes: grew.reduce((x, [, d]) => x + d, 0), caches: grew.map(([k, d]) => `${k} ${Math.round(d)} B`).join(', ') };
}

interface FloodOut {
  sent4: number;
  sent6: number;
  secs: number;
  cpuNs: number;
}

async function startFlood(client: LabClient, server: LabServer, lab: Lab, secs: number): Promise<number> {
  const args = [`dst4=${server.ip4}`, `dst6=${server.ip6}`, 'dport=7000', `rate=${RATE}`, `secs=${secs}`, `v6share=${V6_SHARE}`, `exclude4=${lab.network.subnet4}`];
  const out = await client.run(['sh', '-c', `rm -f /tmp/flood.out; setsid perl ${FLOOD} ${args.join(' ')} </dev/null >/tmp/flood.out 2>&1 & echo $!`]);
  return Number(out.trim());
}

async function stopFlood(client: LabClient, pid: number): Promise<FloodOut> {
  // Only the flood we started, by its pid; it prints its counts on SIGTERM.
  await client.exec(['sh', '-c', `kill -TERM ${pid} 2>/dev/null; for i in $(seq 100); do grep -q sent4 /tmp/flood.out 2>/dev/null && break; sleep 0.1; done`]);
  const text = await client.run(['cat', '/tmp/flood.out']);
  const m = /sent4=(\d+) sent6=(\d+) secs=([\d.]+) errors=\d+ cpu_ns=(-?\d+)/.exec(text);
  if (!m) throw new Error(`flood output: ${text}`);
  return { sent4: Number(m[1]), sent6: Number(m[2]), secs: Number(m[3]), cpuNs: Number(m[4]) };
}

async function counters(server: LabServer): Promise<{ flood4: number; flood6: number }> {
  const text = await server.run(['nft', 'list', 'counters', 'table', 'inet', 'knockc_bench']);
  const get = (n: string) => Number(new RegExp(`counter ${n} \\{[^}]*packets (\\d+)`).exec(text)?.[1] ?? NaN);
  return { flood4: get('flood4'), flood6: get('flood6') };
}

/** knockc's kernel state: elements per nft set / sources per xt_recent list. */
async function kernelState(server: LabServer, kind: Target['kind']): Promise<{ total: number; max: number; sets: number }> {
  if (kind === 'nft') {
    const text = await server.run(['nft', 'list', 'table', 'inet', 'knockc']);
    const per: number[] = [];
    for (const block of text.split(/\n\s*(?=set |chain |map )/)) {
      if (block.startsWith('set ')) per.push((block.match(/expires/g) ?? []).length);
    }
    return { total: per.reduce((a, b) => a + b, 0), max: Math.max(0, ...per), sets: per.length };
  }
  if (kind === 'iptables') {
    const out = await server.run(['sh', '-c', 'for f in /proc/net/xt_recent/knockc_*; do [ -e "$f" ] && wc -l < "$f"; done; true']);
    const per = out.split('\n').filter(Boolean).map(Number);
    return { total: per.reduce((a, b) => a + b, 0), max: Math.max(0, ...per), sets: per.length };
  }
  return { total: NaN, max: NaN, sets: 0 };
}

interface Outcome {
  target: Target;
  rounds: Round[];
  flood: FloodOut;
  arrived: { flood4: number; flood6: number };
  legitSecs: number;
  serverCpuNs: number;
  /** Wall time over which serverCpuNs and the knockd CPU were counted. */
  cpuSecs: number;
  knockdCpuTicks: number | null;
  knockdRssKb: [number, number] | null;
  state: { total: number; max: number; sets: number };
  /** Sender ns per packet of the baseline flood (no rules) run just before. */
  baselineNs: number;
}

async function runTarget(lab: Lab, t: Target, server: LabServer, flooder: LabClient, legit: LabClient): Promise<Outcome> {
  const pid = t.kind === 'knockd' ? knockdPid(server)! : null;
  const knockdStat = async () => {
    if (pid === null) return null;
    const s = await server.run(['sh', '-c', `cat /proc/${pid}/stat; grep VmRSS /proc/${pid}/status`]);
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // utime stime cutime cstime (fields 14-17; f[0] is field 3)
    const ticks = [11, 12, 13, 14].reduce((n, i) => n + Number(f[i]), 0);
    const rss = Number(/VmRSS:\s+(\d+)/.exec(s)?.[1]);
    return { ticks, rss };
  };
  const c0 = await counters(server);
  const k0 = await knockdStat();
  const cpu0 = Number(await server.run(['sh', '-c', CGROUP_CPU_NS]));
  const tc = performance.now();
  const floodPid = await startFlood(flooder, server, lab, 600);
  await sleep(WARM_S * 1000);
  const tl = performance.now();
  const rounds = await knockConnect(legit, server, { n: t.rounds ?? LEGIT_ROUNDS, family: 'alt', timeout: CONNECT_TIMEOUT_S, precheck: 0.15, gap: 0.15 });
  const legitSecs = (performance.now() - tl) / 1000;
  // CPU first (listing the sets costs nft CPU in the server), then the state, while the
  // flood still runs (its steady state).
  const cpu1 = Number(await server.run(['sh', '-c', CGROUP_CPU_NS]));
  const k1 = await knockdStat();
  const cpuSecs = (performance.now() - tc) / 1000;
  const state = await kernelState(server, t.kind);
  const flood = await stopFlood(flooder, floodPid);
  const c1 = await counters(server);
  return {
    target: t,
    rounds,
    flood,
    arrived: { flood4: c1.flood4 - c0.flood4, flood6: c1.flood6 - c0.flood6 },
    legitSecs,
    serverCpuNs: cpu1 - cpu0,
    cpuSecs,
    knockdCpuTicks: k0 && k1 ? k1.ticks - k0.ticks : null,
    knockdRssKb: k0 && k1 ? [k0.rss, k1.rss] : null,
    state,
    baselineNs: NaN,
  };
}

export async function run(): Promise<BenchResult> {
  const t0 = performance.now();
  const before = load1();
  const baselines: number[] = [];
  const calib: { perElement: { bytes: number; caches: string } | null } = { perElement: null };
  const outcomes: Outcome[] = [];
  let xtRecentTot = 'unknown';
  try {
    xtRecentTot = readFileSync('/sys/module/xt_recent/parameters/ip_list_tot', 'utf8').trim();
  } catch {
    /* module not loaded on the host yet */
  }
  await withLab({ clients: 2, extraServers: TARGETS.length, name: 'bench-flood' }, async (lab) => {
    const [flooder, legit] = lab.clients as [LabClient, LabClient];
    const none = lab.servers[0]!;
    await resetServer(none);
    await Promise.all(TARGETS.map((t, i) => t.deploy(lab.servers[i + 1]!)));
    for (const s of lab.servers) await s.loadNft(BENCH_TABLE);
    calib.perElement = await bytesPerElement(none);
    for (const [i, t] of TARGETS.entries()) {
      // Baseline, right before each target: the same flood to the server without rules
      // (the sender's CPU per packet when the server's kernel has no knock rules).
      const pid = await startFlood(flooder, none, lab, BASELINE_S);
      await sleep(BASELINE_S * 1000 + 500);
      const f = await stopFlood(flooder, pid);
      const baseNs = f.cpuNs / (f.sent4 + f.sent6);
      baselines.push(baseNs);
      console.log(`[flood] baseline (no rules): ${fmtInt((f.sent4 + f.sent6) / f.secs)} pps, ${fmtInt(baseNs)} sender ns/packet`);
      const o = await runTarget(lab, t, lab.servers[i + 1]!, flooder, legit);
      o.baselineNs = baseNs;
      outcomes.push(o);
      const ok = o.rounds.filter((r) => r.state === 'open').length;
      console.log(`[flood] ${t.name}: ${ok}/${o.rounds.length} legitimate knocks connected, ${fmtInt((o.flood.sent4 + o.flood.sent6) / o.flood.secs)} pps flood (${fmtInt(o.arrived.flood6 / o.flood.secs)} IPv6/s arrived), kernel state ${fmtInt(o.state.total)} (largest ${fmtInt(o.state.max)})`);
    }
  });

  const perElement = calib.perElement;
  const rows = outcomes.map((o) => {
    const open = o.rounds.filter((r) => r.state === 'open');
    const fam = (f: 4 | 6) => `${open.filter((r) => r.family === f).length}/${o.rounds.filter((r) => r.family === f).length}`;
    const floodPackets = o.flood.sent4 + o.flood.sent6;
    const nsPerPacket = o.flood.cpuNs / floodPackets;
    const kernelExtraCore = ((nsPerPacket - o.baselineNs) * floodPackets) / 1e9 / o.flood.secs;
    const userCore = o.serverCpuNs / 1e9 / o.cpuSecs;
    return {
      o,
      success: open.length / o.rounds.length,
      openCount: open.length,
      fam4: fam(4),
      fam6: fam(6),
      stale: o.rounds.filter((r) => r.state === 'stale').length,
      p50: percentile(open.map((r) => r.connectMs), 50),
      pps6: o.flood.sent6 / o.flood.secs,
      arrived6: o.arrived.flood6,
      arrived4: o.arrived.flood4,
      userCore,
      nsPerPacket,
      kernelExtraNs: nsPerPacket - o.baselineNs,
      kernelExtraCore,
    };
  });

  const table = mdTable(
    ['target', 'legitimate knocks that connected', 'IPv4', 'IPv6', 'connect p50', 'flood (new IPv6 sources/s)', 'server processes CPU', 'kernel CPU per flood packet (vs no rules)', 'knock state in the kernel', 'memory'],
    rows.map((r) => [
      r.o.target.name,
      `**${fmtInt(r.openCount)}/${r.o.rounds.length}** (${fmt(r.success * 100, 0)} %)${r.stale ? `, ${r.stale} door(s) could not be closed` : ''}`,
      r.fam4,
      r.fam6,
      Number.isFinite(r.p50) ? `${fmt(r.p50, r.p50 >= 10 ? 0 : 2)} ms` : 'n/a',
      fmtInt(r.pps6),
      `${fmt(r.userCore * 100, 1)} % of a core`,
      `${r.kernelExtraNs >= 0 ? '+' : ''}${fmtInt(r.kernelExtraNs)} ns (${fmt(Math.max(0, r.kernelExtraCore) * 100, 1)} % of a core)`,
      r.o.target.kind === 'knockd'
        ? 'none (state in knockd)'
        : `${fmtInt(r.o.state.total)} ${r.o.target.kind === 'nft' ? 'set elements' : 'xt_recent entries'} (largest ${r.o.target.kind === 'nft' ? 'set' : 'list'} ${fmtInt(r.o.state.max)})`,
      r.o.knockdRssKb
        ? `knockd RSS ${fmtBytes(r.o.knockdRssKb[0] * 1024)} -> ${fmtBytes(r.o.knockdRssKb[1] * 1024)}`
        : r.o.target.kind === 'nft'
          ? perElement
            ? `kernel ~${fmtBytes(r.o.state.total * perElement.bytes)}`
            : 'n/a'
          : `kernel: ${r.o.state.max} entries per list at most`,
    ]),
  );

  const checks: Check[] = [];
  const nft = rows.find((r) => r.o.target.name === 'knockc nft')!;
  checks.push({
    target: 'knockc nft under the flood: 100 % of the legitimate knocks connect',
    value: `${nft.openCount}/${nft.o.rounds.length}`,
    met: nft.openCount === nft.o.rounds.length,
  });
  checks.push({
    target: 'knockc nft under the flood: bounded kernel state (every set within its 65535-element bound)',
    value: `largest set ${fmtInt(nft.o.state.max)} elements, ${fmtInt(nft.o.state.total)} in all (${nft.o.state.sets} sets)`,
    met: nft.o.state.max <= 65535,
  });
  const ipt = rows.find((r) => r.o.target.name === 'knockc iptables')!;
  checks.push({
    target: 'knockc iptables under the flood: 100 % of the legitimate knocks connect',
    value: `${ipt.openCount}/${ipt.o.rounds.length} (xt_recent lists hold ip_list_tot = ${xtRecentTot} sources)`,
    met: ipt.openCount === ipt.o.rounds.length,
  });

  const kd = rows.find((r) => r.o.target.kind === 'knockd')!;
  const nftSets = nft.o.state.sets;
  const capped = rows.find((r) => r.o.target.name.includes('--max-sources'))!;
  const notes: string[] = [
    `Spoofed IPv4 sources: ${fmtInt(rows.reduce((n, r) => n + r.o.flood.sent4, 0))} packets from 203.0.113.0/24 were sent and ${fmtInt(rows.reduce((n, r) => n + r.arrived4, 0))} reached a server: on this Docker host, bridged IPv4 goes through the host's iptables (br_netfilter), where Docker drops sources outside the lab network's subnet. Bridged IPv6 is not filtered there, so the flood that reached the servers came from 2001:db8:ffff::/64 (${fmtInt(rows.reduce((n, r) => n + r.arrived6, 0))} packets arrived). The legitimate client alternates IPv4 and IPv6, so half of its knocks share the flooded family's sets and lists.`,
    `knockd: ${kd.openCount}/${kd.o.rounds.length} connected; the knockd process (and the iptables commands it ran) used ${kd.o.knockdCpuTicks !== null ? fmt((kd.o.knockdCpuTicks / 100 / kd.o.cpuSecs) * 100, 1) : 'n/a'} % of a core, and its memory grew from ${kd.o.knockdRssKb ? fmtBytes(kd.o.knockdRssKb[0] * 1024) : '?'} to ${kd.o.knockdRssKb ? fmtBytes(kd.o.knockdRssKb[1] * 1024) : '?'} in ${fmt(kd.o.cpuSecs, 0)} s. knockd handles every captured packet in one user-space thread, keeps every attempt (one per spoofed source) in a list that it walks for each packet, and, whenever the oldest attempt ends, drops the rest of that list without freeing it (knockd 0.8's list bug, test/lab/knockd08.ts): hence the growing memory. Knocks it misses (capture buffer overrun while it is busy) or attempts it forgets both show up as a closed port; this benchmark does not tell the two apart.`,
    `The kernel CPU per flood packet is the flooding sender's CPU time per packet minus the same flood to the server without rules for ${BASELINE_S} s just before (${baselines.map((b) => fmtInt(b)).join(', ')} ns): a veth hands each packet to the server in the sender's softirq, so that time holds the server's kernel work (rules and sets for knockc; the packet-capture copy for knockd; every target's server also has the same default-drop host firewall, knockc nft's its standing rule too, while the baseline server has no rules at all). It is noisy (other work on the machine); knockd's own work is in "server processes CPU".`,
    `knockc nft --max-sources ${MAX_SOURCES} shows what the bound means: ${fmtInt(capped.pps6)} new IPv6 sources per second for a 5 s door need ~${fmtInt(capped.pps6 * 5)} places; with ${MAX_SOURCES} the IPv6 sets are full, new IPv6 knockers cannot start (${capped.fam6} connected) until entries expire, while IPv4 knockers, in sets of their own, are untouched (${capped.fam4}). With the default bound (65535) this flood fits, and a flood of more than 65535 new sources per seq_timeout would do the same to the default. Memory stays bounded either way.`,
    perElement
      ? `Kernel memory of knockc nft = set elements x ${fmt(perElement.bytes, 0)} bytes, measured in this run: 50,000 IPv6 elements with a timeout added to a set on the server without rules, host slab caches compared (${perElement.caches}); the hash tables' bucket arrays (one 8-byte pointer per bucket, about 1-2 buckets per element) come on top. So a full set (65535) is about ${fmtBytes(65535 * perElement.bytes)}, and this config's ${nftSets} sets at most ~${fmtBytes(65535 * perElement.bytes * nftSets)}, however long and hard the flood. knockd's figure is its process memory (VmRSS); xt_recent lists are fixed-size.`
      : 'Kernel memory per set element was not measured (/proc/slabinfo is not readable).',
  ];

  const chart = barChart({
    title: `Legitimate knocks that connect during a ${fmtInt(RATE)} pps knock flood`,
    yLabel: 'connected (%)',
    categories: rows.map((r) => r.o.target.name.replace(' --max-sources', ' max')),
    series: [
      { name: 'all', values: rows.map((r) => r.success * 100) },
      { name: 'IPv4', values: rows.map((r) => (100 * Number(r.fam4.split('/')[0])) / Number(r.fam4.split('/')[1])) },
      { name: 'IPv6 (flooded family)', values: rows.map((r) => (100 * Number(r.fam6.split('/')[0])) / Number(r.fam6.split('/')[1])) },
    ],
    yMin: 0,
    yMax: 100,
    valueLabel: (v) => `${Math.round(v)}`,
  });

  return {
    id: 'flood',
    title: '3. Knock flood from spoofed sources',
    method: [
      `One lab: a flooding client, a legitimate client, one server per target and one without rules. knockd, knockc nft and knockc iptables are deployed as in benchmark 1 (same doors, the same default-drop host firewall; knockc nft with its standing rule, as \`knockc apply\` leaves it); a fourth server runs knockc nft compiled with \`--max-sources ${MAX_SOURCES}\`, deployed the same way. Every server also gets a small table of the benchmark's own (before all other rules) that counts the spoofed packets arriving and exempts the knock ports from connection tracking (otherwise each spoofed SYN makes a conntrack entry, for knockd and knockc alike).`,
      `The flood: bench/lab/flood.pl in the flooding client sends first-stage knocks (TCP SYN to 7000, the first knock of openSSH) over raw sockets at ${fmtInt(RATE)} packets/s, ${fmt(V6_SHARE * 100, 0)} % IPv6 from sources counting up through 2001:db8:ffff::/64 (a new source for every packet), the rest IPv4 from 203.0.113.0/24 (minus the lab's subnet). Only documentation addresses, only to the lab server; the servers have no route back to those sources, so nothing answers them.`,
      `Per target, one after the other: the flood starts; after ${WARM_S} s (longer than the doors' 5 s seq_timeout, so the kernel sets are at their steady size) the legitimate client runs bench/lab/knock-connect.pl: ${LEGIT_ROUNDS} rounds (10 for the --max-sources server) of closed-check, knock openSSH, connect (success = connected within ${CONNECT_TIMEOUT_S} s, which includes TCP's SYN retransmissions at 1 s and 3 s), knock closeSSH, alternating IPv4 and IPv6; a round whose door could not be closed first (5 tries of the closing knock) counts as a failure. Then, with the flood still running, the server's state is read (set elements / xt_recent entries, knockd's RSS, CPU counters), and the flood stops.`,
      `CPU: "server processes" is the server container's cgroup CPU time (knockd, the iptables commands it runs, the listeners) over the flood; "kernel" is the flood sender's CPU time per packet (schedstat) above that of a baseline flood to the server without rules (${BASELINE_S} s, same rate, right before each target).`,
    ],
    tables: [table],
    checks,
    notes,
    charts: [{ file: 'flood.svg', title: 'Legitimate success under a knock flood', svg: chart }],
    seconds: (performance.now() - t0) / 1000,
    load: { before, after: load1() },
    headline: `under a ${fmtInt(RATE)} pps flood of spoofed first knocks: knockc nft ${nft.openCount}/${nft.o.rounds.length} legitimate knocks connected (${fmtInt(nft.o.state.total)} set elements), knockd ${kd.openCount}/${kd.o.rounds.length}, knockc iptables ${ipt.openCount}/${ipt.o.rounds.length}`,
  };
}

if (isMain(import.meta.url)) printResult(await run());
