// knockc installed as the README's "Install on a server" says for a machine without the .deb:
// `npm pack`, then `npm install -g` of the tarball (here into a private prefix, offline). The
// integration tests (pre-commit, Ansible, the GitHub action's lint step) run that knockc from
// PATH, as the integrations do.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureBuilt, ROOT } from '../cli/built.js';
import { isCI } from '../lab/docker-image.js';

export const CI = isCI();

/** Whether `cmd` runs (`cmd args` exits 0). */
export function available(cmd: string, args: readonly string[] = ['--version']): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

/** Fails (under CI) or tells to skip (locally) when a program a test needs is missing. */
export function requireTool(cmd: string, pkg: string, args: readonly string[] = ['--version']): boolean {
  if (available(cmd, args)) return true;
  if (CI) throw new Error(`${cmd} not found under CI=true: install the Debian package ${pkg} (.ci/run does)`);
  return false;
}

/** Installs knockc into `dir`/prefix; returns the directory holding the `knockc` command. */
export function installKnockc(dir: string): string {
  ensureBuilt();
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' }).trim();
  const tarball = join(dir, out.split('\n').pop()!);
  const prefix = join(dir, 'prefix');
  execFileSync('npm', ['install', '-g', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, tarball], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  return join(prefix, 'bin');
}

/** PATH with the installed knockc first, then node and the system's programs. */
export const pathWith = (bin: string): string => `${bin}:${join(process.execPath, '..')}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;
