/**
 * Benchmark 6 (issue 20): loading the rules into the kernel, for 10, 100, 1000, 10000 doors.
 *
 * Per size, in fresh scratch network namespaces (root; nothing outside them is touched):
 *   - `nft -f` of the compiled file alone (the kernel transaction and nft's own work), and the
 *     kernel memory it takes (slab caches that grew, as bench/flood.ts measures elements);
 *   - `knockc apply` (first load: Node start-up, compile, preflight, read, load);
 *   - live state added (per door one source mid-sequence, for up to 1000 doors one grant), then
 *     `knockc apply` again: the state read back and carried over, in the same transaction.
 * With KNOCKC_BENCH_BASE=path/to/an/earlier/dist/cli.js the same runs are made with that build
 * too, side by side (up to 1000 doors: it is quadratic), so ratios compare on one machine.
 *
 *   npx tsx --tsconfig bench/tsconfig.json bench/load.ts
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTableJson } from '../src/targets/nft/live.js';
import { doorChainOf, isRegistry } from '../src/model/names.js';
import { CLI, doorsConfig, fmt, fmtBytes, fmtInt, isMain, load1, mdTable, median, printResult, slabBytes, type BenchResult, type Check } from './lib.js';

// KNOCKC_BENCH_LOAD_SIZES=10,100 for a quick try (the checks need 100, 1000 and 10000).
const SIZES = (process.env['KNOCKC_BENCH_LOAD_SIZES'] ?? '10,100,1000,10000').split(',').map(Number);
const RUNS: Record<number, number> = { 10: 3, 100: 3, 1000: 3, 10000: 1 };
const runsOf = (n: number): number => RUNS[n] ?? 1;
const BASE_MAX = 1000;

interface Variant {
  name: string;
  cli: string;
}

interface Row {
  variant: string;
  doors: number;
  sets: number;
  chains: number;
  nftMs: number;
  applyMs: number;
  reapplyMs: number;
  carried: string;
  slabBytes: number | null;
}

function sh(args: string[], input?: string): { ok: boolean; out: string; err: string; ms: number } {
  const t0 = performance.now();
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', input, maxBuffer: 1 << 30 });
  return { ok: r.status === 0, out: r.stdout ?? '', err: r.stderr ?? '', ms: performance.now() - t0 };
}

function must(args: string[], input?: string): string {
  const r = sh(args, input);
  if (!r.ok) throw new Error(`${args.join(' ')}: ${r.err.trim()}`);
  return r.out;
}

let nsCount = 0;
/** A fresh namespace with lo and an eth0 (the configs' Interface). */
function freshNs(): string {
  const ns = `kcload${process.pid}_${nsCount++}`;
  must(['ip', 'netns', 'add', ns]);
  try {
    must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    // (a veth pair: not every kernel has the dummy driver)
    must(['ip', '-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p']);
    must(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
  } catch (e) {
    dropNs(ns);
    throw e;
  }
  return ns;
}
const dropNs = (ns: string): void => void sh(['ip', 'netns', 'del', ns]);

/**
 * One attempt per door (stage 1, both sets, a long timeout), and one grant for up to 1000 doors,
 * written where the loaded rules keep them: found from each door chain's "wrong knock" rule (it
 * deletes the source from every state set of the door) and its last advance (it opens the grant).
 */
function stateScript(ns: string): { script: string; elements: number } {
  const t = parseTableJson(must(['ip', 'netns', 'exec', ns, 'nft', '-j', 'list', 'table', 'inet', 'knockc']), 'inet', 'knockc');
  const lines: string[] = [];
  let elements = 0;
  let grants = 0;
  for (const r of t.rules) {
    const id = doorChainOf(r.chain);
    if (!id || !r.chain.startsWith('knockc_door4_')) continue;
    const i = Number(id.slice(1));
    const src = `10.${(i >> 8) & 255}.${i & 255}.1`;
    const key = (tag: number | null): string => (tag === null ? src : `${src} . ${tag}`);
    if (/^wrong knock/.test(r.comment ?? '')) {
      for (const o of r.setOps) {
        if (!/^knockc_(armed4|stage4(_d\d+)?_1$)/.test(o.set)) continue;
        lines.push(`add element inet knockc ${o.set} { ${key(o.tag)} timeout 120s expires 110s }`);
        elements++;
      }
    } else if (grants < 1000) {
      const g = r.setOps.find((o) => /^knockc_grant4(_|$)/.test(o.set) && o.op !== 'delete');
      if (g) {
        lines.push(`add element inet knockc ${g.set} { ${key(g.tag)} timeout 120s expires 110s }`);
        elements++;
        grants++;
      }
    }
  }
  return { script: `${lines.join('\n')}\n`, elements };
}

const countElements = (ns: string): number => {
  const text = must(['ip', 'netns', 'exec', ns, 'nft', 'list', 'table', 'inet', 'knockc']);
  let n = 0;
  // (not the registries': what each grant and door tag stands for, loaded with the rules)
  for (const m of text.matchAll(/set (knockc_\w+) \{[^}]*?elements = \{([^}]*)\}/g)) if (!isRegistry(m[1]!)) n += m[2]!.split(',').filter((x) => x.trim()).length;
  return n;
};

