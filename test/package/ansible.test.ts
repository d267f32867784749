// examples/ansible/knockd.yml with the real ansible-playbook (Debian's ansible-core), connection
// local, into a temporary destination: the template task's `validate: knockc lint --strict %s`
// installs a good knockd.conf and refuses a bad one (an error, or only a warning: --strict),
// leaving the installed file exactly as it was.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../cli/built.js';
import { installKnockc, pathWith, requireTool } from './installed.js';

const have = requireTool('ansible-playbook', 'ansible-core');

describe.skipIf(!have)('Ansible: template with validate: knockc lint --strict %s', () => {
  let dir = '';
  let bin = '';
  let dest = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'knockc-ansible-'));
    bin = installKnockc(dir);
    dest = join(dir, 'etc', 'knockd.conf');
    return () => rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  const play = (doors?: unknown) => {
    const vars: Record<string, unknown> = { knock_hosts: 'all', knock_become: false, knockc_reload: false, knockd_conf: dest, ansible_python_interpreter: '/usr/bin/python3' };
    if (doors !== undefined) vars['knock_doors'] = doors;
    const r = spawnSync('ansible-playbook', ['-i', 'localhost,', '-c', 'local', '-e', JSON.stringify(vars), join(ROOT, 'examples/ansible/knockd.yml')], {
      encoding: 'utf8',
      timeout: 180_000,
      env: {
        PATH: pathWith(bin),
        HOME: dir,
        ANSIBLE_LOCAL_TEMP: join(dir, 'ansible-local'),
        ANSIBLE_REMOTE_TMP: join(dir, 'ansible-remote'),
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_RETRY_FILES_ENABLED: '0',
        LANG: 'C.UTF-8',
      },
    });
    return { ...r, out: r.stdout + r.stderr };
  };

  const door = (over: Record<string, unknown>) => [{ name: 'openSSH', sequence: ['7000:udp', '8000:tcp', '9000:udp'], seq_timeout: 5, port: 22, cmd_timeout: 30, ...over }];

  it('installs the example\'s knockd.conf: lint --strict finds nothing', { timeout: 180_000 }, () => {
    // The destination directory must exist, as /etc does.
    mkdirSync(join(dir, "etc"), { recursive: true });
    const r = play();
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/changed: \[localhost\]/);
    const text = readFileSync(dest, 'utf8');
    expect(text).toContain('sequence        = 7000:udp,8000:tcp,9000:udp');
    const lint = spawnSync(join(bin, 'knockc'), ['lint', '--strict', dest], { encoding: 'utf8', env: { PATH: pathWith(bin) } });
    expect(lint.status, lint.stdout + lint.stderr).toBe(0);
  });

  const refused: Array<[string, unknown, RegExp]> = [
    ['an error (port 80000)', door({ sequence: ['7000', '80000', '9000'] }), /port 80000 is invalid \(over 65535\) \[KC106\]/],
    ['a warning alone (a one-knock door: --strict)', door({ sequence: ['7000'] }), /warning: .*\[KC214\]/],
  ];
  for (const [what, doors, message] of refused) {
    it(`refuses ${what} and leaves the installed file untouched`, { timeout: 180_000 }, () => {
      const before = readFileSync(dest);
      const mtime = statSync(dest).mtimeMs;
      const r = play(doors);
      expect(r.status, r.out).toBe(2); // ansible-playbook: a host failed
      expect(r.out).toContain('failed to validate');
      expect(r.out).toMatch(message);
      expect(readFileSync(dest)).toEqual(before);
      expect(statSync(dest).mtimeMs).toBe(mtime);
    });
  }
});
