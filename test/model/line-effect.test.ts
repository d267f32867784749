// What a whole command line does for a knocker of each family: the defects of issue 14 as
// named cases (each was a grant broader than what sh and the real tool do), and the rules of
// the shell's control flow. The real programs check the same lines in test/differential/.
import { describe, expect, it } from 'vitest';
import { analyseCommand, lineEffect, type LineEffect } from '../../src/model/commands.js';
import type { Family } from '../../src/model/grant.js';
import { parseConfigText } from '../../src/frontend/load.js';
import { planDoors } from '../../src/model/plan.js';
import { explainText } from '../../src/explain/explain.js';

const rule = (port: number, chain = 'INPUT', tool = 'iptables'): string => `${tool} -s %IP% -p tcp --dport ${port} -j ACCEPT`.replace(tool, `${tool} -A ${chain}`);
const add = (port: number, tool = 'iptables'): string => `${tool} -I INPUT -s %IP% -p tcp --dport ${port} -j ACCEPT`;
const del = (port: number, tool = 'iptables'): string => `${tool} -D INPUT -s %IP% -p tcp --dport ${port} -j ACCEPT`;

/** The effect in short: 'open 22', 'revoke 23', 'nothing', or 'runtime KC407'. */
function short(e: LineEffect): string {
  if (e.kind === 'empty') return 'empty';
  if (e.kind === 'runtime') return `runtime ${e.code}`;
  if (e.effects.length === 0) return 'nothing';
  return e.effects.map((x) => `${x.effect} ${/dport=(\S+)/.exec(x.key)?.[1]}`).join(', ');
}
const both = (line: string): Record<Family, string> => ({ ip: short(lineEffect(line, 'ip')), ip6: short(lineEffect(line, 'ip6')) });

describe('issue 14 item 1: the shell control flow, per family', () => {
  it('`iptables ... && ip6tables ...` opens nothing for an IPv6 knocker (iptables fails, ip6tables never runs)', () => {
    const line = `/usr/sbin/iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT && /usr/sbin/ip6tables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT`;
    expect(both(line)).toEqual({ ip: 'open 22', ip6: 'nothing' });
  });

  it('`iptables ... || ip6tables ...` opens for both: the second runs exactly when the first failed', () => {
    expect(both(`${add(22)} || ${add(22, 'ip6tables')}`)).toEqual({ ip: 'open 22', ip6: 'open 22' });
  });

  it('`iptables ... ; ip6tables ...` opens for both', () => {
    expect(both(`${add(22)} ; ${add(22, 'ip6tables')}`)).toEqual({ ip: 'open 22', ip6: 'open 22' });
  });

  it('`-D 23 && -A 80`: whether 80 opens depends on the kernel holding 23: runtime, never an unconditional grant', () => {
    expect(both(`${del(23)} && ${rule(80)}`)).toEqual({ ip: 'runtime KC407', ip6: 'nothing' });
  });

  it('`-D 23 || -A 80`: likewise', () => {
    expect(both(`${del(23)} || ${rule(80)}`)).toEqual({ ip: 'runtime KC407', ip6: 'nothing' });
  });

  it('`-A 80 && -D 23`: the add always succeeds, so the delete always runs', () => {
    expect(both(`${rule(80)} && ${del(23)}`)).toEqual({ ip: 'open 80, revoke 23', ip6: 'nothing' });
  });

  it('`-A 80 || -A 81`: 81 never runs', () => {
    expect(both(`${rule(80)} || ${rule(81)}`)).toEqual({ ip: 'open 80', ip6: 'nothing' });
  });

  it('a command skipped by && keeps the status for the next ||', () => {
    // ip6: the iptables command fails, && skips ip6tables(80), || runs ip6tables(81).
    expect(both(`${rule(22)} && ${rule(80, 'INPUT', 'ip6tables')} || ${rule(81, 'INPUT', 'ip6tables')}`)).toEqual({ ip: 'open 22', ip6: 'open 81' });
  });

  it('a newline after && or || continues the list', () => {
    expect(both(`${add(22)} &&\n${add(22, 'ip6tables')}`)).toEqual({ ip: 'open 22', ip6: 'nothing' });
    expect(both(`${add(22)} ||\n${add(22, 'ip6tables')}`)).toEqual({ ip: 'open 22', ip6: 'open 22' });
  });

  it('ufw deletes succeed whether or not the rule exists, so && after them is decided', () => {
    const u = (op: string, p: number): string => `ufw ${op} allow from %IP% to any port ${p} proto tcp`;
    expect(both(`${u('delete', 23)} && ${u('', 80).replace('  ', ' ')}`)).toEqual({ ip: 'revoke 23, open 80', ip6: 'revoke 23, open 80' });
  });

  it('the same rule through two stores that may or may not be one (iptables, iptables-legacy) goes to the runtime', () => {
    expect(both(`${add(22)}; ${del(22, 'iptables-legacy')}`)).toEqual({ ip: 'runtime KC407', ip6: 'nothing' });
  });
});