function measure(v: Variant, doors: number, dir: string): Row {
  const conf = join(dir, `doors-${doors}.conf`);
  const out = join(dir, `${v.name}-${doors}.nft`);
  must([process.execPath, v.cli, 'compile', '-o', out, conf]);
  const text = readFileSync(out, 'utf8');
  const sets = (text.match(/^\tset knockc_/gm) ?? []).length;
  const chains = (text.match(/^\tchain knockc_/gm) ?? []).length;
  const nft: number[] = [];
  const apply: number[] = [];
  const reapply: number[] = [];
  const slabs: number[] = [];
  let carried = '';
  for (let run = 0; run < runsOf(doors); run++) {
    // nft -f alone, in an empty namespace; the slab caches that grew are the ruleset's.
    let ns = freshNs();
    try {
      const a = slabBytes();
      const r = sh(['ip', 'netns', 'exec', ns, 'nft', '-f', out]);
      if (!r.ok) throw new Error(`nft -f (${v.name}, ${doors} doors): ${r.err.slice(0, 500)}`);
      nft.push(r.ms);
      const b = slabBytes();
      if (a && b) slabs.push([...b].reduce((s, [k, x]) => s + Math.max(0, x - (a.get(k) ?? 0)), 0));
    } finally {
      dropNs(ns);
    }
    // knockc apply, then live state, then knockc apply again.
    ns = freshNs();
    try {
      const first = sh(['ip', 'netns', 'exec', ns, process.execPath, v.cli, 'apply', conf]);
      if (!first.ok) throw new Error(`apply (${v.name}, ${doors} doors): ${first.err.slice(0, 500)}`);
      apply.push(first.ms);
      const st = stateScript(ns);
      must(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], st.script);
      const again = sh(['ip', 'netns', 'exec', ns, process.execPath, v.cli, 'apply', conf]);
      if (!again.ok) throw new Error(`re-apply (${v.name}, ${doors} doors): ${again.err.slice(0, 500)}`);
      reapply.push(again.ms);
      carried = `${fmtInt(countElements(ns))} of ${fmtInt(st.elements)}`;
    } finally {
      dropNs(ns);
    }
  }
  const row = { variant: v.name, doors, sets, chains, nftMs: median(nft), applyMs: median(apply), reapplyMs: median(reapply), carried, slabBytes: slabs.length ? median(slabs) : null };
  console.log(`[load] ${v.name} ${doors} doors: nft -f ${fmt(row.nftMs, 0)} ms, apply ${fmt(row.applyMs, 0)} ms, re-apply ${fmt(row.reapplyMs, 0)} ms (carried ${carried})`);
  return row;
}

