/**
 * Benchmark 2: the cost of knockc's rules for traffic that is NOT a knock, as doors grow.
 *
 * One lab: a client and 11 servers, loaded once: two without any rules (the baseline and
 * a control), knockc nft with 0, 1, 10, 100, 1000 doors, knockc iptables (--guard, on an
 * open server like the nft table) with 1, 10, 100, 1000 doors. Each round, the client
 * floods ALL servers at the same time (one perl sender per server: small UDP datagrams,
 * one flow, to a port in no sequence), so every server sees the same machine load; each
 * server counts what its UDP layer received (/proc/net/snmp, its own network namespace).
 *
 * Then, in the same lab (a lab holds at most 12 servers), a second set of rounds measures
 * the attachments of issue 16 (grants mark packets): knockc's table plus its guard table on
 * an open server ("no host firewall", against the same no-rules servers), and a host firewall
 * with knockc's standing rule and table ("host firewall", against servers with that firewall
 * alone), with 1 and 1000 doors; the no-rules servers and nft 1 / nft 1000 stay as loaded.
 *
 *   npx tsx --tsconfig bench/tsconfig.json bench/throughput.ts
 */
import type { LabServer } from '../test/lab/lab.js';
import { deployHostFirewall, deployIptables, deployNft, deployNftBehindFirewall, deployNftGuard, resetServer, UDP_FLOOD, withLab } from './labkit.js';
import { barChart, doorsConfig, fmt, fmtInt, isMain, load1, mdTable, median, printResult, type BenchResult, type Check } from './lib.js';

const ROUNDS = Number(process.env['KNOCKC_BENCH_THROUGHPUT_ROUNDS'] ?? 7);
const SECS = 3;
const DOORS = [0, 1, 10, 100, 1000];
const IPT_DOORS = [1, 10, 100, 1000];

interface Config {
  key: string;
  kind: 'none' | 'nft' | 'iptables' | 'nft+guard' | 'hostfw' | 'hostfw+knockc';
  doors: number;
  /** Phase 2 only: the key of the phase-1 server kept as loaded (no reload). */
  reuse?: string;
}

const CONFIGS: Config[] = [
  { key: 'no rules', kind: 'none', doors: 0 },
  { key: 'no rules (control)', kind: 'none', doors: 0 },
  ...DOORS.map((d): Config => ({ key: `nft ${d}`, kind: 'nft', doors: d })),
  ...IPT_DOORS.map((d): Config => ({ key: `iptables ${d}`, kind: 'iptables', doors: d })),
];

/** The attachments of issue 16 (src/attach/), at these door counts. */
const ATTACH_DOORS = [1, 1000];
const HOSTFW = 'host firewall';
const HOSTFW_CONTROL = 'host firewall (control)';
const guardKey = (d: number) => `nft + guard ${d}`;
const behindKey = (d: number) => `host firewall + standing rule + nft ${d}`;
/** Phase 2: the no-rules servers and nft 1 / nft 1000 as loaded in phase 1; the other servers reloaded. */
const ATTACH_CONFIGS: Config[] = [
  { key: 'no rules', kind: 'none', doors: 0, reuse: 'no rules' },
  { key: 'no rules (control)', kind: 'none', doors: 0, reuse: 'no rules (control)' },
  ...ATTACH_DOORS.map((d): Config => ({ key: `nft ${d}`, kind: 'nft', doors: d, reuse: `nft ${d}` })),
  ...ATTACH_DOORS.map((d): Config => ({ key: guardKey(d), kind: 'nft+guard', doors: d })),
  { key: HOSTFW, kind: 'hostfw', doors: 0 },
  { key: HOSTFW_CONTROL, kind: 'hostfw', doors: 0 },
  ...ATTACH_DOORS.map((d): Config => ({ key: behindKey(d), kind: 'hostfw+knockc', doors: d })),
];
/** The servers each configuration of phase 2 is compared with (the mean of the two, per round). */
const baselineOf = (c: Config): [string, string] => (c.kind === 'hostfw' || c.kind === 'hostfw+knockc' ? [HOSTFW, HOSTFW_CONTROL] : ['no rules', 'no rules (control)']);

/** Datagrams the server's UDP layer took in (delivered, no port, errors, buffer full). */
const UDP_IN = `awk '/^Udp:/ && $2 ~ /^[0-9]/ { print $2 + $3 + $4 + $6; exit }' /proc/net/snmp`;

