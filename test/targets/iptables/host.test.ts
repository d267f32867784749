// Preflight facts for --target iptables: which iptables holds the host's rules, xt_recent capacity.
import { describe, expect, it } from 'vitest';
import { chooseBackend, listCapacityCheck, preflightIptables, usage } from '../../../src/targets/iptables/preflight.js';
import { fakeRunner } from '../live-helpers.js';

const EMPTY = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n';
const FIREWALL = '*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp --dport 80 -j ACCEPT\nCOMMIT\n';
const DOCKER = '*nat\n:PREROUTING ACCEPT [0:0]\n:DOCKER - [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\nCOMMIT\n';

describe('which iptables the host uses', () => {
  it('counts rules, INPUT rules and DROP policies', () => {
    expect(usage(FIREWALL)).toEqual({ rules: 2, input: 2, policies: 1 });
    expect(usage(EMPTY)).toEqual({ rules: 0, input: 0, policies: 0 });
  });
  it('picks the only one that holds rules', () => {
    expect(chooseBackend({ nft: EMPTY, legacy: FIREWALL }, 'iptables v1.8.9 (nf_tables)').backend).toBe('legacy');
    expect(chooseBackend({ nft: FIREWALL, legacy: '' }, 'iptables v1.8.9 (legacy)').backend).toBe('nft');
  });
  it('warns when both hold rules, and picks the one whose INPUT is in use', () => {
    const c = chooseBackend({ nft: DOCKER, legacy: FIREWALL }, null);
    expect(c.backend).toBe('legacy');
    expect(c.checks[0]).toMatchObject({ level: 'warning', what: 'iptables' });
    expect(c.checks[0]!.message).toMatch(/both iptables-nft \(1 rule\(s\)\) and iptables-legacy \(2 rule\(s\), 1 DROP\/REJECT policy\) hold rules; using iptables-legacy/);
  });
  it('falls back to the distribution default, and fails when neither is installed', () => {
    expect(chooseBackend({ nft: EMPTY, legacy: '' }, 'iptables v1.8.9 (legacy)').backend).toBe('legacy');
    expect(chooseBackend({ nft: '', legacy: '' }, 'iptables v1.8.9 (nf_tables)').backend).toBe('nft');
    const none = chooseBackend({ nft: null, legacy: null }, null);
    expect(none.backend).toBeNull();
    expect(none.checks[0]!.level).toBe('error');
  });
});

describe('xt_recent capacity', () => {
  it('warns about the default of 100 and about a module not loaded yet', () => {
    expect(listCapacityCheck('100\n').level).toBe('warning');
    expect(listCapacityCheck('100\n').message).toContain("echo 'options xt_recent ip_list_tot=65535' > /etc/modprobe.d/knockc.conf");
    expect(listCapacityCheck(null).message).toMatch(/not loaded yet/);
    expect(listCapacityCheck('65535')).toEqual({ level: 'ok', what: 'xt_recent', message: 'ip_list_tot 65535' });
  });
});

describe('preflightIptables', () => {
  it('asks both variants in both families, then checks the restore tools and ip_list_tot', async () => {
    const run = fakeRunner((cmd) => {
      const c = cmd.join(' ');
      if (c === 'iptables-legacy-save') return { stdout: FIREWALL };
      if (c.endsWith('-save')) return { stdout: EMPTY };
      if (c === 'iptables --version') return { stdout: 'iptables v1.8.9 (nf_tables)\n' };
      if (c.endsWith('-restore --version')) return c.includes('ip6') ? undefined : { stdout: 'x' };
      if (c === 'cat /sys/module/xt_recent/parameters/ip_list_tot') return { stdout: '2000\n' };
      return undefined;
    });
    const r = await preflightIptables(run);
    expect(r.backend).toBe('legacy');
    expect(r.checks.map((c) => [c.what, c.level])).toEqual([
      ['iptables', 'ok'],
      ['ip6tables-legacy-restore', 'error'],
      ['xt_recent', 'ok'],
    ]);
  });
});
