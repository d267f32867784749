/**
 * The load behind a one-time swap in `knockc run` (issue 20), at N doors (default 1000): the
 * runtime's own deploy (deployer(): compile, read the live table, one nft transaction with the
 * state carried over), in one Node process, as a swap runs it: door 0's sequence changes, every
 * other door keeps its attempts and grants. Run inside a scratch network namespace, as root:
 *
 *   ip netns add kcswap && ip -n kcswap link add eth0 type veth peer name eth0p
 *   ip netns exec kcswap npx tsx --tsconfig bench/tsconfig.json bench/swap.ts [DOORS]
 *   ip netns del kcswap
 */
import { spawnSync } from 'node:child_process';
import { parseConfigText } from '../src/frontend/load.js';
import { connect, deployer } from '../src/deploy/deploy.js';
import { targetNamed } from '../src/targets/registry.js';
import { localRunner } from '../src/host/runner.js';
import { isRegistry } from '../src/model/names.js';
import { doorsConfig, median } from './lib.js';

const doors = Number(process.argv[2] ?? 1000);
const text = doorsConfig(doors);
// A swap: door 0 gets its next sequence (as a used one-time line would give it).
const swapped = (round: number): string => text.replace(/sequence {8}= 10000:tcp,10001:udp,10002:tcp/, `sequence        = ${60000 + round}:tcp,10001:udp,10002:tcp`);
const config = (t: string) => parseConfigText(t, { file: 'swap.conf' }).config!;
const quiet = { out: () => {}, err: () => {} };
const target = targetNamed('nft');
const options = target.parseOptions({}, 'run', () => false);
const request = { target, options, iface: null, log: false, version: 'bench', source: 'swap.conf', notifyGroup: 1 };
const session = await connect(target, options, localRunner, quiet as never, false);
const deploy = deployer(session, request);

const nft = (args: string[], input?: string): string => spawnSync('nft', args, { encoding: 'utf8', input }).stdout;
const elements = (): number => {
  let n = 0;
  for (const m of nft(['list', 'table', 'inet', 'knockc']).matchAll(/set (knockc_\w+) \{[^}]*?elements = \{([^}]*)\}/g)) if (!isRegistry(m[1]!)) n += m[2]!.split(',').filter((x) => x.trim()).length;
  return n;
};

await deploy(config(text));
// Live state: one attempt (stage 1) on every other door.
const tags = nft(['-j', 'list', 'set', 'inet', 'knockc', 'knockc_doorkey4']);
const doorTags = [...tags.matchAll(/"val": (\d+), "comment": "\[door(\d+)\]/g)].filter((m) => m[2] !== '0').map((m) => Number(m[1]));
const adds = doorTags.map((t, i) => `add element inet knockc knockc_armed4 { 10.${(i >> 8) & 255}.${i & 255}.1 . ${t} timeout 120s expires 110s }`);
nft(['-f', '-'], `${adds.join('\n')}\n`);
const before = elements();
const times: number[] = [];
for (let round = 1; round <= 3; round++) {
  const t0 = performance.now();
  await deploy(config(swapped(round)));
  times.push(performance.now() - t0);
}
const after = elements();
console.log(`swap at ${doors} doors: ${times.map((t) => `${Math.round(t)} ms`).join(', ')} (median ${Math.round(median(times))} ms); other doors' attempts: ${before} before, ${after} after`);
