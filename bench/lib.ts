/**
 * Shared by the benchmarks: results, statistics, markdown tables, SVG charts,
 * running the built CLI, generated configs.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

export type Family = 4 | 6;

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

// ---------------------------------------------------------------------------
// Results

export interface Check {
  /** What the issue asks, in words. */
  target: string;
  /** What was measured, in words. */
  value: string;
  met: boolean;
}

export interface Chart {
  file: string;
  title: string;
  svg: string;
}

export interface BenchResult {
  id: string;
  title: string;
  /** How it was measured (markdown paragraphs / list items). */
  method: string[];
  /** Markdown tables (each printed and written to the report). */
  tables: string[];
  checks: Check[];
  notes: string[];
  charts: Chart[];
  seconds: number;
  load: { before: number[]; after: number[] };
  /** One line for the README / summary. */
  headline: string;
}

export function load1(): number[] {
  return loadavg().map((x) => Math.round(x * 100) / 100);
}

export function fmtLoad(l: number[]): string {
  return l.map((x) => x.toFixed(2)).join(' / ');
}

/** Prints a benchmark's tables and checks to the console. */
export function printResult(r: BenchResult): void {
  console.log(`\n## ${r.title}  (${r.seconds.toFixed(0)} s, load ${fmtLoad(r.load.before)} -> ${fmtLoad(r.load.after)})\n`);
  for (const t of r.tables) console.log(`${t}\n`);
  for (const c of r.checks) console.log(`${c.met ? 'MET   ' : 'FAILED'}  ${c.target}: ${c.value}`);
  for (const n of r.notes) console.log(`note: ${n}`);
}

// ---------------------------------------------------------------------------
// Statistics

