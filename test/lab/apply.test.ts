/**
 * knockc apply / remove / status against a real kernel (the lab server's
 * network namespace), with real knocks from the `knock` client and real TCP
 * connects. knockc runs on the test host; its nft commands run in the
 * container (host-runner.ts).
 *
 * What this proves:
 *  - a re-apply of a CHANGED config (a door added in front, so every set is
 *    renamed; one door removed) keeps the grant and the attempt in progress of
 *    the unchanged door (IPv4 and IPv6): the attempt completes after the reload,
 *    the grant still opens the port and expires when it would have without
 *    the reload; the removed door's grant is gone;
 *  - a config that fails to load leaves the previous rules loaded and working,
 *    and the error names the config line;
 *  - apply twice == apply once (standalone and --into: one jump, same ruleset);
 *  - --dry-run does not touch the kernel;
 *  - remove leaves a pre-existing user table byte-identical (`nft list ruleset`),
 *    and is idempotent;
 *  - status reads attempts, grants and counters from the kernel.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { KnockdConfig } from '../../src/frontend/config.js';
import { parseConfigText } from '../../src/frontend/load.js';
import { compileNft, NFT_DEFAULTS } from '../../src/targets/nft/generate.js';
import { applyNft, removeNft, type NftApplyReport } from '../../src/targets/nft/apply.js';
import type { NftLocation } from '../../src/targets/nft/script.js';
import { readTable } from '../../src/targets/nft/live.js';
import { failed } from '../../src/host/checks.js';
import { preflightNft } from '../../src/targets/nft/preflight.js';
import { deploymentStatus } from '../../src/targets/nft/status.js';
import { describeLab, sleep, useLab } from './lab.js';
import { iptRule } from './doors.js';
import { labRunner } from './host-runner.js';

const OPEN_SSH = [
  '[openSSH]',
  '  sequence = 7000,8000:udp,9000',
  '  seq_timeout = 15',
  '  tcpflags = syn',
  `  start_command = ${iptRule('-A', 22)}`,
  `  start_command_6 = ${iptRule('-A', 22, true)}`,
  '  cmd_timeout = 9',
  `  stop_command = ${iptRule('-D', 22)}`,
  `  stop_command_6 = ${iptRule('-D', 22, true)}`,
  '',
].join('\n');
const WEB = ['[web]', '  sequence = 6000:udp', `  start_command = ${iptRule('-A', 2222)}`, '  cmd_timeout = 60', `  stop_command = ${iptRule('-D', 2222)}`, ''].join('\n');
const FIRST = [
  '[first]',
  '  sequence = 5000:udp,5001:udp',
  '  seq_timeout = 10',
  `  start_command = ${iptRule('-A', 2222)}`,
  '  cmd_timeout = 15',
  `  stop_command = ${iptRule('-D', 2222)}`,
  '',
].join('\n');
/** A: openSSH (d0) and web. */
const CONFIG_A = `${OPEN_SSH}\n${WEB}`;
/** B: a new door in front (openSSH becomes d1: every set name changes), web removed. */
const CONFIG_B = `${FIRST}\n${OPEN_SSH}`;
/** Fails to load: nft cannot hold these timeouts. */
const CONFIG_BAD = CONFIG_B.replace('cmd_timeout = 9', 'cmd_timeout = 2147483647');

const STANDALONE: NftLocation = { mode: 'standalone', family: 'inet', table: 'knockc' };
const INTO: NftLocation = { mode: 'into', family: 'inet', table: 'filter', chain: 'input', forwardChain: null };

/** The user's firewall for --into: new connections to 22 and 2222 dropped. */
const USER_TABLE = [
  'table inet filter {',
  '  set friends { type ipv4_addr; elements = { 192.0.2.1, 192.0.2.7 } }',
  '  chain input {',
  '    type filter hook input priority 0; policy accept;',
  '    ct state established,related accept',
  '    ip saddr @friends accept',
  '    tcp dport { 22, 2222 } drop',
  '  }',
  '  chain output { type filter hook output priority 0; policy accept; }',
  '}',
  'table ip user_nat {',
  '  chain post { type nat hook postrouting priority srcnat; policy accept; oifname "nothing0" masquerade; }',
  '}',
  '',
].join('\n');

