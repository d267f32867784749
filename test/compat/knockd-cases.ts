// KNOCKD COMPATIBILITY TABLE
//
// Small knockd.conf files and what the REAL knockd 0.8 (Debian package
// `knockd`) did with them. Every verdict and message below was observed by
// running `/usr/sbin/knockd -D -v -i lo -c FILE` (see run-knockd.ts), never
// guessed; knockd-oracle.test.ts re-observes all of them on every run.
//
// - knockd:      'accept' = knockd started listening and kept running;
//                'reject' = it exited at start-up.
// - knockdSays:  (rejections only) the exact error line knockd printed on
//                stderr. Config errors carry the 1-based line number that
//                knockd counted.
// - knockdShows: (optional) exact excerpts of knockd's -D/-v output that pin
//                HOW it read the config (e.g. the parsed sequence
//                "config: d: sequence: 70:tcp", a pcap filter fragment, or a
//                warning printed on stderr while still accepting).
// - files:       extra files written next to the config (relative names; knockd
//                runs with that temp dir as cwd), e.g. one-time-sequence files.

export interface KnockdCase {
  name: string;
  text: string;
  files?: Record<string, string>;
  knockd: 'accept' | 'reject';
  knockdSays?: string;
  knockdShows?: string[];
}

/** Join lines with LF and end the file with a newline. */
function lf(...lines: string[]): string {
  return lines.join('\n') + '\n';
}

const ports = (n: number, suffix = ''): string =>
  Array.from({ length: n }, (_, i) => `${i + 1}${suffix}`).join(',');

/** A `command=` line of exactly `len` characters. */
const commandLine = (len: number): string => 'command=' + 'a'.repeat(len - 'command='.length);

const DEBIAN_DEFAULT = [
  '[options]',
  '\tUseSyslog',
  '',
  '[openSSH]',
  '\tsequence    = 7000,8000,9000',
  '\tseq_timeout = 5',
  '\tcommand     = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
  '\ttcpflags    = syn',
  '',
  '[closeSSH]',
  '\tsequence    = 9000,8000,7000',
  '\tseq_timeout = 5',
  '\tcommand     = /sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
  '\ttcpflags    = syn',
  '',
  '[openHTTPS]',
  '\tsequence    = 12345,54321,24680,13579',
  '\tseq_timeout = 5',
  '\tcommand     = /usr/local/sbin/knock_add -i -c INPUT -p tcp -d 443 -f %IP%',
  '\ttcpflags    = syn',
];

const NO_MORE_SEQ = 'no more sequences left in the one time sequences file for door d --> disabling the door';

