import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyseCommand } from '../../src/model/commands.js';
import { grantKey, type Family, type GrantAction, type GrantMatch, type GrantTarget } from '../../src/model/grant.js';

// ------------------------------------------------------------------ helpers

const match = (over: Partial<GrantMatch> = {}): GrantMatch => ({
  hook: 'input',
  proto: null,
  dports: null,
  daddr: null,
  iif: null,
  synOnly: false,
  newOnly: false,
  ...over,
});
const filter = (over: Partial<GrantMatch> = {}): GrantTarget => ({ kind: 'filter', match: match(over) });
const port = (lo: number, hi: number = lo) => ({ lo, hi });
const tcp22 = { proto: 'tcp', dports: [port(22)] } as const;

function grants(line: string): readonly GrantAction[] {
  const r = analyseCommand(line);
  if (r.kind !== 'grants') throw new Error(`expected grants for ${JSON.stringify(line)}, got ${JSON.stringify(r)}`);
  return r.commands.flatMap((c) => c.actions);
}

function single(line: string): GrantAction {
  const actions = grants(line);
  expect(actions).toHaveLength(1);
  return actions[0] as GrantAction;
}

const key = (line: string): string => grantKey(single(line).target);

interface Positive {
  readonly line: string;
  readonly op?: 'add' | 'delete';
  readonly families: readonly Family[];
  readonly tool: string;
  readonly target: GrantTarget;
}

interface Negative {
  readonly line: string;
  readonly token: string;
  /** Substring of the reason. */
  readonly reason: string;
  /** Expected offset: a number, or a string whose first occurrence in the line is the place. Default: the token's. */
  readonly at?: number | string;
  /** Default KC401 (not understood). */
  readonly code?: 'KC401' | 'KC407' | 'KC408';
}

/** Which rule set each tool changes (see GrantAction.store). */
const STORES: Record<string, GrantAction['store']> = {
  iptables: { name: 'iptables', kind: 'copies' },
  ip6tables: { name: 'iptables', kind: 'copies' },
  'iptables-legacy': { name: 'iptables-legacy', kind: 'copies' },
  'ip6tables-legacy': { name: 'iptables-legacy', kind: 'copies' },
  'iptables-nft': { name: 'iptables-nft', kind: 'copies' },
  'ip6tables-nft': { name: 'iptables-nft', kind: 'copies' },
  ufw: { name: 'ufw', kind: 'set' },
  'firewall-cmd': { name: 'firewalld', kind: 'set' },
};

/** The action without its rule identity (what -D compares; checked on its own below). */
function grantOf(a: GrantAction): Omit<GrantAction, 'rule'> {
  const { rule: _rule, ...rest } = a;
  return rest;
}

function checkPositive(c: Positive): void {
  const a = grantOf(single(c.line));
  expect(a).toEqual({ op: c.op ?? 'add', families: c.families, tool: c.tool, target: c.target, store: STORES[c.tool], offset: 0 });
}

function checkNegative(c: Negative): void {
  const r = analyseCommand(c.line);
  const at = c.at === undefined ? c.line.indexOf(c.token) : typeof c.at === 'number' ? c.at : c.line.indexOf(c.at);
  expect(at).toBeGreaterThanOrEqual(0);
  expect(r).toEqual({ kind: 'opaque', code: c.code ?? 'KC401', token: c.token, offset: at, reason: expect.stringContaining(c.reason) });
}

const IPT = 'iptables -A INPUT -s %IP%';

// -------------------------------------------------------------------- shell