describe('issue 14 item 3: order inside one line', () => {
  it('`-I 22; -D 22` ends as it started: nothing opens', () => {
    expect(both(`${add(22)}; ${del(22)}`)).toEqual({ ip: 'nothing', ip6: 'nothing' });
  });

  it('`-D 22; -I 22` ends open', () => {
    expect(both(`${del(22)}; ${add(22)}`)).toEqual({ ip: 'open 22', ip6: 'nothing' });
  });

  it('`-D 22; -D 22 || -A 80`: 80 opens only if 22 had fewer than two copies: runtime', () => {
    expect(both(`${del(22)}; ${del(22)} || ${rule(80)}`).ip).toBe('runtime KC407');
  });

  it('a door whose start adds then deletes the same rule is explained as opening nothing', () => {
    const conf = `[d]\nsequence = 7000,8000,9000\nstart_command = ${add(22)}; ${del(22)}\n`;
    const loaded = parseConfigText(conf, { file: 'x.conf' });
    const [plan] = planDoors(loaded.config);
    expect(plan?.families.ip).toEqual({ kind: 'nothing', why: 'the start command changes no rule for this family' });
    expect(explainText(loaded.config)).not.toMatch(/opens tcp port 22/);
  });
});

describe('issue 14 item 2: --option=value exactly where iptables reads it', () => {
  // Accepted by iptables 1.8.9 (nft and legacy).
  it.each([
    `iptables -A INPUT -s %IP% -p tcp --dport=22 -j ACCEPT`,
    `iptables -A INPUT -s %IP% -p tcp -m multiport --dports=22,80 -j ACCEPT`,
    `iptables -A INPUT -s %IP% -m state --state=NEW -j ACCEPT`,
    `iptables -A INPUT -s %IP% -m conntrack --ctstate=NEW -j ACCEPT`,
    `iptables -A INPUT -s %IP% -p tcp --tcp-flags=SYN,RST,ACK,FIN SYN -j ACCEPT`,
    `iptables --table=filter -A INPUT -s %IP% -j ACCEPT`,
    `iptables --wait=5 -A INPUT -s %IP% -j ACCEPT`,
    `iptables -A INPUT -s %IP% -p tcp --match=tcp --dport 22 -j ACCEPT`,
    `iptables --append=INPUT -s %IP% -j ACCEPT`,
  ])('compiled: %s', (line) => {
    expect(lineEffect(line, 'ip').kind).toBe('effects');
    expect(short(lineEffect(line, 'ip'))).toMatch(/^open /);
  });

  // Rejected by iptables 1.8.9: it reads the whole word as the value and fails.
  it.each([
    [`iptables -A INPUT --source=%IP% -p tcp --dport 22 -j ACCEPT`, '--source=%IP%'],
    [`iptables -A INPUT -s %IP% --protocol=tcp --dport 22 -j ACCEPT`, '--protocol=tcp'],
    [`iptables -A INPUT -s %IP% -p tcp --dport 22 --jump=ACCEPT`, '--jump=ACCEPT'],
    [`iptables -A INPUT -s %IP% --destination=203.0.113.1 -j ACCEPT`, '--destination=203.0.113.1'],
    [`iptables -A INPUT -s %IP% --in-interface=eth0 -j ACCEPT`, '--in-interface=eth0'],
    [`iptables -A INPUT --src=%IP% -j ACCEPT`, '--src=%IP%'],
    [`iptables -A INPUT -s %IP% --dst=203.0.113.1 -j ACCEPT`, '--dst=203.0.113.1'],
  ])('never a grant: %s', (line, token) => {
    for (const f of ['ip', 'ip6'] as const) {
      expect(lineEffect(line, f)).toEqual({ kind: 'runtime', code: 'KC401', token, offset: line.indexOf(token), reason: expect.stringContaining('does not read') });
    }
  });
});

