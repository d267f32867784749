// The `knockc simulate` trace format: one packet or probe per line.
//   # comment
//   TIME SOURCE PROTO/PORT [FLAGS] [to ADDRESS] [on IFACE]
//   TIME SOURCE probe PROTO/PORT [to ADDRESS] [on IFACE]
// TIME is seconds from the start (e.g. 0, 1.5); FLAGS is a comma list of
// fin,syn,rst,psh,ack,urg or "-" for none (TCP default: syn). Without "to",
// the packet is addressed to the host itself.
import { isIP } from 'node:net';
import type { FlagName } from '../frontend/config.js';
import { FLAG_NAMES } from '../frontend/config.js';
import type { Range } from '../frontend/source.js';

export interface TraceEvent {
  readonly kind: 'packet' | 'probe';
  readonly line: number;
  readonly time: number;
  readonly src: string;
  readonly proto: 'tcp' | 'udp';
  readonly port: number;
  readonly flags: readonly FlagName[];
  readonly to: string | null;
  readonly iface: string | null;
}

export interface TraceError {
  readonly message: string;
  readonly range: Range;
}

export function parseTrace(file: string, text: string): { events: TraceEvent[]; errors: TraceError[] } {
  const events: TraceEvent[] = [];
  const errors: TraceError[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let last = -Infinity;
  lines.forEach((raw, i) => {
    const line = i + 1;
    const text = raw.replace(/#.*$/, '');
    const words: Array<{ w: string; col: number }> = [];
    for (const m of text.matchAll(/\S+/g)) words.push({ w: m[0], col: (m.index ?? 0) + 1 });
    if (words.length === 0) return;
    const fail = (col: number, message: string, len = 1): void => {
      errors.push({ message, range: { start: { file, line, col }, end: { file, line, col: col + len } } });
    };
    const [t, s, ...rest] = words;
    const time = Number(t!.w);
    if (!Number.isFinite(time) || time < 0) return fail(t!.col, `"${t!.w}" is not a time in seconds`, t!.w.length);
    if (time < last) return fail(t!.col, `time ${time} is earlier than the line before (${last})`, t!.w.length);
    if (!s || isIP(s.w) === 0) return fail(s?.col ?? raw.length + 1, `expected a source IP address${s ? `, got "${s.w}"` : ''}`, s?.w.length ?? 1);
    let kind: 'packet' | 'probe' = 'packet';
    if (rest[0]?.w === 'probe') {
      kind = 'probe';
      rest.shift();
    }
    const pp = rest.shift();
    const m = pp ? /^(tcp|udp)\/(\d{1,5})$/i.exec(pp.w) : null;
    if (!pp || !m || Number(m[2]) > 65535) return fail(pp?.col ?? raw.length + 1, `expected PROTO/PORT like tcp/7000 or udp/8000${pp ? `, got "${pp.w}"` : ''}`, pp?.w.length ?? 1);
    const proto = m[1]!.toLowerCase() as 'tcp' | 'udp';
    let flags: FlagName[] = proto === 'tcp' ? ['syn'] : [];
    let to: string | null = null;
    let iface: string | null = null;
    while (rest.length > 0) {
      const w = rest.shift()!;
      if (w.w === 'to' || w.w === 'on') {
        const v = rest.shift();
        if (!v) return fail(w.col, `"${w.w}" needs a value`, w.w.length);
        if (w.w === 'to') {
          if (isIP(v.w) === 0) return fail(v.col, `"${v.w}" is not an IP address`, v.w.length);
          to = v.w;
        } else iface = v.w;
        continue;
      }
      if (kind === 'packet' && proto === 'tcp') {
        if (w.w === '-') {
          flags = [];
          continue;
        }
        const fs = w.w.toLowerCase().split(',');
        const bad = fs.find((f) => !(FLAG_NAMES as readonly string[]).includes(f));
        if (bad === undefined) {
          flags = fs as FlagName[];
          continue;
        }
        return fail(w.col, `unknown TCP flag "${bad}" (use fin,syn,rst,psh,ack,urg or -)`, w.w.length);
      }
      return fail(w.col, `unexpected "${w.w}"`, w.w.length);
    }
    last = time;
    events.push({ kind, line, time, src: s.w, proto, port: Number(m[2]), flags, to, iface });
  });
  return { events, errors };
}
