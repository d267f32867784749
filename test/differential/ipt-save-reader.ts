// An independent reader of iptables-save / ip6tables-save output: each `-A` rule of the filter
// table becomes the grant key it stands for (the knocker's address replaced by the placeholder),
// or an "unknown rule" when its source is not exactly the knocker or it has anything the grant
// model does not have (negation, other matches, other targets, other tables, ...).
// It does not use src/model/commands (that is what the differential test checks).
import { grantKey, type GrantMatch } from '../../src/model/grant.js';
import { canonAddr, canonNet, type Fam } from './ipt-addr.js';
import { normKey } from './ipt-spec.js';

export interface SavedRules {
  /** Grant key -> number of copies. */
  readonly keys: Map<string, number>;
  /** Rule lines that are not a grant for the knocker (with their table). */
  readonly unknown: string[];
}

function parsePort(t: string): number | null {
  return /^\d{1,5}$/.test(t) && Number(t) <= 65535 ? Number(t) : null;
}

function parseRange(t: string): { lo: number; hi: number } | null {
  const m = /^(\d+)(?::(\d+))?$/.exec(t);
  if (m === null) return null;
  const lo = parsePort(m[1] as string);
  const hi = m[2] === undefined ? lo : parsePort(m[2]);
  return lo === null || hi === null || lo > hi ? null : { lo, hi };
}

/** The key of one saved `-A` rule, or null when it is not a plain grant for the knocker. */
export function ruleKey(line: string, fam: Fam, knocker: string): string | null {
  const t = line.trim().split(/\s+/);
  if (t[0] !== '-A' || line.includes('"')) return null;
  const chain = t[1];
  if (chain !== 'INPUT' && chain !== 'FORWARD') return null;
  const me = canonAddr(knocker, fam);
  const full = fam === 'ip' ? 32 : 128;
  let src: string | null = null;
  let daddr: string | null = null;
  let iif: string | null = null;
  let proto: 'tcp' | 'udp' | null = null;
  let dport: { lo: number; hi: number }[] | null = null;
  let mports: { lo: number; hi: number }[] | null = null;
  let syn = false;
  let isNew = false;
  let target: string | null = null;
  let match: string | null = null;
  for (let i = 2; i < t.length; ) {
    const o = t[i] as string;
    const v = t[i + 1];
    if (v === undefined) return null;
    i += 2;
    switch (o) {
      case '-s': {
        const slash = v.lastIndexOf('/');
        if (slash < 0 || Number(v.slice(slash + 1)) !== full) return null;
        src = canonAddr(v.slice(0, slash), fam);
        break;
      }
      case '-d': {
        const c = canonNet(v, fam);
        if (c === null) return null;
        daddr = c === '*' ? null : c;
        break;
      }
      case '-i':
        iif = v;
        break;
      case '-p':
        if (v !== 'tcp' && v !== 'udp') return null;
        proto = v;
        break;
      case '-m':
        if (!['tcp', 'udp', 'multiport', 'state', 'conntrack'].includes(v)) return null;
        if ((v === 'tcp' || v === 'udp') && v !== proto) return null;
        match = v;
        break;
      case '--dport': {
        if (match !== 'tcp' && match !== 'udp') return null;
        const r = parseRange(v);
        if (r === null || dport !== null) return null;
        dport = [r];
        break;
      }
      case '--tcp-flags': {
        const comp = t[i];
        i += 1;
        if (match !== 'tcp' || v !== 'FIN,SYN,RST,ACK' || comp !== 'SYN') return null;
        syn = true;
        break;
      }
      case '--dports': {
        if (match !== 'multiport' || mports !== null) return null;
        const items = v.split(',').map(parseRange);
        if (items.some((x) => x === null)) return null;
        mports = items as { lo: number; hi: number }[];
        break;
      }
      case '--state':
        if (match !== 'state' || v !== 'NEW') return null;
        isNew = true;
        break;
      case '--ctstate':
        if (match !== 'conntrack' || v !== 'NEW') return null;
        isNew = true;
        break;
      case '-j':
        target = v;
        break;
      default:
        return null;
    }
  }
  if (src === null || src !== me || target !== 'ACCEPT') return null;
  if (dport !== null && mports !== null) return null;
  const m: GrantMatch = {
    hook: chain === 'INPUT' ? 'input' : 'forward',
    proto,
    dports: dport ?? mports,
    daddr,
    iif,
    synOnly: syn,
    newOnly: isNew,
  };
  return normKey(grantKey({ kind: 'filter', match: m }));
}

/** Reads a whole `iptables-save` (no -t: every table) for a knocker of `fam`. */
export function readSave(text: string, fam: Fam, knocker: string): SavedRules {
  const keys = new Map<string, number>();
  const unknown: string[] = [];
  let table = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) table = line.slice(1);
    if (!line.startsWith('-A ')) continue;
    const key = table === 'filter' ? ruleKey(line, fam, knocker) : null;
    if (key === null) unknown.push(`${table}: ${line}`);
    else keys.set(key, (keys.get(key) ?? 0) + 1);
  }
  return { keys, unknown };
}
