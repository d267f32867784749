/**
 * Benchmark 5: `knockc run` (the runtime), side by side with knockd:
 *  (a) knock-to-command latency: a door whose start_command is `date +%s%N >> FILE`
 *      (the very first thing the command does); latency = that time - the time the
 *      client sent the last knock (containers and host share the kernel's clock);
 *  (b) idle cost: CPU time (utime + stime from /proc/PID/stat) of the runtime's node
 *      process and its tcpdump child over 30 s without knocks; knockd's beside it.
 *
 * knockc run runs on the host inside server 0's network namespace (the lab image has
 * no node; test/lab/runtime-host.ts), knockd inside server 1; one client each, at the
 * same time.
 *
 *   npx tsx --tsconfig bench/tsconfig.json bench/runtime.ts
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt } from '../test/cli/built.js';
import type { LabClient, LabServer } from '../test/lab/lab.js';
import { LabRuntime, netnsOf } from '../test/lab/runtime-host.js';
import { deployKnockd, knockdPid, resetServer, withLab } from './labkit.js';
import { barChart, fmt, isMain, latencyCells, load1, mdTable, percentile, printResult, type BenchResult, type Check } from './lib.js';

const ROUNDS = Number(process.env['KNOCKC_BENCH_RUNTIME_ROUNDS'] ?? 100);
const WARMUP = 3;
const GAP_S = 0.2;
const IDLE_S = Number(process.env['KNOCKC_BENCH_RUNTIME_IDLE_S'] ?? 30);
const P99_TARGET_MS = 50;
/** "Near zero": under 0.1 % of one core while idle. */
const IDLE_TARGET_PCT = 0.1;
const SEQ = '7000,8000:udp,9000';
const TIMES_IN_CONTAINER = '/tmp/knockc-lab/bench-runtime-times';

const door = (file: string): string => `# knockc benchmark door (bench/runtime.ts)
[cmd]
	sequence      = ${SEQ}
	seq_timeout   = 5
	tcpflags      = syn
	start_command = date +%s%N >> ${file}
`;

/**
 * Runs in the client (perl-base only): N rounds, alternating IPv4 and IPv6: the three
 * knocks (TCP SYNs over a raw socket, one UDP datagram), then prints "ROUND FAMILY NS",
 * NS = CLOCK_REALTIME right after the last knock was sent; then sleeps `gap` s.
 */
const KNOCK_TIMES_PL = String.raw`
use strict; use warnings;
use Socket qw(AF_INET AF_INET6 SOCK_RAW SOCK_DGRAM IPPROTO_TCP IPPROTO_UDP inet_pton
              pack_sockaddr_in pack_sockaddr_in6 unpack_sockaddr_in unpack_sockaddr_in6);
use Config;
$| = 1;
my %opt = (n => 100, gap => 0.2, seq => '7000,8000:udp,9000');
for (@ARGV) { my ($k, $v) = /^([a-z0-9]+)=(.*)$/s or die "bad argument $_\n"; $opt{$k} = $v; }
my %NR = ('x86_64' => 228, 'aarch64' => 113);
my ($arch) = $Config{archname} =~ /^([^-]+)/;
my $nr = $NR{$arch} // die "unknown architecture $Config{archname}\n";
sub now_ns { my $ts = "\0" x 16; syscall($nr, 0, $ts) == 0 or die "clock_gettime: $!\n"; my ($s, $ns) = unpack('q q', $ts); sprintf('%d%09d', $s, $ns) }
sub csum { my ($d) = @_; $d .= "\0" if length($d) % 2; my $s = 0; $s += $_ for unpack('n*', $d); $s = ($s >> 16) + ($s & 0xffff) while $s >> 16; ~$s & 0xffff }
my %ctx;
for my $fam (4, 6) {
    my $af = $fam == 6 ? AF_INET6 : AF_INET;
    my $dst = inet_pton($af, $opt{"dst$fam"}) or die "bad dst$fam\n";
    my $sa = sub { $fam == 6 ? pack_sockaddr_in6($_[0], $dst) : pack_sockaddr_in($_[0], $dst) };
    socket(my $p, $af, SOCK_DGRAM, IPPROTO_UDP) or die "socket: $!\n";
    connect($p, $sa->(9)) or die "no route: $!\n";
    my $src = $fam == 6 ? (unpack_sockaddr_in6(getsockname($p)))[1] : (unpack_sockaddr_in(getsockname($p)))[1];
    socket(my $raw, $af, SOCK_RAW, IPPROTO_TCP) or die "raw socket: $!\n";
    socket(my $udp, $af, SOCK_DGRAM, IPPROTO_UDP) or die "socket: $!\n";
    $ctx{$fam} = { af => $af, dst => $dst, src => $src, sa => $sa, raw => $raw, udp => $udp };
}
my @seq = map { my ($p, $proto) = split /:/; [int($p), lc($proto // 'tcp')] } split /,/, $opt{seq};
for my $round (1 .. $opt{n}) {
    my $fam = $round % 2 ? 4 : 6;
    my $c = $ctx{$fam};
    for my $k (@seq) {
        my ($port, $proto) = @$k;
        if ($proto eq 'udp') { defined send($c->{udp}, '', 0, $c->{sa}->($port)) or die "send: $!\n"; next; }
        my $seg = pack('n n N N C C n n n', 20000 + int(rand(40000)), $port, int(rand(2**31)), 0, 5 << 4, 0x02, 64240, 0, 0);
        my $pseudo = $c->{af} == AF_INET6 ? $c->{src} . $c->{dst} . pack('N x3 C', length($seg), 6) : $c->{src} . $c->{dst} . pack('x C n', 6, length($seg));
        substr($seg, 16, 2) = pack('n', csum($pseudo . $seg));
        defined send($c->{raw}, $seg, 0, $c->{sa}->(0)) or die "send: $!\n";
    }
    print "$round $fam ", now_ns(), "\n";
    select(undef, undef, undef, $opt{gap});
}
`;
const KNOCK_TIMES = '/usr/local/bin/bench-knock-times';

