/**
 * What the real ufw and firewalld left in the kernel, read back as grants (issue 14's
 * differential test, test/lab/hostfw-differential.test.ts). Written independently of
 * knockc's command model: only grantKey (the key text) is shared, so that the two sides can
 * be compared key by key.
 *
 * A state reads as a multiset `store|key -> copies`:
 *   - a rule that accepts the knocker's address (and nothing else in its match that a
 *     GrantMatch cannot hold) is `STORE|grantKey(match)`: STORE is `ufw` (ufw-user-input,
 *     ufw6-user-input), `iptables` (INPUT, for iptables commands in the same line) or
 *     `firewalld` (a filter_IN_<zone>_allow chain);
 *   - every other rule is `STORE|other|TEXT`, so that a line that changes anything else
 *     (another source, a source port, a limit) is seen too.
 * firewalld: a zone's rules apply to the packets filter_INPUT_ZONES sends to that zone. A
 * zone reached by the last, unconditional `goto` when no other zone is bound to anything
 * sees every packet (iif=*); a zone reached only by `iifname "X" goto` (and no source
 * binding before it) sees interface X (iif=X); any other reach is written into the key as
 * `STORE|scope(...)|TEXT`, which no knockc grant equals.
 */
import { grantKey, type Family, type GrantMatch, type PortRange } from '../../src/model/grant.js';
import type { ChainRules, FirewalldState, UfwState } from './hostfw.js';

export type Keys = Map<string, number>;

