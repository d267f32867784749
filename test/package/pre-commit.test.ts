// .pre-commit-hooks.yaml with the real pre-commit (Debian's), offline: a project whose
// .pre-commit-config.yaml names a local clone of this repository's hook, knockc installed on
// PATH (language: system). A bad knockd.conf fails the run with knockc's coded message; a
// good one passes; files the pattern does not name are not linted.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../cli/built.js';
import { installKnockc, pathWith, requireTool } from './installed.js';

const have = requireTool('pre-commit', 'pre-commit') && requireTool('git', 'git');

const BAD = '[openSSH]\n    sequence      = 7000,80000,9000\n    start_command = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n';

describe.skipIf(!have)('pre-commit hook knockc-lint (.pre-commit-hooks.yaml)', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  let project = '';
  const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, env, encoding: 'utf8' });
  const preCommit = (...args: string[]) => spawnSync('pre-commit', args, { cwd: project, env, encoding: 'utf8', timeout: 120_000 });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'knockc-pre-commit-'));
    const bin = installKnockc(dir);
    env = {
      PATH: pathWith(bin),
      HOME: dir,
      PRE_COMMIT_HOME: join(dir, 'cache'),
      GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.org', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.org',
      GIT_CONFIG_NOSYSTEM: '1',
    };
    // The hook repository as users reference it: a git repository with .pre-commit-hooks.yaml at its root.
    const hooks = join(dir, 'hooks');
    mkdirSync(hooks);
    git(hooks, 'init', '-q');
    copyFileSync(join(ROOT, '.pre-commit-hooks.yaml'), join(hooks, '.pre-commit-hooks.yaml'));
    git(hooks, 'add', '.pre-commit-hooks.yaml');
    git(hooks, 'commit', '-q', '-m', 'hooks');
    const rev = git(hooks, 'rev-parse', 'HEAD').trim();

    project = join(dir, 'project');
    mkdirSync(join(project, 'etc'), { recursive: true });
    git(project, 'init', '-q');
    writeFileSync(join(project, '.pre-commit-config.yaml'), `repos:\n  - repo: ${hooks}\n    rev: ${rev}\n    hooks:\n      - id: knockc-lint\n`);
    copyFileSync(join(ROOT, 'fixtures/seed-fr-monitoring-opencloseSSH.conf'), join(project, 'etc/knockd.conf'));
    // Not named knockd.conf: the hook's files pattern leaves it alone, bad as it is.
    writeFileSync(join(project, 'etc/notes.conf'), BAD);
    git(project, 'add', '.');
    return () => rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('the manifest is valid for pre-commit', () => {
    const r = spawnSync('pre-commit', ['validate-manifest', join(ROOT, '.pre-commit-hooks.yaml')], { env, encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('passes a good knockd.conf and leaves other .conf files alone', { timeout: 120_000 }, () => {
    const r = preCommit('run', '--all-files');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^knockc lint\.+Passed$/m);
  });

  it('pre-commit try-repo on this checkout runs the same hook', { timeout: 120_000 }, () => {
    // try-repo clones the checkout (uncommitted changes included): the manifest as it is here.
    const r = preCommit('try-repo', ROOT, 'knockc-lint', '--all-files');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^knockc lint\.+Passed$/m);
  });

  it('fails on a bad knockd.conf with knockc\'s coded message', { timeout: 120_000 }, () => {
    mkdirSync(join(project, 'bad'), { recursive: true });
    writeFileSync(join(project, 'bad/knockd.conf'), BAD);
    git(project, 'add', 'bad/knockd.conf');
    try {
      const r = preCommit('run', '--all-files');
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/^knockc lint\.+Failed$/m);
      expect(r.stdout).toContain('- exit code: 1');
      expect(r.stdout).toContain('bad/knockd.conf:2:26: error: section openSSH: port 80000 is invalid (over 65535) [KC106]');
      expect(r.stdout).not.toContain('notes.conf');
      // Only the bad file fails: the good one is linted in the same run without a finding.
      expect(r.stdout).toContain('2 file(s): 1 error(s)');
    } finally {
      git(project, 'rm', '-q', '--cached', 'bad/knockd.conf');
      rmSync(join(project, 'bad'), { recursive: true, force: true });
    }
  });
});
