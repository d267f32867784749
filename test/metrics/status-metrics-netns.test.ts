// `knockc status --format openmetrics|prometheus` on rules really loaded (nft, and iptables
// through iptables-nft and iptables-legacy) in a scratch network namespace, after real knocks:
// a client namespace sends UDP datagrams over a veth pair (documentation addresses only). The
// values are read back with the official OpenMetrics parser and the 0.0.4 text is checked by
// promtool. Needs root, ip, nft, iptables; skipped otherwise, failed under CI=true.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ensureBuilt } from '../cli/built.js';
import { netnsReady, toolPath } from '../netns-env.js';
import { CommandCounter } from '../../src/runtime/command-counts.js';
import { oraclesReady, parseOpenMetrics, promtool, sampleValue, type ParsedFamily } from './oracles.js';

const ready = netnsReady('status metrics netns tests', ['ip', 'nft', 'iptables-nft-save', 'iptables-legacy-save']) && oraclesReady();
const IP = toolPath('ip')!;
const SRV = `knockc-om-s-${process.pid}`;
const CLT = `knockc-om-c-${process.pid}`;
const SERVER = '198.51.100.1';
const A = '198.51.100.2';
const B = '198.51.100.3';

// Three UDP knocks open tcp/22 for 30 s; a door whose name needs escaping beside it.
const CONF = `[options]
    interface = veth0
[openSSH]
    sequence        = 7000:udp,8000:udp,9000:udp
    seq_timeout     = 20
    start_command   = /usr/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
    start_command_6 = /usr/sbin/ip6tables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
    cmd_timeout     = 30
    stop_command    = /usr/sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
    stop_command_6  = /usr/sbin/ip6tables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT
[we"ird\\door #2]
    sequence        = 7100:udp,7200:udp
    seq_timeout     = 20
    start_command   = /usr/sbin/iptables -A INPUT -s %IP% -p tcp --dport 80 -j ACCEPT
    start_command_6 = /usr/sbin/ip6tables -A INPUT -s %IP% -p tcp --dport 80 -j ACCEPT
`;

const tmp = mkdtempSync(join(tmpdir(), 'knockc-om-'));
const conf = join(tmp, 'knockd.conf');
const stateDir = join(tmp, 'state');