/** Nearest-rank percentile (p in 0..100) of the values. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(rank, s.length) - 1]!;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/** Least-squares line y = a + b x. */
export function linearFit(xs: readonly number[], ys: readonly number[]): { a: number; b: number; r2: number } {
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  xs.forEach((x, i) => {
    sxy += (x - mx) * (ys[i]! - my);
    sxx += (x - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  });
  const b = sxy / sxx;
  return { a: my - b * mx, b, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}

export function fmt(x: number, digits = 1): string {
  if (!Number.isFinite(x)) return 'n/a';
  return x.toFixed(digits);
}

/** The latency columns every latency table shows, in milliseconds: p50, p99, min, max, p50 IPv4, p50 IPv6. */
export function latencyCells(s: { p50: number; p99: number; min: number; max: number; p50v4: number; p50v6: number }): string[] {
  return [s.p50, s.p99, s.min, s.max, s.p50v4, s.p50v6].map((x) => `${fmt(x, 2)} ms`);
}

export function fmtInt(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a';
}

export function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  if (Math.abs(n) >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  if (Math.abs(n) >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${Math.round(n)} B`;
}

// ---------------------------------------------------------------------------
// Markdown

export function mdTable(headers: string[], rows: Array<Array<string | number>>, align?: Array<'l' | 'r'>): string {
  const a = align ?? headers.map((_, i) => (i === 0 ? 'l' : 'r'));
  const sep = a.map((x) => (x === 'r' ? '---:' : '---'));
  const line = (cells: Array<string | number>): string => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(headers), `| ${sep.join(' | ')} |`, ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------
// SVG charts (hand-written: no chart library)

const PALETTE = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(v: number): number {
  if (v <= 0 || !Number.isFinite(v)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmtTick(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1000) return `${+(v / 1000).toFixed(1)}k`;
  if (Math.abs(v) >= 10) return String(Math.round(v));
  if (Math.abs(v) >= 1) return String(+v.toFixed(1));
  return String(+v.toFixed(3));
}

interface Axis {
  min: number;
  max: number;
  log: boolean;
  ticks: number[];
}

function axis(values: number[], opts: { log?: boolean; min?: number; max?: number }): Axis {
  const finite = values.filter((v) => Number.isFinite(v) && (!opts.log || v > 0));
  if (opts.log) {
    const lo = opts.min ?? 10 ** Math.floor(Math.log10(Math.min(...finite)));
    const hi = opts.max ?? 10 ** Math.ceil(Math.log10(Math.max(...finite)));
    const ticks: number[] = [];
    for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(t);
    return { min: lo, max: hi, log: true, ticks };
  }
  const min = opts.min ?? 0;
  const max = opts.max ?? niceMax(Math.max(...finite));
  const ticks = Array.from({ length: 6 }, (_, i) => min + ((max - min) * i) / 5);
  return { min, max, log: false, ticks };
}

function scale(ax: Axis, v: number, from: number, to: number): number {
  const f = ax.log ? (Math.log10(v) - Math.log10(ax.min)) / (Math.log10(ax.max) - Math.log10(ax.min)) : (v - ax.min) / (ax.max - ax.min);
  return from + f * (to - from);
}

const W = 640;
const H = 360;
const M = { l: 70, r: 20, t: 62, b: 56 };

function frame(title: string, yLabel: string, xLabel: string, body: string[], legend: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="16" y="${(M.t + H - M.b) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(M.t + H - M.b) / 2})">${esc(yLabel)}</text>`,
    `<text x="${(M.l + W - M.r) / 2}" y="${H - 10}" text-anchor="middle">${esc(xLabel)}</text>`,
    ...body,
    ...legend,
    '</svg>',
    '',
  ].join('\n');
}

function yGrid(ax: Axis): string[] {
  return ax.ticks.map((t) => {
    const y = scale(ax, t, H - M.b, M.t);
    return `<line x1="${M.l}" x2="${W - M.r}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#ddd"/><text x="${M.l - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${fmtTick(t)}</text>`;
  });
}

function legendItems(names: string[]): string[] {
  let x = M.l;
  return names.map((n, i) => {
    const s = `<rect x="${x}" y="32" width="10" height="10" fill="${PALETTE[i % PALETTE.length]}"/><text x="${x + 14}" y="41">${esc(n)}</text>`;
    x += 20 + n.length * 6.6;
    return s;
  });
}

/** A dashed horizontal line at `value`, explained in the legend row (right-aligned). */
function refLine(ax: Axis, r: { value: number; label: string }): string[] {
  const y = scale(ax, r.value, H - M.b, M.t);
  const lx = W - M.r - 8 - r.label.length * 6.2;
  return [
    `<line x1="${M.l}" x2="${W - M.r}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#000" stroke-dasharray="5,4"/>`,
    `<line x1="${(lx - 26).toFixed(1)}" x2="${(lx - 4).toFixed(1)}" y1="37" y2="37" stroke="#000" stroke-dasharray="5,4"/>`,
    `<text x="${W - M.r}" y="41" text-anchor="end" font-size="11">${esc(r.label)}</text>`,
  ];
}

export interface Series {
  name: string;
  values: number[];
}

/** Grouped bars: one group per category, one bar per series. `refLine`: a dashed horizontal line. */
export function barChart(o: {
  title: string;
  yLabel: string;
  xLabel?: string;
  categories: string[];
  series: Series[];
  log?: boolean;
  yMin?: number;
  yMax?: number;
  refLine?: { value: number; label: string };
  valueLabel?: (v: number) => string;
}): string {
  const all = o.series.flatMap((s) => s.values).concat(o.refLine ? [o.refLine.value] : []);
  const axOpts: { log?: boolean; min?: number; max?: number } = { log: o.log ?? false };
  if (o.yMin !== undefined) axOpts.min = o.yMin;
  if (o.yMax !== undefined) axOpts.max = o.yMax;
  const ax = axis(all, axOpts);
  const body = yGrid(ax);
  const gw = (W - M.l - M.r) / o.categories.length;
  const bw = Math.min(40, (gw * 0.8) / o.series.length);
  const base = H - M.b;
  o.categories.forEach((c, ci) => {
    const gx = M.l + ci * gw + (gw - bw * o.series.length) / 2;
    o.series.forEach((s, si) => {
      const v = s.values[ci];
      if (v === undefined || !Number.isFinite(v)) return;
      const y = scale(ax, Math.max(v, ax.log ? ax.min : ax.min), base, M.t);
      const x = gx + si * bw;
      body.push(`<rect x="${x.toFixed(1)}" y="${Math.min(y, base).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${Math.abs(base - y).toFixed(1)}" fill="${PALETTE[si % PALETTE.length]}"><title>${esc(`${s.name} ${c}: ${v}`)}</title></rect>`);
      body.push(`<text x="${(x + bw / 2 - 1).toFixed(1)}" y="${(Math.min(y, base) - 3).toFixed(1)}" text-anchor="middle" font-size="10">${esc((o.valueLabel ?? fmtTick)(v))}</text>`);
    });
    body.push(`<text x="${(M.l + ci * gw + gw / 2).toFixed(1)}" y="${base + 16}" text-anchor="middle">${esc(c)}</text>`);
  });
  if (o.refLine) body.push(...refLine(ax, o.refLine));
  body.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${base}" y2="${base}" stroke="#000"/>`);
  return frame(o.title, o.yLabel, o.xLabel ?? '', body, legendItems(o.series.map((s) => s.name)));
}

/** Lines with markers over numeric x (log or linear). */
export function lineChart(o: {
  title: string;
  yLabel: string;
  xLabel: string;
  x: number[];
  series: Series[];
  xLog?: boolean;
  yLog?: boolean;
  yMin?: number;
  yMax?: number;
  refLine?: { value: number; label: string };
}): string {
  const ax = axis(o.x, o.xLog ? { log: true } : { log: false, min: Math.min(...o.x), max: Math.max(...o.x) });
  const all = o.series.flatMap((s) => s.values).concat(o.refLine ? [o.refLine.value] : []);
  const yOpts: { log?: boolean; min?: number; max?: number } = { log: o.yLog ?? false };
  if (o.yMin !== undefined) yOpts.min = o.yMin;
  if (o.yMax !== undefined) yOpts.max = o.yMax;
  const ay = axis(all, yOpts);
  const body = yGrid(ay);
  const base = H - M.b;
  for (const t of o.x) {
    const x = scale(ax, t, M.l + 20, W - M.r - 20);
    body.push(`<text x="${x.toFixed(1)}" y="${base + 16}" text-anchor="middle">${fmtTick(t)}</text>`);
  }
  o.series.forEach((s, si) => {
    const color = PALETTE[si % PALETTE.length]!;
    const pts = o.x
      .map((t, i) => [t, s.values[i]] as const)
      .filter(([, v]) => v !== undefined && Number.isFinite(v) && (!ay.log || v > 0))
      .map(([t, v]) => [scale(ax, t, M.l + 20, W - M.r - 20), scale(ay, v!, base, M.t), v!] as const);
    body.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y, v] of pts) {
      body.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3.5" fill="${color}"><title>${esc(`${s.name}: ${v}`)}</title></circle>`);
    }
  });
  if (o.refLine) body.push(...refLine(ay, o.refLine));
  body.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${base}" y2="${base}" stroke="#000"/>`);
  return frame(o.title, o.yLabel, o.xLabel, body, legendItems(o.series.map((s) => s.name)));
}