describe('shell words and separators', () => {
  it.each(['', '   ', ' \t ', '# a comment only', '   # indented comment; iptables -F'])('%j is empty', (line) => {
    expect(analyseCommand(line)).toEqual({ kind: 'empty' });
  });

  it('removes quotes and backslashes like sh', () => {
    const a = single(`'/sbin/iptables' "-A" INPUT -s '%IP%' -p "tcp" --dport 2\\2 -j ACC"EPT"`);
    expect(a.target).toEqual(filter(tcp22));
    expect(a.tool).toBe('iptables');
  });

  it('keeps a backslash in double quotes unless it escapes one of $ ` " \\', () => {
    // The words read as %IP\% and ACC"EPT; the token is quoted as in the line.
    expect(analyseCommand(`iptables -A INPUT -s "%IP\\%" -j ACCEPT`)).toMatchObject({ kind: 'opaque', token: '"%IP\\%"', offset: 21 });
    expect(analyseCommand(`iptables -A INPUT -s %IP% -j "ACC\\"EPT"`)).toMatchObject({
      kind: 'opaque',
      token: '"ACC\\"EPT"',
      offset: 29,
      reason: expect.stringContaining(`target 'ACC"EPT'`),
    });
  });

  it('ignores a trailing comment', () => {
    expect(single(`${IPT} -j ACCEPT # open for the knocker`).target).toEqual(filter());
    expect(single(`${IPT} -j ACCEPT #no blank needed`).target).toEqual(filter());
  });

  it('a # inside a word is not a comment', () => {
    expect(analyseCommand(`${IPT} -j ACCEPT#x`)).toMatchObject({ kind: 'opaque', token: 'ACCEPT#x' });
  });

  it('splits on ;, && and || and gives each command its join and offset', () => {
    const line = `iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT;ip6tables -I FORWARD 1 -s %IP% -j ACCEPT && ufw allow from %IP% || iptables -D INPUT -s %IP% -j ACCEPT ;`;
    const r = analyseCommand(line);
    if (r.kind !== 'grants') throw new Error(JSON.stringify(r));
    expect(r.commands.map((c) => [c.join, ...c.actions.map((a) => [a.tool, a.op, a.offset])])).toEqual([
      [';', ['iptables', 'add', 0]],
      [';', ['ip6tables', 'add', line.indexOf('ip6tables')]],
      ['&&', ['ufw', 'add', line.indexOf('ufw')]],
      ['||', ['iptables', 'delete', line.indexOf('iptables -D')]],
    ]);
    expect(r.commands[1]?.actions[0]?.target).toEqual(filter({ hook: 'forward' }));
  });

  it('treats a newline as a separator', () => {
    expect(grants(`${IPT} -j ACCEPT\n\n${IPT} -j ACCEPT`)).toHaveLength(2);
    expect(grants(`${IPT} -j ACCEPT &&\n${IPT} -j ACCEPT`)).toHaveLength(2);
    expect(grants(`# open\n${IPT} -j ACCEPT && # and\n${IPT} -j ACCEPT`)).toHaveLength(2);
  });

  it('offsets count from the start of the line, leading blanks included', () => {
    expect(single(`   ${IPT} -j ACCEPT`).offset).toBe(3);
  });

  const negatives: Negative[] = [
    { line: `${IPT} -j ACCEPT | logger`, token: '|', reason: 'pipes' },
    { line: `${IPT} -j ACCEPT || true`, token: 'true', reason: "command 'true' is not a firewall grant" },
    { line: `${IPT} -j ACCEPT &`, token: '&', reason: 'background' },
    { line: `${IPT} -j ACCEPT > /dev/null`, token: '>', reason: 'redirection' },
    { line: `${IPT} -j ACCEPT >>/tmp/log`, token: '>>', reason: 'redirection' },
    { line: `${IPT} -j ACCEPT 2>/dev/null`, token: '2>', reason: 'redirection' },
    { line: `${IPT} -j ACCEPT </dev/null`, token: '<', reason: 'redirection' },
    { line: `(${IPT} -j ACCEPT)`, token: '(', reason: 'subshell' },
    { line: `iptables -A INPUT -s $IP -j ACCEPT`, token: '$IP', reason: 'expansion' },
    { line: `iptables -A INPUT -s "\${IP}" -j ACCEPT`, token: '${', reason: 'expansion' },
    { line: `iptables -A INPUT -s %IP% -j $(echo ACCEPT)`, token: '$(', reason: 'expansion' },
    { line: 'iptables -A INPUT -s %IP% -j `echo ACCEPT`', token: '`', reason: 'command substitution' },
    { line: `iptables -A INPUT -s %IP% -i eth* -j ACCEPT`, token: '*', reason: 'glob' },
    { line: `iptables -A INPUT -s %IP% -i eth? -j ACCEPT`, token: '?', reason: 'glob' },
    { line: `~/bin/iptables -A INPUT -s %IP% -j ACCEPT`, token: '~', reason: 'tilde' },
    { line: `iptables -A INPUT -s '%IP% -j ACCEPT`, token: "'", reason: 'unterminated single quote' },
    { line: `iptables -A INPUT -s "%IP% -j ACCEPT`, token: '"', reason: 'unterminated double quote' },
    { line: `${IPT} -j ACCEPT \\`, token: '\\', reason: 'backslash at the end' },
    { line: `; ${IPT} -j ACCEPT`, token: ';', reason: 'empty command' },
    { line: `${IPT} -j ACCEPT ;; ${IPT} -j ACCEPT`, token: ';;', reason: 'syntax error' },
    { line: `${IPT} -j ACCEPT && && ${IPT} -j ACCEPT`, token: '&&', reason: 'empty command', at: '&& iptables' },
    { line: `${IPT} -j ACCEPT &&`, token: '&&', reason: 'no command after it' },
    { line: `${IPT} -j ACCEPT && # nothing`, token: '&&', reason: 'no command after it' },
    { line: `PATH=/sbin iptables -A INPUT -s %IP% -j ACCEPT`, token: 'PATH=/sbin', reason: 'environment assignment' },
    { line: `sudo iptables -A INPUT -s %IP% -j ACCEPT`, token: 'sudo', reason: "'sudo'" },
    // Issue 14 item 4: only a bare name or a standard system directory is known to be the tool.
    { line: `/opt/bogus/iptables -A INPUT -s %IP% -j ACCEPT`, token: '/opt/bogus/iptables', reason: 'knockc cannot know what program it is' },
    { line: `bin/iptables -A INPUT -s %IP% -j ACCEPT`, token: 'bin/iptables', reason: 'knockc cannot know what program it is' },
    { line: `./iptables -A INPUT -s %IP% -j ACCEPT`, token: './iptables', reason: 'knockc cannot know what program it is' },
    { line: `/usr/{s,}bin/iptables -A INPUT -s %IP% -j ACCEPT`, token: '/usr/{s,}bin/iptables', reason: 'knockc cannot know what program it is' },
    { line: `//sbin/iptables -A INPUT -s %IP% -j ACCEPT`, token: '//sbin/iptables', reason: 'knockc cannot know what program it is' },
    { line: `/sbin/../tmp/iptables -A INPUT -s %IP% -j ACCEPT`, token: '/sbin/../tmp/iptables', reason: 'knockc cannot know what program it is' },
    { line: `echo hi; ${IPT} -j ACCEPT`, token: 'echo', reason: "command 'echo' is not a firewall grant" },
    { line: `${IPT} -j ACCEPT; /usr/bin/logger "$X"`, token: '/usr/bin/logger', reason: "command 'logger'" },
    // the first bad token wins, in line order
    { line: `${IPT} -j DROP; shutdown -r now`, token: 'DROP', reason: 'only ACCEPT' },
    { line: `shutdown $(date); ${IPT} -j ACCEPT`, token: 'shutdown', reason: "command 'shutdown'" },
    { line: `iptables\u00a0-A INPUT -s %IP% -j ACCEPT`, token: '\u00a0', reason: 'U+00A0' },
  ];
  it.each(negatives)('opaque: $line', checkNegative);
});

// ----------------------------------------------------------------- iptables