function ns(name: string, argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(IP, ['netns', 'exec', name, ...argv], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const must = (args: string[]): void => {
  const r = spawnSync(IP, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
};
const knockc = (...args: string[]) => ns(SRV, [process.execPath, CLI, ...args]);

/** UDP datagrams from `src` to the server's `ports`, in order, 50 ms apart. */
function knock(src: string, ports: number[]): void {
  const js = `const d=require('dgram').createSocket('udp4');d.bind({address:${JSON.stringify(src)}},async()=>{for(const p of ${JSON.stringify(ports)}){await new Promise(r=>d.send('k',p,${JSON.stringify(SERVER)},r));await new Promise(r=>setTimeout(r,50));}d.close();});`;
  const r = ns(CLT, [process.execPath, '-e', js]);
  if (r.status !== 0) throw new Error(`knock: ${r.stderr}`);
}

function metrics(target: string[]): { om: ParsedFamily[]; text: string } {
  const om = knockc('status', ...target, '--state-dir', stateDir, '--pid-file', join(tmp, 'none.pid'), '--format', 'openmetrics');
  expect(om.status, om.stderr).toBe(0);
  expect(om.stderr).toBe('');
  const prom = knockc('status', ...target, '--state-dir', stateDir, '--pid-file', join(tmp, 'none.pid'), '--format', 'prometheus');
  expect(prom.status, prom.stderr).toBe(0);
  const checked = promtool(prom.stdout);
  expect(checked.said).toBe('');
  expect(checked.status).toBe(0);
  return { om: parseOpenMetrics(om.stdout), text: om.stdout };
}

describe.skipIf(!ready)('knockc status --format openmetrics on loaded rules (scratch network namespaces)', () => {
  beforeAll(() => {
    ensureBuilt();
    writeFileSync(conf, CONF);
    for (const n of [SRV, CLT]) spawnSync(IP, ['netns', 'del', n], { stdio: 'ignore' });
    must(['netns', 'add', SRV]);
    must(['netns', 'add', CLT]);
    must(['-n', SRV, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1', 'netns', CLT]);
    must(['-n', SRV, 'addr', 'add', `${SERVER}/24`, 'dev', 'veth0']);
    must(['-n', CLT, 'addr', 'add', `${A}/24`, 'dev', 'veth1']);
    must(['-n', CLT, 'addr', 'add', `${B}/24`, 'dev', 'veth1']);
    for (const [n, d] of [[SRV, 'veth0'], [CLT, 'veth1']] as const) {
      must(['-n', n, 'link', 'set', d, 'up']);
      must(['-n', n, 'link', 'set', 'lo', 'up']);
    }
    // knockc run's command counts, as it writes them (two commands, one failed).
    const c = new CommandCounter(join(stateDir, 'commands.json'), (m) => {
      throw new Error(m);
    });
    c.ended(0);
    c.ended(1);
  });
  afterAll(() => {
    for (const n of [SRV, CLT]) spawnSync(IP, ['netns', 'del', n], { stdio: 'ignore' });
    rmSync(tmp, { recursive: true, force: true });
  });

  // knockc picks the iptables whose INPUT chain holds rules: a user's rule there says which.
  // (iptables: IPv4 and IPv6 are two rule sets, family ip and ip6; the knocks are IPv4)
  const targets: Array<[string, string[], string, string | null, string]> = [
    ['nft', [], 'nft', null, 'inet'],
    ['iptables (iptables-nft)', ['--target', 'iptables'], 'iptables-nft', 'iptables-nft', 'ip'],
    ['iptables (iptables-legacy)', ['--target', 'iptables'], 'iptables-legacy', 'iptables-legacy', 'ip'],
  ];
  for (const [what, target, label, ipt, family] of targets) {
    it(`${what}: knocks per stage, completions, attempts, grants and set fill are the kernel's`, { timeout: 60_000 }, () => {
      const user = ['INPUT', '-s', '192.0.2.1/32', '-j', 'ACCEPT'];
      if (ipt) expect(ns(SRV, [ipt, '-A', ...user]).status).toBe(0);
      const a = knockc('apply', ...target, conf);
      expect(a.status, a.stderr).toBe(0);
      try {
        const before = metrics(target).om;
        expect(sampleValue(before, 'knockc_rules_loaded')).toBe(1);
        const door = { target: label, family, door: 'openSSH' };
        expect(sampleValue(before, 'knockc_knocks_total', { ...door, stage: '1' })).toBe(0);

        knock(A, [7000, 8000, 9000]); // A opens the door
        knock(B, [7000]); // B is mid-sequence at stage 1
        const { om, text } = metrics(target);
        expect(sampleValue(om, 'knockc_knocks_total', { ...door, stage: '1' }), text).toBe(2);
        expect(sampleValue(om, 'knockc_knocks_total', { ...door, stage: '2' })).toBe(1);
        expect(sampleValue(om, 'knockc_knocks_total', { ...door, stage: '3' })).toBe(1);
        expect(sampleValue(om, 'knockc_sequences_completed_total', door)).toBe(1);
        expect(sampleValue(om, 'knockc_sources_mid_sequence', { ...door, stage: '1' })).toBe(1);
        expect(sampleValue(om, 'knockc_sources_mid_sequence', { ...door, stage: '2' })).toBe(0);
        expect(sampleValue(om, 'knockc_grants_active', door)).toBe(1);
        // The other door: its name as the kernel comments carry it, untouched by knocks.
        const other = om.flatMap((f) => f.samples).find((s) => s.name === 'knockc_sequences_completed_total' && s.labels['door'] !== 'openSSH' && s.labels['target'] === label && s.labels['family'] === family);
        expect(other?.labels['door']).toMatch(/^we.ird.+door #2$/);
        expect(other?.value).toBe(0);
        // Set fill: the grant holds A; every set has a limit and is within it.
        const fills = om.flatMap((f) => f.samples).filter((s) => s.name === 'knockc_set_entries' && s.labels['target'] === label);
        const grant = fills.filter((s) => s.labels['role'] === 'grant' && s.value > 0);
        expect(grant.map((s) => s.value)).toEqual([1]);
        for (const s of fills) {
          const limit = sampleValue(om, 'knockc_set_limit', { target: label, family: s.labels['family']!, set: s.labels['set']! });
          expect(limit, s.labels['set']).toBeGreaterThan(0);
          expect(s.value).toBeLessThanOrEqual(limit!);
        }
        expect(sampleValue(om, 'knockc_runtime_commands_total')).toBe(2);
        expect(sampleValue(om, 'knockc_runtime_commands_failed_total')).toBe(1);
        expect(sampleValue(om, 'knockc_runtime_up')).toBe(0);
      } finally {
        const r = knockc('remove', ...target);
        if (ipt) ns(SRV, [ipt, '-D', ...user]);
        expect(r.status, r.stderr).toBe(0);
      }
    });
  }

  it('-o writes the file atomically (no temporary file left); nothing loaded is not an error', () => {
    const out = join(tmp, 'textfile', 'knockc.prom');
    spawnSync('mkdir', ['-p', join(tmp, 'textfile')]);
    const r = knockc('status', '--state-dir', stateDir, '--format', 'prometheus', '-o', out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(readdirSync(join(tmp, 'textfile'))).toEqual(['knockc.prom']);
    const text = readFileSync(out, 'utf8');
    expect(text).toMatch(/^knockc_rules_loaded 0$/m);
    expect(promtool(text).said).toBe('');
    const bad = knockc('status', '--format', 'prometheus', '-o', join(tmp, 'no', 'such', 'dir', 'k.prom'));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^knockc: cannot write .*k\.prom: no such directory\n$/);
    const usage = knockc('status', '-o', out);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('--output writes metrics');
    const both = knockc('status', '--json', '--format', 'openmetrics');
    expect(both.status).toBe(2);
    expect(both.stderr).toBe('knockc: --json and --format openmetrics ask for two outputs: give one\n');
  });
});
