// knockc apply / run with an interface that is not on the host: knockd would refuse to start;
// knockc warns, says what happens, and loads (the interface may appear later: knocks count from
// then on). A bad --interface changes nothing. The built CLI in a scratch network namespace
// (ip netns): nothing outside it is touched. Needs root, ip, nft and iptables-restore
// (failed under CI=true when missing).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { procNetDevNames } from '../../src/host/checks.js';
import { ensureBuilt } from '../cli/built.js';
import { netnsCli } from '../netns-cli.js';
import { netnsReady, toolPath } from '../netns-env.js';

const ready = netnsReady('interface warning netns tests', ['ip', 'nft', 'iptables-restore', 'iptables-save']);
const IP = toolPath('ip');

const NS = `knockc-if-${process.pid}`;
const tmp = mkdtempSync(join(tmpdir(), 'knockc-ifapply-'));

const { inNs, knockc, nft } = netnsCli(NS);
const write = (name: string, text: string): string => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};

/** Compiled entirely (no door needs the runtime): `knockc run` loads and exits. */
const config = (iface: string | null): string =>
  [
    '[options]',
    ...(iface ? [`    Interface = ${iface}`] : []),
    '[openSSH]',
    '    sequence = 7000,8000,9000',
    '    seq_timeout = 5',
    '    start_command = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
    '    cmd_timeout = 10',
    '    stop_command = /sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
    '',
  ].join('\n');

const warning = (name: string, verb: 'are' | 'would be', here: string): string =>
  `knockc: warning: interface: ${name} does not exist on this host (knockd would not start on it); the rules ${verb} loaded anyway, ` +
  `but no knock counts until ${name} appears (interfaces here: ${here})\n`;

describe('reading /proc/net/dev', () => {
  it('every interface, whatever its name', () => {
    const text = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0',
      'abcdefghijklmno: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16',
      '   a|b:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0',
      '',
    ].join('\n');
    expect(procNetDevNames(text)).toEqual(['lo', 'abcdefghijklmno', 'a|b']);
  });
});

describe.skipIf(!ready)('an interface missing on the host: apply and run warn and load (scratch network namespace)', () => {
  beforeAll(() => {
    ensureBuilt();
    spawnSync(IP!, ['netns', 'del', NS]);
    const r = spawnSync(IP!, ['netns', 'add', NS], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip netns add: ${r.stderr}`);
  });
  afterAll(() => {
    spawnSync(IP!, ['netns', 'del', NS]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('apply (nft): warns, says the rules load anyway, loads them; --dry-run says they would', () => {
    const file = write('absent.conf', config('kc-absent0'));
    const dry = knockc('apply', '--dry-run', file);
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stderr).toBe(warning('kc-absent0', 'would be', 'lo'));
    const r = knockc('apply', file);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe(warning('kc-absent0', 'are', 'lo'));
    // No firewall in the namespace: knockc's guard keeps the granted port closed (issue 16).
    expect(r.stdout).toMatch(/^knockc: host firewall: none \(/);
    expect(r.stdout).toMatch(/^knockc: loaded 1 door into table inet knockc/m);
    expect(nft('list', 'table', 'inet', 'knockc')).toContain('iifname "kc-absent0" fib daddr . iif type local');
  });

  it('--interface overrides Interface, and is the name checked', () => {
    const r = knockc('apply', '--interface', 'kc-other0', write('absent2.conf', config('kc-absent0')));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe(warning('kc-other0', 'are', 'lo'));
    expect(nft('list', 'table', 'inet', 'knockc')).toContain('iifname "kc-other0"');
  });

  it('once the interface exists, no warning', () => {
    expect(inNs([IP!, 'link', 'add', 'kc-absent0', 'type', 'veth', 'peer', 'name', 'kc-peer0']).status).toBe(0);
    const r = knockc('apply', join(tmp, 'absent.conf'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const none = knockc('apply', write('none.conf', config(null)));
    expect(none.stderr).toBe('');
  });

  it('apply --target iptables warns the same way', () => {
    const r = knockc('apply', '--target', 'iptables', write('absent3.conf', config('kc-gone0')));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(warning('kc-gone0', 'are', 'lo, kc-peer0, kc-absent0'));
    expect(r.stdout).toMatch(/knockc: loaded 1 door into iptables-/);
    const saved = inNs([toolPath('iptables-save')!]).stdout;
    expect(saved).toContain('-i kc-gone0 -m addrtype --dst-type LOCAL --limit-iface-in');
  });

  it('knockc run (which loads too) warns', () => {
    const file = write('absent4.conf', config('kc-later0'));
    const r = knockc('run', '--state-dir', tmp, '--pid-file', join(tmp, 'run.pid'), file);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(warning('kc-later0', 'are', 'lo, kc-peer0, kc-absent0'));
    expect(r.stderr).toContain('no door needs the runtime: the rules are loaded');
    expect(nft('list', 'table', 'inet', 'knockc')).toContain('iifname "kc-later0"');
  });

  it('a bad --interface: exit 2, nothing was changed', () => {
    const before = nft('list', 'ruleset');
    for (const v of ['eth0" accept #', '{{ network_interface }}', '']) {
      for (const extra of [[], ['--target', 'iptables']]) {
        const r = knockc('apply', ...extra, '--interface', v, join(tmp, 'absent.conf'));
        expect(r.status).toBe(2);
        expect(r.stderr).toMatch(/^knockc: --interface .*\nknockc: nothing was changed\n$/);
      }
      const run = knockc('run', '--interface', v, '--state-dir', tmp, join(tmp, 'absent.conf'));
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(/\nknockc: the rules were not loaded\n$/);
    }
    expect(nft('list', 'ruleset')).toBe(before);
  });
});