describe('iptables', () => {
  const positives: Positive[] = [
    { line: `iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter(tcp22) },
    { line: `/sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT`, op: 'delete', families: ['ip'], tool: 'iptables', target: filter(tcp22) },
    { line: `/usr/sbin/ip6tables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT`, families: ['ip6'], tool: 'ip6tables', target: filter(tcp22) },
    { line: `iptables-legacy -A INPUT -s %IP% -j ACCEPT`, families: ['ip'], tool: 'iptables-legacy', target: filter() },
    { line: `/usr/sbin/iptables-nft -A INPUT -s %IP% -j ACCEPT`, families: ['ip'], tool: 'iptables-nft', target: filter() },
    { line: `ip6tables-legacy -A INPUT -s %IP% -j ACCEPT`, families: ['ip6'], tool: 'ip6tables-legacy', target: filter() },
    { line: `ip6tables-nft -A INPUT -s %IP% -j ACCEPT`, families: ['ip6'], tool: 'ip6tables-nft', target: filter() },
    {
      line: `iptables --append INPUT --source %IP% --protocol TCP --destination-port 22 --jump ACCEPT`,
      families: ['ip'], tool: 'iptables', target: filter(tcp22),
    },
    { line: `iptables --insert INPUT --src %IP% --jump ACCEPT`, families: ['ip'], tool: 'iptables', target: filter() },
    { line: `iptables -I INPUT 1 -s %IP% -p tcp --dport 22 -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter(tcp22) },
    { line: `iptables -I INPUT -s %IP% -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter() },
    { line: `iptables -I FORWARD 1 -s %IP% -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter({ hook: 'forward' }) },
    { line: `iptables -t filter -A INPUT -s %IP% -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter() },
    { line: `iptables --table=filter --append=INPUT --source %IP% -p tcp --dport=22 --jump ACCEPT`, families: ['ip'], tool: 'iptables', target: filter(tcp22) },
    { line: `iptables -A INPUT -s %IP%/32 -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter() },
    { line: `ip6tables -A INPUT -s %IP%/128 -j ACCEPT`, families: ['ip6'], tool: 'ip6tables', target: filter() },
    { line: `${IPT} -d 192.0.2.10 -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter({ daddr: '192.0.2.10' }) },
    { line: `${IPT} -d 192.0.2.10/32 -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter({ daddr: '192.0.2.10' }) },
    { line: `${IPT} --destination 192.0.2.77/24 -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter({ daddr: '192.0.2.0/24' }) },
    { line: `${IPT} --dst 0.0.0.0/0 -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter() },
    {
      line: `ip6tables -A INPUT -s %IP% -d 2001:DB8:0:0::1/128 -j ACCEPT`,
      families: ['ip6'], tool: 'ip6tables', target: filter({ daddr: '2001:db8::1' }),
    },
    {
      line: `ip6tables -A INPUT -s %IP% -d 2001:db8:1:2:3::/48 -j ACCEPT`,
      families: ['ip6'], tool: 'ip6tables', target: filter({ daddr: '2001:db8:1::/48' }),
    },
    {
      line: `ip6tables -A INPUT -s %IP% -d ::ffff:192.0.2.1 -j ACCEPT`,
      families: ['ip6'], tool: 'ip6tables', target: filter({ daddr: '::ffff:c000:201' }),
    },
    { line: `${IPT} -i eth0 -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter({ iif: 'eth0' }) },
    { line: `${IPT} --in-interface wg0 -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter({ iif: 'wg0' }) },
    { line: `${IPT} -p udp --dport 53 -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter({ proto: 'udp', dports: [port(53)] }) },
    { line: `${IPT} -p 6 --dport 22 -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter(tcp22) },
    { line: `${IPT} -p 17 -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter({ proto: 'udp' }) },
    { line: `${IPT} -p all -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter() },
    { line: `${IPT} -p tcp --dport 1000:2000 -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter({ proto: 'tcp', dports: [port(1000, 2000)] }) },
    { line: `${IPT} -p tcp --dport :1024 -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter({ proto: 'tcp', dports: [port(0, 1024)] }) },
    { line: `${IPT} -p tcp --dport 8000: -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter({ proto: 'tcp', dports: [port(8000, 65535)] }) },
    { line: `${IPT} -p tcp --dport=22 -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter(tcp22) },
    { line: `${IPT} -p tcp --dport ssh -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter(tcp22) },
    { line: `${IPT} -p tcp --dport https -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter({ proto: 'tcp', dports: [port(443)] }) },
    { line: `${IPT} -p tcp -m tcp --dport 22 -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter(tcp22) },
    { line: `${IPT} -m tcp --dport 22 -p tcp -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter(tcp22) },
    { line: `${IPT} -p udp -m udp --dport 500 -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter({ proto: 'udp', dports: [port(500)] }) },
    {
      line: `${IPT} -p tcp -m multiport --dports 22,80,8000:8080 -j ACCEPT`,
      families: ['ip'], tool: 'iptables', target: filter({ proto: 'tcp', dports: [port(22), port(80), port(8000, 8080)] }),
    },
    {
      line: `${IPT} -p udp --match multiport --destination-ports 60000:61000 -j ACCEPT`,
      families: ['ip'], tool: 'iptables', target: filter({ proto: 'udp', dports: [port(60000, 61000)] }),
    },
    { line: `${IPT} -p tcp --syn --dport 22 -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter({ ...tcp22, synOnly: true }) },
    {
      line: `${IPT} -p tcp --tcp-flags SYN,RST,ACK,FIN SYN --dport 22 -j ACCEPT`,
      families: ['ip'], tool: 'iptables', target: filter({ ...tcp22, synOnly: true }),
    },
    {
      line: `${IPT} -p tcp --tcp-flags fin,syn,rst,ack syn -j ACCEPT`,
      families: ['ip'], tool: 'iptables', target: filter({ proto: 'tcp', synOnly: true }),
    },
    {
      line: `${IPT} -m state --state NEW -p tcp --dport 22 -j ACCEPT`,
      families: ['ip'], tool: 'iptables', target: filter({ ...tcp22, newOnly: true }),
    },
    {
      line: `${IPT} -m conntrack --ctstate new -p tcp --dport 22 -j ACCEPT`,
      families: ['ip'], tool: 'iptables', target: filter({ ...tcp22, newOnly: true }),
    },
    { line: `iptables -w -A INPUT -s %IP% -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter() },
    { line: `iptables -w 5 -A INPUT -s %IP% -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter() },
    { line: `iptables --wait=5 -A INPUT -s %IP% -j ACCEPT`, families: ['ip'], tool: 'iptables', target: filter() },
    {
      line: `iptables -A FORWARD -i eth1 -s %IP% -d 10.1.2.3 -p tcp --dport 3389 -m conntrack --ctstate NEW -j ACCEPT`,
      families: ['ip'], tool: 'iptables',
      target: filter({ hook: 'forward', iif: 'eth1', daddr: '10.1.2.3', proto: 'tcp', dports: [port(3389)], newOnly: true }),
    },
  ];
  it.each(positives)('grant: $line', checkPositive);

  const negatives: Negative[] = [
    { line: `iptables -A OUTPUT -s %IP% -j ACCEPT`, token: 'OUTPUT', reason: 'only INPUT and FORWARD' },
    { line: `iptables -A input -s %IP% -j ACCEPT`, token: 'input', reason: 'only INPUT and FORWARD' },
    { line: `iptables -t nat -A PREROUTING -s %IP% -j ACCEPT`, token: 'nat', reason: 'only filter' },
    { line: `iptables -D INPUT 3`, token: '3', reason: 'by its number' },
    { line: `iptables -I INPUT x -s %IP% -j ACCEPT`, token: 'x', reason: 'bad rule number' },
    { line: `iptables -I INPUT 0 -s %IP% -j ACCEPT`, token: '0', reason: 'bad rule number' },
    { line: `iptables -A INPUT -s 192.0.2.1 -j ACCEPT`, token: '192.0.2.1', reason: 'source is not %IP%' },
    { line: `iptables -A INPUT -s %IP%/24 -j ACCEPT`, token: '%IP%/24', reason: 'source is not %IP%' },
    { line: `iptables -A INPUT -s %ip% -j ACCEPT`, token: '%ip%', reason: 'source is not %IP%' },
    { line: `iptables -A INPUT -s %IP%,192.0.2.1 -j ACCEPT`, token: '%IP%,192.0.2.1', reason: 'source is not %IP%' },
    { line: `iptables -A INPUT -p tcp --dport 22 -j ACCEPT`, token: 'iptables', reason: 'no -s %IP%' },
    { line: `ip6tables -A INPUT -s %IP%/32 -j ACCEPT`, token: '%IP%/32', reason: 'prefix length' },
    { line: `iptables -A INPUT ! -s %IP% -j ACCEPT`, token: '!', reason: 'negation' },
    { line: `iptables -A INPUT -s ! %IP% -j ACCEPT`, token: '!', reason: 'negation' },
    { line: `${IPT} -p tcp ! --dport 22 -j ACCEPT`, token: '!', reason: 'negation' },
    { line: `${IPT} -p icmp -j ACCEPT`, token: 'icmp', reason: 'only tcp and udp' },
    { line: `${IPT} --dport 22 -p tcp -j ACCEPT`, token: '--dport', reason: 'needs -p tcp or -p udp before it' },
    { line: `${IPT} -p tcp --dport 022 -j ACCEPT`, token: '022', reason: "bad port '022'" },
    { line: `${IPT} -p tcp --dport 0x16 -j ACCEPT`, token: '0x16', reason: 'bad port' },
    { line: `${IPT} -p tcp --dport 70000 -j ACCEPT`, token: '70000', reason: 'bad port' },
    { line: `${IPT} -p tcp --dport 2000:1000 -j ACCEPT`, token: '2000:1000', reason: 'swapped' },
    { line: `${IPT} -p udp --dport ssh -j ACCEPT`, token: 'ssh', reason: 'only known for tcp' },
    { line: `${IPT} -p tcp --dport telnet -j ACCEPT`, token: 'telnet', reason: 'unknown service name' },
    { line: `${IPT} -p tcp --sport 22 -j ACCEPT`, token: '--sport', reason: 'unrecognised iptables option' },
    { line: `${IPT} -o eth0 -j ACCEPT`, token: '-o', reason: 'unrecognised iptables option' },
    { line: `${IPT} -p tcp --dport 22 -j DROP`, token: 'DROP', reason: 'only ACCEPT' },
    { line: `${IPT} -j accept`, token: 'accept', reason: 'only ACCEPT' },
    { line: `${IPT} -j LOG --log-prefix knock`, token: 'LOG', reason: 'only ACCEPT' },
    { line: `${IPT} -g knocked`, token: '-g', reason: 'unrecognised iptables option' },
    { line: `${IPT} -p tcp --dport 22`, token: 'iptables', reason: 'no -j ACCEPT' },
    { line: `iptables -s %IP% -j ACCEPT`, token: 'iptables', reason: 'no -A, -I or -D' },
    { line: `iptables -F INPUT`, token: '-F', reason: "iptables command '-F' is not a grant" },
    { line: `iptables -P INPUT ACCEPT`, token: '-P', reason: 'is not a grant' },
    { line: `iptables -A INPUT -A INPUT -s %IP% -j ACCEPT`, token: '-A', reason: 'more than one iptables command', at: 18 },
    { line: `${IPT} -p tcp -p tcp -j ACCEPT`, token: '-p', reason: 'given twice', at: 33 },
    { line: `${IPT} -s %IP% -j ACCEPT`, token: '-s', reason: 'given twice', at: 26 },
    { line: `${IPT} -m comment --comment knockd -j ACCEPT`, token: 'comment', reason: "match 'comment' is not supported" },
    { line: `${IPT} -m recent --set -j ACCEPT`, token: 'recent', reason: 'not supported' },
    { line: `${IPT} -m state --state NEW,ESTABLISHED -j ACCEPT`, token: 'NEW,ESTABLISHED', reason: 'only NEW' },
    { line: `${IPT} --state NEW -j ACCEPT`, token: '--state', reason: 'needs -m state' },
    { line: `${IPT} -m state -m state --state NEW -j ACCEPT`, token: 'state', reason: 'loaded twice', at: 38 },
    { line: `${IPT} -m state -j ACCEPT`, token: 'state', reason: 'without --state' },
    { line: `${IPT} -m conntrack --state NEW -j ACCEPT`, token: '--state', reason: 'needs -m state' },
    { line: `${IPT} -m tcp -p udp --dport 22 -j ACCEPT`, token: 'tcp', reason: '-m tcp needs -p tcp' },
    { line: `${IPT} -m tcp --dport 22 -j ACCEPT`, token: 'tcp', reason: '-m tcp needs -p tcp' },
    { line: `${IPT} -m multiport --dports 22,80 -p tcp -j ACCEPT`, token: '--dports', reason: 'needs -p tcp or -p udp' },
    { line: `${IPT} -p tcp --dports 22,80 -j ACCEPT`, token: '--dports', reason: 'needs -m multiport' },
    { line: `${IPT} -p tcp -m multiport -j ACCEPT`, token: 'multiport', reason: 'without --dports' },
    { line: `${IPT} -p tcp -m multiport --dport 22 -j ACCEPT`, token: 'multiport', reason: 'without --dports' },
    {
      line: `${IPT} -p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 -j ACCEPT`,
      token: '1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16', reason: 'at most 15 ports',
    },
    { line: `${IPT} -p tcp -m multiport --dports 22,,80 -j ACCEPT`, token: '22,,80', reason: 'empty item' },
    { line: `${IPT} -p tcp --dport 22 -m multiport --dports 80 -j ACCEPT`, token: '--dports', reason: 'more than one destination port match' },
    { line: `${IPT} -p udp --syn -j ACCEPT`, token: '--syn', reason: 'needs -p tcp' },
    { line: `${IPT} -p tcp --syn=1 -j ACCEPT`, token: '--syn=1', reason: 'takes no value' },
    { line: `${IPT} -p tcp --tcp-flags SYN,ACK SYN -j ACCEPT`, token: 'SYN,ACK', reason: 'only --tcp-flags SYN,RST,ACK,FIN SYN' },
    { line: `${IPT} -p tcp --syn --tcp-flags SYN,RST,ACK,FIN SYN -j ACCEPT`, token: '--tcp-flags', reason: 'given twice' },
    { line: `${IPT} -i eth+ -j ACCEPT`, token: 'eth+', reason: 'wildcard' },
    { line: `${IPT} -i averyveryverylongname0 -j ACCEPT`, token: 'averyveryverylongname0', reason: 'bad interface name' },
    { line: `${IPT} -d example.org -j ACCEPT`, token: 'example.org', reason: 'not an address' },
    { line: `${IPT} -d 010.0.0.1 -j ACCEPT`, token: '010.0.0.1', reason: 'not an address' },
    { line: `${IPT} -d 10.0.0.0/255.0.0.0 -j ACCEPT`, token: '10.0.0.0/255.0.0.0', reason: 'not an address' },
    { line: `${IPT} -d 10.0.0.0/33 -j ACCEPT`, token: '10.0.0.0/33', reason: 'not an address' },
    { line: `ip6tables -A INPUT -s %IP% -d 2001:db8::/129 -j ACCEPT`, token: '2001:db8::/129', reason: 'not an address' },
    { line: `ip6tables -A INPUT -s %IP% -d fe80::1%eth0 -j ACCEPT`, token: 'fe80::1%eth0', reason: 'not an address' },
    { line: `ip6tables -A INPUT -s %IP% -d 2001:db8::1:: -j ACCEPT`, token: '2001:db8::1::', reason: 'not an address' },
    { line: `${IPT} -d 2001:db8::1 -j ACCEPT`, token: '2001:db8::1', reason: 'not an IPv4 address' },
    { line: `ip6tables -A INPUT -s %IP% -d 192.0.2.1 -j ACCEPT`, token: '192.0.2.1', reason: 'not an IPv6 address' },
    { line: `${IPT} -d %IP% -j ACCEPT`, token: '%IP%', reason: 'not an address', at: 29 },
    { line: `iptables -A`, token: '-A', reason: "missing value after '-A'" },
    { line: `${IPT} -p tcp --dport`, token: '--dport', reason: "missing value after '--dport'" },
    { line: `iptables -w abc -A INPUT -s %IP% -j ACCEPT`, token: 'abc', reason: 'bad wait time' },
    { line: `iptables -sfoo -A INPUT -j ACCEPT`, token: '-sfoo', reason: 'unrecognised iptables option' },
    { line: `iptables -6 -A INPUT -s %IP% -j ACCEPT`, token: '-6', reason: 'unrecognised iptables option' },
    { line: `${IPT} -p tcp \u2013dport 22 -j ACCEPT`, token: '\u2013dport', reason: 'typographic dash' },
    { line: `iptables A INPUT -s %IP% -j ACCEPT`, token: 'A', reason: "unexpected argument 'A' (missing '-'?)" },
    { line: `${IPT} -j ACCEPT extra`, token: 'extra', reason: "unexpected argument 'extra'" },
  ];
  it.each(negatives)('opaque: $line', checkNegative);
});

