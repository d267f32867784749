// Issue 17 item 7: the messages a new user tripped over, with the built CLI in a scratch
// network namespace (nothing outside it is touched). "Non-root" is root without capabilities
// (setpriv), as the other tests do. Needs root, ip, setpriv and iptables; fails under CI=true.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsReady, toolPath } from '../netns-env.js';
import { CLI, ensureBuilt, withoutCaps } from './built.js';

const ready = netnsReady('knockc message netns tests', ['ip', 'nft', 'setpriv', 'iptables-nft-save', 'iptables-nft-restore']);
const IP = toolPath('ip');
const NS = `knockc-msg-${process.pid}`;
const tmp = mkdtempSync(join(tmpdir(), 'knockc-msg-'));
const CONF = join(tmp, 'door.conf');
writeFileSync(CONF, '[openSSH]\n\tsequence = 7000,8000,9000\n\tseq_timeout = 5\n\tcommand = /usr/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n\ttcpflags = syn\n');

interface Out {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The built CLI in the namespace; `user`: without any capability. */
function knockc(args: string[], user = false): Out {
  const argv = [IP!, 'netns', 'exec', NS, ...(user ? withoutCaps(['all']) : []), process.execPath, CLI, ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const count = (text: string, what: string): number => text.split(what).length - 1;

describe.skipIf(!ready)('issue 17 item 7: messages (scratch network namespace)', () => {
  beforeAll(() => {
    ensureBuilt();
    spawnSync(IP!, ['netns', 'add', NS]);
  });
  afterAll(() => {
    spawnSync(IP!, ['netns', 'del', NS]);
  });

  it('apply --target iptables without root says root is needed, and only that', () => {
    const r = knockc(['apply', '--target', 'iptables', CONF], true);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('error: privileges: loading firewall rules needs root (CAP_NET_ADMIN)');
    expect(r.stderr).not.toContain('neither iptables-nft nor iptables-legacy');
    expect(r.stderr).not.toContain('xt_recent');
    expect(r.stderr).not.toContain('ip_list_tot');
    expect(r.stderr).toMatch(/nothing was changed\n$/);
  });

  it('apply (nft) and remove without root say root is needed, and only that', () => {
    const a = knockc(['apply', CONF], true);
    expect(a.status).toBe(3);
    expect(a.stderr).toContain('loading firewall rules needs root');
    expect(a.stderr).not.toMatch(/nft not found|kernel/);
    for (const target of ['nft', 'iptables']) {
      const r = knockc(['remove', '--target', target], true);
      expect(r.status).toBe(3);
      expect(r.stderr).toBe('knockc: error: privileges: removing firewall rules needs root (CAP_NET_ADMIN): run knockc with sudo\nknockc: the host is not ready; nothing was changed\n');
    }
  });

  it('status without root says that it only reads, and what reading needs', () => {
    for (const target of ['nft', 'iptables']) {
      const r = knockc(['status', '--target', target], true);
      expect(r.status).toBe(3);
      expect(r.stderr).not.toContain('loading firewall rules');
      expect(r.stderr).toContain('status only reads, but the kernel lists its rules, sets and counters only to root (CAP_NET_ADMIN)');
      expect(r.stderr).not.toContain('xt_recent');
    }
  });

  it('the xt_recent capacity warning: once on apply, never on status or remove', () => {
    const a = knockc(['apply', '--target', 'iptables', CONF]);
    expect(a.status, a.stderr).toBe(0);
    // Once: the host check with the real ip_list_tot (the config-level KC406 is not repeated).
    expect(count(a.stderr, 'warning: xt_recent')).toBeLessThanOrEqual(1);
    expect(a.stderr).not.toContain('KC406');
    const s = knockc(['status', '--target', 'iptables']);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stderr).not.toContain('ip_list_tot');
    const r = knockc(['remove', '--target', 'iptables']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('ip_list_tot');
    // compile and lint still say KC406 (they cannot read the host).
    const c = knockc(['lint', '--target', 'iptables', CONF]);
    expect(c.stdout + c.stderr).toContain('KC406');
  });
});
