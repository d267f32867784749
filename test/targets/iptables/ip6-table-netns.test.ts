// Issue 16: `knockc remove --target iptables` on an IPv4-only iptables-nft host takes out the
// `ip6 filter` table that knockc's own apply created (iptables-restore makes it), and leaves a
// table the host had. Scratch network namespace; needs root, ip, nft, iptables-nft.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, ensureBuilt } from '../../cli/built.js';
import { FIX } from '../live-helpers.js';
import { netnsReady, toolPath } from '../../netns-env.js';
import { emptyAcceptingFilter } from '../../../src/targets/iptables/host.js';

const ready = netnsReady('ip6 filter table netns test', ['ip', 'nft', 'iptables-nft']);
const IP = toolPath('ip');
const NS = `knockc-ip6t-${process.pid}`;
const CONF = join(FIX, 'two-doors.conf');

function inNs(argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(IP!, ['netns', 'exec', NS, ...argv], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const tables = (): string => inNs(['nft', 'list', 'tables']).stdout;

describe.skipIf(!ready)('the ip6 filter table knockc created (iptables-nft)', () => {
  afterEach(() => void spawnSync(IP!, ['netns', 'del', NS]));

  for (const hostHasIp6 of [false, true]) {
    it(hostHasIp6 ? 'a host that had an ip6 filter table keeps it' : 'an IPv4-only host: remove leaves no ip6 filter table', () => {
      ensureBuilt();
      spawnSync(IP!, ['netns', 'del', NS]);
      expect(spawnSync(IP!, ['netns', 'add', NS]).status).toBe(0);
      expect(inNs(['iptables-nft', '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'DROP']).status).toBe(0);
      if (hostHasIp6) expect(inNs(['ip6tables-nft', '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'DROP']).status).toBe(0);
      expect(tables().includes('table ip6 filter')).toBe(hostHasIp6);
      const a = inNs([process.execPath, CLI, 'apply', '--target', 'iptables', CONF]);
      expect(a.status, a.stderr).toBe(0);
      expect(tables()).toContain('table ip6 filter');
      const r = inNs([process.execPath, CLI, 'remove', '--target', 'iptables']);
      expect(r.status, r.stderr).toBe(0);
      expect(tables().includes('table ip6 filter')).toBe(hostHasIp6);
      expect(tables()).toContain('table ip filter');
    });
  }

  it('only a table with nothing but accepting built-in chains counts as empty', () => {
    expect(emptyAcceptingFilter('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [3:180]\nCOMMIT\n')).toBe(true);
    expect(emptyAcceptingFilter('*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n')).toBe(false);
    expect(emptyAcceptingFilter('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:mine - [0:0]\nCOMMIT\n')).toBe(false);
    expect(emptyAcceptingFilter('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n')).toBe(false);
    expect(emptyAcceptingFilter('')).toBe(false);
  });
});