// ---------------------------------------------------------------------- ufw

describe('ufw', () => {
  const both: readonly Family[] = ['ip', 'ip6'];
  const positives: Positive[] = [
    { line: `ufw allow from %IP% to any port 22 proto tcp`, families: both, tool: 'ufw', target: filter(tcp22) },
    { line: `/usr/sbin/ufw delete allow from %IP% to any port 22 proto tcp`, op: 'delete', families: both, tool: 'ufw', target: filter(tcp22) },
    { line: `ufw prepend allow from %IP% to any port 22 proto tcp`, families: both, tool: 'ufw', target: filter(tcp22) },
    { line: `ufw allow from %IP%`, families: both, tool: 'ufw', target: filter() },
    { line: `ufw allow from %IP% to any`, families: both, tool: 'ufw', target: filter() },
    { line: `ufw allow proto udp from %IP% to any port 60000:61000`, families: both, tool: 'ufw', target: filter({ proto: 'udp', dports: [port(60000, 61000)] }) },
    { line: `ufw allow from %IP% to any port 22,80,8000:8080 proto tcp`, families: both, tool: 'ufw', target: filter({ proto: 'tcp', dports: [port(22), port(80), port(8000, 8080)] }) },
    { line: `ufw allow in on eth0 from %IP% to any port 22 proto tcp`, families: both, tool: 'ufw', target: filter({ ...tcp22, iif: 'eth0' }) },
    { line: `ufw allow in from %IP% to any port 22 proto tcp`, families: both, tool: 'ufw', target: filter(tcp22) },
    { line: `ufw allow from %IP% to 192.0.2.1 port 22 proto tcp`, families: ['ip'], tool: 'ufw', target: filter({ ...tcp22, daddr: '192.0.2.1' }) },
    { line: `ufw allow from %IP% to 2001:DB8::/32 port 22 proto tcp`, families: ['ip6'], tool: 'ufw', target: filter({ ...tcp22, daddr: '2001:db8::/32' }) },
  ];
  it.each(positives)('grant: $line', checkPositive);

  it('a port without proto opens it for tcp and udp, like ufw', () => {
    const actions = grants('ufw allow from %IP% to any port 22');
    expect(actions.map((a) => a.target)).toEqual([filter(tcp22), filter({ proto: 'udp', dports: [port(22)] })]);
    expect(actions.map((a) => a.offset)).toEqual([0, 0]);
  });

  const negatives: Negative[] = [
    { line: `ufw deny from %IP%`, token: 'deny', reason: 'ufw deny is not a grant' },
    { line: `ufw limit from %IP% to any port 22 proto tcp`, token: 'limit', reason: 'not a grant' },
    { line: `ufw status`, token: 'status', reason: "ufw command 'status'" },
    { line: `ufw`, token: 'ufw', reason: 'no ufw rule' },
    { line: `ufw allow 22/tcp`, token: '22/tcp', reason: 'unexpected ufw argument' },
    { line: `ufw allow from any to any port 22 proto tcp`, token: 'any', reason: 'source is not %IP%' },
    { line: `ufw allow to any port 22 proto tcp`, token: 'ufw', reason: 'no from %IP%' },
    { line: `ufw allow from %IP% port 22`, token: 'port', reason: 'source port' },
    { line: `ufw allow port 22 from %IP%`, token: 'port', reason: "needs 'to any'" },
    { line: `ufw allow from %IP% to any port 22,80`, token: '22,80', reason: 'needs proto' },
    { line: `ufw allow from %IP% to any port 1000:2000`, token: '1000:2000', reason: 'needs proto' },
    { line: `ufw allow from %IP% to any port ssh proto tcp`, token: 'ssh', reason: 'service name' },
    { line: `ufw allow from %IP% to any port 0 proto tcp`, token: '0', reason: 'bad port', at: 32 },
    { line: `ufw allow from %IP% to any port 2000:1000 proto tcp`, token: '2000:1000', reason: 'bad port range' },
    { line: `ufw allow from %IP% to any app OpenSSH`, token: 'app', reason: 'application profiles' },
    { line: `ufw allow from %IP% to any proto icmp`, token: 'icmp', reason: 'only tcp and udp' },
    { line: `ufw allow out to %IP%`, token: 'out', reason: 'outgoing' },
    { line: `ufw allow from %IP% in on eth0`, token: 'in', reason: "must come right after 'allow'" },
    { line: `ufw allow from %IP% comment knock`, token: 'comment', reason: 'comments' },
    { line: `ufw allow log from %IP%`, token: 'log', reason: 'logging' },
    { line: `ufw allow from %IP% from %IP%`, token: 'from', reason: 'given twice', at: 20 },
    { line: `ufw allow from %IP% to example.org`, token: 'example.org', reason: 'not an address' },
    // ufw takes %IP%/32 of an IPv6 knocker as the /32 network (checked with the real ufw).
    { line: `ufw allow from %IP%/32 to any port 22 proto tcp`, token: '%IP%/32', reason: 'as a whole network' },
    { line: `ufw allow from %IP%/128 to 2001:db8::1`, token: '%IP%/128', reason: 'as a whole network' },
    { line: `ufw delete 3`, token: '3', reason: 'by its number' },
    { line: `ufw insert 0 allow from %IP%`, token: '0', reason: 'bad rule number' },
    { line: `ufw --dry-run allow from %IP%`, token: '--dry-run', reason: "ufw command '--dry-run'" },
    { line: `ufw allow in on eth+ from %IP%`, token: 'eth+', reason: 'wildcard' },
  ];
  it.each(negatives)('opaque: $line', checkNegative);
});

