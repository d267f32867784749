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
// Recognised (a bare name, or the directory distributions install the tool in: /sbin or
// /usr/sbin, /bin or /usr/bin for firewall-cmd; anywhere else the program may be missing or
// anything, so the runtime runs it, as knockd would):
//   iptables, iptables-legacy, iptables-nft            (family ip)
//   ip6tables, ip6tables-legacy, ip6tables-nft         (family ip6)
//       -A|-I CHAIN [1] | -D CHAIN  (INPUT or FORWARD; -D by rule number is opaque,
//       -I at a position past 1 depends on the chain's length: KC407)
//       -s %IP%[/32|/128] (required)  [-t filter] [-d ADDR[/LEN]] [-i IFACE]
//       [-p tcp|udp|6|17|all] [-m tcp|udp] [--dport N|A:B|:B|A:]
//       [-m multiport --dports LIST] [--syn | --tcp-flags SYN,RST,ACK,FIN SYN]
//       [-m state --state NEW] [-m conntrack --ctstate NEW] [-w [S]]  -j ACCEPT (required)
//       (`--opt=value` only where iptables 1.8 reads it: see commands/iptables.ts)
//   ufw [delete | prepend] allow [in [on IFACE]] from %IP%
//       [to any|ADDR [port N|A:B|LIST]] [proto tcp|udp]          (families ip and ip6)
// Understood but left to the runtime (KC408): nft add|delete element (the kernel rules
// cannot know the user's set's type and flags), firewall-cmd rich rules (which interfaces
// and sources a zone's rule covers is firewalld's state at run time).
//
// What a whole line does for one family (the shell's control flow, the order of the
// commands, which of them fail) is worked out in line-effect.ts.

import type { CommandAnalysis, GrantAction, GrantCommand } from './grant.js';
import { analyseFirewallCmd } from './commands/firewalld.js';
import { analyseIptables, IPTABLES_TOOLS } from './commands/iptables.js';
import { analyseNft } from './commands/nft.js';
import { Args, checked, fail, Opaque, splitShell, type ShellCommand } from './commands/shell.js';
export { lineEffect, type KeyedEffect, type LineEffect } from './line-effect.js';
import { analyseUfw } from './commands/ufw.js';

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
/**
 * Where distributions install each tool (with /usr merged, /sbin is /usr/sbin). A path
 * elsewhere, even another system directory, may hold nothing (knockd's command then exits
 * 127 and opens nothing) or any program; a bare name is found through knockd's PATH.
 */
const SBIN = ['/sbin', '/usr/sbin'];
const TOOL_DIRS: ReadonlyMap<string, readonly string[]> = new Map([
  ...[...IPTABLES_TOOLS.keys()].map((t) => [t, SBIN] as const),
  ['ufw', SBIN],
  ['nft', SBIN],
  ['firewall-cmd', ['/bin', '/usr/bin']],
]);

function analyseSimple(words: ShellCommand): GrantAction[] {
  const args = new Args(words);
  const name = checked(args.command);
  if (ASSIGNMENT.test(name.text)) fail(name, 'environment assignment before a command is not supported');
  const slash = name.text.lastIndexOf('/');
  const base = name.text.slice(slash + 1);
  const dirs = TOOL_DIRS.get(base);
  if (slash >= 0 && dirs !== undefined && !dirs.includes(name.text.slice(0, slash))) {
    fail(name, `'${name.text}' is not where distributions install ${base} (${dirs.join(', ')}): knockc cannot know what program it is`);
  }
  const family = IPTABLES_TOOLS.get(base);
  if (family !== undefined) return [analyseIptables(args, base, family)];
  switch (base) {
    case 'ufw':
      return analyseUfw(args, base);
    case 'firewall-cmd':
      return analyseFirewallCmd(args);
    case 'nft':
      return analyseNft(args);
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
    const list = splitShell(line);
    if (list.length === 0) return { kind: 'empty' };
    const commands: GrantCommand[] = list.map((c) => ({ join: c.join, actions: analyseSimple(c.words) }));
    return { kind: 'grants', commands };
  } catch (e) {
    if (e instanceof Opaque) {
      return { kind: 'opaque', code: e.code, token: line.slice(e.offset, e.end), offset: e.offset, reason: e.reason };
    }
    throw e;
  }
}
