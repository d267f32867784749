// The built CLI (dist/cli.js) of apply / remove / status against the host's
// kernel, inside a scratch network namespace (nothing outside it is touched):
// messages, exit codes, dry-run, state carried over, errors naming the config
// line, remove leaving a user table byte-identical. Needs root and `ip`;
// skipped otherwise (failed under CI=true). Packet-level behaviour is proven
// in the Docker lab (test/lab/apply.test.ts).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ensureBuilt, withoutCaps } from '../../cli/built.js';
import { compile, config, fixture, FIX } from '../live-helpers.js';
import { netnsCli } from '../../netns-cli.js';
import { netnsReady, toolPath } from '../../netns-env.js';

const ready = netnsReady('CLI netns tests', ['ip', 'nft']);
const IP = toolPath('ip');

const NS = `knockc-cli-${process.pid}`;
const CONF = join(FIX, 'two-doors.conf');
const tmp = mkdtempSync(join(tmpdir(), 'knockc-apply-'));

const { inNs, knockc, nft } = netnsCli(NS);
const write = (name: string, text: string): string => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};

const USER = 'table inet filter {\n\tset friends {\n\t\ttype ipv4_addr\n\t\telements = { 192.0.2.1 }\n\t}\n\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tip saddr @friends accept\n\t\ttcp dport 22 drop\n\t}\n}\n';