describe('issue 14 item 4: the program path', () => {
  // Debian 12 has iptables and ufw in /usr/sbin (/sbin with /usr merged) only: /usr/bin/ufw exits 127 (checked: test/lab/hostfw-differential.test.ts).
  it.each(['/opt/bogus/iptables', 'bin/iptables', './iptables', '/usr/{s,}bin/iptables', '/home/admin/sbin/ufw', '/usr/bin/iptables', '/usr/local/sbin/iptables', '/usr/bin/ufw', '/usr/local/sbin/ufw'])('%s is not known to be the tool: runtime', (tool) => {
    const line = `${tool} -A INPUT -s %IP% -j ACCEPT`;
    expect(both(line)).toEqual({ ip: 'runtime KC401', ip6: 'runtime KC401' });
  });

  it.each(['iptables', '/sbin/iptables', '/usr/sbin/iptables'])('%s is', (tool) => {
    expect(both(`${tool} -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT`)).toEqual({ ip: 'open 22', ip6: 'nothing' });
  });
});

describe('issue 14 item 5: firewall-cmd, with or without --zone, goes to the runtime', () => {
  const r = `--add-rich-rule='rule family="ipv4" source address="%IP%" service name="ssh" accept'`;
  it.each([`firewall-cmd --zone=internal ${r}`, `firewall-cmd --zone internal ${r}`, `firewall-cmd -q --zone=public ${r}`])('%s goes to the runtime (KC408)', (line) => {
    expect(both(line)).toEqual({ ip: 'runtime KC408', ip6: 'runtime KC408' });
  });

  it('without --zone too: the default zone does not cover an interface bound to another zone (checked with the real firewalld)', () => {
    expect(both(`firewall-cmd ${r}`)).toEqual({ ip: 'runtime KC408', ip6: 'runtime KC408' });
    expect(both(`/usr/bin/firewall-cmd ${r}`)).toEqual({ ip: 'runtime KC408', ip6: 'runtime KC408' });
    expect(both(`/usr/sbin/firewall-cmd ${r}`)).toEqual({ ip: 'runtime KC401', ip6: 'runtime KC401' });
  });
});

describe('issue 14 item 6: nft set elements never become kernel grants', () => {
  it('nft add element goes to the runtime (KC408), whatever the deployment', () => {
    expect(both('nft add element inet filter allowed { %IP% }')).toEqual({ ip: 'runtime KC408', ip6: 'runtime KC408' });
  });

  it('a door with it: explain says the runtime acts, and no set grant is claimed', () => {
    const conf = `[d]\nsequence = 7000,8000,9000\nstart_command = nft add element inet filter allowed { %IP% }\n`;
    const loaded = parseConfigText(conf, { file: 'x.conf' });
    const text = explainText(loaded.config);
    expect(text).toMatch(/runs a command through `knockc run`/);
    expect(text).not.toMatch(/element of set/);
    const [plan] = planDoors(loaded.config);
    expect(plan?.needsRuntime).toBe(true);
  });
});

describe('ufw tells its rules apart as written (checked with the real ufw)', () => {
  it('`port 22 proto tcp` then `delete ... port 22`: another ufw rule, so the line goes to the runtime', () => {
    expect(both('ufw allow from %IP% to any port 22 proto tcp; ufw delete allow from %IP% to any port 22')).toEqual({ ip: 'runtime KC407', ip6: 'runtime KC407' });
  });

  it('`port 22` opens tcp and udp, and its delete twin closes both', () => {
    expect(both('ufw allow from %IP% to any port 22')).toEqual({ ip: 'open 22, open 22', ip6: 'open 22, open 22' });
    // ufw keeps one copy: allowing what is there changes nothing, so allow-then-delete ends closed (unlike iptables -I; -D).
    expect(both('ufw allow from %IP% to any port 22; ufw delete allow from %IP% to any port 22')).toEqual({ ip: 'revoke 22, revoke 22', ip6: 'revoke 22, revoke 22' });
  });

  it('`from %IP%/32` is refused: ufw reads it for an IPv6 knocker as a /32 network', () => {
    expect(both('ufw allow from %IP%/32 to any port 22 proto tcp || ufw allow from %IP% to any port 2222 proto tcp')).toEqual({ ip: 'runtime KC401', ip6: 'runtime KC401' });
  });
});

describe('insert positions and ufw insert depend on the chain at run time (KC407)', () => {
  it.each([`iptables -I INPUT 2 -s %IP% -j ACCEPT`, `ufw insert 1 allow from %IP% to any port 22 proto tcp`])('%s', (line) => {
    expect(analyseCommand(line)).toMatchObject({ kind: 'opaque', code: 'KC407' });
  });

  it('-I INPUT 1 is always possible', () => {
    expect(both(`iptables -I INPUT 1 -s %IP% -p tcp --dport 22 -j ACCEPT`)).toEqual({ ip: 'open 22', ip6: 'nothing' });
  });
});