export async function run(): Promise<BenchResult> {
  const t0 = performance.now();
  const before = load1();
  const variants: Variant[] = [{ name: 'knockc', cli: CLI }];
  const base = process.env['KNOCKC_BENCH_BASE'];
  if (base) variants.push({ name: 'before (set per door)', cli: base });
  const dir = mkdtempSync(join(tmpdir(), 'knockc-bench-load-'));
  const rows: Row[] = [];
  try {
    for (const n of SIZES) writeFileSync(join(dir, `doors-${n}.conf`), doorsConfig(n));
    for (const n of SIZES) for (const v of variants) if (v.cli === CLI || n <= BASE_MAX) rows.push(measure(v, n, dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const perDoor = (r: Row, f: (x: Row) => number): string => {
    const prev = rows.filter((p) => p.variant === r.variant && p.doors < r.doors).at(-1);
    return prev ? fmt((f(r) - f(prev)) / (r.doors - prev.doors), 3) : '';
  };
  const table = mdTable(
    ['build', 'doors', 'sets / chains', '`nft -f`', 'ms / added door', '`knockc apply`', 'ms / added door', 'apply again (state carried)', 'ms / added door', 'elements carried', 'kernel memory (slab) / door'],
    rows.map((r) => [
      r.variant,
      fmtInt(r.doors),
      `${fmtInt(r.sets)} / ${fmtInt(r.chains)}`,
      `${fmt(r.nftMs / 1000, 3)} s`,
      perDoor(r, (x) => x.nftMs),
      `${fmt(r.applyMs / 1000, 3)} s`,
      perDoor(r, (x) => x.applyMs),
      `${fmt(r.reapplyMs / 1000, 3)} s`,
      perDoor(r, (x) => x.reapplyMs),
      r.carried,
      r.slabBytes === null ? 'n/a' : fmtBytes(r.slabBytes / r.doors),
    ]),
  );
  const mine = rows.filter((r) => r.variant === 'knockc');
  const at = (n: number): Row => mine.find((r) => r.doors === n)!;
  const checks: Check[] = [];
  const full = [100, 1000, 10000].every((n) => mine.some((r) => r.doors === n));
  if (full) for (const [what, f] of [['nft -f', (x: Row) => x.nftMs], ['knockc apply', (x: Row) => x.applyMs], ['apply again', (x: Row) => x.reapplyMs]] as const) {
    const m1 = (f(at(1000)) - f(at(100))) / 900;
    const m2 = (f(at(10000)) - f(at(1000))) / 9000;
    checks.push({
      target: `${what}: linear in doors (ms per added door 1000->10000 at most 1.5x that of 100->1000)`,
      value: `${fmt(m1, 3)} -> ${fmt(m2, 3)} ms/door (x${fmt(m2 / m1, 2)})`,
      met: m2 <= 1.5 * m1,
    });
  }
  if (full) checks.push({ target: 'kernel load (nft -f) of 1000 doors under 0.5 s', value: `${fmt(at(1000).nftMs / 1000, 3)} s`, met: at(1000).nftMs < 500 });
  if (full) checks.push({ target: '`knockc apply` of 1000 doors under 1.5 s (wall, Node start and compile included)', value: `${fmt(at(1000).applyMs / 1000, 3)} s`, met: at(1000).applyMs < 1500 });
  if (full) checks.push({ target: 're-apply of 1000 doors with live state under 2 s (wall)', value: `${fmt(at(1000).reapplyMs / 1000, 3)} s`, met: at(1000).reapplyMs < 2000 });
  const baseRow = full ? rows.find((r) => r.variant !== 'knockc' && r.doors === 1000) : undefined;
  const notes = [
    'Wall clock of each command as run (`ip netns exec` included, a few ms). Medians of ' + SIZES.map((n) => `${n}: ${runsOf(n)}`).join(', ') + ' runs.',
    ...(baseRow ? [`At 1000 doors, side by side: nft -f ${fmt(baseRow.nftMs / at(1000).nftMs, 1)}x faster, apply ${fmt(baseRow.applyMs / at(1000).applyMs, 1)}x, apply again ${fmt(baseRow.reapplyMs / at(1000).reapplyMs, 1)}x.`] : []),
  ];
  return {
    id: 'load',
    title: '6. Loading the rules: nft -f, apply, apply again with live state',
    method: [
      'Generated configs as in benchmark 4 (`doorsConfig`: 3 knocks, one timed grant per door, both families). Each size in fresh scratch network namespaces (with an eth0): `nft -f` of the compiled file alone; then `knockc apply`, per door one IPv4 source mid-sequence (stage 1) and for up to 1000 doors one grant added with nft, and `knockc apply` again (state read back and carried over in the same transaction).',
      'Kernel memory: the host\'s slab caches that grew during the `nft -f` (other work on the machine adds noise, so small sizes read high).',
      ...(base ? ['"before (set per door)" is an earlier build (KNOCKC_BENCH_BASE), run in the same loop, up to 1000 doors.'] : []),
    ],
    tables: [table],
    checks,
    notes,
    charts: [],
    seconds: (performance.now() - t0) / 1000,
    load: { before, after: load1() },
    headline: !full ? 'partial run' : `1000 doors: nft -f ${fmt(at(1000).nftMs / 1000, 2)} s, apply ${fmt(at(1000).applyMs / 1000, 2)} s, apply again ${fmt(at(1000).reapplyMs / 1000, 2)} s`,
  };
}

if (isMain(import.meta.url)) printResult(await run());