// ------------------------------------------------------------- firewall-cmd

describe('firewall-cmd', () => {
  const rich = (r: string): string => `firewall-cmd --add-rich-rule='${r}'`;
  const R4 = 'rule family="ipv4" source address="%IP%"';
  const positives: Positive[] = [
    { line: rich(`${R4} port port="22" protocol="tcp" accept`), families: ['ip'], tool: 'firewall-cmd', target: filter(tcp22) },
    {
      line: `/usr/bin/firewall-cmd --remove-rich-rule='${R4} port port="22" protocol="tcp" accept'`,
      op: 'delete', families: ['ip'], tool: 'firewall-cmd', target: filter(tcp22),
    },
    {
      line: `firewall-cmd --add-rich-rule "rule family=ipv6 source address=%IP% port port=22 protocol=tcp accept"`,
      families: ['ip6'], tool: 'firewall-cmd', target: filter(tcp22),
    },
    {
      line: `firewall-cmd -q --add-rich-rule="rule family='ipv4' source address='%IP%' service name='ssh' accept"`,
      families: ['ip'], tool: 'firewall-cmd', target: filter(tcp22),
    },
    { line: rich(`${R4} service name="https" accept`), families: ['ip'], tool: 'firewall-cmd', target: filter({ proto: 'tcp', dports: [port(443)] }) },
    { line: rich(`${R4} port port="60000-61000" protocol="udp" accept`), families: ['ip'], tool: 'firewall-cmd', target: filter({ proto: 'udp', dports: [port(60000, 61000)] }) },
    { line: rich(`${R4} port protocol="tcp" port="22" accept`), families: ['ip'], tool: 'firewall-cmd', target: filter(tcp22) },
    { line: rich(`${R4} accept`), families: ['ip'], tool: 'firewall-cmd', target: filter() },
    { line: rich(`rule source address="%IP%" family="ipv6" accept`), families: ['ip6'], tool: 'firewall-cmd', target: filter() },
    { line: rich(`rule family="ipv4" source address="%IP%/32" accept`), families: ['ip'], tool: 'firewall-cmd', target: filter() },
  ];
  // Understood, and left to the runtime: the zone's interfaces and sources decide (KC408).
  it.each(positives)('runtime: $line', (c) => {
    expect(analyseCommand(c.line)).toMatchObject({ kind: 'opaque', code: 'KC408', reason: expect.stringContaining('its zone') });
  });

  const negatives: Negative[] = [
    { line: `firewall-cmd --permanent --add-rich-rule='${R4} accept'`, token: '--permanent', reason: 'saved configuration' },
    { line: `firewall-cmd --timeout=60 --add-rich-rule='${R4} accept'`, token: '--timeout=60', reason: '--timeout' },
    { line: rich('rule source address="%IP%" port port="22" protocol="tcp" accept'), token: 'rule', reason: 'needs family=', at: 'rule ' },
    { line: rich('rule family="ipv4" source address="192.0.2.1" accept'), token: '192.0.2.1', reason: 'source is not %IP%' },
    { line: rich('rule family="ipv4" port port="22" protocol="tcp" accept'), token: 'rule', reason: 'no source address', at: 'rule ' },
    { line: rich('rule family="ipv6" source address="%IP%/32" accept'), token: 'rule', reason: 'does not fit the family', at: 'rule ' },
    { line: rich('rule family="ipv5" source address="%IP%" accept'), token: 'ipv5', reason: 'not ipv4 or ipv6' },
    { line: rich(`${R4} service name="ftp" accept`), token: 'ftp', reason: 'not known to knockc' },
    { line: rich(`${R4} port port="22" protocol="icmp" accept`), token: 'icmp', reason: 'only tcp and udp' },
    { line: rich(`${R4} port port="22" accept`), token: 'port', reason: 'needs port= and protocol=' },
    { line: rich(`${R4} port port="ssh" protocol="tcp" accept`), token: 'ssh', reason: 'bad port' },
    { line: rich(`${R4} port port="22" protocol="tcp" reject`), token: 'reject', reason: "element 'reject' is not supported" },
    { line: rich(`${R4} port port="22" protocol="tcp" accept limit value="1/m"`), token: 'limit', reason: 'rate limits' },
    { line: rich(`${R4} log prefix="knock" accept`), token: 'log', reason: "element 'log'", at: 'log ' },
    { line: rich(`${R4} port port="22" protocol="tcp"`), token: 'rule', reason: "without 'accept'", at: 'rule ' },
    { line: rich(`rule family="ipv4" source NOT address="%IP%" accept`), token: 'NOT', reason: "'source not'" },
    { line: rich(`${R4} destination address="192.0.2.1" accept`), token: 'destination', reason: "element 'destination'" },
    { line: rich(`${R4} port port="22" protocol="tcp" service name="ssh" accept`), token: 'service', reason: 'more than one' },
    { line: rich(`family="ipv4" rule accept`), token: 'family="ipv4"', reason: "must start with 'rule'" },
    { line: rich(`${R4} port port="22" protocol="tcp" accept priority="-1"`), token: 'priority="-1"', reason: "attribute 'priority'" },
    { line: rich('rule family="ipv4 source address=%IP% accept'), token: '"', reason: 'unterminated quote' },
    { line: rich('rule\u00a0family="ipv4" source address="%IP%" accept'), token: 'rule\u00a0family="ipv4"', reason: "must start with 'rule'" },
    { line: `firewall-cmd --add-service=ssh`, token: '--add-service=ssh', reason: 'unrecognised firewall-cmd option' },
    { line: `firewall-cmd --reload`, token: '--reload', reason: 'unrecognised firewall-cmd option' },
    { line: `firewall-cmd --zone=public`, token: 'firewall-cmd', reason: 'no --add-rich-rule' },
    { line: `firewall-cmd --add-rich-rule='${R4} accept' --add-rich-rule='${R4} accept'`, token: `--add-rich-rule='${R4} accept'`, reason: 'only one rich rule', at: 79 },
  ];
  it.each(negatives)('opaque: $line', checkNegative);
});