describe.skipIf(!ready)('knockc apply / remove / status (CLI, scratch network namespace)', () => {
  beforeAll(() => {
    ensureBuilt();
    spawnSync(IP!, ['netns', 'del', NS]);
    const r = spawnSync(IP!, ['netns', 'add', NS], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip netns add: ${r.stderr}`);
    nft('-f', write('user.nft', USER));
  });
  afterAll(() => {
    spawnSync(IP!, ['netns', 'del', NS]);
  });

  it('apply loads the doors; status shows them; --json is stable', () => {
    const r = knockc('apply', CONF);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // The user's table drops tcp/22: knockc attaches its standing rule there (issue 16); this
    // namespace test has no nftables.conf of its own (KNOCKC_ETC, test/setup-env.ts).
    expect(r.stdout).toBe(
      'knockc: host firewall: nftables (nftables base chains drop incoming packets: inet filter input)\n' +
        'knockc: loaded 2 doors into table inet knockc (one nft transaction, ' + /\d+ ms/.exec(r.stdout)![0] + ')\n' +
        'knockc: inserted the standing rule at the top of chain inet filter input\n' +
        `knockc: note: ${process.env['KNOCKC_ETC']}/nftables.conf does not exist: the standing rule is not saved; knockc.service attaches it again at boot\n`,
    );
    expect(nft('list', 'chain', 'inet', 'filter', 'input')).toContain('meta mark & 0x01000000 == 0x01000000 accept comment "knockc standing rule"');
    const s = knockc('status');
    expect(s.status).toBe(0);
    expect(s.stdout).not.toMatch(/\x1b\[/);
    expect(s.stdout).toMatch(/^DOOR +LINE +SEQUENCE +MID-SEQUENCE +GRANTED +KNOCKS +OPENINGS +RESETS$/m);
    expect(s.stdout).toMatch(/^openSSH +3 +3 knocks +0 +0 +0 +0 +0$/m);
    const j = JSON.parse(knockc('status', '--json').stdout) as { version: number; deployments: Array<{ table: string; doors: Array<{ name: string }> }> };
    expect(j.version).toBe(1);
    expect(j.deployments.map((d) => [d.table, d.doors.map((x) => x.name)])).toEqual([['knockc', ['openSSH', 'web']]]);
  });

  it('re-apply of a reordered config carries a grant and an attempt over, with their time left', () => {
    const grantTag = compile(config()).program.sets.find((s) => s.name === 'knockc_grant4_g0_t30')!.store!.tag;
    nft('add', 'element', 'inet', 'knockc', 'knockc_grant4', `{ 198.51.100.9 . ${grantTag} timeout 30s expires 20s }`);
    const added = Date.now();
    // (longer than the door's seq_timeout, so that a slow machine cannot let it expire mid-test;
    // an element's own timeout is carried over too)
    // openSSH's attempt: in the shared sets, under its tag.
    const tag = compile(config()).program.sets.find((s) => s.name === 'knockc_armed4_d0')!.store!.tag;
    nft('add', 'element', 'inet', 'knockc', 'knockc_armed4', `{ 198.51.100.7 . ${tag} timeout 30s expires 25s }`);
    nft('add', 'element', 'inet', 'knockc', 'knockc_stage4_1', `{ 198.51.100.7 . ${tag} timeout 30s expires 25s }`);
    const text = fixture('two-doors.conf');
    const [head, web] = text.split('[web]');
    const dry = knockc('apply', '--dry-run', write('reordered.conf', `[web]${web}\n${head}`));
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain('= [openSSH] line 9: unchanged, 1 attempt in progress kept');
    expect(dry.stdout).toContain('= tcp/22 (IPv4, 30 s): kept, 1 source keeps it');
    // Door state and grants stay in the same shared sets, under the same tags: only the door's chain is renamed.
    expect(dry.stdout).toContain('objects: sets +0 -0 ~0 >0 =8, chains +2 -2 =19');
    expect(dry.stdout).toContain('+ chain knockc_door4_d1');
    expect(dry.stdout).toMatch(/dry run: nft -c accepts these rules/);
    expect(nft('list', 'set', 'inet', 'knockc', 'knockc_armed4')).toContain(`198.51.100.7 . ${tag}`);
    const r = knockc('apply', join(tmp, 'reordered.conf'));
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('knockc: live state: 1 attempt in progress, 1 grant kept\n');
    // openSSH is door 1 now: its chain is knockc_door4_d1; its tag is the same.
    expect(nft('list', 'set', 'inet', 'knockc', 'knockc_armed4')).toMatch(new RegExp(`198\\.51\\.100\\.7 \\. ${tag} timeout 30s expires (1\\d|2[0-4])s`));
    expect(nft('list', 'chain', 'inet', 'knockc', 'knockc_door4_d1')).toContain(`offset ${tag} `);
    const j = JSON.parse(knockc('status', '--json').stdout) as { deployments: Array<{ doors: Array<{ name: string; attempts: Array<{ source: string; stage: number }> }>; grants: Array<{ source: string; expiresMs: number }> }> };
    expect(j.deployments[0]!.doors.find((d) => d.name === 'openSSH')!.attempts).toEqual([{ source: '198.51.100.7', stage: 1, expiresMs: expect.any(Number) }]);
    const g = j.deployments[0]!.grants.find((x) => x.source === '198.51.100.9')!;
    // Carried with the time it had left: it expires when it would have without the reload.
    const left = 20_000 - (Date.now() - added);
    expect(Math.abs(g.expiresMs - left)).toBeLessThan(1000);
  });

  it('a config nft rejects: the error names the config line, the kernel is unchanged, exit 1', () => {
    // Remaining lifetimes tick and short ones expire meanwhile: compare without knockc's elements.
    const shape = (t: string): string => t.replace(/(set knockc_[^{]*\{[^}]*?)\n\t\telements = \{[^}]*\}/g, '$1');
    const before = shape(nft('list', 'ruleset'));
    const bad = write('bad.conf', fixture('two-doors.conf').replace('cmd_timeout   = 30', 'cmd_timeout   = 2147483647'));
    for (const extra of [[], ['--dry-run']]) {
      const r = knockc('apply', ...extra, bad);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`${bad}:9:18: error: [openSSH] nft rejects the rules: value too large`);
      expect(r.stderr).toMatch(/nothing was changed\n$/);
      expect(shape(nft('list', 'ruleset'))).toBe(before);
    }
  });

  it('refuses, with a clear message, what it must not touch', () => {
    const notMine = knockc('apply', '--table', 'filter', CONF);
    expect(notMine.status).toBe(1);
    expect(notMine.stderr).toMatch(/table inet filter exists and is not knockc's/);
    const noChain = knockc('apply', '--into', 'inet filter', '--chain', 'nope', CONF);
    expect(noChain.status).toBe(1);
    expect(noChain.stderr).toContain('--into: table inet filter has no chain "nope" (your chains: input)');
    const ipt = knockc('apply', '--target', 'iptables', '--into', 'inet filter', CONF);
    expect(ipt.status).toBe(2);
    expect(ipt.stderr).toMatch(/--into is for --target nft/);
    const usage = knockc('apply', '--table', 'x', '--into', 'inet filter', CONF);
    expect(usage.status).toBe(2);
  });

  it('--into twice keeps one jump; remove takes out both deployments, leaves the user table byte-identical, and is idempotent', () => {
    nft('delete', 'table', 'inet', 'knockc');
    const pristine = nft('list', 'ruleset');
    expect(knockc('apply', '--into', 'inet filter', CONF).status).toBe(0);
    const r = knockc('apply', '--into', 'inet filter', CONF);
    expect(r.status).toBe(0);
    expect(nft('list', 'chain', 'inet', 'filter', 'input').match(/jump knockc_input/g)).toHaveLength(1);
    expect(knockc('apply', CONF).stderr).toContain('knockc rules are also loaded in table inet filter (--into)');
    const st = knockc('status');
    expect(st.stderr).toBe('');
    expect(st.stdout).toContain('knockc in table inet filter (--into)');
    expect(st.stdout).toContain('knockc in table inet knockc');
    const rm = knockc('remove');
    expect(rm.status).toBe(0);
    expect(rm.stdout).toBe('knockc: removed from table inet filter: 22 knockc chain(s), 12 set(s), 1 jump(s)\nknockc: removed table inet knockc\n');
    expect(nft('list', 'ruleset')).toBe(pristine);
    const again = knockc('remove');
    expect(again).toEqual({ status: 0, stdout: 'knockc: nothing to remove (no knockc rules are loaded)\n', stderr: '' });
    const none = knockc('status');
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('no knockc rules are loaded');
  });

  it('without CAP_NET_ADMIN: a clear message, exit 3, nothing attempted', () => {
    const r = inNs([...withoutCaps(['net_admin']), process.execPath, CLI, 'apply', CONF]);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('knockc: error: privileges: loading firewall rules needs root (CAP_NET_ADMIN): run knockc with sudo');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