function bump(m: Keys, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

/** `A` or `A/LEN` as iptables / nft print them; the host length is dropped, as in grant keys. */
function addrNoHostLen(text: string): string {
  return text.replace(/\/(32|128)$/, (all) => (text.includes(':') === (all === '/128') ? '' : all));
}

/** `N`, `A:B` (iptables) or `A-B` (nft) into a range. */
function range(text: string): PortRange | null {
  const m = /^(\d+)(?:[:-](\d+))?$/.exec(text);
  if (!m) return null;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return { lo, hi };
}

/**
 * One `iptables -S` rule (`-A CHAIN ...`). Returns the grant match when the rule accepts the
 * knocker and holds only what a GrantMatch holds, else null.
 */
export function iptRuleMatch(line: string, knocker: string): GrantMatch | null {
  const t = line.split(' ');
  if (t[0] !== '-A') return null;
  let src: string | undefined;
  let daddr: string | null = null;
  let iif: string | null = null;
  let proto: 'tcp' | 'udp' | null = null;
  let dports: PortRange[] | null = null;
  let synOnly = false;
  let newOnly = false;
  let accept = false;
  for (let i = 2; i < t.length; i++) {
    const o = t[i] as string;
    const v = t[i + 1];
    switch (o) {
      case '-s':
        src = v;
        i++;
        break;
      case '-d':
        daddr = addrNoHostLen(v ?? '');
        i++;
        break;
      case '-i':
        iif = v ?? '';
        i++;
        break;
      case '-p':
        if (v !== 'tcp' && v !== 'udp') return null;
        proto = v;
        i++;
        break;
      case '-m':
        if (v !== 'tcp' && v !== 'udp' && v !== 'multiport' && v !== 'state' && v !== 'conntrack') return null;
        i++;
        break;
      case '--dport': {
        const r = range(v ?? '');
        if (r === null) return null;
        dports = [r];
        i++;
        break;
      }
      case '--dports': {
        const rs = (v ?? '').split(',').map(range);
        if (rs.some((r) => r === null)) return null;
        dports = rs as PortRange[];
        i++;
        break;
      }
      case '--state':
      case '--ctstate':
        if (v !== 'NEW') return null;
        newOnly = true;
        i++;
        break;
      case '--tcp-flags':
        if (v !== 'FIN,SYN,RST,ACK' || t[i + 2] !== 'SYN') return null;
        synOnly = true;
        i += 2;
        break;
      case '-j':
        if (v !== 'ACCEPT') return null;
        accept = true;
        i++;
        break;
      default:
        return null; // --sport, ! negations, comments, logs, limits, ...
    }
  }
  if (!accept || src === undefined || addrNoHostLen(src) !== knocker) return null;
  if (daddr === '0.0.0.0/0' || daddr === '::/0') daddr = null;
  return { hook: 'input', proto, dports, daddr, iif, synOnly, newOnly };
}

function readChain(m: Keys, store: string, lines: readonly string[], knocker: string): void {
  for (const line of lines) {
    const match = iptRuleMatch(line, knocker);
    bump(m, match ? `${store}|${grantKey({ kind: 'filter', match })}` : `${store}|other|${line.replace(/^-A \S+ /, '')}`);
  }
}

function readInput(m: Keys, input: ChainRules, knocker: string): void {
  readChain(m, 'iptables', input.v4, knocker);
  readChain(m, 'iptables', input.v6, knocker);
}

/** ufw's user rules (both families) and INPUT, as keys. */
export function ufwKeys(s: UfwState, knocker: string): Keys {
  const m: Keys = new Map();
  readChain(m, 'ufw', s.v4, knocker);
  readChain(m, 'ufw', s.v6, knocker);
  readInput(m, s.input, knocker);
  return m;
}

/** One rule of a filter_IN_<zone>_allow chain (nft syntax) as a grant match, or null. */
export function nftRuleMatch(line: string, knocker: string): Omit<GrantMatch, 'iif'> | null {
  const t = line.split(' ');
  let src: string | undefined;
  let daddr: string | null = null;
  let proto: 'tcp' | 'udp' | null = null;
  let dports: PortRange[] | null = null;
  let accept = false;
  for (let i = 0; i < t.length; i++) {
    const o = t[i] as string;
    const v = t[i + 1];
    if ((o === 'ip' || o === 'ip6') && (v === 'saddr' || v === 'daddr')) {
      const a = t[i + 2] ?? '';
      if (a.startsWith('{') || a.startsWith('@') || a === '!=') return null;
      if (v === 'saddr') src = a;
      else daddr = addrNoHostLen(a);
      i += 2;
    } else if ((o === 'tcp' || o === 'udp') && v === 'dport') {
      const r = range(t[i + 2] ?? '');
      if (r === null) return null; // sets { 22, 80 }, negations
      proto = o;
      dports = [r];
      i += 2;
    } else if (o === 'meta' && v === 'l4proto' && (t[i + 2] === 'tcp' || t[i + 2] === 'udp')) {
      proto = t[i + 2] as 'tcp' | 'udp';
      i += 2;
    } else if (o === 'accept' && i === t.length - 1) {
      accept = true;
    } else {
      return null; // limit, log, ct, counter, reject, ...
    }
  }
  if (!accept || src === undefined || addrNoHostLen(src) !== knocker) return null;
  return { hook: 'input', proto, dports, daddr, synOnly: false, newOnly: false };
}

/**
 * How filter_INPUT_ZONES reaches each zone: 'all', an interface name, or a text
 * describing anything else (source bindings, several ways in, a zone other zones cut into).
 */
export function zoneScopes(zonesChain: readonly string[]): Map<string, { iif: string | null } | { other: string }> {
  const ways = new Map<string, string[]>();
  let sourceBindings = false;
  let interfaceBindings = false;
  for (const line of zonesChain) {
    const m = /goto filter_IN_(\S+)$/.exec(line);
    if (!m) continue;
    const zone = m[1] as string;
    const cond = line.slice(0, m.index).trim();
    if (/^ip6? saddr /.test(cond)) sourceBindings = true;
    else if (/^iifname /.test(cond)) interfaceBindings = true;
    ways.set(zone, [...(ways.get(zone) ?? []), cond]);
  }
  const out = new Map<string, { iif: string | null } | { other: string }>();
  for (const [zone, conds] of ways) {
    const only = conds.length === 1 ? (conds[0] as string) : undefined;
    const iface = only === undefined ? null : /^iifname "([^"]+)"$/.exec(only);
    if (only === '' && !sourceBindings && !interfaceBindings) out.set(zone, { iif: null });
    else if (iface && !sourceBindings) out.set(zone, { iif: iface[1] as string });
    else out.set(zone, { other: `zone ${zone} via [${conds.map((c) => c || 'any other').join('; ')}] of [${zonesChain.join('; ')}]` });
  }
  return out;
}

