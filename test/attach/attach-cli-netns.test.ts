// knockc apply / remove --purge through the built CLI in a scratch network namespace
// (issue 16): the host firewall is found and named, --dry-run changes nothing and says what
// it would add, a mark someone else sets is refused with nothing changed, --mark moves the
// standing rule, --purge takes out exactly what apply added (nftables.conf byte-identical).
// Files go under KNOCKC_ETC (test/setup-env.ts), never this machine's /etc.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../cli/built.js';
import { netnsCli } from '../netns-cli.js';
import { fixture, FIX } from '../targets/live-helpers.js';
import { netnsReady, toolPath } from '../netns-env.js';

const ready = netnsReady('attach CLI netns tests', ['ip', 'nft']);
const IP = toolPath('ip');
const NS = `knockc-att-${process.pid}`;
const CONF = join(FIX, 'two-doors.conf');
const ETC = process.env['KNOCKC_ETC']!;

const HOST = `#!/usr/sbin/nft -f
flush ruleset
table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" accept
	}
}
`;

const { knockc, nft } = netnsCli(NS);
const conf = (): string => readFileSync(join(ETC, 'nftables.conf'), 'utf8');

describe.skipIf(!ready)('attaching to the host firewall (CLI, scratch network namespace)', () => {
  beforeAll(() => {
    ensureBuilt();
    expect(ETC).not.toBe('/etc');
    spawnSync(IP!, ['netns', 'del', NS]);
    expect(spawnSync(IP!, ['netns', 'add', NS]).status).toBe(0);
    mkdirSync(ETC, { recursive: true });
    writeFileSync(join(ETC, 'nftables.conf'), HOST);
    nft('-f', join(ETC, 'nftables.conf'));
    expect(fixture('two-doors.conf')).toContain('[openSSH]');
  });
  afterAll(() => {
    spawnSync(IP!, ['netns', 'del', NS]);
  });

  it('--dry-run names the firewall and what it would add, and changes nothing', () => {
    const before = nft('list', 'ruleset');
    const r = knockc('apply', '--dry-run', CONF);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('knockc: host firewall: nftables (nftables base chains drop incoming packets: inet filter input)\n');
    expect(r.stdout).toContain('knockc: would insert the standing rule at the top of chain inet filter input\n');
    expect(r.stdout).toContain(`knockc: would write ${ETC}/knockc/standing.nft and include it from ${ETC}/nftables.conf\n`);
    expect(nft('list', 'ruleset')).toBe(before);
    expect(conf()).toBe(HOST);
    expect(existsSync(join(ETC, 'knockc', 'standing.nft'))).toBe(false);
  });

  it('a mark someone else sets: refused, nothing changed; --mark picks free bits', () => {
    const mangle = 'table inet theirs {\n\tchain pre {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n\t\tmeta mark set meta mark | 0x01000000\n\t}\n}\n';
    writeFileSync(join(ETC, 'theirs.nft'), mangle);
    nft('-f', join(ETC, 'theirs.nft'));
    const before = nft('list', 'ruleset');
    const r = knockc('apply', CONF);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('the mark bits 0x01000000 are already used on this host:\n  table inet theirs chain pre: meta mark set meta mark | 0x01000000');
    expect(r.stderr).toMatch(/nothing was changed/);
    expect(nft('list', 'ruleset')).toBe(before);
    const ok = knockc('apply', '--mark', '0x02000000', CONF);
    expect(ok.status, ok.stderr).toBe(0);
    expect(nft('list', 'chain', 'inet', 'filter', 'input')).toContain('meta mark & 0x02000000 == 0x02000000 accept comment "knockc standing rule"');
    expect(nft('list', 'table', 'inet', 'knockc')).toContain('meta mark set meta mark | 0x02000000');
    expect(readFileSync(join(ETC, 'knockc', 'standing.nft'), 'utf8')).toContain('insert rule inet filter input meta mark & 0x02000000 == 0x02000000 accept');
    nft('delete', 'table', 'inet', 'theirs');
  });

  it('re-apply with the default mark replaces the standing rule; the saved nftables.conf still loads', () => {
    const r = knockc('apply', CONF);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('deleted the standing rule of another mark from chain inet filter input');
    const chain = nft('list', 'chain', 'inet', 'filter', 'input');
    expect(chain.match(/knockc standing rule/g)).toHaveLength(1);
    expect(chain).toContain('0x01000000');
    // What `systemctl reload nftables` does: the include brings the standing rule back with the user's rules.
    nft('-f', join(ETC, 'nftables.conf'));
    expect(nft('list', 'chain', 'inet', 'filter', 'input')).toContain('meta mark & 0x01000000 == 0x01000000 accept comment "knockc standing rule"');
  });

  it('remove keeps the standing rule (closed); remove --purge takes out exactly what apply added', () => {
    expect(knockc('apply', CONF).status).toBe(0);
    const r = knockc('remove');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('closed to everyone now');
    expect(nft('list', 'chain', 'inet', 'filter', 'input')).toContain('knockc standing rule');
    const p = knockc('remove', '--purge');
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout).toContain('deleted the standing rule from chain inet filter input');
    expect(conf()).toBe(HOST);
    expect(existsSync(join(ETC, 'knockc', 'standing.nft'))).toBe(false);
    expect(nft('list', 'ruleset')).not.toContain('knockc');
    expect(knockc('remove', '--purge').status).toBe(0);
  });

  it('--host-firewall none on this host: the guard instead (named by the flag); purge removes it', () => {
    const r = knockc('apply', '--host-firewall', 'none', CONF);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('knockc: host firewall: none (named by --host-firewall)\n');
    expect(nft('list', 'table', 'inet', 'knockc_guard')).toMatch(/tcp dport \{ 22, 2222 \} tcp flags syn \/ fin,syn,rst,ack counter packets \d+ bytes \d+ drop/);
    expect(existsSync(join(ETC, 'knockc', 'guard.nft'))).toBe(true);
    // Back to detection: the nftables host takes over, and the guard goes.
    const back = knockc('apply', CONF);
    expect(back.stdout).toContain('deleted table inet knockc_guard');
    expect(knockc('remove', '--purge').status).toBe(0);
    expect(conf()).toBe(HOST);
  });
});