interface Sample {
  pps: number;
  /** Sender CPU per received datagram (sender's syscalls + the server's receive path, softirq). */
  nsPerPacket: number;
  lost: number;
  cpuShare: number;
}

type Samples = Map<string, Sample[]>;

/** Loads `c` on `s` (phase-1 kinds and the attachments). */
async function deployConfig(s: LabServer, c: Config): Promise<void> {
  const conf = doorsConfig(c.doors);
  if (c.kind === 'none') await resetServer(s);
  else if (c.kind === 'nft') await deployNft(s, conf);
  else if (c.kind === 'iptables') await deployIptables(s, conf, { guard: true });
  else if (c.kind === 'nft+guard') await deployNftGuard(s, conf);
  else if (c.kind === 'hostfw') await deployHostFirewall(s);
  else await deployNftBehindFirewall(s, conf);
}

/**
 * Per round: the ratio to the mean of the two baseline servers of the SAME round (a
 * baseline's control is compared with the baseline server alone).
 */
function summarize(configs: Config[], samples: Samples, baseline: (c: Config) => [string, string]) {
  const ratios = (c: Config, f: (s: Sample) => number, invert: boolean) => {
    const [baseKey, controlKey] = baseline(c);
    return samples.get(c.key)!.map((s, r) => {
      const a = samples.get(baseKey)![r]!;
      const b = samples.get(controlKey)![r]!;
      const base = c.key === controlKey ? f(a) : (f(a) + f(b)) / 2;
      return invert ? base / f(s) : f(s) / base;
    });
  };
  return new Map(
    configs.map((c) => {
      const pps = ratios(c, (s) => s.pps, false);
      const cpu = ratios(c, (s) => s.nsPerPacket, true);
      const ss = samples.get(c.key)!;
      return [
        c.key,
        {
          pps: median(pps),
          ppsMin: Math.min(...pps),
          ppsMax: Math.max(...pps),
          cpu: median(cpu),
          cpuMin: Math.min(...cpu),
          cpuMax: Math.max(...cpu),
          absPps: median(ss.map((s) => s.pps)),
          ns: median(ss.map((s) => s.nsPerPacket)),
          lost: ss.reduce((n, s) => n + Math.max(0, s.lost), 0),
        },
      ] as const;
    }),
  );
}