/** firewalld's rules (by the zones that reach them) and INPUT, as keys. */
export function firewalldKeys(s: FirewalldState, knocker: string): Keys {
  const m: Keys = new Map();
  const scopes = zoneScopes(s.chains.get('filter_INPUT_ZONES') ?? []);
  for (const [chain, lines] of s.chains) {
    const z = /^filter_IN_(.+)_allow$/.exec(chain);
    if (!z || chain.startsWith('filter_IN_policy_')) continue;
    const zone = z[1] as string;
    const scope = scopes.get(zone);
    for (const line of lines) {
      const match = nftRuleMatch(line, knocker);
      if (scope === undefined) bump(m, `firewalld|unreached zone ${zone}|${line}`);
      else if (match === null) bump(m, `firewalld|other|${zone}|${line}`);
      else if ('other' in scope) bump(m, `firewalld|scope(${scope.other})|${grantKey({ kind: 'filter', match: { ...match, iif: null } })}`);
      else bump(m, `firewalld|${grantKey({ kind: 'filter', match: { ...match, iif: scope.iif } })}`);
    }
  }
  readInput(m, s.input, knocker);
  return m;
}

/** The TCP/UDP ports of firewalld 1.3.3's service definitions used by the tests. */
const SERVICES: ReadonlyMap<string, ReadonlyArray<{ proto: 'tcp' | 'udp'; port: number }>> = new Map([
  ['ssh', [{ proto: 'tcp', port: 22 }]],
  ['http', [{ proto: 'tcp', port: 80 }]],
  ['https', [{ proto: 'tcp', port: 443 }]],
  ['dns', [{ proto: 'tcp', port: 53 }, { proto: 'udp', port: 53 }]],
]);

/**
 * A rich rule as firewalld lists it (normalised: `rule family="ipv4"
 * source address="A" [destination address="D"] [port port="P" protocol="tcp"|service
 * name="S"] accept`) as the grant matches of its nft rules; null for anything else.
 */
export function richRuleMatches(rule: string, knocker: string): Array<Omit<GrantMatch, 'iif'>> | null {
  const m =
    /^rule family="(ipv4|ipv6)" source address="([^"]+)"(?: destination address="([^"]+)")?(?: port port="([0-9-]+)" protocol="(tcp|udp)"| service name="([^"]+)")? accept$/.exec(
      rule,
    );
  if (!m) return null;
  const [, , src, dst, port, protocol, service] = m;
  if (addrNoHostLen(src as string) !== knocker) return null;
  const base = { hook: 'input' as const, daddr: dst === undefined ? null : addrNoHostLen(dst), synOnly: false, newOnly: false };
  if (port !== undefined) {
    const [a, b] = port.split('-').map(Number) as [number, number | undefined];
    const lo = Math.min(a, b ?? a);
    const hi = Math.max(a, b ?? a);
    return [{ ...base, proto: protocol as 'tcp' | 'udp', dports: [{ lo, hi }] }];
  }
  if (service !== undefined) {
    const s = SERVICES.get(service);
    if (s === undefined) return null;
    return s.map((x) => ({ ...base, proto: x.proto, dports: [{ lo: x.port, hi: x.port }] }));
  }
  return [{ ...base, proto: null, dports: null }];
}

/**
 * Consistency of the two readings of firewalld's state (a check of this reader, not of
 * knockc): in each zone, the knocker's rich rules and the knocker's nft rules are the same
 * grants, when every rich rule could be read. Compared as sets: firewalld adds an nft rule
 * that two rich rules share (`service name="ssh"`, `port port="22" protocol="tcp"`) once,
 * and keeps it until the last of them is removed. Returns the differences.
 */
export function richVsNft(s: FirewalldState, knocker: string, family: Family): string[] {
  if (s.rich === null) return [];
  const problems: string[] = [];
  for (const [zone, rules] of s.rich) {
    const chain = s.chains.get(`filter_IN_${zone}_allow`);
    if (chain === undefined) continue; // a zone bound to nothing has no chains
    const fromRich: Keys = new Map();
    let readable = true;
    for (const r of rules) {
      const ms = richRuleMatches(r, knocker);
      if (ms === null) {
        if (r.includes(`"${knocker}`)) readable = false;
        continue;
      }
      for (const x of ms) bump(fromRich, grantKey({ kind: 'filter', match: { ...x, iif: null } }));
    }
    if (!readable) continue;
    const fromNft: Keys = new Map();
    for (const line of chain) {
      const x = nftRuleMatch(line, knocker);
      if (x) bump(fromNft, grantKey({ kind: 'filter', match: { ...x, iif: null } }));
    }
    const a = [...fromRich.keys()].sort();
    const b = [...fromNft.keys()].sort();
    if (a.join('\n') !== b.join('\n')) {
      problems.push(`zone ${zone} (${family}): rich rules say [${a.join('; ')}], nft rules say [${b.join('; ')}]`);
    }
  }
  return problems;
}