// ---------------------------------------------------------------------- nft

describe('nft', () => {
  // Understood, and left to the runtime: the compiled rules cannot see the user's set (KC408).
  const understood: Negative[] = [
    `nft add element inet filter knocked { %IP% }`,
    `/usr/sbin/nft delete element inet filter knocked { %IP% }`,
    `nft add element ip filter knocked '{ %IP% }'`,
    `nft add element ip6 fw allowed6 "{ %IP% }"`,
    `nft 'add element inet filter knocked { %IP% }'`,
    `nft add element inet filter knocked {%IP%}`,
    `nft add element filter knocked { %IP% }`,
    `nft add element inet filter '"knocked"' { %IP% }`,
  ].map((line) => ({ line, token: line.split(' ')[0] as string, reason: 'cannot see that set', code: 'KC408' as const }));
  it.each(understood)('runtime: $line', checkNegative);

  const negatives: Negative[] = [
    { line: `nft -f /etc/knock.nft`, token: '-f', reason: "'nft -f'" },
    { line: `nft -a add element inet filter knocked { %IP% }`, token: '-a', reason: 'nft options' },
    { line: `nft`, token: 'nft', reason: 'without a command' },
    { line: `nft add rule inet filter input ip saddr %IP% accept`, token: 'rule', reason: 'only nft add element' },
    { line: `nft create element inet filter knocked { %IP% }`, token: 'create', reason: 'only nft add element' },
    { line: `nft add element inet filter knocked { %IP% timeout 30s }`, token: 'timeout', reason: "element option 'timeout'" },
    { line: `nft add element inet filter knocked { %IP% comment "k" }`, token: 'comment', reason: "element option 'comment'" },
    { line: `nft add element bridge filter knocked { %IP% }`, token: 'bridge', reason: "family 'bridge'" },
    { line: `nft add element inte filter knocked { %IP% }`, token: 'inte', reason: 'unknown nft family' },
    { line: `nft add element inet filter knocked { 192.0.2.1 }`, token: '192.0.2.1', reason: 'set element is not %IP%' },
    { line: `nft add element inet filter knocked { %IP%, 192.0.2.1 }`, token: ',', reason: 'only one set element' },
    { line: `nft add element inet filter knocked { %IP%/32 }`, token: '%IP%/32', reason: 'set element is not %IP%' },
    { line: `nft add element inet filter knocked %IP%`, token: '%IP%', reason: "expected '{ %IP% }'" },
    { line: `nft add element inet knocked { %IP% }`, token: '{', reason: 'missing set name' },
    { line: `nft add element knocked { %IP% }`, token: '{', reason: 'expected [FAMILY] TABLE SET' },
    { line: `nft add element inet filter knocked extra { %IP% }`, token: 'extra', reason: 'expected [FAMILY] TABLE SET' },
    { line: `nft add element inet filter knocked { %IP% } extra`, token: 'extra', reason: 'unexpected text after' },
    { line: `nft add element inet filter knocked { %IP%`, token: '', reason: "expected '}'", at: 42 },
    {
      line: `nft 'add element inet filter knocked { %IP% }; add element inet filter other { %IP% }'`,
      token: ';', reason: 'only one nft command',
    },
    { line: `nft add element inet filter kn#cked { %IP% }`, token: 'kn#cked', reason: 'bad nft name' },
  ];
  it.each(negatives)('opaque: $line', checkNegative);
});