export async function run(): Promise<BenchResult> {
  const t0 = performance.now();
  const before = load1();
  const samples: Samples = new Map(CONFIGS.map((c) => [c.key, []]));
  const attachSamples: Samples = new Map(ATTACH_CONFIGS.map((c) => [c.key, []]));
  let loadMs = 0;
  let attachLoadMs = 0;
  let pinned = false;
  let loadDuring: number[] = [];
  await withLab({ clients: 1, extraServers: CONFIGS.length - 1, name: 'bench-throughput' }, async (lab) => {
    const client = lab.clients[0]!;
    // All senders on one CPU: the same caches, interrupts and neighbours for every server.
    const PIN = (await client.exec(['sh', '-c', 'command -v taskset'])).exitCode === 0 ? 'taskset -c 0 ' : '';
    pinned = PIN !== '';

    /** Warm-up round, then ROUNDS rounds flooding every server of `configs` at the same time. */
    const measure = async (phase: string, configs: Config[], servers: Map<string, LabServer>, into: Samples, baseKey: string) => {
      const script = [
        ...configs.map((c, i) => `${PIN}perl ${UDP_FLOOD} dst=${servers.get(c.key)!.ip4} dport=5353 secs=${SECS} > /tmp/flood-${i}.out &`),
        'wait',
        ...configs.map((_, i) => `echo "$(cat /tmp/flood-${i}.out)"`),
      ].join('\n');
      // One short round first: warms caches, ARP, the conntrack entries of each flow.
      await client.run(['sh', '-c', script.replace(new RegExp(`secs=${SECS}`, 'g'), 'secs=1')]);
      for (let r = 0; r < ROUNDS; r++) {
        const a = await Promise.all(configs.map((c) => servers.get(c.key)!.run(UDP_IN)));
        const out = (await client.run(['sh', '-c', script])).trim().split('\n');
        const b = await Promise.all(configs.map((c) => servers.get(c.key)!.run(UDP_IN)));
        loadDuring = load1();
        configs.forEach((c, i) => {
          const m = Object.fromEntries((out[i] ?? '').split(' ').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
          const got = Number(b[i]) - Number(a[i]);
          into.get(c.key)!.push({
            pps: got / m['secs']!,
            nsPerPacket: m['cpu_ns']! / got,
            lost: m['sent']! - got,
            cpuShare: m['cpu_ns']! / 1e9 / m['secs']!,
          });
        });
        const base = into.get(baseKey)!.at(-1)!;
        console.log(
          `[throughput] ${phase} round ${r + 1}/${ROUNDS}: ` +
            configs.map((c) => `${c.key} ${fmtInt(into.get(c.key)!.at(-1)!.pps)} pps (${fmt(into.get(c.key)!.at(-1)!.pps / base.pps, 2)})`).join(', '),
        );
      }
    };

    // Phase 1: no rules, knockc nft and iptables (standalone) as doors grow.
    const servers = new Map<string, LabServer>(CONFIGS.map((c, i) => [c.key, lab.servers[i]!]));
    const tl = performance.now();
    await Promise.all(CONFIGS.map((c) => deployConfig(servers.get(c.key)!, c)));
    loadMs = performance.now() - tl;
    console.log(`[throughput] rules loaded on ${CONFIGS.length} servers in ${fmt(loadMs / 1000, 1)} s`);
    await measure('doors', CONFIGS, servers, samples, 'no rules');

    // Phase 2: the attachments. Servers kept as loaded (reuse), the others reloaded.
    const kept = new Set(ATTACH_CONFIGS.flatMap((c) => (c.reuse ? [c.reuse] : [])));
    const free = CONFIGS.filter((c) => !kept.has(c.key)).map((c) => servers.get(c.key)!);
    const fresh = ATTACH_CONFIGS.filter((c) => !c.reuse);
    if (fresh.length > free.length) throw new Error(`throughput: ${fresh.length} attachment servers needed, ${free.length} free`);
    const attachServers = new Map<string, LabServer>(
      ATTACH_CONFIGS.map((c) => [c.key, c.reuse ? servers.get(c.reuse)! : free[fresh.indexOf(c)]!]),
    );
    const ta = performance.now();
    await Promise.all(fresh.map((c) => deployConfig(attachServers.get(c.key)!, c)));
    attachLoadMs = performance.now() - ta;
    console.log(`[throughput] attachments loaded on ${fresh.length} servers in ${fmt(attachLoadMs / 1000, 1)} s`);
    await measure('attachments', ATTACH_CONFIGS, attachServers, attachSamples, 'no rules');
  });

  const summary = summarize(CONFIGS, samples, () => ['no rules', 'no rules (control)']);
  const attach = summarize(ATTACH_CONFIGS, attachSamples, baselineOf);

  const table = mdTable(
    ['server', 'ratio: packets per CPU-second vs no rules (median, min-max)', 'ratio: packets per second vs no rules (median, min-max)', 'packets/s (median)', 'CPU ns per packet', 'extra ns per packet'],
    CONFIGS.map((c) => {
      const s = summary.get(c.key)!;
      const base = summary.get('no rules')!;
      const isBase = c.key === 'no rules';
      return [
        c.key,
        isBase ? '1 (baseline)' : `**${fmt(s.cpu, 3)}** (${fmt(s.cpuMin, 3)}-${fmt(s.cpuMax, 3)})`,
        isBase ? '1 (baseline)' : `${fmt(s.pps, 3)} (${fmt(s.ppsMin, 2)}-${fmt(s.ppsMax, 2)})`,
        fmtInt(s.absPps),
        fmtInt(s.ns),
        isBase ? '' : fmtInt(s.ns - base.ns),
      ];
    }),
  );

  const attachTable = mdTable(
    ['server (attachments, second set of rounds)', 'compared with', 'ratio: packets per CPU-second (median, min-max)', 'ratio: packets per second (median, min-max)', 'packets/s (median)', 'CPU ns per packet', 'extra ns per packet'],
    ATTACH_CONFIGS.map((c) => {
      const s = attach.get(c.key)!;
      const [baseKey] = baselineOf(c);
      const base = attach.get(baseKey)!;
      const isBase = c.key === baseKey;
      return [
        c.key,
        isBase ? '' : baseKey === 'no rules' ? 'no rules' : 'the host firewall alone',
        isBase ? '1 (baseline)' : `**${fmt(s.cpu, 3)}** (${fmt(s.cpuMin, 3)}-${fmt(s.cpuMax, 3)})`,
        isBase ? '1 (baseline)' : `${fmt(s.pps, 3)} (${fmt(s.ppsMin, 2)}-${fmt(s.ppsMax, 2)})`,
        fmtInt(s.absPps),
        fmtInt(s.ns),
        isBase ? '' : fmtInt(s.ns - base.ns),
      ];
    }),
  );

  const checks: Check[] = [];
  const control = summary.get('no rules (control)')!;
  for (const kind of ['nft', 'iptables'] as const) {
    const ds = kind === 'nft' ? DOORS : IPT_DOORS;
    const at = (d: number) => summary.get(`${kind} ${d}`)!;
    const oneTo1000 = [1, 10, 100, 1000].map((d) => at(d).cpu);
    const spread = Math.max(...oneTo1000) - Math.min(...oneTo1000);
    checks.push({
      target: `knockc ${kind}: non-knock traffic at 1000 doors keeps at least 0.95 of the packet rate without rules (packets per CPU-second)`,
      value: `${fmt(at(1000).cpu, 3)} (raw packets/s ratio ${fmt(at(1000).pps, 3)}; control without rules ${fmt(control.cpu, 3)} / ${fmt(control.pps, 3)})`,
      met: at(1000).cpu >= 0.95,
    });
    checks.push({
      target: `knockc ${kind}: flat from 1 to 1000 doors (ratios within 0.03 of each other)`,
      value: `${ds.filter((d) => d >= 1).map((d) => `${d}: ${fmt(at(d).cpu, 3)}`).join(', ')} (spread ${fmt(spread, 3)})`,
      met: spread <= 0.03,
    });
  }

  const aControl = attach.get('no rules (control)')!;
  const fwControl = attach.get(HOSTFW_CONTROL)!;
  const attachments = [
    { name: 'no host firewall (knockc table + guard table)', key: guardKey, vs: 'without rules', ctl: aControl },
    { name: 'host firewall (standing rule + knockc table)', key: behindKey, vs: 'with the host firewall alone', ctl: fwControl },
  ];
  for (const a of attachments) {
    const at = (d: number) => attach.get(a.key(d))!;
    const spread = Math.abs(at(1000).cpu - at(1).cpu);
    checks.push({
      target: `knockc nft, ${a.name}: non-knock traffic at 1000 doors keeps at least 0.95 of the packet rate ${a.vs} (packets per CPU-second)`,
      value: `${fmt(at(1000).cpu, 3)} (raw packets/s ratio ${fmt(at(1000).pps, 3)}; its control ${fmt(a.ctl.cpu, 3)} / ${fmt(a.ctl.pps, 3)})`,
      met: at(1000).cpu >= 0.95,
    });
    checks.push({
      target: `knockc nft, ${a.name}: flat from 1 to 1000 doors (ratios within 0.03 of each other)`,
      value: `1: ${fmt(at(1).cpu, 3)}, 1000: ${fmt(at(1000).cpu, 3)} (spread ${fmt(spread, 3)})`,
      met: spread <= 0.03,
    });
  }

  const nftFixedNs = median([1, 10, 100, 1000].map((d) => summary.get(`nft ${d}`)!.ns - summary.get('no rules')!.ns));
  const notes: string[] = [
    `Noise: the control (a second server without rules) shows how far two identical servers differ in the same run: ${fmt(control.cpu, 3)} (${fmt(control.cpuMin, 3)}-${fmt(control.cpuMax, 3)}) per CPU-second, ${fmt(control.pps, 3)} (${fmt(control.ppsMin, 2)}-${fmt(control.ppsMax, 2)}) in raw packets per second. A difference of about 0.02 between two ratios is within the noise of this run.`,
    `knockc nft: from 1 to 1000 doors the rules cost a fixed ~${fmtInt(nftFixedNs)} ns per non-knock packet, whatever the number of doors: one chain in the input hook, one verdict-map lookup on (protocol, port) over the knock ports and the granted ports together (it is written into the base chain itself: no jump); with 0 doors knockc loads no chain at all. The flood here is one UDP flow that no door knocks on or grants: the lookup misses and the packet goes on. Since issue 16 the table has no guard of its own (a grant only marks; the guard table or the host firewall closes the granted ports, second table below), and it turns no connection tracking on (this lab's containers have it on anyway; on a server without it, it would cost more than the rules).`,
    `knockc iptables: iptables has no verdict maps, so the knock ports (3 per door here) and the granted ports are one search tree of chains over port ranges in knockc_input: one rule for the span of a protocol's ports (\`-A knockc_input -p udp --dport 10001:12998 -g knockc_input_u10001-12998\`), below it a few range rules per level, at most 8 \`--dport N\` rules at the end, at most 4 levels (nf_tables refuses more than 15 nested chains). This flood's udp/5353 is outside every span: 2 rules at 1000 doors (4,000 with one rule per port); a non-knock port inside the spans walks ~18 on average, 27 at most (test/targets/iptables-scale.test.ts bounds them); at 1000 doors a non-knock packet costs ~${fmtInt(summary.get('iptables 1000')!.ns - summary.get('no rules')!.ns)} ns more.`,
    `Loading the rules (compile with the CLI, then nft -f / iptables-restore, all ${CONFIGS.length} servers at once): ${fmt(loadMs / 1000, 0)} s.`,
  ];
  const nsOver = (key: string, base: string) => attach.get(key)!.ns - attach.get(base)!.ns;
  const hostfwNs = (attach.get(HOSTFW)!.ns + fwControl.ns) / 2 - (attach.get('no rules')!.ns + aControl.ns) / 2;
  notes.push(
    `Attachments (issue 16), second set of rounds in the same lab, ${ATTACH_CONFIGS.length} servers flooded at once: the no-rules servers and nft 1 / nft 1000 kept as loaded, the other servers reloaded. Noise of these rounds: no-rules control ${fmt(aControl.cpu, 3)} (${fmt(aControl.cpuMin, 3)}-${fmt(aControl.cpuMax, 3)}) per CPU-second, ${fmt(aControl.pps, 3)} raw; host-firewall control ${fmt(fwControl.cpu, 3)} (${fmt(fwControl.cpuMin, 3)}-${fmt(fwControl.cpuMax, 3)}) per CPU-second, ${fmt(fwControl.pps, 3)} raw. knockc's table alone in these rounds: ${ATTACH_DOORS.map((d) => `nft ${d} ${fmt(attach.get(`nft ${d}`)!.cpu, 3)}`).join(', ')}.`,
    `No host firewall: knockc's guard table adds a second base chain (input, priority filter + 10) of three rules that every packet walks: \`iif "lo"\`, the mark test, then one rule per (family, protocol, interface, address) holding all the granted ports of that group in one set (src/attach/guard.ts; here \`tcp dport { 40000-40999 } tcp flags & (fin|syn|rst|ack) == syn counter drop\` at 1000 doors: one set lookup for a new TCP connection, and a protocol test that this UDP flood fails at once), so the same three rules at 1 and 1000 doors. Extra ns per non-knock packet over no rules: ${ATTACH_DOORS.map((d) => `${d} door(s) +${fmtInt(nsOver(guardKey(d), 'no rules'))} (knockc table alone +${fmtInt(nsOver(`nft ${d}`, 'no rules'))})`).join(', ')}.`,
    `Host firewall: the default-drop iptables rules of the knockd benchmarks (test/lab/lab.ts setDefaultDropFirewall, IPv4 and IPv6; the flood's udp/5353 passes by \`! -p tcp -j ACCEPT\`) cost ~${fmtInt(hostfwNs)} ns per packet over no rules by themselves; knockc adds its standing rule (first in INPUT, \`-m mark --mark 0x01000000/0x01000000 ... -j ACCEPT\`: one more rule that an unmarked packet fails) and its table: ${ATTACH_DOORS.map((d) => `${d} door(s) +${fmtInt(nsOver(behindKey(d), HOSTFW))} ns`).join(', ')} over the host firewall alone.`,
    `Loading the attachments (compile with the CLI, nft -f / iptables-restore, ${ATTACH_CONFIGS.filter((c) => !c.reuse).length} servers at once): ${fmt(attachLoadMs / 1000, 0)} s.`,
  );
  const lost = [...summary.values(), ...attach.values()].reduce((n, s) => n + s.lost, 0);
  if (lost > 0) notes.push(`${fmtInt(lost)} datagrams were sent but not counted by a server (backlog drops); the rates count only what arrived.`);

  const chart = barChart({
    title: 'Non-knock traffic: packets per CPU-second, with knockc / without',
    yLabel: 'ratio to the server without knockc',
    xLabel: 'doors',
    categories: DOORS.map(String),
    series: [
      { name: 'nft', values: DOORS.map((d) => summary.get(`nft ${d}`)!.cpu) },
      { name: 'iptables', values: DOORS.map((d) => summary.get(`iptables ${d}`)?.cpu ?? NaN) },
      { name: 'nft + guard', values: DOORS.map((d) => attach.get(guardKey(d))?.cpu ?? NaN) },
      { name: 'nft behind host fw', values: DOORS.map((d) => attach.get(behindKey(d))?.cpu ?? NaN) },
    ],
    yMin: 0,
    yMax: 1,
    refLine: { value: 0.95, label: 'target: at least 0.95' },
    valueLabel: (v) => v.toFixed(2),
  });

  const n1000 = summary.get('nft 1000')!;
  const i1000 = summary.get('iptables 1000')!;
  return {
    id: 'throughput',
    title: '2. Cost for traffic that is not a knock, as doors grow',
    method: [
      `One lab: one client and ${CONFIGS.length} servers, each loaded once: two with no rules at all (the baseline and a control), knockc nft (standalone table, \`compile -i eth0\`) with ${DOORS.join(', ')} doors, knockc iptables (\`--target iptables --guard\`, IPv4 and IPv6, on an open server like the nft table) with ${IPT_DOORS.join(', ')} doors. Doors from bench/lib.ts \`doorsConfig\` (each its own 3 knock ports and its own granted port).`,
      `Each round, the client floods **all servers at the same time** for ${SECS} s: one bench/lab/udp-flood.pl per server, sending 1-byte UDP datagrams as fast as it can (one flow, to udp/5353, which no door uses). Every server counts the datagrams its UDP layer took in (/proc/net/snmp of its own network namespace), so every packet counted went through the whole input path, rules included. ${ROUNDS} rounds after a 1 s warm-up round; ratios are taken per round against the servers without rules of the same round, then the median.`,
      `${pinned ? 'All senders are pinned to the same CPU (`taskset -c 0`), so they share the same caches, interrupts and other load, and the scheduler gives each the same share. ' : ''}Two ratios: **packets per second** (what the issue asks), and **packets per CPU-second**: received packets divided by the sender's CPU time (\`/proc/self/schedstat\`). A veth delivers the packet to the server in the sender's own softirq, so the sender's CPU time holds the server's receive path and its netfilter rules (this kernel has no IRQ_TIME_ACCOUNTING). Per CPU-second does not depend on how much CPU each sender got; the targets are judged on it, and the raw ratio is shown next to it.`,
      `Then, in the same lab, a second set of ${ROUNDS} rounds (after its own warm-up round) measures the attachments of issue 16, where knockc's grants only mark packets (\`meta mark set meta mark | 0x01000000\`), with ${ATTACH_DOORS.join(' and ')} doors: **no host firewall**: table inet knockc and knockc's guard table inet knockc_guard on an open server (what \`knockc apply\` loads there: src/attach/guard.ts), against the same two servers without rules; **host firewall**: the default-drop iptables firewall of the knockd benchmarks (IPv4 and IPv6, the flood's port passes) with knockc's standing rule first in INPUT and table inet knockc, against two servers with that firewall alone, so the ratio is knockc's own cost (its table and the standing rule). The no-rules servers and knockc nft ${ATTACH_DOORS.join(' and ')} are flooded again as loaded; ${ATTACH_CONFIGS.length} servers in all.`,
      `Both ratios include the sender's own cost per packet (perl, the UDP send path, the bridge), which a real server does not pay: the relative cost of the rules on a real server's receive path is larger than these ratios show; "extra ns per packet" is the absolute figure.`,
    ],
    tables: [table, attachTable],
    checks,
    notes,
    charts: [{ file: 'throughput.svg', title: 'Non-knock traffic vs doors', svg: chart }],
    seconds: (performance.now() - t0) / 1000,
    load: { before, after: loadDuring.length ? loadDuring : load1() },
    headline: `non-knock packets at 1000 doors: ${fmt(n1000.cpu, 3)} of the rate without rules with knockc nft (+${fmtInt(n1000.ns - summary.get('no rules')!.ns)} ns/packet), ${fmt(i1000.cpu, 3)} with knockc iptables; attached (marks): ${fmt(attach.get(guardKey(1000))!.cpu, 3)} with knockc's guard table (no host firewall), ${fmt(attach.get(behindKey(1000))!.cpu, 3)} with the standing rule behind a host firewall (vs that firewall alone)`,
  };
}

if (isMain(import.meta.url)) printResult(await run());