// ---------------------------------------------------------------------------
// The CLI and generated configs

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `node dist/cli.js ARGS` (optionally with stdin), timed from spawn to exit. */
export function runCli(args: string[], stdin?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.stderr.on('data', (b: Buffer) => err.push(b));
    p.on('error', reject);
    p.on('close', (code) =>
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms: performance.now() - t0 }),
    );
    p.stdin.end(stdin ?? '');
  });
}

/** `knockc compile ARGS -` with the config on stdin; throws on failure. */
export async function compileCli(conf: string, args: string[]): Promise<string> {
  const r = await runCli(['compile', ...args, '-'], conf);
  if (r.code !== 0) throw new Error(`knockc compile ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}`);
  return r.stdout;
}

/**
 * A knockd.conf with `n` doors (n <= 10000). Door i: a 3-knock sequence of its own
 * (tcp, udp, tcp among ports 10000-39999, tcpflags syn), seq_timeout 5..14 s, opening tcp port
 * 40000+i to the knocker for 10..69 s (iptables / ip6tables, start and stop command).
 */
export function doorsConfig(n: number): string {
  if (n > 10000) throw new Error('doorsConfig: at most 10000 doors');
  const lines = ['# generated by bench/lib.ts doorsConfig()', '[options]', '\tInterface = eth0', ''];
  for (let i = 0; i < n; i++) {
    const p = 10000 + 3 * i;
    const grant = 40000 + i;
    lines.push(
      `[door${i}]`,
      `\tsequence        = ${p}:tcp,${p + 1}:udp,${p + 2}:tcp`,
      `\tseq_timeout     = ${5 + (i % 10)}`,
      '\ttcpflags        = syn',
      `\tstart_command   = /sbin/iptables -A INPUT -s %IP% -p tcp --dport ${grant} -j ACCEPT`,
      `\tstart_command_6 = /sbin/ip6tables -A INPUT -s %IP% -p tcp --dport ${grant} -j ACCEPT`,
      `\tcmd_timeout     = ${10 + (i % 60)}`,
      `\tstop_command    = /sbin/iptables -D INPUT -s %IP% -p tcp --dport ${grant} -j ACCEPT`,
      `\tstop_command_6  = /sbin/ip6tables -D INPUT -s %IP% -p tcp --dport ${grant} -j ACCEPT`,
      '',
    );
  }
  return lines.join('\n');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** True when this module file is the process's entry point (`tsx bench/x.ts`). */
export function isMain(metaUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && fileURLToPath(metaUrl) === entry;
}

/** Bytes in each slab cache of the host (null when /proc/slabinfo is not readable). */
export function slabBytes(): Map<string, number> | null {
  try {
    const m = new Map<string, number>();
    for (const l of readFileSync('/proc/slabinfo', 'utf8').split('\n').slice(2)) {
      const f = l.trim().split(/\s+/);
      if (f.length > 3) m.set(f[0]!, Number(f[1]) * Number(f[3]));
    }
    return m;
  } catch {
    return null;
  }
}
