/**
 * `npm run bench`: every benchmark in one run, on this machine, then
 * bench/results/report.md and one SVG chart per benchmark.
 *
 *   npm run bench                         # all (builds dist/ first)
 *   npm run bench -- compile latency      # some (compile, latency, throughput, flood): prints only
 *   npm run bench -- flood --write        # ... and writes bench/results/ from this partial run
 *
 * The Docker lab benchmarks (latency, throughput, flood) need a Docker engine and the
 * lab image (test/lab/build-image.sh); without them they are reported as not run.
 * A target that is not met is reported as FAILED in the console and the report; the exit
 * code is 1 only when a benchmark could not run at all.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname, release } from 'node:os';
import { join } from 'node:path';
import { labAvailable } from '../test/lab/lab.js';
import { fmtLoad, load1, mdTable, printResult, ROOT, type BenchResult } from './lib.js';

interface Bench {
  id: string;
  title: string;
  lab: boolean;
  load(): Promise<{ run(): Promise<BenchResult> }>;
}

const BENCHES: Bench[] = [
  { id: 'compile', title: '4. Compile time and output size', lab: false, load: () => import('./compile.js') },
  { id: 'latency', title: '1. Knock-to-connect latency', lab: true, load: () => import('./latency.js') },
  { id: 'throughput', title: '2. Cost for traffic that is not a knock', lab: true, load: () => import('./throughput.js') },
  { id: 'flood', title: '3. Knock flood from spoofed sources', lab: true, load: () => import('./flood.js') },
  { id: 'runtime', title: '5. knockc run: knock-to-command latency and idle cost', lab: true, load: () => import('./runtime.js') },
  // Root, scratch network namespaces (no lab); KNOCKC_BENCH_BASE=old/dist/cli.js adds an earlier build side by side.
  { id: 'load', title: '6. Loading the rules: nft -f, apply, apply again with live state', lab: false, load: () => import('./load.js') },
];
const REPORT_ORDER = ['latency', 'throughput', 'flood', 'compile', 'runtime', 'load'];
const RESULTS = join(ROOT, 'bench', 'results');

function sh(cmd: string): string {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
  return (r.stdout || '').trim();
}

async function main(): Promise<number> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !BENCHES.some((b) => b.id === w));
  if (unknown.length) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')} (choose from ${BENCHES.map((b) => b.id).join(', ')})`);
    return 2;
  }
  const selected = BENCHES.filter((b) => wanted.length === 0 || wanted.includes(b.id));
  const t0 = performance.now();
  const started = new Date();
  const loadStart = load1();
  const results = new Map<string, BenchResult>();
  const skipped = new Map<string, string>();

  const lab = selected.some((b) => b.lab) ? await labAvailable() : { ok: true as const, image: '' };
  for (const b of selected) {
    if (b.lab && !lab.ok) {
      skipped.set(b.id, `not run: ${lab.reason}`);
      console.error(`[bench] ${b.id}: not run: ${lab.reason}`);
      continue;
    }
    console.log(`\n[bench] ${b.title}: running (load ${fmtLoad(load1())})`);
    try {
      const r = await (await b.load()).run();
      results.set(b.id, r);
      printResult(r);
    } catch (e) {
      const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
      skipped.set(b.id, `failed to run: ${msg.split('\n')[0]}`);
      console.error(`[bench] ${b.id} failed to run:\n${msg}`);
    }
  }

  // The existing small bench: lint start-up (Node start-up included).
  let lintStartup = '';
  if (wanted.length === 0) {
    const r = spawnSync('bash', [join(ROOT, 'bench', 'lint-startup.sh')], { encoding: 'utf8', cwd: ROOT });
    lintStartup = r.status === 0 ? r.stdout.trim().split('\n').at(-1) ?? '' : `bench/lint-startup.sh failed (exit ${r.status})`;
    console.log(`\n[bench] ${lintStartup}`);
  }

  const totalS = (performance.now() - t0) / 1000;
  const loadEnd = load1();
  // A partial run (some benchmarks named) prints only, unless --write: the committed report
  // is always one whole run.
  const write = wanted.length === 0 || process.argv.includes('--write');
  if (write) {
    mkdirSync(RESULTS, { recursive: true });
    for (const r of results.values()) for (const c of r.charts) writeFileSync(join(RESULTS, c.file), c.svg);
    writeFileSync(join(RESULTS, 'report.md'), report({ results, skipped, totalS, started, loadStart, loadEnd, lintStartup, image: lab.ok ? lab.image : '' }));
  }

  const checks = [...results.values()].flatMap((r) => r.checks);
  const failed = checks.filter((c) => !c.met);
  console.log(`\n[bench] ${results.size} benchmark(s) in ${totalS.toFixed(0)} s; targets: ${checks.length - failed.length} met, ${failed.length} FAILED`);
  for (const c of failed) console.log(`  FAILED  ${c.target}: ${c.value}`);
  for (const [id, why] of skipped) console.log(`  ${id}: ${why}`);
  console.log(write ? `[bench] report: ${join('bench', 'results', 'report.md')}` : '[bench] partial run: bench/results/ not written (add --write to write it)');
  return [...skipped.values()].some((w) => w.startsWith('failed')) ? 1 : 0;
}

function report(o: {
  results: Map<string, BenchResult>;
  skipped: Map<string, string>;
  totalS: number;
  started: Date;
  loadStart: number[];
  loadEnd: number[];
  lintStartup: string;
  image: string;
}): string {
  const lines: string[] = [];
  lines.push('# knockc benchmarks', '');
  lines.push(
    `Generated by \`npm run bench\` (bench/run.ts) on ${o.started.toISOString().replace('T', ' ').slice(0, 16)} UTC, in ${Math.round(o.totalS)} s. ` +
      'Everything below comes from this one run on one machine; knockd and knockc ran side by side in the same Docker lab ' +
      '(test/lab/lab.ts: real kernels, real packets, an internal network of documentation addresses).',
    '',
  );
  lines.push(
    mdTable(
      ['machine', ''],
      [
        ['CPUs', `${cpus().length} x ${cpus()[0]?.model ?? '?'}`],
        ['kernel', release()],
        ['Node', process.version],
        ['lab image', o.image ? `${o.image} (${sh(`docker image inspect -f '{{.Id}}' ${o.image}`).slice(7, 19)})` : 'n/a'],
        ['load average (1/5/15 min)', `${fmtLoad(o.loadStart)} at the start, ${fmtLoad(o.loadEnd)} at the end`],
        ['host', hostname()],
      ],
      ['l', 'l'],
    ),
    '',
  );
  lines.push(
    '**Noise.** These machines are shared: a load average well above the number of CPUs means other work (other test runs) ran at the same time, ' +
      'and absolute times are inflated by it. Compare ratios and the side-by-side columns, not absolute times; each section says how it guards against the noise ' +
      '(targets measured at the same time in one lab, medians over rounds, CPU-time normalisation, a control server, baselines taken right before).',
    '',
  );

  lines.push('## Summary', '');
  const ordered = REPORT_ORDER.map((id) => o.results.get(id)).filter((r): r is BenchResult => r !== undefined);
  for (const r of ordered) lines.push(`- **${r.title.replace(/^\d+\. /, '')}**: ${r.headline}.`);
  if (o.lintStartup) lines.push(`- **Lint start-up** (bench/lint-startup.sh): ${o.lintStartup.replace(/^lint start-up: /, '')}.`);
  lines.push('');
  const checks = ordered.flatMap((r) => r.checks.map((c) => ({ ...c, bench: r.title })));
  lines.push(
    mdTable(
      ['', 'target', 'measured'],
      checks.map((c) => [c.met ? 'met' : '**FAILED**', c.target, c.value]),
      ['l', 'l', 'l'],
    ),
    '',
  );
  for (const [id, why] of o.skipped) lines.push(`- ${id}: ${why}`);
  if (o.skipped.size) lines.push('');

  for (const r of ordered) {
    lines.push(`## ${r.title}`, '');
    lines.push(`Run time ${Math.round(r.seconds)} s; load average ${fmtLoad(r.load.before)} before, ${fmtLoad(r.load.after)} after.`, '');
    lines.push('**Method.**', '');
    for (const m of r.method) lines.push(`- ${m}`);
    lines.push('');
    for (const t of r.tables) lines.push(t, '');
    for (const c of r.charts) lines.push(`![${c.title}](${c.file})`, '');
    lines.push('**Targets.**', '');
    for (const c of r.checks) lines.push(`- ${c.met ? 'met' : '**FAILED**'}: ${c.target}: ${c.value}.`);
    lines.push('');
    if (r.notes.length) {
      lines.push('**Notes.**', '');
      for (const n of r.notes) lines.push(`- ${n}`);
      lines.push('');
    }
  }
  lines.push('## Reproduce', '');
  lines.push(
    '```sh',
    'test/lab/build-image.sh        # once: the lab image (needs a Docker engine)',
    'npm run bench                  # everything: builds dist/, runs bench/run.ts, writes bench/results/',
    'npm run bench -- latency flood # some of them (compile, latency, throughput, flood); prints only, --write to write',
    '```',
    '',
    'Each benchmark also runs alone: `npx tsx --tsconfig bench/tsconfig.json bench/latency.ts` (prints its table, writes nothing).',
    '',
  );
  return lines.join('\n');
}

process.exitCode = await main();