// -------------------------------------------------------------------- seeds

// Every start/stop command of the knockd tutorials the project started from
// (/work/shared/seeds/*.txt), verbatim.
describe('commands from the knockd tutorials', () => {
  const ssh = filter(tcp22);
  const sshSyn = filter({ ...tcp22, synOnly: true });
  const seeds: Array<[string, 'add' | 'delete', GrantTarget]> = [
    ['/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT', 'add', ssh], // 000, 003
    ['/sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT', 'delete', ssh], // 000, 003, 004
    ['/usr/sbin/iptables -A INPUT -s %IP% -p tcp --syn --dport 22 -j ACCEPT', 'add', sshSyn], // 001, 004
    ['/usr/sbin/iptables -D INPUT -s %IP% -p tcp --syn --dport 22 -j ACCEPT', 'delete', sshSyn], // 001, 004
    ['/usr/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT', 'add', ssh], // 002
    ['/usr/sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT', 'delete', ssh], // 002
    ['/sbin/iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT', 'add', ssh], // 003, 004
    ['/sbin/iptables -D INPUT -s %IP% -p tcp  --dport 22 -j ACCEPT', 'delete', ssh], // 003
  ];
  it.each(seeds)('grant: %s', (line, op, target) => {
    expect(grantOf(single(line))).toEqual({ op, families: ['ip'], tool: 'iptables', target, store: STORES['iptables'], offset: 0 });
  });

  const nb = '\u00a0';
  const negatives: Negative[] = [
    // 001 as the PDF has it: no-break spaces between the words, dashes lost.
    { line: `/sbin/iptables${nb}A${nb}INPUT${nb}s${nb}%IP%${nb}p${nb}tcp${nb}\u2013dport${nb}22${nb}j${nb}ACCEPT`, token: nb, reason: 'U+00A0' },
    { line: `/sbin/iptables${nb}I${nb}INPUT${nb}d${nb}xxx.xxx.xxx.xxx${nb}s${nb}%IP%${nb}p${nb}tcp${nb}`, token: nb, reason: 'U+00A0' },
    { line: `/sbin/shutdown${nb}r${nb}+1`, token: nb, reason: 'U+00A0' },
    // ... and with ordinary spaces.
    { line: '/sbin/iptables A INPUT s %IP% p tcp \u2013dport 22 j ACCEPT', token: 'A', reason: "missing '-'" },
    { line: '/sbin/iptables D INPUT s %IP% p tcp \u2013dport 22 j ACCEPT', token: 'D', reason: "missing '-'" },
    { line: '/sbin/iptables I INPUT d xxx.xxx.xxx.xxx s %IP% p tcp', token: 'I', reason: "missing '-'" },
    { line: '/sbin/iptables D INPUT d xxx.xxx.xxx.xxx s %IP% p tcp', token: 'D', reason: "missing '-'" },
    { line: '/sbin/shutdown r +1', token: '/sbin/shutdown', reason: "command 'shutdown' is not a firewall grant" },
    { line: 'echo "Je suis ouvert"', token: 'echo', reason: "command 'echo' is not a firewall grant" },
    { line: 'echo "Je suis ferme"', token: 'echo', reason: "command 'echo' is not a firewall grant" },
  ];
  it.each(negatives)('opaque: $line', checkNegative);
});

