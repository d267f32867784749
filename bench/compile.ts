/**
 * Benchmark 4: compile time and output size for 10, 100, 1000, 10000 doors.
 *
 * Each run is a fresh `node dist/cli.js compile -i eth0 [--target iptables] -o OUT FILE`
 * (Node start-up included), timed by bash's `time` (wall, user and system CPU of the
 * child); /usr/bin/time adds the peak memory when it is installed.
 *
 *   npx tsx --tsconfig bench/tsconfig.json bench/compile.ts
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CLI,
  doorsConfig,
  fmt,
  fmtBytes,
  fmtInt,
  isMain,
  lineChart,
  load1,
  mdTable,
  median,
  printResult,
  type BenchResult,
  type Check,
} from './lib.js';

const SIZES = [10, 100, 1000, 10000];
const RUNS: Record<number, number> = { 10: 5, 100: 5, 1000: 5, 10000: 1 };
const TARGETS = [
  { name: 'nft', args: [] as string[] },
  { name: 'iptables', args: ['--target', 'iptables', '--family', '4'] },
];

interface Timing {
  wallMs: number;
  cpuMs: number;
  maxRssKb: number | null;
}

const GNU_TIME = existsSync('/usr/bin/time');

function timeOnce(args: string[]): Timing {
  // bash's `time` reports the child's wall and CPU time; GNU time also its peak RSS.
  const cmd = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const script = GNU_TIME
    ? `/usr/bin/time -f 'KNOCKC_TIME %e %U %S %M' ${cmd} 2>&1 >/dev/null | grep KNOCKC_TIME`
    : `TIMEFORMAT='KNOCKC_TIME %R %U %S -1'; { time ${cmd} >/dev/null 2>/dev/null; } 2>&1 | grep KNOCKC_TIME`;
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  const m = /KNOCKC_TIME ([\d.]+) ([\d.]+) ([\d.]+) (-?\d+)/.exec(r.stdout);
  if (r.status !== 0 || !m) throw new Error(`timing failed: ${cmd}\n${r.stdout}${r.stderr}`);
  return {
    wallMs: Number(m[1]) * 1000,
    cpuMs: (Number(m[2]) + Number(m[3])) * 1000,
    maxRssKb: Number(m[4]) >= 0 ? Number(m[4]) : null,
  };
}

export async function run(): Promise<BenchResult> {
  const t0 = performance.now();
  const before = load1();
  const dir = mkdtempSync(join(tmpdir(), 'knockc-bench-compile-'));
  const rows: Array<{ target: string; doors: number; wallMs: number; cpuMs: number; rssKb: number | null; bytes: number; lines: number; runs: number }> = [];
  try {
    for (const n of SIZES) writeFileSync(join(dir, `doors-${n}.conf`), doorsConfig(n));
    // Warm-up: page cache, the first Node start.
    timeOnce(['compile', '-i', 'eth0', '-o', join(dir, 'warm.out'), join(dir, 'doors-10.conf')]);
    for (const n of SIZES) {
      for (const t of TARGETS) {
        const out = join(dir, `out-${t.name}-${n}`);
        const times: Timing[] = [];
        for (let i = 0; i < RUNS[n]!; i++) times.push(timeOnce(['compile', '-i', 'eth0', ...t.args, '-o', out, join(dir, `doors-${n}.conf`)]));
        const text = readFileSync(out, 'utf8');
        const rss = times.map((x) => x.maxRssKb).filter((x): x is number => x !== null);
        rows.push({
          target: t.name,
          doors: n,
          wallMs: median(times.map((x) => x.wallMs)),
          cpuMs: median(times.map((x) => x.cpuMs)),
          rssKb: rss.length ? Math.max(...rss) : null,
          bytes: statSync(out).size,
          lines: text.split('\n').length - 1,
          runs: times.length,
        });
        const r = rows.at(-1)!;
        console.log(`[compile] ${t.name} ${n} doors: ${fmt(r.wallMs, 0)} ms wall, ${fmt(r.cpuMs, 0)} ms CPU, ${fmtBytes(r.bytes)}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const table = mdTable(
    ['target', 'doors', 'wall (median)', 'CPU user+sys', 'runs', 'peak RSS', 'output', 'lines', 'bytes / door', 'wall ms / door (marginal)'],
    rows.map((r) => {
      const prev = rows.filter((p) => p.target === r.target && p.doors < r.doors).at(-1);
      const marginal = prev ? (r.wallMs - prev.wallMs) / (r.doors - prev.doors) : NaN;
      return [
        r.target,
        fmtInt(r.doors),
        `${fmtInt(r.wallMs)} ms`,
        `${fmtInt(r.cpuMs)} ms`,
        r.runs,
        r.rssKb === null ? 'n/a' : fmtBytes(r.rssKb * 1024),
        fmtBytes(r.bytes),
        fmtInt(r.lines),
        fmtInt(r.bytes / r.doors),
        prev ? fmt(marginal, 2) : '',
      ];
    }),
  );

  const checks: Check[] = [];
  const notes: string[] = [];
  for (const t of TARGETS) {
    const rs = rows.filter((r) => r.target === t.name);
    const at = (n: number) => rs.find((r) => r.doors === n)!;
    // Linear: the cost per added door from 1000 to 10000 doors is at most twice the cost per
    // added door from 100 to 1000 (quadratic growth would make it ~10x); output bytes per door
    // stay within 10 %.
    const m1 = (at(1000).cpuMs - at(100).cpuMs) / 900;
    const m2 = (at(10000).cpuMs - at(1000).cpuMs) / 9000;
    const bpd = rs.map((r) => r.bytes / r.doors);
    const bpdSpread = Math.max(...bpd.slice(1)) / Math.min(...bpd.slice(1));
    checks.push({
      target: `compile ${t.name}: linear in doors (CPU ms per added door 1000->10000 at most 2x that of 100->1000; output bytes per door within 10 % from 100 doors up)`,
      value: `${fmt(m1, 2)} -> ${fmt(m2, 2)} ms/door (x${fmt(m2 / m1, 2)}); bytes/door ${fmtInt(Math.min(...bpd.slice(1)))}-${fmtInt(Math.max(...bpd.slice(1)))} (x${fmt(bpdSpread, 3)})`,
      met: m2 <= 2 * m1 && bpdSpread <= 1.1,
    });
    if (t.name === 'nft' || t.name === 'iptables') {
      checks.push({
        target: `compile ${t.name}: 1000 doors under 1 s, Node start-up included (wall clock)`,
        value: `${fmtInt(at(1000).wallMs)} ms wall (${fmtInt(at(1000).cpuMs)} ms CPU)`,
        met: at(1000).wallMs < 1000,
      });
    }
  }
  const lint = rows.find((r) => r.doors === 10 && r.target === 'nft')!;
  notes.push(`Node start-up plus a 10-door compile: ${fmtInt(lint.wallMs)} ms wall, ${fmtInt(lint.cpuMs)} ms CPU: the fixed cost every size pays.`);
  if (!GNU_TIME) notes.push('/usr/bin/time is not installed: no peak memory figures.');

  const chart = lineChart({
    title: 'knockc compile: time vs doors (median, Node start-up included)',
    yLabel: 'time (ms, log scale)',
    xLabel: 'doors (log)',
    x: SIZES,
    xLog: true,
    yLog: true,
    series: [
      ...TARGETS.map((t) => ({ name: `${t.name} wall`, values: SIZES.map((n) => rows.find((r) => r.doors === n && r.target === t.name)!.wallMs) })),
      ...TARGETS.map((t) => ({ name: `${t.name} CPU`, values: SIZES.map((n) => rows.find((r) => r.doors === n && r.target === t.name)!.cpuMs) })),
    ],
    refLine: { value: 1000, label: 'target: 1000 doors < 1 s' },
  });

  const nft1000 = rows.find((r) => r.doors === 1000 && r.target === 'nft')!;
  return {
    id: 'compile',
    title: '4. Compile time and output size',
    method: [
      `Generated configs (bench/lib.ts \`doorsConfig\`): door *i* has its own 3-knock sequence (tcp, udp, tcp; tcpflags syn), a seq_timeout of 5-14 s, and opens its own tcp port to the knocker for 10-69 s (iptables/ip6tables start and stop commands): every door compiles fully to the kernel, both families.`,
      `Each run is a fresh \`node dist/cli.js compile -i eth0 [--target iptables --family 4] -o OUT FILE\`, so Node start-up, reading, linting and writing are included. Runs per size: ${SIZES.map((n) => `${n}: ${RUNS[n]}`).join(', ')}; the table shows medians. Wall time from bash \`time\`${GNU_TIME ? ' / GNU time (also peak RSS)' : ''}; CPU is user+system of the child, which other load on the machine inflates less than wall time.`,
    ],
    tables: [table],
    checks,
    notes,
    charts: [{ file: 'compile.svg', title: 'Compile time vs doors', svg: chart }],
    seconds: (performance.now() - t0) / 1000,
    load: { before, after: load1() },
    headline: `compile 1000 doors: ${fmtInt(nft1000.wallMs)} ms wall / ${fmtInt(nft1000.cpuMs)} ms CPU (nft, Node start-up included), ${fmtBytes(nft1000.bytes)} of rules`,
  };
}

if (isMain(import.meta.url)) printResult(await run());