interface Sent {
  round: number;
  family: 4 | 6;
  ns: bigint;
}

async function knockTimes(client: LabClient, server: LabServer, n: number): Promise<Sent[]> {
  const out = await client.run(['perl', KNOCK_TIMES, `dst4=${server.ip4}`, `dst6=${server.ip6}`, `n=${n}`, `gap=${GAP_S}`, `seq=${SEQ}`]);
  return out
    .split('\n')
    .filter((l) => /^\d+ [46] \d+$/.test(l))
    .map((l) => {
      const [r, f, ns] = l.split(' ');
      return { round: Number(r), family: Number(f) as 4 | 6, ns: BigInt(ns!) };
    });
}

interface Matched {
  round: number;
  family: 4 | 6;
  ms: number;
}

/**
 * One command per round: with as many command times as rounds, the i-th (in time order)
 * belongs to round i. Otherwise (a round lost) the command of round i is the first one at
 * or after its send time and before the next round's send (rounds are GAP_S apart).
 */
function match(sent: Sent[], commands: bigint[]): { matched: Matched[]; missed: number[]; stray: number } {
  const cs = [...commands].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (cs.length === sent.length) {
    return { matched: sent.map((s, i) => ({ round: s.round, family: s.family, ms: Number(cs[i]! - s.ns) / 1e6 })), missed: [], stray: 0 };
  }
  const matched: Matched[] = [];
  let j = 0;
  let stray = 0;
  const missed: number[] = [];
  for (let i = 0; i < sent.length; i++) {
    const s = sent[i]!;
    const next = sent[i + 1]?.ns;
    while (j < cs.length && cs[j]! < s.ns) {
      j++;
      stray++;
    }
    if (j < cs.length && (next === undefined || cs[j]! < next)) {
      matched.push({ round: s.round, family: s.family, ms: Number(cs[j]! - s.ns) / 1e6 });
      j++;
    } else missed.push(s.round);
  }
  return { matched, missed, stray: stray + (cs.length - j) };
}