export const knockdCases: KnockdCase[] = [
  // ---------------------------------------------------------------- basics
  {
    name: 'minimal door',
    text: lf('[d]', 'sequence=7000'),
    knockd: 'accept',
    knockdShows: ["config: d: sequence: 7000:tcp"],
  },
  {
    name: 'Debian default /etc/knockd.conf (tabs, blank lines, bare UseSyslog)',
    text: lf(...DEBIAN_DEFAULT),
    knockd: 'accept',
    knockdShows: ['config: openHTTPS: sequence: 12345:tcp,54321:tcp,24680:tcp,13579:tcp'],
  },
  { name: 'empty file (no doors at all)', text: '', knockd: 'accept' },
  { name: 'file with only [options]', text: lf('[options]'), knockd: 'accept' },
  {
    name: 'file with only comments and blank lines',
    text: lf('# just a comment', '', '   ', '\t'),
    knockd: 'accept',
  },
  {
    name: 'no newline at end of file',
    text: '[d]\nsequence=7000',
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 7000:tcp'],
  },

  // -------------------------------------------------------------- sections
  {
    name: '[Options] (capital O) is a door, not the global section',
    text: lf('[Options]', 'sequence=1'),
    knockd: 'accept',
    knockdShows: ["config: Options: sequence: 1:tcp"],
  },
  {
    name: '[Options] is a door: LogFile there is a syntax error',
    text: lf('[Options]', 'logfile=./knockd.log'),
    knockd: 'reject',
    knockdSays: 'config: line 2: syntax error',
  },
  {
    name: '[OPTIONS] alone is a door with an empty sequence',
    text: lf('[OPTIONS]'),
    knockd: 'reject',
    knockdSays: "error: section 'OPTIONS' has an empty knock sequence",
  },
  {
    name: 'door key inside [options] is a syntax error',
    text: lf('[options]', 'sequence=1'),
    knockd: 'reject',
    knockdSays: 'config: line 2: syntax error',
  },
  {
    name: 'empty section name []',
    text: lf('[]', 'sequence=1'),
    knockd: 'reject',
    knockdSays: 'config: line 1: bad section name',
  },
  {
    name: 'empty section name [] after a valid door',
    text: lf('[d]', 'sequence=1', '[]'),
    knockd: 'reject',
    knockdSays: 'config: line 3: bad section name',
  },
  {
    name: 'section name of one blank [ ] is a valid (untrimmed) door name',
    text: lf('[ ]', 'sequence=1'),
    knockd: 'accept',
    knockdShows: ["config: new section: ' '"],
  },
  {
    name: 'section name is not trimmed: [ d ]',
    text: lf('[ d ]', 'sequence=1'),
    knockd: 'accept',
    knockdShows: ["config: new section: ' d '"],
  },
  {
    name: 'nested brackets [[d]] give door name [d]',
    text: lf('[[d]]', 'sequence=1'),
    knockd: 'accept',
    knockdShows: ["config: new section: '[d]'"],
  },
  {
    name: 'unclosed [d is a directive, before any section',
    text: lf('[d', 'sequence=1'),
    knockd: 'reject',
    knockdSays: 'config: line 1: all directives must belong to a section',
  },
  {
    name: '[d] followed by text is not a section header',
    text: lf('[d] x', 'sequence=1'),
    knockd: 'reject',
    knockdSays: 'config: line 1: all directives must belong to a section',
  },
  {
    name: 'directive before any section',
    text: lf('sequence=1', '[d]', 'sequence=1'),
    knockd: 'reject',
    knockdSays: 'config: line 1: all directives must belong to a section',
  },
  {
    name: 'bare UseSyslog before any section',
    text: lf('UseSyslog', '[d]', 'sequence=1'),
    knockd: 'reject',
    knockdSays: 'config: line 1: all directives must belong to a section',
  },
  {
    name: 'commented-out header leaves its directive sectionless',
    text: lf('#[d]', 'sequence=1'),
    knockd: 'reject',
    knockdSays: 'config: line 2: all directives must belong to a section',
  },
  {
    name: 'comments and blank lines before the first section',
    text: lf('# knockd config', '', '[d]', 'sequence=1'),
    knockd: 'accept',
  },
  {
    name: '[options] may come after a door',
    text: lf('[d]', 'sequence=1', '[options]', 'logfile=./knockd.log'),
    knockd: 'accept',
    knockdShows: ['config: log file: ./knockd.log'],
  },
  {
    name: '[options] twice',
    text: lf('[options]', 'UseSyslog', '[options]', 'logfile=./knockd.log', '[d]', 'sequence=1'),
    knockd: 'accept',
  },
  {
    name: 'two doors may share a name',
    text: lf('[d]', 'sequence=1', '[d]', 'sequence=2'),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 1:tcp', 'config: d: sequence: 2:tcp'],
  },
  {
    name: 'empty door followed by a good door',
    text: lf('[d]', '[e]', 'sequence=1'),
    knockd: 'reject',
    knockdSays: "error: section 'd' has an empty knock sequence",
  },
  {
    name: 'good door followed by an empty door',
    text: lf('[d]', 'sequence=1', '[e]'),
    knockd: 'reject',
    knockdSays: "error: section 'e' has an empty knock sequence",
  },
  {
    name: 'a syntax error is reported before the empty-sequence check',
    text: lf('[d]', '[e]', 'foo'),
    knockd: 'reject',
    knockdSays: 'config: line 3: syntax error',
  },

  // ------------------------------------------------------------------ keys
  {
    name: 'keys are case-insensitive',
    text: lf('[d]', 'SeQuEnCe=1', 'CoMmAnD=/bin/true', 'SEQ_TIMEOUT=5', 'tcpFlags=syn'),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 1:tcp', 'config: d: start_command: /bin/true', 'config: d: seq_timeout: 5'],
  },
  {
    name: 'aliases command, command_6, timeout',
    text: lf('[d]', 'sequence=1', 'command=/bin/true', 'command_6=/bin/false', 'timeout=7'),
    knockd: 'accept',
    knockdShows: [
      'config: d: start_command: /bin/true',
      'config: d: start_command_6: /bin/false',
      'config: d: seq_timeout: 7',
    ],
  },
  {
    name: 'every door key',
    text: lf(
      '[d]',
      'target=127.0.0.1',
      'sequence=7000,8000:udp',
      'seq_timeout=5',
      'start_command=/bin/true %IP%',
      'start_command_6=/bin/true %IP% v6',
      'cmd_timeout=10',
      'stop_command=/bin/false %IP%',
      'stop_command_6=/bin/false %IP% v6',
      'tcpflags=syn,!ack',
    ),
    knockd: 'accept',
    knockdShows: [
      'config: d: target: 127.0.0.1',
      'config: d: cmd_timeout: 10',
      'config: d: stop_command: /bin/false %IP%',
      'config: d: stop_command_6: /bin/false %IP% v6',
    ],
  },
  {
    name: 'every [options] key (Interface is overridden by -i)',
    text: lf('[options]', 'LogFile=./knockd.log', 'PidFile=./knockd.pid', 'Interface=eth7', '[d]', 'sequence=1'),
    knockd: 'accept',
    knockdShows: ['config: log file: ./knockd.log', 'listening on lo'],
  },
  {
    name: 'unknown key in a door',
    text: lf('[d]', 'sequence=1', 'foo=1'),
    knockd: 'reject',
    knockdSays: 'config: line 3: syntax error',
  },
  {
    name: 'unknown key in [options]',
    text: lf('[options]', 'foo=1', '[d]', 'sequence=1'),
    knockd: 'reject',
    knockdSays: 'config: line 2: syntax error',
  },
  {
    name: 'options key LogFile inside a door',
    text: lf('[d]', 'sequence=1', 'logfile=./knockd.log'),
    knockd: 'reject',
    knockdSays: 'config: line 3: syntax error',
  },
  {
    name: 'options key Interface inside a door',
    text: lf('[d]', 'sequence=1', 'interface=lo'),
    knockd: 'reject',
    knockdSays: 'config: line 3: syntax error',
  },
  {
    name: 'line without = in a door',
    text: lf('[d]', 'sequence 1'),
    knockd: 'reject',
    knockdSays: 'config: line 2: syntax error',
  },
  {
    name: 'line without = in [options]',
    text: lf('[options]', 'logfile', '[d]', 'sequence=1'),
    knockd: 'reject',
    knockdSays: 'config: line 2: syntax error',
  },
  {
    name: 'blank inside a key',
    text: lf('[d]', 'se quence=1'),
    knockd: 'reject',
    knockdSays: 'config: line 2: syntax error',
  },
  {
    name: 'empty key',
    text: lf('[d]', '=1', 'sequence=1'),
    knockd: 'reject',
    knockdSays: 'config: line 2: syntax error',
  },
  {
    name: 'line that is just =',
    text: lf('[d]', 'sequence=1', '='),
    knockd: 'reject',
    knockdSays: 'config: line 3: syntax error',
  },
  { name: 'bare UseSyslog in [options]', text: lf('[options]', 'UseSyslog', '[d]', 'sequence=1'), knockd: 'accept' },
  { name: 'bare UseSyslog in a door', text: lf('[d]', 'sequence=1', 'UseSyslog'), knockd: 'accept' },
  {
    name: 'bare usesyslog, lower case, with blanks around',
    text: lf('[options]', '   usesyslog   ', '[d]', 'sequence=1'),
    knockd: 'accept',
  },
  {
    name: 'UseSyslog = yes in [options]',
    text: lf('[options]', 'UseSyslog = yes', '[d]', 'sequence=1'),
    knockd: 'reject',
    knockdSays: 'config: line 2: syntax error',
  },
  {
    name: 'UseSyslog=yes in a door',
    text: lf('[d]', 'sequence=1', 'UseSyslog=yes'),
    knockd: 'reject',
    knockdSays: 'config: line 3: syntax error',
  },
  {
    name: 'Use Syslog (with a blank) is not UseSyslog',
    text: lf('[d]', 'sequence=1', 'Use Syslog'),
    knockd: 'reject',
    knockdSays: 'config: line 3: syntax error',
  },
  {
    name: 'split at the first =: value may contain =',
    text: lf('[d]', 'sequence=1', 'command=/bin/echo a=b c==d'),
    knockd: 'accept',
    knockdShows: ['config: d: start_command: /bin/echo a=b c==d'],
  },
  {
    name: 'sequence==1 has value "=1", which reads as port 0',
    text: lf('[d]', 'sequence==1'),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 0:tcp'],
  },
  {
    name: 'last sequence wins',
    text: lf('[d]', 'sequence=1,3', 'sequence=2:udp'),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 2:udp', 'and ((udp dst port 2)))'],
  },
  {
    name: 'last start command wins (via alias)',
    text: lf('[d]', 'sequence=1', 'start_command=/bin/true', 'command=/bin/false'),
    knockd: 'accept',
    knockdShows: ['config: d: start_command: /bin/true', 'config: d: start_command: /bin/false'],
  },
  {
    name: 'an error is fatal even if a later line would override it',
    text: lf('[d]', 'sequence=70000', 'sequence=1'),
    knockd: 'reject',
    knockdSays: 'config: section d: port 70000 is invalid',
  },
  {
    name: 'empty start_command_6 is accepted',
    text: lf('[d]', 'sequence=1', 'start_command=/bin/true', 'start_command_6='),
    knockd: 'accept',
    knockdShows: ['config: d: start_command_6: \n'],
  },
  {
    name: 'door with only commands (no sequence)',
    text: lf('[d]', 'command=/bin/true', 'stop_command=/bin/false', 'cmd_timeout=5'),
    knockd: 'reject',
    knockdSays: "error: section 'd' has an empty knock sequence",
  },

  // -------------------------------------------------------------- comments
  {
    name: '# at line start and indented # are comments',
    text: lf('[d]', '# a comment', '   # indented comment', '\t#tab-indented', 'sequence=1'),
    knockd: 'accept',
  },
  {
    name: '# mid-line is part of the value (command)',
    text: lf('[d]', 'sequence=1', 'command=/bin/echo # not a comment'),
    knockd: 'accept',
    knockdShows: ['config: d: start_command: /bin/echo # not a comment'],
  },
  {
    name: '# mid-line after a protocol makes it unknown',
    text: lf('[d]', 'sequence=1:udp # comment'),
    knockd: 'reject',
    knockdSays: 'config: section d: unknown protocol in knock sequence',
  },
  {
    name: '# mid-line after a port is ignored by atoi',
    text: lf('[d]', 'sequence=1,2 # comment'),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 1:tcp,2:tcp'],
  },
  {
    name: '; is not a comment marker',
    text: lf('[d]', 'sequence=1', '; comment'),
    knockd: 'reject',
    knockdSays: 'config: line 3: syntax error',
  },

  // ----------------------------------------------------------------- ports
  { name: 'port 65535', text: lf('[d]', 'sequence=65535'), knockd: 'accept' },
  {
    name: 'port 65536',
    text: lf('[d]', 'sequence=65536'),
    knockd: 'reject',
    knockdSays: 'config: section d: port 65536 is invalid',
  },
  {
    name: 'huge port 99999999999',
    text: lf('[d]', 'sequence=99999999999'),
    knockd: 'reject',
    knockdSays: 'config: section d: port 99999999999 is invalid',
  },
  {
    name: 'invalid port is echoed raw (untrimmed item text, no line number)',
    text: lf('[d]', 'sequence=1, 70000 :udp'),
    knockd: 'reject',
    knockdSays: 'config: section d: port  70000  is invalid',
  },
  {
    name: 'invalid port with trailing junk is echoed with the junk',
    text: lf('[door x]', 'sequence=70000abc'),
    knockd: 'reject',
    knockdSays: 'config: section door x: port 70000abc is invalid',
  },
  {
    name: 'port 0',
    text: lf('[d]', 'sequence=0'),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 0:tcp'],
  },
  {
    name: 'empty item in the middle reads as port 0',
    text: lf('[d]', 'sequence=1,,2'),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 1:tcp,0:tcp,2:tcp'],
  },
  {
    name: 'trailing comma adds port 0',
    text: lf('[d]', 'sequence=1,'),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 1:tcp,0:tcp'],
  },
  {
    name: '70O0 (letter O) reads as port 70',
    text: lf('[d]', 'sequence=70O0'),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 70:tcp'],
  },
  {
    name: 'non-numeric port reads as 0',
    text: lf('[d]', 'sequence=abc,7000'),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 0:tcp,7000:tcp'],
  },
  {
    name: 'negative ports wrap to 16 bits',
    text: lf('[d]', 'sequence=-1,-65536,-70000'),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 65535:tcp,0:tcp,61072:tcp'],
  },
  {
    name: 'atoi: +5, 0x10, leading blank',
    text: lf('[d]', 'sequence=+5,0x10, 7'),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 5:tcp,0:tcp,7:tcp'],
  },
  {
    name: '32 ports',
    text: lf('[d]', `sequence=${ports(32)}`),
    knockd: 'accept',
  },
  {
    name: '33 ports',
    text: lf('[d]', `sequence=${ports(33)}`),
    knockd: 'reject',
    knockdSays: 'config: section d: too many ports in knock sequence',
  },
  {
    name: '32 ports plus a trailing comma is 33',
    text: lf('[d]', `sequence=${ports(32, ':udp')},`),
    knockd: 'reject',
    knockdSays: 'config: section d: too many ports in knock sequence',
  },
  {
    name: 'empty sequence value reads as one port 0 (not an empty sequence)',
    text: lf('[d]', 'sequence='),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 0:tcp'],
  },
  {
    name: 'sequence of a lone comma is two ports 0',
    text: lf('[d]', 'sequence=,'),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 0:tcp,0:tcp'],
  },
  {
    name: 'door with no sequence',
    text: lf('[d]', 'seq_timeout=5'),
    knockd: 'reject',
    knockdSays: "error: section 'd' has an empty knock sequence",
  },
  {
    name: 'the same port twice',
    text: lf('[d]', 'sequence=1:tcp,2:udp,1'),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 1:tcp,2:udp,1:tcp'],
  },

  // ------------------------------------------------------------- protocols
  {
    name: 'tcp/udp/TCP/UDP with blanks around items and protocols',
    text: lf('[d]', 'sequence = 1:tcp, 2:udp,3:TCP , 4 : UDP '),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 1:tcp,2:udp,3:tcp,4:udp'],
  },
  {
    name: 'bad protocol icmp',
    text: lf('[d]', 'sequence=1:icmp'),
    knockd: 'reject',
    knockdSays: 'config: section d: unknown protocol in knock sequence',
  },
  {
    name: 'empty protocol after colon',
    text: lf('[d]', 'sequence=1:'),
    knockd: 'reject',
    knockdSays: 'config: section d: unknown protocol in knock sequence',
  },
  {
    name: 'blank inside the protocol',
    text: lf('[d]', 'sequence=1:tc p'),
    knockd: 'reject',
    knockdSays: 'config: section d: unknown protocol in knock sequence',
  },
  {
    name: 'a second colon and what follows are ignored',
    text: lf('[d]', 'sequence=1:udp:x'),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 1:udp'],
  },
  {
    name: 'missing port before the colon reads as 0',
    text: lf('[d]', 'sequence=:udp'),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 0:udp'],
  },
  {
    name: 'semicolon instead of colon: atoi stops, protocol defaults to tcp',
    text: lf('[d]', 'sequence=1;udp'),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 1:tcp'],
  },

  // ------------------------------------------------------------- tcpflags
  {
    name: 'tcpflags syn',
    text: lf('[d]', 'sequence=1', 'tcpflags=syn'),
    knockd: 'accept',
    knockdShows: ['config: tcp flag: SYN', 'tcp[tcpflags] & tcp-syn != 0'],
  },
  {
    name: 'tcpflags: every flag, with !',
    text: lf('[d]', 'sequence=1', 'tcpflags=fin,!syn,rst,psh,ack,urg'),
    knockd: 'accept',
    knockdShows: ['config: tcp flag: !SYN', 'tcp[tcpflags] & tcp-syn == 0', 'tcp[tcpflags] & tcp-push != 0'],
  },
  {
    name: 'tcpflags upper case',
    text: lf('[d]', 'sequence=1', 'TCPFLAGS=SYN,!ACK'),
    knockd: 'accept',
    knockdShows: ['config: tcp flag: !ACK'],
  },
  {
    name: 'tcpflags with a blank after the comma',
    text: lf('[d]', 'sequence=1', 'tcpflags=syn, ack'),
    knockd: 'reject',
    knockdSays: 'config: line 3: unrecognized flag " ACK"',
  },
  {
    name: 'tcpflags with a blank before the comma',
    text: lf('[d]', 'sequence=1', 'tcpflags=SYN ,ACK'),
    knockd: 'reject',
    knockdSays: 'config: line 3: unrecognized flag "SYN "',
  },
  {
    name: 'tcpflags value trimmed as a whole',
    text: lf('[d]', 'sequence=1', 'tcpflags=   syn   '),
    knockd: 'accept',
    knockdShows: ['config: tcp flag: SYN'],
  },
  {
    name: 'tcpflags unknown flag',
    text: lf('[d]', 'sequence=1', 'tcpflags=foo'),
    knockd: 'reject',
    knockdSays: 'config: line 3: unrecognized flag "FOO"',
  },
  {
    name: 'tcpflags "! syn"',
    text: lf('[d]', 'sequence=1', 'tcpflags=! syn'),
    knockd: 'reject',
    knockdSays: 'config: line 3: unrecognized flag "! SYN"',
  },
  {
    name: 'tcpflags "!!syn"',
    text: lf('[d]', 'sequence=1', 'tcpflags=!!syn'),
    knockd: 'reject',
    knockdSays: 'config: line 3: unrecognized flag "!!SYN"',
  },
  {
    name: 'tcpflags empty value',
    text: lf('[d]', 'sequence=1', 'tcpflags='),
    knockd: 'reject',
    knockdSays: 'config: line 3: unrecognized flag ""',
  },
  {
    name: 'tcpflags trailing comma',
    text: lf('[d]', 'sequence=1', 'tcpflags=syn,'),
    knockd: 'reject',
    knockdSays: 'config: line 3: unrecognized flag ""',
  },
  {
    name: 'tcpflags empty item',
    text: lf('[d]', 'sequence=1', 'tcpflags=syn,,ack'),
    knockd: 'reject',
    knockdSays: 'config: line 3: unrecognized flag ""',
  },
  {
    name: 'tcpflags: later item for the same flag overrides (syn,!syn)',
    text: lf('[d]', 'sequence=1', 'tcpflags=syn,!syn'),
    knockd: 'accept',
    knockdShows: ['(((tcp dst port 1) and tcp[tcpflags] & tcp-syn == 0)))'],
  },
  {
    name: 'tcpflags: later item for the same flag overrides (!syn,syn)',
    text: lf('[d]', 'sequence=1', 'tcpflags=!syn,syn'),
    knockd: 'accept',
    knockdShows: ['(((tcp dst port 1) and tcp[tcpflags] & tcp-syn != 0)))'],
  },
  {
    name: 'tcpflags given twice: the lines ACCUMULATE (not last-wins)',
    text: lf('[d]', 'sequence=1', 'tcpflags=syn', 'tcpflags=ack'),
    knockd: 'accept',
    knockdShows: ['(((tcp dst port 1) and tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack != 0)))'],
  },
  {
    name: 'tcpflags given twice: a later line overrides the same flag',
    text: lf('[d]', 'sequence=1', 'tcpflags=syn', 'tcpflags=!syn'),
    knockd: 'accept',
    knockdShows: ['(((tcp dst port 1) and tcp[tcpflags] & tcp-syn == 0)))'],
  },
  {
    name: 'tcpflags on a UDP-only door are accepted and unused',
    text: lf('[d]', 'sequence=1:udp', 'tcpflags=syn'),
    knockd: 'accept',
    knockdShows: ['((udp dst port 1)))'],
  },

  // ---------------------------------------------------- one_time_sequences
  {
    name: 'one_time_sequences: file with a valid first line',
    text: lf('[d]', 'one_time_sequences=ots.txt'),
    files: { 'ots.txt': lf('1000,2000', '3000') },
    knockd: 'accept',
    knockdShows: ['new sequence for door d: 1000:tcp,2000:tcp'],
  },
  {
    name: 'one_time_sequences: leading blank on lines (recommended style)',
    text: lf('[d]', 'one_time_sequences=ots.txt'),
    files: { 'ots.txt': lf(' 1000:udp,2000', ' 3000') },
    knockd: 'accept',
    knockdShows: ['new sequence for door d: 1000:udp,2000:tcp'],
  },
  {
    name: 'one_time_sequences: comments, blanks and bad lines skipped until a valid one',
    text: lf('[d]', 'one_time_sequences=ots.txt'),
    files: { 'ots.txt': lf('# header', '', '   ', '1:icmp', '70000', ' 4000:udp') },
    knockd: 'accept',
    knockdShows: [
      'config: section d: unknown protocol in knock sequence',
      'config: section d: port 70000 is invalid',
      'new sequence for door d: 4000:udp',
    ],
  },
  {
    name: 'one_time_sequences: a non-numeric line reads as port 0 (it is valid)',
    text: lf('[d]', 'one_time_sequences=ots.txt'),
    files: { 'ots.txt': lf('# header', 'foo', '4000') },
    knockd: 'accept',
    knockdShows: ['new sequence for door d: 0:tcp'],
  },
  {
    name: 'one_time_sequences: file with CRLF line endings',
    text: lf('[d]', 'one_time_sequences=ots.txt'),
    files: { 'ots.txt': '  1000,2000\r\n  3000\r\n' },
    knockd: 'accept',
    knockdShows: ['new sequence for door d: 1000:tcp,2000:tcp'],
  },
  {
    name: 'one_time_sequences: file with no valid line',
    text: lf('[d]', 'one_time_sequences=ots.txt'),
    files: { 'ots.txt': lf('# header', '1:icmp', '70000', '') },
    knockd: 'reject',
    knockdSays: NO_MORE_SEQ,
    knockdShows: ['config: no more sequences left in the one time sequences file ots.txt'],
  },
  {
    name: 'one_time_sequences: file with only comments',
    text: lf('[d]', 'one_time_sequences=ots.txt'),
    files: { 'ots.txt': lf('#1000', '# 2000', '') },
    knockd: 'reject',
    knockdSays: NO_MORE_SEQ,
  },
  {
    name: 'one_time_sequences: empty file',
    text: lf('[d]', 'one_time_sequences=ots.txt'),
    files: { 'ots.txt': '' },
    knockd: 'reject',
    knockdSays: NO_MORE_SEQ,
  },
  {
    name: 'one_time_sequences: missing file',
    text: lf('[d]', 'one_time_sequences=missing.txt'),
    knockd: 'reject',
    knockdSays: 'missing.txt: No such file or directory',
  },
  {
    name: 'one_time_sequences: empty file name',
    text: lf('[d]', 'one_time_sequences='),
    knockd: 'reject',
    knockdSays: 'No such file or directory',
  },
  {
    name: 'one_time_sequences: a directory',
    text: lf('[d]', 'one_time_sequences=otsdir'),
    files: { 'otsdir/placeholder': '' },
    knockd: 'reject',
    knockdSays: 'otsdir: Is a directory',
  },
  {
    name: 'one_time_sequences overrides an earlier sequence',
    text: lf('[d]', 'sequence=5', 'one_time_sequences=ots.txt'),
    files: { 'ots.txt': lf('1000,2000') },
    knockd: 'accept',
    knockdShows: ['(((tcp dst port 1000 or 2000))))'],
  },
  {
    name: 'a later sequence overrides one_time_sequences',
    text: lf('[d]', 'one_time_sequences=ots.txt', 'sequence=5'),
    files: { 'ots.txt': lf('1000,2000') },
    knockd: 'accept',
    knockdShows: ['(((tcp dst port 5))))'],
  },
  {
    name: 'one_time_sequences inside [options]',
    text: lf('[options]', 'one_time_sequences=ots.txt', '[d]', 'sequence=1'),
    files: { 'ots.txt': lf('1000') },
    knockd: 'reject',
    knockdSays: 'config: line 2: syntax error',
  },

  // ------------------------------------------------ whitespace and encoding
  {
    name: 'CRLF line endings',
    text: '[options]\r\nUseSyslog\r\n[d]\r\nsequence=1:udp\r\ncommand=/bin/true\r\n',
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 1:udp', 'config: d: start_command: /bin/true\n'],
  },
  {
    name: 'UTF-8 BOM before [options]',
    text: '\uFEFF' + lf('[options]', 'UseSyslog', '[d]', 'sequence=1'),
    knockd: 'reject',
    knockdSays: 'config: line 1: all directives must belong to a section',
  },
  {
    name: 'UTF-8 BOM before a comment line',
    text: '\uFEFF' + lf('# comment', '[d]', 'sequence=1'),
    knockd: 'reject',
    knockdSays: 'config: line 1: all directives must belong to a section',
  },
  {
    name: 'UTF-8 BOM before a key inside a door',
    text: lf('[d]', '\uFEFFsequence=1'),
    knockd: 'reject',
    knockdSays: 'config: line 2: syntax error',
  },
  {
    name: 'tabs around headers, keys and values',
    text: lf('\t[d]\t', '\tsequence\t=\t1:udp\t', '\tcommand\t=\t/bin/true\t'),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 1:udp', 'config: d: start_command: /bin/true\n'],
  },
  {
    name: 'trailing blanks',
    text: lf('[d]   ', 'sequence=1   ', 'command=/bin/true   '),
    knockd: 'accept',
    knockdShows: ['config: d: start_command: /bin/true\n'],
  },
  {
    name: 'blanks around key and value',
    text: lf('[d]', '  sequence  =  1:udp  '),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 1:udp'],
  },

  // ----------------------------------------------------------- line length
  {
    name: 'a 4095-character line is read whole',
    text: lf('[d]', 'sequence=1', commandLine(4095)),
    knockd: 'accept',
  },
  {
    name: 'a 4096-character line is split: its last character becomes line 4',
    text: lf('[d]', 'sequence=1', commandLine(4096)),
    knockd: 'reject',
    knockdSays: 'config: line 4: syntax error',
  },
  {
    name: 'text after character 4095 is read as a separate directive',
    text: lf('[d]', 'sequence=1', commandLine(4095) + 'sequence=5'),
    knockd: 'accept',
    knockdShows: ['config: d: sequence: 5:tcp', '(((tcp dst port 5))))'],
  },

  // ------------------------------------------------------ timeouts (atoi)
  {
    name: 'timeouts read with atoi, never rejected',
    text: lf('[d]', 'sequence=1', 'seq_timeout=5s', 'cmd_timeout=abc', 'timeout=-3'),
    knockd: 'accept',
    knockdShows: ['config: d: seq_timeout: 5\n', 'config: d: cmd_timeout: 0\n', 'config: d: seq_timeout: -3\n'],
  },

  // ---------------------------------------------------------------- target
  {
    name: 'target with an IPv6 address',
    text: lf('[d]', 'sequence=1', 'target=::1'),
    knockd: 'accept',
    knockdShows: ['((dst host ::1) and (((tcp dst port 1))))'],
  },
  {
    name: 'target is pasted into the pcap filter unchecked (rejected by pcap, not the parser)',
    text: lf('[d]', 'sequence=1', 'target=('),
    knockd: 'reject',
    knockdSays: "pcap_compile: can't parse filter expression: syntax error",
  },
];
