// A rule with a conntrack match turns connection tracking on for its whole network namespace,
// and then every packet pays for it. knockc's TCP guard tests the SYN flag instead, so a config
// that grants only TCP ports leaves conntrack as it was; a UDP grant needs `ct state new`.
// Real kernel, scratch network namespace; needs root, ip and nft (failed under CI=true).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/frontend/load.js';
import { compileNft, NFT_DEFAULTS } from '../../src/targets/nft/generate.js';
import { guardEntries, guardScript } from '../../src/attach/guard.js';
import { DEFAULT_MARK } from '../../src/model/mark.js';
import { planDoors } from '../../src/model/plan.js';
import { netnsReady, toolPath } from '../netns-env.js';

const ready = netnsReady('conntrack netns tests', ['ip', 'nft', 'bash']);
const IP = toolPath('ip');
const NFT = toolPath('nft');

const NS = `knockc-ct-${process.pid}`;
const tmp = mkdtempSync(join(tmpdir(), 'knockc-ct-'));

const door = (proto: 'tcp' | 'udp'): string =>
  [
    '[ssh]',
    'sequence = 7000,8000,9000',
    'seq_timeout = 5',
    `start_command = iptables -A INPUT -s %IP% -p ${proto} --dport 22 -j ACCEPT`,
    'cmd_timeout = 10',
    `stop_command = iptables -D INPUT -s %IP% -p ${proto} --dport 22 -j ACCEPT`,
    '',
  ].join('\n');

/** knockc's table and, as on a host without a firewall, its guard table (src/attach/guard.ts). */
function compiled(proto: 'tcp' | 'udp'): string {
  const r = parseConfigText(door(proto), { file: `${proto}.conf` });
  if (!r.config) throw new Error('config rejected');
  const tracking = compileNft(r.config, { ...NFT_DEFAULTS, version: 'TEST', source: `${proto}.conf` }).text;
  return `${tracking}\n${guardScript(guardEntries(planDoors(r.config)).entries, DEFAULT_MARK)}`;
}

function inNs(argv: string[]): string {
  const r = spawnSync(IP!, ['netns', 'exec', NS, ...argv], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Loads the rules into a fresh namespace, sends TCP and UDP to loopback, returns the conntrack entries counted. */
function conntrackAfterTraffic(rules: string): number {
  spawnSync(IP!, ['netns', 'del', NS]);
  const add = spawnSync(IP!, ['netns', 'add', NS], { encoding: 'utf8' });
  if (add.status !== 0) throw new Error(`ip netns add: ${add.stderr}`);
  inNs([IP!, 'link', 'set', 'lo', 'up']);
  const file = join(tmp, 'rules.nft');
  writeFileSync(file, rules);
  inNs([NFT!, '-f', file]);
  // A knock, a connection attempt to the guarded port, a datagram: each would be a conntrack entry.
  // The guard drops the SYN to port 22: each attempt gets a second, then gives up.
  inNs(['bash', '-c', 'for p in 7000 22 2222; do timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null; done; echo x > /dev/udp/127.0.0.1/5353; true']);
  // No such file: nf_conntrack is not even loaded, so nothing is tracked.
  const text = spawnSync(IP!, ['netns', 'exec', NS, 'cat', '/proc/sys/net/netfilter/nf_conntrack_count'], { encoding: 'utf8' });
  return text.status === 0 ? Number(text.stdout.trim()) : 0;
}

describe.skipIf(!ready)('the guard and connection tracking (real kernel, scratch network namespace)', () => {
  afterEach(() => {
    spawnSync(IP!, ['netns', 'del', NS]);
  });

  it('a TCP grant: no ct expression in the rules, and no connection is tracked in the namespace', () => {
    const text = compiled('tcp');
    expect(text).not.toMatch(/\bct /);
    expect(text).toContain('tcp dport 22 tcp flags & (fin|syn|rst|ack) == syn counter drop');
    expect(conntrackAfterTraffic(text)).toBe(0);
  });

  it('a UDP grant: the guard asks conntrack for new flows, which turns tracking on (the same traffic is tracked)', () => {
    const text = compiled('udp');
    expect(text).toContain('udp dport 22 ct state new counter drop');
    expect(conntrackAfterTraffic(text)).toBeGreaterThan(0);
  });
});
