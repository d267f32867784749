// dist/cli.js is one self-contained module that runs on every Node major package.json's engines
// claims (docs/install.md says why 18: Debian 12 and Ubuntu 24.04 ship it). Each major's
// official build comes from the npm registry (node-linux-<arch>, the binaries the `node` package
// installs), is kept in .lab-cache/node/, and runs the built CLI from a directory of its own
// (no node_modules, no package.json, no templates/ beside it) under the name /usr/bin/knockc has
// in the .deb; its output must be the same as under the Node running the tests.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, ensureBuilt, ROOT } from '../cli/built.js';

/** One tested release per major that engines claims, besides the Node running the tests. */
export const TESTED_NODES = ['18.19.1', '22.23.5', '24.22.3'] as const;

const CACHE = join(ROOT, '.lab-cache', 'node');

/** The official Node binary of `version` (downloaded once from the npm registry). */
export function nodeBinary(version: string): string {
  const pkg = `node-linux-${process.arch}`;
  const dir = join(CACHE, `${pkg}-${version}`);
  const bin = join(dir, 'package', 'bin', 'node');
  if (existsSync(bin)) return bin;
  mkdirSync(CACHE, { recursive: true });
  const tmp = mkdtempSync(join(CACHE, '.tmp-'));
  try {
    const tgz = execFileSync('npm', ['pack', '--silent', `${pkg}@${version}`, '--pack-destination', tmp], { encoding: 'utf8', cwd: tmp }).trim().split('\n').pop()!;
    execFileSync('tar', ['-xzf', join(tmp, tgz), '-C', tmp]);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return bin;
}

const FIXTURE = 'seed-fr-course-ftp-webmin-reboot.conf';
const RUNS: readonly (readonly string[])[] = [
  ['--version'],
  ['--help'],
  ...['compile', 'lint', 'explain', 'simulate', 'apply', 'remove', 'status', 'run'].map((c) => [c, '--help']),
  ['lint', FIXTURE],
  ['lint', '--format', 'json', FIXTURE],
  ['lint', 'seed-fr-course-ocr-damaged.conf'],
  ['compile', FIXTURE],
  ['compile', '-t', 'iptables', FIXTURE],
  ['compile', '-t', 'ir-json', FIXTURE],
  ['explain', FIXTURE],
  ['simulate', 'seed-fr-monitoring-opencloseSSH.conf', 'seed-fr-monitoring.trace'],
  ['nope'],
];

let dir = '';
beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'knockc-node-'));
  copyFileSync(CLI, join(dir, 'knockc.mjs'));
  symlinkSync('knockc.mjs', join(dir, 'knockc'));
  for (const f of [FIXTURE, 'seed-fr-course-ocr-damaged.conf', 'seed-fr-monitoring-opencloseSSH.conf']) copyFileSync(join(ROOT, 'fixtures', f), join(dir, f));
  copyFileSync(join(ROOT, 'fixtures', 'traces', 'seed-fr-monitoring.trace'), join(dir, 'seed-fr-monitoring.trace'));
  return () => rmSync(dir, { recursive: true, force: true });
});

const run = (node: string, args: readonly string[]) => {
  const r = spawnSync(node, [join(dir, 'knockc'), ...args], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, NO_COLOR: '1' }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('dist/cli.js alone, on every Node major engines claims', () => {
  it('engines names exactly the tested majors and the one running the tests', () => {
    const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    const majors = new Set([...TESTED_NODES.map((v) => v.split('.')[0]), process.versions.node.split('.')[0]]);
    expect(engines.split('||').map((s) => s.trim().replace(/^\^/, '').split('.')[0]).sort()).toEqual([...majors].sort());
    expect(engines).toContain(`^${TESTED_NODES[0]}`); // the oldest release tested is the floor
  });

  it('reads no file of the package: no node_modules, templates/ or package.json near it', () => {
    const text = readFileSync(CLI, 'utf8');
    expect(text).not.toMatch(/^import [^;]*from ["'](?!node:)/m); // no import of a package
    expect(text).not.toMatch(/require\(["'](chevrotain|commander|handlebars)/);
  });

  for (const version of TESTED_NODES) {
    it(`Node ${version}: the same output as Node ${process.versions.node}`, { timeout: 180_000 }, () => {
      const node = nodeBinary(version);
      expect(execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()).toBe(`v${version}`);
      for (const args of RUNS) {
        const here = run(process.execPath, args);
        const there = run(node, args);
        expect(there, `knockc ${args.join(' ')}`).toEqual(here);
        if (args[0] === '--version') expect(there.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
      }
    });
  }
});
