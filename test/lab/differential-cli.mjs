#!/usr/bin/env node
// npm run test:differential -- [--count N] [--seed S] [--labs L] [--scenario I[,J...]]
// Runs test/lab/differential.test.ts (the random knockd-vs-knockc scenarios) with
// more scenarios or a given seed. Each lab holds two lanes (knockd + every knockc
// target); scenarios run on the lanes in parallel.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const env = { ...process.env };
// A missing lab must fail here, not skip.
env.CI ??= 'true';
let labs = Number(env.KNOCKC_DIFF_LABS ?? 2);
const usage = () => {
  console.error('usage: npm run test:differential -- [--count N] [--seed S] [--labs L] [--scenario I[,J...]]');
  process.exit(2);
};
for (let i = 0; i < args.length; i++) {
  const [flag, inline] = args[i].split('=', 2);
  const value = () => inline ?? args[++i] ?? usage();
  switch (flag) {
    case '--count': env.KNOCKC_DIFF_COUNT = String(Number(value())); break;
    case '--seed': env.KNOCKC_SEED = value(); break;
    case '--labs': labs = Number(value()); env.KNOCKC_DIFF_LABS = String(labs); break;
    case '--scenario': env.KNOCKC_SCENARIO = value(); break;
    case '-h': case '--help': usage(); break;
    default: console.error(`unknown argument ${args[i]}`); usage();
  }
}
if (!Number.isInteger(labs) || labs < 1) usage();
const r = spawnSync(
  'npx',
  ['vitest', 'run', 'test/lab/differential.test.ts', '--maxConcurrency', String(labs * 2 + 1)],
  { stdio: 'inherit', env },
);
process.exit(r.status ?? 1);
