// What `npm pack` ships, and `npm install -g` of that tarball: only what runs (package.json,
// README.md, the bundled dist/cli.js), no dependency to fetch, and the installed knockc works.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from '../cli/built.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown> & { version: string };

let dir = '';
let tarball = '';
beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'knockc-pack-'));
  // --ignore-scripts: prepare (the build) has run already; the tarball is what is on disk.
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' }).trim();
  tarball = join(dir, out.split('\n').pop()!);
  return () => rmSync(dir, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships package.json, README.md and the one bundled module: no sources, tests, build tools or unbundled modules', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
    expect(files).toEqual(['package/README.md', 'package/dist/cli.js', 'package/package.json']);
  });

  it('declares no run-time dependency: the bundle carries them', () => {
    expect(pkg['dependencies']).toBeUndefined();
    expect(pkg['optionalDependencies']).toBeUndefined();
    expect(pkg['peerDependencies']).toBeUndefined();
    expect(pkg['bin']).toEqual({ knockc: 'dist/cli.js' });
  });

  it('npm install -g from the tarball gives a working knockc, offline', { timeout: 120_000 }, () => {
    const prefix = join(dir, 'prefix');
    const r = spawnSync('npm', ['install', '-g', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, tarball], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const installed = join(prefix, 'lib', 'node_modules', 'knockc');
    expect(existsSync(join(installed, 'node_modules'))).toBe(false);
    expect(readdirSync(installed).sort()).toEqual(['README.md', 'dist', 'package.json']);
    const bin = join(prefix, 'bin', 'knockc');
    const run = (args: string[]) => spawnSync(bin, args, { encoding: 'utf8', cwd: dir, env: { PATH: `${join(process.execPath, '..')}:/usr/bin:/bin` } });
    expect(run(['--version']).stdout.trim()).toBe(pkg.version);
    const lint = run(['lint', join(ROOT, 'fixtures/seed-fr-monitoring-opencloseSSH.conf')]);
    expect(lint.status, lint.stderr).toBe(0);
    expect(lint.stdout).toContain('[KC211]');
  });
});
