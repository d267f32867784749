// Reading knockc's own comments back: `[door] line N: ...` on per-door sets
// and rules, `grant hook=... proto=...` on grant sets.

export interface DoorLabel {
  readonly door: string;
  readonly line: number;
  readonly rest: string;
}

/** `[openSSH] line 4: 1 knock(s) made [key]` -> door, line, rest. */
export function doorLabel(comment: string | null | undefined): DoorLabel | null {
  const m = comment ? /^\[([^\]]*)\] line (\d+)(?:: (.*?))?(?: \[[0-9a-f]+\])?$/.exec(comment) : null;
  return m ? { door: m[1]!, line: Number(m[2]), rest: m[3] ?? '' } : null;
}

export type SetMeaning = { readonly role: 'armed' } | { readonly role: 'stage'; readonly knocks: number } | { readonly role: 'grant' } | { readonly role: 'other' };

/** What a knockc set holds, from its name (knockc_armed4_d0, knockc_stage6_d1_2, knockc_grant4_g0_t30). */
export function setMeaning(name: string): SetMeaning {
  if (/^knockc_armed[46]_d\d+$/.test(name)) return { role: 'armed' };
  const st = /^knockc_stage[46]_d\d+_(\d+)$/.exec(name);
  if (st) return { role: 'stage', knocks: Number(st[1]) };
  if (/^knockc_grant[46]_g\d+_/.test(name)) return { role: 'grant' };
  return { role: 'other' };
}

export const familyOfName = (name: string): 'ip' | 'ip6' | null => {
  const m = /^knockc_[a-z]+([46])_/.exec(name);
  return m ? (m[1] === '4' ? 'ip' : 'ip6') : null;
};

/** `grant hook=input proto=tcp dport=22 daddr=* iif=* syn=0 new=0 [key]` in a few words: `tcp/22`. */
export function grantWords(comment: string | null | undefined): string {
  const body = (comment ?? '').replace(/\s*\[[0-9a-f]+\]\s*$/, '').replace(/^grant\s*/, '');
  const kv = new Map<string, string>();
  for (const m of body.matchAll(/(\w+)=(\S+)/g)) kv.set(m[1]!, m[2]!);
  if (kv.size === 0) return body || 'grant';
  const proto = kv.get('proto');
  const dport = kv.get('dport');
  const parts: string[] = [];
  parts.push(proto && proto !== '*' ? (dport && dport !== '*' ? `${proto}/${dport}` : `all ${proto}`) : dport && dport !== '*' ? `port ${dport}` : 'all traffic');
  const daddr = kv.get('daddr');
  if (daddr && daddr !== '*') parts.push(`to ${daddr}`);
  const iif = kv.get('iif');
  if (iif && iif !== '*') parts.push(`on ${iif}`);
  if (kv.get('hook') === 'forward') parts.push('(forward)');
  return parts.join(' ');
}