const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime + stime of a /proc/PID/stat text, in seconds. */
function cpuOfStat(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state(3) ... utime is field 14, stime 15 (1-based over the whole line).
  return (Number(rest[11]) + Number(rest[12])) / ticks;
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

export async function run(): Promise<BenchResult> {
  const t0 = performance.now();
  const before = load1();
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'knockc-bench-runtime-'));
  const hostTimes = join(dir, 'times');
  let rt: LabRuntime | undefined;
  try {
    const r = await withLab({ clients: 2, extraServers: 1, name: 'bench-runtime' }, async (lab) => {
      const [kc, kd] = [lab.servers[0]!, lab.servers[1]!];
      await Promise.all(lab.clients.map((c) => c.writeFile(KNOCK_TIMES, KNOCK_TIMES_PL, 0o755)));
      // knockc run in server 0's kernel; knockd in server 1.
      await resetServer(kc);
      const conf = join(dir, 'knockd.conf');
      writeFileSync(conf, door(hostTimes));
      const runtime = await LabRuntime.start(netnsOf(kc), { conf, stateDir: join(dir, 'state'), pidFile: join(dir, 'knockc.pid') });
      rt = runtime;
      try {
        await deployKnockd(kd, door(TIMES_IN_CONTAINER));
        const software = (await kd.exec(['sh', '-c', "dpkg-query -W -f='knockd ${Version}' knockd"])).stdout.trim();
        const tcpdump = spawnSync('tcpdump', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '';

        // (a) latency, both at once.
        const [sentKc, sentKd] = await Promise.all([knockTimes(lab.clients[0]!, kc, WARMUP + ROUNDS), knockTimes(lab.clients[1]!, kd, WARMUP + ROUNDS)]);
        await new Promise((res) => setTimeout(res, 500));
        const readNs = (text: string): bigint[] => text.split('\n').filter((l) => /^\d+$/.test(l)).map((l) => BigInt(l));
        const cmdKc = readNs(readFileSync(hostTimes, 'utf8'));
        const cmdKd = readNs((await kd.exec(['cat', TIMES_IN_CONTAINER])).stdout);
        const mKc = match(sentKc, cmdKc);
        const mKd = match(sentKd, cmdKd);

        // (b) idle: no knocks for IDLE_S seconds.
        const kids = runtime.children();
        const pids = [runtime.pid, ...kids];
        const kdPid = knockdPid(kd)!;
        const kdStat = async (): Promise<string> => (await kd.run(['cat', `/proc/${kdPid}/stat`])).trim();
        const cpuKc0 = pids.map((p) => cpuOfStat(readFileSync(`/proc/${p}/stat`, 'utf8')));
        const cpuKd0 = cpuOfStat(await kdStat());
        const w0 = performance.now();
        await new Promise((res) => setTimeout(res, IDLE_S * 1000));
        const wall = (performance.now() - w0) / 1000;
        const cpuKc1 = pids.map((p) => cpuOfStat(readFileSync(`/proc/${p}/stat`, 'utf8')));
        const cpuKd1 = cpuOfStat(await kdStat());
        const comm = pids.map((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim());
        const rss = pids.map(rssKiB);
        const kdRss = Number(/VmRSS:\s+(\d+)/.exec(await kd.run(['cat', `/proc/${kdPid}/status`]))?.[1]);
        return {
          software: `${software}, ${tcpdump}, Node ${process.version}`,
          latency: { kc: mKc, kd: mKd },
          idle: {
            wall,
            kc: pids.map((p, i) => ({ pid: p, comm: comm[i]!, cpu: cpuKc1[i]! - cpuKc0[i]!, rss: rss[i]! })),
            kd: { cpu: cpuKd1 - cpuKd0, rss: kdRss },
          },
          stillRunning: runtime.running,
        };
      } finally {
        // Before the lab goes (its network namespace with it).
        runtime.kill9();
        await runtime.exited;
      }
    });

    const stat = (all: { matched: Matched[]; missed: number[]; stray: number }) => {
      // Warm-up rounds (first fork of sh, neighbour caches) are left out.
      const m = { matched: all.matched.filter((x) => x.round > WARMUP), missed: all.missed.filter((r) => r > WARMUP).length, stray: all.stray };
      const ms = m.matched.map((x) => x.ms);
      return {
        n: ms.length,
        missed: m.missed,
        stray: m.stray,
        p50: percentile(ms, 50),
        p99: percentile(ms, 99),
        min: ms.length ? Math.min(...ms) : NaN,
        max: ms.length ? Math.max(...ms) : NaN,
        p50v4: percentile(m.matched.filter((x) => x.family === 4).map((x) => x.ms), 50),
        p50v6: percentile(m.matched.filter((x) => x.family === 6).map((x) => x.ms), 50),
      };
    };
    const kcS = stat(r.latency.kc);
    const kdS = stat(r.latency.kd);
    const latencyTable = mdTable(
      ['target', 'commands run', 'p50', 'p99', 'min', 'max', 'p50 IPv4', 'p50 IPv6'],
      ([['knockc run', kcS], ['knockd', kdS]] as const).map(([name, s]) => [
        name,
        `${s.n}/${ROUNDS}${s.missed ? ` (${s.missed} missed)` : ''}${s.stray ? ` (${s.stray} unmatched)` : ''}`,
        ...latencyCells(s),
      ]),
    );
    const kcCpu = r.idle.kc.reduce((a, p) => a + p.cpu, 0);
    const pct = (cpu: number): number => (100 * cpu) / r.idle.wall;
    const idleTable = mdTable(
      ['process', 'CPU time (utime+stime)', '% of one core', 'RSS'],
      [
        ...r.idle.kc.map((p) => [`knockc run: ${p.comm} (pid ${p.pid})`, `${fmt(p.cpu, 2)} s`, `${fmt(pct(p.cpu), 3)} %`, `${fmt(p.rss / 1024, 1)} MiB`]),
        ['**knockc run, total**', `**${fmt(kcCpu, 2)} s**`, `**${fmt(pct(kcCpu), 3)} %**`, `${fmt(r.idle.kc.reduce((a, p) => a + p.rss, 0) / 1024, 1)} MiB`],
        ['knockd', `${fmt(r.idle.kd.cpu, 2)} s`, `${fmt(pct(r.idle.kd.cpu), 3)} %`, `${fmt(r.idle.kd.rss / 1024, 1)} MiB`],
      ],
    );

    const checks: Check[] = [
      {
        target: `knockc run: p99 knock-to-command under ${P99_TARGET_MS} ms, every knock runs the command`,
        value: `p50 ${fmt(kcS.p50, 2)} ms, p99 ${fmt(kcS.p99, 2)} ms, max ${fmt(kcS.max, 2)} ms, ${kcS.n}/${ROUNDS} ran`,
        met: kcS.p99 < P99_TARGET_MS && kcS.n === ROUNDS,
      },
      {
        target: `knockc run idle (node + tcpdump, ${Math.round(r.idle.wall)} s without knocks): under ${IDLE_TARGET_PCT} % of one core`,
        value: `${fmt(kcCpu, 2)} s CPU = ${fmt(pct(kcCpu), 3)} %`,
        met: pct(kcCpu) < IDLE_TARGET_PCT && r.stillRunning,
      },
    ];
    const chart = barChart({
      title: 'Knock-to-command time',
      yLabel: 'command start after the last knock (ms)',
      categories: ['knockc run', 'knockd'],
      series: [
        { name: 'p50', values: [kcS.p50, kdS.p50] },
        { name: 'p99', values: [kcS.p99, kdS.p99] },
      ],
      refLine: { value: P99_TARGET_MS, label: `target: knockc run p99 < ${P99_TARGET_MS} ms` },
      valueLabel: (v) => v.toFixed(1),
    });
    return {
      id: 'runtime',
      title: '5. knockc run: knock-to-command latency and idle cost',
      method: [
        `One lab, two servers side by side, each with its own client, at the same time. **knockc run**: \`node dist/cli.js run\` on the host inside server 0's network namespace (nsenter; the lab image has no node), default nft target, reading NFLOG group 4242 through tcpdump. **knockd**: \`knockd -i eth0 -c FILE\` in server 1 (no -v, no log). Both with one door \`${SEQ}\` (tcpflags syn) whose start_command is \`date +%s%N >> FILE\`: the command's first act is to read the clock.`,
        `The client runs a perl script (raw TCP SYNs, one UDP datagram) that prints CLOCK_REALTIME right after sending the last knock; ${ROUNDS} rounds ${GAP_S * 1000} ms apart, alternating IPv4 and IPv6, after ${WARMUP} warm-up rounds. **Latency = the command's clock - the last knock's send time** (containers and host share one kernel clock). Each round runs the command once: the i-th command time belongs to round i (if one were lost, a command is matched to the round sent last before it). Nearest-rank percentiles. The send time is read after send() returns: a client preempted right then makes a latency look smaller (even slightly negative) on a loaded machine.`,
        `Idle: utime + stime from /proc/PID/stat of the runtime's node process and its children (tcpdump) over ${IDLE_S} s with no knocks, right after the latency rounds; knockd's (/proc inside its container) over the same time. Clock-tick resolution ${1000 / ticks} ms.`,
      ],
      tables: [latencyTable, idleTable],
      checks,
      notes: [
        `Software: ${r.software}.`,
        'knockc run spawns `/bin/sh -c COMMAND` for each opening as knockd does; the latency covers the kernel rule, NFLOG delivery to tcpdump, the pipe to node, and the fork/exec of sh and date.',
      ],
      charts: [{ file: 'runtime.svg', title: 'Knock-to-command time', svg: chart }],
      seconds: (performance.now() - t0) / 1000,
      load: { before, after: load1() },
      headline: `knock-to-command p50/p99: knockc run ${fmt(kcS.p50, 1)}/${fmt(kcS.p99, 1)} ms, knockd ${fmt(kdS.p50, 1)}/${fmt(kdS.p99, 1)} ms; idle: ${fmt(kcCpu, 2)} s CPU in ${Math.round(r.idle.wall)} s (${fmt(pct(kcCpu), 3)} % of a core)`,
    };
  } finally {
    if (rt) {
      rt.kill9();
      await rt.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) printResult(await run());
