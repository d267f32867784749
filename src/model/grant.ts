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

/** A grant kept in a set the user owns (nft add element ... { %IP% }). */
export interface SetElementTarget {
  readonly family: string; // nft table family: ip, ip6, inet
  readonly table: string;
  readonly set: string;
}

export type GrantTarget =
  | { readonly kind: 'filter'; readonly match: GrantMatch }
  | { readonly kind: 'set-element'; readonly set: SetElementTarget };

export interface GrantAction {
  readonly op: 'add' | 'delete';
  /** Which address families the command acts on (iptables: ip, ip6tables: ip6, ufw: both). */
  readonly families: readonly Family[];
  readonly target: GrantTarget;
  /** Tool that was recognised, for explain output ("iptables", "ufw", ...). */
  readonly tool: string;
  /** Character offset of this command within the command line (0-based). */
  readonly offset: number;
}

/** Result of reading one start/stop command line. */
export type CommandAnalysis =
  | { readonly kind: 'empty' }
  | { readonly kind: 'grants'; readonly actions: readonly GrantAction[] }
  | {
      readonly kind: 'opaque';
      /** The first token that was not understood, and where it starts in the line. */
      readonly token: string;
      readonly offset: number;
      readonly reason: string;
    };

/** Stable text key: two grants with equal keys open the same hole. */
export function grantKey(target: GrantTarget): string {
  if (target.kind === 'set-element') {
    const s = target.set;
    return `set:${s.family}/${s.table}/${s.set}`;
  }
  const m = target.match;
  const ports = m.dports === null ? '*' : m.dports.map((r) => (r.lo === r.hi ? `${r.lo}` : `${r.lo}-${r.hi}`)).join(',');
  return (
    `hook=${m.hook} proto=${m.proto ?? '*'} dport=${ports} daddr=${m.daddr ?? '*'} ` +
    `iif=${m.iif ?? '*'} syn=${m.synOnly ? 1 : 0} new=${m.newOnly ? 1 : 0}`
  );
}