function parse(text: string, file = 'knockd.conf'): KnockdConfig {
  const r = parseConfigText(text, { file });
  if (!r.config) throw new Error(`config does not parse: ${JSON.stringify(r.diagnostics)}`);
  return r.config;
}

/** Counters and remaining lifetimes tick: mask them to compare rulesets. */
const masked = (s: string): string => s.replace(/expires \S+?(?=[,\s}])/g, 'expires X').replace(/counter packets \d+ bytes \d+/g, 'counter');
/** ... and without the elements of knockc's sets (sources come and go, grants expire). */
const shape = (s: string): string => masked(s).replace(/(set knockc_[^{]*\{[^}]*?)\n\t\telements = \{[^}]*\}/g, '$1');

describeLab('knockc apply / remove / status in a real kernel', () => {
  const ctx = useLab({ clients: 2, name: 'apply' });
  const times: Record<string, number[]> = {};
  const note = (k: string, ms: number): void => void (times[k] ??= []).push(Math.round(ms));

  const apply = async (text: string, loc: NftLocation = STANDALONE, dryRun = false): Promise<NftApplyReport> => {
    const config = parse(text);
    const compiled = compileNft(config, { ...NFT_DEFAULTS, iface: 'eth0', into: loc.mode === 'into' ? loc : null, version: 'LAB', source: 'knockd.conf' });
    const t0 = performance.now();
    const r = await applyNft({ run: labRunner(ctx.lab.server), config, compiled, location: loc, maxSources: null, dryRun });
    note(`${dryRun ? 'dry-run' : 'apply'} ${loc.mode} (host, through docker exec)`, performance.now() - t0);
    note(`nft -f of the script (${loc.mode}, ${dryRun ? 'check' : 'load'}, in the container)`, r.ms.load);
    return r;
  };
  const ruleset = async (): Promise<string> => ctx.lab.server.nft(['list', 'ruleset']);
  const status = async (loc: { family: 'inet'; table: string; mode: 'standalone' | 'into' } = { family: 'inet', table: 'knockc', mode: 'standalone' }) => {
    const t = await readTable(labRunner(ctx.lab.server), loc.family, loc.table);
    if (!t) throw new Error('nothing loaded');
    return deploymentStatus(loc, t);
  };

  // Standalone doors mark their grants; the server's firewall (INPUT policy DROP, 22 and 2222
  // closed) accepts marked packets through knockc's standing rule, as after `knockc apply`.
  beforeAll(async () => {
    await ctx.lab.server.resetFirewall();
    await ctx.lab.server.setDefaultDropFirewall({ standing: true });
  });
  afterAll(() => {
    // Measured times, for the record (README / report).
    for (const [k, v] of Object.entries(times)) console.log(`[apply lab] ${k}: ${v.join(', ')} ms`);
  });

  test('preflight passes in the lab server (NET_ADMIN, nft, kernel)', async () => {
    const checks = await preflightNft(labRunner(ctx.lab.server), 'into');
    expect(failed(checks)).toEqual([]);
    expect(checks.map((c) => c.what)).toEqual(['privileges', 'nft', 'kernel']);
  });

  test('re-applying a changed config keeps live attempts and grants of unchanged doors; removed doors lose theirs', async () => {
    const { clients } = ctx.lab;
    const [c0, c1] = [clients[0]!, clients[1]!];
    const first = await apply(CONFIG_A);
    expect(first.ok, first.nftStderr).toBe(true);
    expect(first.diff.fresh).toBe(true);

    // c0: full sequence (grant tcp/22 for 9 s) and the web door (tcp/2222 for 60 s).
    await c0.knock(['7000', '8000:udp', '9000']);
    const grantedAt = Date.now();
    await c0.knock(['6000:udp']);
    // c1: two of three knocks, IPv4 and IPv6: mid-sequence.
    await c1.knock(['7000', '8000:udp']);
    await c1.knock(['7000', '8000:udp'], { family: 6 });
    expect(await c0.probe(22)).toBe('open');
    expect(await c0.probe(2222)).toBe('open');

    const before = await status();
    expect(before.doors.find((d) => d.name === 'openSSH')!.attempts.map((a) => [a.source, a.stage])).toEqual([
      [c1.ip4, 2],
      [c1.ip6, 2],
    ]);
    expect(before.grants.map((g) => [g.source, g.grant, g.doors])).toEqual([
      [c0.ip4, 'tcp/22', ['openSSH']],
      [c0.ip4, 'tcp/2222', ['web']],
    ]);
    expect(before.doors.find((d) => d.name === 'openSSH')!.counters).toEqual({ knocks: 7, openings: 1, resets: 0 });

    // Reload with config B: [first] in front (openSSH's door sets are all renamed d0 -> d1), [web] gone.
    const re = await apply(CONFIG_B);
    expect(re.ok, re.nftStderr).toBe(true);
    expect(re.diff.doors.map((d) => [d.door, d.change])).toEqual([
      ['first', 'new'],
      ['openSSH', 'kept'],
      ['web', 'removed'],
    ]);
    // (door state lives in the shared sets under the door's tag, which the reorder does not change)
    expect(re.carry.carried).toContainEqual(expect.objectContaining({ from: 'knockc_armed4', to: 'knockc_armed4_d1', count: 1 }));
    expect(re.carry.dropped.map((d) => d.name)).toEqual([expect.stringMatching(/^knockc_grant4_x\d+$/)]);

    // The grant of the unchanged door still opens; the removed door's grant is gone.
    expect(await c0.probe(22)).toBe('open');
    expect(await c0.probe(2222, { timeoutMs: 600 })).toBe('closed');
    // The attempts in progress complete after the reload, in both families.
    await c1.knock(['9000']);
    await c1.knock(['9000'], { family: 6 });
    expect(await c1.probe(22)).toBe('open');
    expect(await c1.probe(22, { family: 6 })).toBe('open');

    // The carried grant expires when it would have without the reload: 9 s after the opening.
    const after = await status();
    const g = after.grants.find((x) => x.source === c0.ip4 && x.grant === 'tcp/22')!;
    expect(g.doors).toEqual(['openSSH']);
    const expected = grantedAt + 9000 - Date.now();
    expect(Math.abs(g.expiresMs! - expected)).toBeLessThan(600);
    await sleep(Math.max(0, grantedAt + 9000 - 1500 - Date.now()));
    expect(await c0.probe(22)).toBe('open');
    // A carried element's time left runs from the kernel's commit: it may outlive by nft's load time.
    await sleep(Math.max(0, grantedAt + 9000 + re.ms.load + 400 - Date.now()));
    expect(await c0.probe(22, { timeoutMs: 800 })).toBe('closed');
  }, 90_000);

  test('a config that fails to load leaves the previous rules loaded and working; the error names the config line', async () => {
    const { server, clients } = ctx.lab;
    const c0 = clients[0]!;
    await server.resetFirewall();
    await server.setDefaultDropFirewall({ standing: true });
    expect((await apply(CONFIG_B)).ok).toBe(true);
    await c0.knock(['7000', '8000:udp', '9000']);
    const loaded = await ruleset();
    expect(loaded).toMatch(/elements = \{ [0-9.]+ \. \d+ timeout \d+s expires/);
    const bad = await apply(CONFIG_BAD);
    expect(bad.ok).toBe(false);
    const e = bad.errors.find((x) => x.door === 'openSSH')!;
    expect(e.message).toMatch(/value too large/);
    const line = CONFIG_BAD.split('\n').findIndex((l) => l.includes('cmd_timeout = 2147483647')) + 1;
    expect(e.where?.start.line).toBe(line);
    expect(masked(await ruleset())).toBe(masked(loaded));
    // Also with --dry-run: rejected, nothing touched.
    const dry = await apply(CONFIG_BAD, STANDALONE, true);
    expect(dry.ok).toBe(false);
    // (the grants of the previous test may have expired meanwhile: compare without elements)
    expect(shape(await ruleset())).toBe(shape(loaded));
    // The previous rules still work: the grant, and new knocks.
    expect(await c0.probe(22)).toBe('open');
    const c1 = clients[1]!;
    await c1.knock(['7000', '8000:udp', '9000'], { family: 6 });
    expect(await c1.probe(22, { family: 6 })).toBe('open');
  }, 60_000);

  test('apply twice == apply once; --dry-run changes nothing', async () => {
    await ctx.lab.server.resetFirewall();
    expect((await apply(CONFIG_A)).ok).toBe(true);
    const once = await ruleset();
    const again = await apply(CONFIG_A);
    expect(again.ok).toBe(true);
    expect(again.diff.doors.every((d) => d.change === 'kept' || d.change === 'reloaded')).toBe(true);
    expect(again.diff.objects).toEqual([]);
    expect(masked(await ruleset())).toBe(masked(once));
    const dry = await apply(CONFIG_B, STANDALONE, true);
    expect(dry.ok).toBe(true);
    expect(masked(await ruleset())).toBe(masked(once));
  }, 60_000);

  test('--into: one jump however often applied, grants accept through the user\'s drop, state kept across re-apply', async () => {
    const { server, clients } = ctx.lab;
    const c0 = clients[0]!;
    await server.resetFirewall();
    await server.writeFile('/tmp/knockc-lab/user.nft', USER_TABLE);
    await server.run(['nft', '-f', '/tmp/knockc-lab/user.nft']);
    expect(await c0.probe(22, { timeoutMs: 600 })).toBe('closed');
    expect((await apply(CONFIG_A, INTO)).ok).toBe(true);
    const once = await ruleset();
    await c0.knock(['7000', '8000:udp', '9000']);
    expect(await c0.probe(22)).toBe('open');
    const again = await apply(CONFIG_A, INTO);
    expect(again.ok, again.nftStderr).toBe(true);
    expect(again.carry.carried.some((c) => c.to === 'knockc_grant4_g0_t9' && c.count === 1)).toBe(true);
    const twice = await ruleset();
    expect((twice.match(/jump knockc_input/g) ?? []).length).toBe(1);
    expect(shape(twice)).toBe(shape(once));
    expect(twice).toContain('elements = { 192.0.2.1, 192.0.2.7 }');
    expect(await c0.probe(22)).toBe('open');
    const st = await status({ family: 'inet', table: 'filter', mode: 'into' });
    expect(st.grants.map((g) => [g.source, g.grant])).toEqual([[c0.ip4, 'tcp/22']]);
  }, 60_000);

  test('remove takes out exactly what knockc added: the user\'s tables stay byte-identical; idempotent', async () => {
    const { server } = ctx.lab;
    await server.resetFirewall();
    await server.writeFile('/tmp/knockc-lab/user.nft', USER_TABLE);
    await server.run(['nft', '-f', '/tmp/knockc-lab/user.nft']);
    const pristine = await ruleset();
    expect((await apply(CONFIG_A, INTO)).ok).toBe(true);
    expect((await apply(CONFIG_A)).ok).toBe(true);
    expect(await ruleset()).not.toBe(pristine);
    const run = labRunner(server);
    const t0 = performance.now();
    const r = await removeNft(run, null);
    note('remove (host, through docker exec)', performance.now() - t0);
    expect(r.ok, r.stderr).toBe(true);
    expect(r.removed.map((x) => `${x.where.family} ${x.where.table} ${x.where.mode}`).sort()).toEqual(['inet filter into', 'inet knockc standalone']);
    expect(await ruleset()).toBe(pristine);
    const again = await removeNft(run, null);
    expect(again).toMatchObject({ ok: true, removed: [] });
    expect(await ruleset()).toBe(pristine);
  }, 60_000);
});
