// Recognising knockd's start/stop commands as firewall grants.
//
// knockd runs each command line with `/bin/sh -c` after replacing %IP% with
// the knocker's address. knockc reads the line (placeholders still in it) the
// way the shell would, for the simple cases: words, quotes, backslashes, and
// the separators `;` and `&&`. Each simple command must then be one of the
// firewall commands below, adding or deleting a rule (or set element) that
// lets the knocker in. Anything else makes the whole line opaque, with the
// first token knockc could not follow and its offset in the line. Offsets are
// JavaScript string indices (UTF-16 units); an opaque token is the line's text
// as written (quotes included), so line.slice(offset, offset + token.length)
// is the token.
//
// Recognised (any directory prefix on the command name):
//   iptables, iptables-legacy, iptables-nft            (family ip)
//   ip6tables, ip6tables-legacy, ip6tables-nft         (family ip6)
//       -A|-I CHAIN [N] | -D CHAIN  (INPUT or FORWARD; -D by rule number is opaque)
//       -s %IP%[/32|/128] (required)  [-t filter] [-d ADDR[/LEN]] [-i IFACE]
//       [-p tcp|udp|6|17|all] [-m tcp|udp] [--dport N|A:B|:B|A:]
//       [-m multiport --dports LIST] [--syn | --tcp-flags SYN,RST,ACK,FIN SYN]
//       [-m state --state NEW] [-m conntrack --ctstate NEW] [-w [S]]  -j ACCEPT (required)
//   ufw [delete | insert N | prepend] allow [in [on IFACE]] from %IP%
//       [to any|ADDR [port N|A:B|LIST]] [proto tcp|udp]          (families ip and ip6)
//   firewall-cmd [--zone=Z] [-q] --add-rich-rule=R | --remove-rich-rule=R
//       R: rule family="ipv4"|"ipv6" source address="%IP%"
//          [port port="N|A-B" protocol="tcp|udp" | service name="ssh|http|https"] accept
//   nft add|delete element [ip|ip6|inet] TABLE SET { %IP% }      (a 'set-element' grant)

import type { CommandAnalysis, GrantAction } from './grant.js';
import { analyseFirewallCmd } from './commands/firewalld.js';
import { analyseIptables, IPTABLES_TOOLS } from './commands/iptables.js';
import { analyseNft } from './commands/nft.js';
import { Args, checked, fail, Opaque, splitShell, type ShellCommand } from './commands/shell.js';
import { analyseUfw } from './commands/ufw.js';

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

function analyseSimple(words: ShellCommand): GrantAction[] {
  const args = new Args(words);
  const name = checked(args.command);
  if (ASSIGNMENT.test(name.text)) fail(name, 'environment assignment before a command is not supported');
  const base = name.text.slice(name.text.lastIndexOf('/') + 1);
  const family = IPTABLES_TOOLS.get(base);
  if (family !== undefined) return [analyseIptables(args, base, family)];
  switch (base) {
    case 'ufw':
      return analyseUfw(args, base);
    case 'firewall-cmd':
      return [analyseFirewallCmd(args, base)];
    case 'nft':
      return [analyseNft(args, base)];
    case 'sudo':
      fail(name, "command 'sudo' is not a firewall grant (knockd already runs commands as root)");
    default:
      fail(name, `command '${base === '' ? name.text : base}' is not a firewall grant`);
  }
}

/** Reads one start/stop command line (with %IP% still in it). Never throws. */
/** The same command line is read by lint, planning and every generator: read it once. */
const analysed = new Map<string, CommandAnalysis>();

export function analyseCommand(line: string): CommandAnalysis {
  let r = analysed.get(line);
  if (r === undefined) {
    r = analyseUncached(line);
    if (analysed.size < 100_000) analysed.set(line, r);
  }
  return r;
}

function analyseUncached(line: string): CommandAnalysis {
  try {
    const commands = splitShell(line);
    if (commands.length === 0) return { kind: 'empty' };
    const actions: GrantAction[] = [];
    for (const words of commands) actions.push(...analyseSimple(words));
    return { kind: 'grants', actions };
  } catch (e) {
    if (e instanceof Opaque) {
      return { kind: 'opaque', token: line.slice(e.offset, e.end), offset: e.offset, reason: e.reason };
    }
    throw e;
  }
}
