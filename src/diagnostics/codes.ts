// Every finding knockc can report, with a stable code. The docs table
// (docs/lint-codes.md, via `npm run docs`) is generated from this list, and a test checks that
// each code has an example that triggers it.
import type { Severity } from './diagnostic.js';

export interface CodeInfo {
  readonly code: string;
  readonly severity: Severity;
  readonly title: string;
  readonly hint: string;
  /** A config (or excerpt) that triggers the finding; used by docs and tests. */
  readonly example: string;
  /** true when knockd 0.8 refuses to start on this input. */
  readonly knockdRejects?: boolean;
}

const list: CodeInfo[] = [
  // Input problems: the file cannot be read at all.
  { code: 'KC001', severity: 'error', title: 'cannot read file', hint: 'check the path and permissions', example: '(a path that does not exist)', knockdRejects: true },
  { code: 'KC002', severity: 'error', title: 'not a regular file', hint: 'give the path of a knockd.conf file, not a directory', example: '(a directory)' },
  { code: 'KC003', severity: 'error', title: 'file too large', hint: 'a knockd.conf is a few kilobytes; is this the right file?', example: '(a file over 16 MiB)' },
  { code: 'KC004', severity: 'error', title: 'not a text file', hint: 'give the path of a knockd.conf (text), not of a program, an archive or a capture', example: '(lint /bin/true)' },

  // What knockd 0.8 rejects.
  { code: 'KC101', severity: 'error', title: 'bad section name', hint: 'give the section a name, e.g. [openSSH]', example: '[]', knockdRejects: true },
  { code: 'KC102', severity: 'error', title: 'directive outside a section', hint: 'put directives under [options] or a [door] header', example: 'sequence = 7000\n[door]', knockdRejects: true },
  { code: 'KC103', severity: 'error', title: 'line without "="', hint: 'directives are "key = value"; only UseSyslog stands alone', example: '[door]\nsequence 7000', knockdRejects: true },
  { code: 'KC104', severity: 'error', title: 'unknown key in [options]', hint: '[options] takes LogFile, PidFile, Interface and UseSyslog', example: '[options]\nlogfle = /var/log/knockd.log', knockdRejects: true },
  { code: 'KC105', severity: 'error', title: 'unknown key in a door', hint: 'doors take Sequence, One_Time_Sequences, Seq_Timeout, TCPFlags, Start_Command[_6], Cmd_Timeout, Stop_Command[_6], Target', example: '[door]\nsequense = 7000', knockdRejects: true },
  { code: 'KC106', severity: 'error', title: 'port out of range', hint: 'ports are 0-65535', example: '[door]\nsequence = 70000', knockdRejects: true },
  { code: 'KC107', severity: 'error', title: 'unknown protocol in sequence', hint: 'write port:tcp or port:udp', example: '[door]\nsequence = 7000:icmp', knockdRejects: true },
  { code: 'KC108', severity: 'error', title: 'too many ports in sequence', hint: 'knockd allows at most 32 knocks per door', example: '[door]\nsequence = 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33', knockdRejects: true },
  { code: 'KC109', severity: 'error', title: 'unrecognized TCP flag', hint: 'flags are fin, syn, rst, psh, ack, urg, each optionally with "!", comma-separated WITHOUT blanks', example: '[door]\nsequence = 7000\ntcpflags = syn, ack', knockdRejects: true },
  { code: 'KC110', severity: 'error', title: 'door has no knock sequence', hint: 'add "sequence = ..." or "one_time_sequences = FILE"', example: '[door]\nstart_command = true', knockdRejects: true },
  { code: 'KC111', severity: 'error', title: 'cannot open one-time sequences file', hint: 'knockd opens the file read-write relative to its working directory', example: '[door]\none_time_sequences = /missing', knockdRejects: true },
  { code: 'KC112', severity: 'error', title: 'no valid sequence in one-time sequences file', hint: 'add at least one line in the Sequence format', example: '[door]\none_time_sequences = empty.seq', knockdRejects: true },
  { code: 'KC113', severity: 'error', title: 'UTF-8 byte order mark', hint: 'save the file without BOM: knockd reads the BOM as text and rejects line 1', example: '\\uFEFF[options]', knockdRejects: true },
  { code: 'KC115', severity: 'error', title: 'target is not an address', hint: 'Target takes the IP address knocks are sent to, e.g. 198.51.100.7', example: '[door]\nsequence = 7000\ntarget = (', knockdRejects: true },
  { code: 'KC114', severity: 'error', title: 'UseSyslog takes no value', hint: 'write just "UseSyslog" on its own line', example: '[options]\nUseSyslog = yes', knockdRejects: true },
  { code: 'KC116', severity: 'error', title: 'Interface is not an interface name', hint: 'Interface takes a Linux interface name such as eth0 (1-15 bytes; no blanks, quotes, "/", ":", "$", "{}"); render templates before compiling', example: '[options]\nInterface = {{ network_interface }}\n[door]\nsequence = 7000', knockdRejects: true },
  { code: 'KC117', severity: 'error', title: 'too many doors', hint: 'knockd 0.8 cannot start with thousands of doors (its packet filter runs out of memory); knockc reads at most 10,000', example: '(a config with more than 10,000 doors)', knockdRejects: true },

  // Accepted by knockd, but almost certainly not what the author meant.
  { code: 'KC201', severity: 'warning', title: 'port reads as 0', hint: 'knockd reads an empty or non-numeric port as 0; check for a stray comma or a typo', example: '[door]\nsequence = 7000,,8000' },
  { code: 'KC202', severity: 'warning', title: 'port text has trailing junk', hint: 'knockd stops reading the port at the first non-digit', example: '[door]\nsequence = 70O0' },
  { code: 'KC203', severity: 'warning', title: 'negative port wraps around', hint: 'knockd stores -N as 65536-N', example: '[door]\nsequence = -1' },
  { code: 'KC204', severity: 'warning', title: 'timeout is not a plain number', hint: 'knockd reads the leading digits only ("5s" is 5, "abc" is 0)', example: '[door]\nsequence = 7000\nseq_timeout = 5s' },
  { code: 'KC205', severity: 'warning', title: 'timeout is zero or negative', hint: 'seq_timeout <= 0 lets only one-knock doors open; cmd_timeout < 0 never runs the stop command', example: '[door]\nsequence = 7000,8000\nseq_timeout = 0' },
  { code: 'KC206', severity: 'warning', title: 'duplicate door name', hint: 'logs and knockc objects are named after doors; give each a unique name', example: '[door]\nsequence = 1\n[door]\nsequence = 2' },
  { code: 'KC207', severity: 'warning', title: 'stop command without start command', hint: 'knockd only runs the stop command after a start command', example: '[door]\nsequence = 7000\nstop_command = iptables -D ...' },
  { code: 'KC208', severity: 'warning', title: 'cmd_timeout without stop command', hint: 'cmd_timeout only delays the stop command', example: '[door]\nsequence = 7000\ncmd_timeout = 30' },
  { code: 'KC209', severity: 'warning', title: 'TCP flag given twice', hint: 'the later item wins; "syn,!syn" means "!syn"', example: '[door]\nsequence = 7000\ntcpflags = syn,!syn' },
  { code: 'KC210', severity: 'warning', title: 'TCP flags on a door without TCP knocks', hint: 'TCPFlags only applies to TCP knocks', example: '[door]\nsequence = 7000:udp\ntcpflags = syn' },
  { code: 'KC211', severity: 'warning', title: 'IPv4-only command runs for IPv6 knockers', hint: 'knockd falls back to start_command for IPv6 sources; add start_command_6 (ip6tables ...)', example: '[door]\nsequence = 7000\nstart_command = iptables -A INPUT -s %IP% -j ACCEPT' },
  { code: 'KC212', severity: 'warning', title: 'two doors have the same sequence', hint: 'both open on the same knock; merge them or change one', example: '[a]\nsequence = 1,2\n[b]\nsequence = 1,2' },
  { code: 'KC213', severity: 'warning', title: 'sequence is a prefix of another door\'s', hint: 'knocking the longer door also opens the shorter one', example: '[a]\nsequence = 1,2\n[b]\nsequence = 1,2,3' },
  { code: 'KC214', severity: 'warning', title: 'one-knock sequence', hint: 'a single port is found by any port scan; use three or more knocks', example: '[door]\nsequence = 7000' },
  { code: 'KC215', severity: 'warning', title: 'knock port is a port the door opens', hint: 'knocking on the protected port itself leaks the secret', example: '[door]\nsequence = 22\nstart_command = iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT' },
  { code: 'KC216', severity: 'warning', title: 'directive given twice', hint: 'the last one wins; remove the other', example: '[door]\nsequence = 1\nsequence = 2' },
  { code: 'KC217', severity: 'warning', title: 'line split by knockd\'s 4095-byte buffer', hint: 'knockd reads the rest of the line as a separate line', example: '(a line longer than 4095 bytes)' },
  { code: 'KC218', severity: 'warning', title: 'NUL byte in line', hint: 'knockd ignores everything after a NUL byte', example: '(a line with a 0x00 byte)' },
  { code: 'KC219', severity: 'warning', title: '"#" inside a value is not a comment', hint: 'knockd has no inline comments; move the comment to its own line', example: '[door]\nsequence = 7000 # ssh' },
  { code: 'KC220', severity: 'warning', title: 'extra ":" field in a knock ignored', hint: 'knocks are port or port:proto', example: '[door]\nsequence = 7000:tcp:x' },
  { code: 'KC221', severity: 'warning', title: 'command does not use %IP%', hint: 'it does the same for every knocker; add -s %IP% to open for the knocker only', example: '[door]\nsequence = 7000\nstart_command = iptables -A INPUT -p tcp --dport 22 -j ACCEPT' },
  { code: 'KC222', severity: 'warning', title: 'door does nothing', hint: 'the door has no start command: a correct knock only logs', example: '[door]\nsequence = 7000,8000' },
  { code: 'KC223', severity: 'warning', title: 'section name differs from "options" only in case', hint: '[options] is case-sensitive: this section is a door', example: '[Options]\nsequence = 1' },
  { code: 'KC224', severity: 'warning', title: 'door name truncated', hint: 'knockd keeps the first 127 bytes of a door name', example: '(a name over 127 bytes)' },
  { code: 'KC225', severity: 'warning', title: 'invalid line in one-time sequences file', hint: 'knockd skips it silently', example: '(a line "7000,70000" in the one-time sequences file)' },
  { code: 'KC226', severity: 'warning', title: 'control characters in file', hint: 'is this a binary file?', example: '(binary junk)' },
  { code: 'KC227', severity: 'warning', title: 'start_command_6 without IPv6-aware stop', hint: 'IPv6 knockers get start_command_6 but stop_command (IPv4) as stop; add stop_command_6', example: '[door]\nsequence = 7000\nstart_command_6 = ip6tables -A INPUT -s %IP% -j ACCEPT\nstop_command = iptables -D INPUT -s %IP% -j ACCEPT' },
  { code: 'KC228', severity: 'warning', title: 'target never matches', hint: 'knockd compares the destination as text: write the address as inet_ntop prints it (no leading zeros, lower-case, shortest IPv6 form)', example: '[door]\nsequence = 7000\ntarget = 198.051.100.7' },

  // Facts about the compiled result.
  { code: 'KC401', severity: 'warning', title: 'command not understood: door needs the runtime', hint: 'knockc compiles the iptables/ip6tables/ufw forms listed in docs/equivalence-and-differences.md ("Which commands become kernel grants"); anything else runs from `knockc run`', example: '[door]\nsequence = 7000\nstart_command = /sbin/shutdown -r +1' },
  { code: 'KC402', severity: 'warning', title: 'stop command is not the inverse of the start command: door needs the runtime', hint: 'a timed grant needs start "-A/-I ..." and stop "-D ..." with the same rule', example: '[door]\nsequence = 7000\nstart_command = iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\nstop_command = iptables -D INPUT -s %IP% -p tcp --dport 2222 -j ACCEPT' },
  { code: 'KC403', severity: 'info', title: 'no interface set: knocks are counted on all interfaces', hint: 'set Interface in [options] or pass --interface to match knockd -i', example: '[door]\nsequence = 7000' },
  { code: 'KC404', severity: 'info', title: 'one-time sequences need the runtime', hint: 'run `knockc run`: it runs the commands of a one-time door itself, so that a used sequence never opens twice', example: '[door]\none_time_sequences = seq.txt' },
  { code: 'KC405', severity: 'info', title: 'UseSyslog / LogFile apply to the runtime only', hint: 'compiled doors log through the kernel with --log', example: '[options]\nUseSyslog' },
  { code: 'KC406', severity: 'warning', title: 'xt_recent lists hold 100 sources by default', hint: "a flood of knocks from many sources evicts attempts in progress; raise the xt_recent module's ip_list_tot (see the compiled file's header)", example: '(lint or compile with --target iptables)' },
  { code: 'KC407', severity: 'warning', title: 'what the command opens depends on the firewall\'s state when it runs: door needs the runtime', hint: 'a delete fails when its rule is absent, and `&&`/`||` follow that; so does an insert at a position past 1. Keep start commands to adds (-A, -I) chained with `;`', example: '[door]\nsequence = 7000\nstart_command = iptables -D INPUT -s %IP% -p tcp --dport 23 -j ACCEPT && iptables -A INPUT -s %IP% -p tcp --dport 80 -j ACCEPT' },
  { code: 'KC408', severity: 'warning', title: 'grant knockc cannot reproduce exactly in the kernel: door needs the runtime', hint: 'nft set elements and firewall-cmd rich rules depend on objects the compiled rules cannot see (the set, the zone); `knockc run` runs the command as knockd would', example: '[door]\nsequence = 7000\nstart_command = nft add element inet filter allowed { %IP% }' },
  { code: 'KC409', severity: 'error', title: 'door needs the FORWARD path: name your forward chain', hint: 'with --into, name your forward chain with --forward-chain CHAIN', example: '(compile --into without --forward-chain, a door with a Target)' },
  { code: 'KC410', severity: 'error', title: 'timeout longer than xt_recent can count', hint: 'xt_recent multiplies seconds by the kernel\'s HZ in 32 bits; longer timeouts would expire far too early', example: '(compile --target iptables, seq_timeout = 5000000)' },

  // Other inputs.
  { code: 'KC501', severity: 'error', title: 'bad simulate trace line', hint: 'trace lines are "TIME SOURCE PROTO/PORT [FLAGS] [to ADDR] [on IFACE]" or "TIME SOURCE probe PROTO/PORT"', example: '0 198.51.100.2 tcp:7000' },
  { code: 'KC502', severity: 'error', title: 'cannot read simulate trace', hint: 'give the path of a trace file (or - for standard input), readable, not a directory', example: '(simulate CONF a-directory/)' },
  { code: 'KC503', severity: 'error', title: 'simulate trace is not a text file', hint: 'a trace is lines of text ("TIME SOURCE PROTO/PORT ..."); a pcap capture must be turned into one first (tcpdump -nn -tt -r FILE)', example: '(simulate CONF /bin/true)' },
];

export const CODES: ReadonlyMap<string, CodeInfo> = new Map(list.map((c) => [c.code, c]));
export const ALL_CODES: readonly CodeInfo[] = list;

export function codeInfo(code: string): CodeInfo {
  const c = CODES.get(code);
  if (!c) throw new Error(`internal: unknown diagnostic code ${code}`);
  return c;
}
