// Grants: what a door's firewall command really does, as data.
// A grant is "let packets from the knocking source through, matching these
// fields". Commands that add and delete the same grant are inverse and
// become a kernel-timed or revocable set entry instead of a shell command.

export type Family = 'ip' | 'ip6';

/** Inclusive port range; a single port has lo === hi. */
export interface PortRange {
  readonly lo: number;
  readonly hi: number;
}

/** Where the original firewall rule lived: iptables chain INPUT or FORWARD. */
export type Hook = 'input' | 'forward';

/** What a grant lets through, for the knocking source address only. */
export interface GrantMatch {
  readonly hook: Hook;
  /** null = every protocol (iptables without -p). */
  readonly proto: 'tcp' | 'udp' | null;
  /** null = every port. Requires proto when set. */
  readonly dports: readonly PortRange[] | null;
  /** -d ADDR[/LEN] as written; null = any destination. */
  readonly daddr: string | null;
  /** -i IFACE; null = any interface. */
  readonly iif: string | null;
  /** --syn or --tcp-flags SYN,RST,ACK,FIN SYN. */
  readonly synOnly: boolean;
  /** -m state --state NEW / -m conntrack --ctstate NEW. */
  readonly newOnly: boolean;
}

// (nft set elements are not grants: knockc cannot see a user's set's type and flags, so
// the runtime adds them; see commands/nft.ts.)
export type GrantTarget = { readonly kind: 'filter'; readonly match: GrantMatch };

/**
 * How the tool keeps its rules, which decides what a repeated add or a delete does:
 * 'copies' (iptables: every add is one more copy, a delete removes one and FAILS when there
 * is none); 'set' (ufw, firewalld: adding an existing rule and deleting an absent one both
 * succeed and change nothing).
 */
export type RuleStore = 'copies' | 'set';

export interface GrantAction {
  readonly op: 'add' | 'delete';
  /**
   * The knocker families for which the command succeeds (iptables: ip, ip6tables: ip6, ufw:
   * both); for the other family it fails (exit status non-zero) and changes nothing.
   */
  readonly families: readonly Family[];
  readonly target: GrantTarget;
  /** Tool that was recognised, for explain output ("iptables", "ufw", ...). */
  readonly tool: string;
  /**
   * Which rule set the command changes: commands change the same rules only when they name
   * the same store ("iptables" and "iptables-legacy" may be different rule sets).
   */
  readonly store: { readonly name: string; readonly kind: RuleStore };
  /**
   * The rule as its tool tells rules apart, when that is finer than the grant: iptables -D
   * finds only a rule with the same matches in the same order (`-p tcp --dport 22` and
   * `-p tcp -m tcp --dport 22` grant the same, and are two rules). Absent: the grant's key.
   */
  readonly rule?: string;
  /** Character offset of this command within the command line (0-based). */
  readonly offset: number;
}

/** One simple command of the line, how it is joined to the one before, and what it does when it runs. */
export interface GrantCommand {
  readonly join: ';' | '&&' | '||';
  /** Usually one; ufw's `port N` without proto adds a tcp and a udp rule in one command. */
  readonly actions: readonly GrantAction[];
}

/** Why a line is left to the runtime, and where in it. */
export interface RuntimeReason {
  /** KC401 not understood, KC407 depends on run-time state, KC408 not reproducible in the kernel. */
  readonly code: 'KC401' | 'KC407' | 'KC408';
  /** The token the reason is about, as written, and where it starts in the line. */
  readonly token: string;
  readonly offset: number;
  readonly reason: string;
}

/** Result of reading one start/stop command line. */
export type CommandAnalysis =
  | { readonly kind: 'empty' }
  | { readonly kind: 'grants'; readonly commands: readonly GrantCommand[] }
  | ({ readonly kind: 'opaque' } & RuntimeReason);

/** Stable text key: two grants with equal keys open the same hole. */
export function grantKey(target: GrantTarget): string {
  const m = target.match;
  const ports = m.dports === null ? '*' : m.dports.map((r) => (r.lo === r.hi ? `${r.lo}` : `${r.lo}-${r.hi}`)).join(',');
  return (
    `hook=${m.hook} proto=${m.proto ?? '*'} dport=${ports} daddr=${m.daddr ?? '*'} ` +
    `iif=${m.iif ?? '*'} syn=${m.synOnly ? 1 : 0} new=${m.newOnly ? 1 : 0}`
  );
}