// ----------------------------------------------------------------- grantKey

describe('an add and its delete twin open and close the same hole', () => {
  const twins: Array<[string, string]> = [
    [`iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT`, `iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT`],
    [`iptables -I INPUT 1 -s %IP% -p tcp --dport 22 -j ACCEPT`, `iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT`],
    [`/sbin/iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT`, `/sbin/iptables -D INPUT -s %IP% -p tcp  --dport 22 -j ACCEPT`],
    [`iptables -w -t filter -A INPUT -s %IP%/32 -p tcp -m tcp --dport 22 -j ACCEPT`, `iptables -D INPUT -j ACCEPT -p tcp --dport=22 -s %IP%`],
    [`iptables -A INPUT -s %IP% -p tcp --syn --dport 22 -j ACCEPT`, `iptables -D INPUT -s %IP% -p tcp --tcp-flags SYN,RST,ACK,FIN SYN --dport 22 -j ACCEPT`],
    [`iptables -A INPUT -s %IP% -d 10.0.0.1/32 -j ACCEPT`, `iptables -D INPUT -s %IP% -d 10.0.0.1 -j ACCEPT`],
    [`ufw allow from %IP% to any port 22 proto tcp`, `ufw delete allow from %IP% to any port 22 proto tcp`],
    [`ufw prepend allow proto tcp from %IP% to any port 22`, `ufw delete allow from %IP% to any port 22 proto tcp`],
  ];
  it.each(twins)('%s  <->  %s', (add, del) => {
    expect(single(add).op).toBe('add');
    expect(single(del).op).toBe('delete');
    expect(key(add)).toBe(key(del));
    expect(single(add).rule).toBe(single(del).rule);
  });

  it('different holes have different keys', () => {
    const lines = [
      `${IPT} -p tcp --dport 22 -j ACCEPT`,
      `${IPT} -p tcp --dport 2222 -j ACCEPT`,
      `${IPT} -p udp --dport 22 -j ACCEPT`,
      `${IPT} -p tcp --syn --dport 22 -j ACCEPT`,
      `${IPT} -p tcp --dport 22 -m state --state NEW -j ACCEPT`,
      `${IPT} -p tcp --dport 22 -i eth0 -j ACCEPT`,
      `${IPT} -p tcp --dport 22 -d 10.0.0.1 -j ACCEPT`,
      `iptables -A FORWARD -s %IP% -p tcp --dport 22 -j ACCEPT`,
      `${IPT} -j ACCEPT`,
    ];
    expect(new Set(lines.map(key)).size).toBe(lines.length);
  });

  it('ufw and iptables rules for the same port give the same key (families differ)', () => {
    const u = single('ufw allow from %IP% to any port 22 proto tcp');
    const i = single('iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT');
    expect(grantKey(u.target)).toBe(grantKey(i.target));
    expect(u.families).toEqual(['ip', 'ip6']);
    expect(i.families).toEqual(['ip']);
  });
});

// --------------------------------------------------------------- properties

describe('properties', () => {
  const pieces = [
    'iptables', '/sbin/ip6tables', 'ufw', 'nft', 'firewall-cmd', 'sudo', 'echo',
    '-A', '-I', '-D', 'INPUT', 'FORWARD', '1', '-s', '%IP%', '%IP%/32', '-d', '10.0.0.1/8', '::1', '-p', 'tcp', 'udp',
    '-m', 'multiport', 'state', '--dport', '--dports', '22', '1:2', '22,80', '--syn', '--state', 'NEW', '-j', 'ACCEPT',
    '-w', '!', 'allow', 'delete', 'insert', 'from', 'to', 'any', 'port', 'proto', 'in', 'on', 'eth0',
    'add', 'element', 'inet', 'ip', 'filter', 'set', '{', '}', '{ %IP% }', ',', 'timeout',
    '--add-rich-rule=', "'", '"', 'rule', 'family="ipv4"', 'source', 'address="%IP%"', 'accept', 'service', 'name=ssh',
    ' ', ' ', '\t', ';', '&&', '&', '|', '||', '>', '2>', '$', '$(', '`', '\\', '#', '*', '~', '\u00a0', '\u2013', '=', '\n',
  ];
  const shellish = fc.array(fc.constantFrom(...pieces), { maxLength: 30 }).chain((xs) =>
    fc.constantFrom(xs.join(''), xs.join(' ')),
  );

  const wellFormed = (line: string): void => {
    const r = analyseCommand(line);
    if (r.kind === 'opaque') {
      expect(r.offset).toBeGreaterThanOrEqual(0);
      expect(r.offset).toBeLessThanOrEqual(line.length);
      expect(line.slice(r.offset, r.offset + r.token.length)).toBe(r.token);
      expect(r.reason.length).toBeGreaterThan(0);
    } else if (r.kind === 'grants') {
      expect(r.actions.length).toBeGreaterThan(0);
      let last = -1;
      for (const a of r.actions) {
        expect(a.offset).toBeGreaterThanOrEqual(last);
        expect(a.offset).toBeLessThan(line.length);
        expect(a.families.length).toBeGreaterThan(0);
        last = a.offset;
      }
    } else {
      // nothing but blanks, newlines and maybe a comment
      expect(line).toMatch(/^[ \t\n]*(#|$)/);
    }
  };

  it('never throws on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => wellFormed(s)), { numRuns: 2000 });
  });

  it('never throws on shell-like and command-like strings', () => {
    fc.assert(fc.property(shellish, (s) => wellFormed(s)), { numRuns: 5000 });
  });

  it('iptables options may come in any order (after -p for port options)', () => {
    const groups = ['-s %IP%', '-j ACCEPT', '-t filter', '-i eth0', '-d 10.0.0.1', '-p tcp --syn --dport 22', '-m state --state NEW', '-w'];
    const expected = grantKey(filter({ proto: 'tcp', dports: [port(22)], synOnly: true, newOnly: true, iif: 'eth0', daddr: '10.0.0.1' }));
    fc.assert(
      fc.property(fc.shuffledSubarray(groups, { minLength: groups.length }), fc.constantFrom('-A INPUT', '-I INPUT 1', '-D INPUT'), (gs, cmd) => {
        const at = gs.length >> 1;
        const line = ['iptables', ...gs.slice(0, at), cmd, ...gs.slice(at)].join(' ');
        expect(key(line)).toBe(expected);
      }),
    );
  });
});
