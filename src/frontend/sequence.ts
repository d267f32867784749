// knockd's parse_port_sequence() and TCPFlags reading, with the positions of
// each item kept so findings point at the exact knock.
import { atoi, cTrim, cUpper, toUint16 } from './cnum.js';
import type { FlagName, FlagRequirement, Knock, Located, TcpFlags } from './config.js';
import { ANY_FLAGS, MAX_SEQUENCE } from './config.js';
import type { Range } from './source.js';

/** Where a substring of a located value sits in the file. */
export function subRange(v: Located<string>, from: number, to: number): Range {
  const { start } = v.range;
  return {
    start: { ...start, col: start.col + from },
    end: { ...start, col: start.col + Math.max(from, to) },
  };
}

export type SequenceProblem =
  | { readonly kind: 'too-many'; readonly range: Range }
  | { readonly kind: 'port-invalid'; readonly port: string; readonly range: Range }
  | { readonly kind: 'bad-proto'; readonly proto: string; readonly range: Range };

/** A knock accepted by knockd, and how its text was (mis)read. */
export interface ReadKnock extends Knock {
  readonly misread: 'none' | 'zero' | 'junk' | 'negative' | 'extra-field';
}

export type SequenceResult =
  | { readonly ok: true; readonly knocks: readonly ReadKnock[] }
  | { readonly ok: false; readonly problem: SequenceProblem };

/** Split on `,` like strsep(): empty items are kept. Returns [text, offset] pairs. */
function splitKeep(s: string, sep: string): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  let start = 0;
  for (;;) {
    const i = s.indexOf(sep, start);
    if (i < 0) {
      out.push([s.slice(start), start]);
      return out;
    }
    out.push([s.slice(start, i), start]);
    start = i + 1;
  }
}

export function readSequence(v: Located<string>): SequenceResult {
  const knocks: ReadKnock[] = [];
  for (const [item, off] of splitKeep(v.value, ',')) {
    const itemRange = subRange(v, off, off + item.length);
    if (knocks.length >= MAX_SEQUENCE) return { ok: false, problem: { kind: 'too-many', range: itemRange } };
    const fields = splitKeep(item, ':');
    const portText = fields[0]?.[0] ?? '';
    const n = atoi(portText);
    if (n.value > 65535) {
      return { ok: false, problem: { kind: 'port-invalid', port: portText, range: subRange(v, off, off + portText.length) } };
    }
    let proto: 'tcp' | 'udp' = 'tcp';
    const protoField = fields[1];
    if (protoField) {
      const p = cUpper(cTrim(protoField[0]));
      if (p === 'TCP') proto = 'tcp';
      else if (p === 'UDP') proto = 'udp';
      else {
        const at = off + protoField[1];
        return { ok: false, problem: { kind: 'bad-proto', proto: protoField[0], range: subRange(v, at, at + protoField[0].length) } };
      }
    }
    const misread =
      n.noDigits ? 'zero'
      : n.value < 0 ? 'negative'
      : cTrim(n.ignored) !== '' ? 'junk'
      : fields.length > 2 ? 'extra-field'
      : 'none';
    knocks.push({
      port: toUint16(n.value),
      proto,
      misread,
      item: { value: item, raw: item, range: itemRange },
    });
  }
  return { ok: true, knocks };
}

const FLAG_WORDS: ReadonlyMap<string, [FlagName, FlagRequirement]> = new Map(
  (['fin', 'syn', 'rst', 'psh', 'ack', 'urg'] as const).flatMap((f): Array<[string, [FlagName, FlagRequirement]]> => [
    [f.toUpperCase(), [f, 'set']],
    [`!${f.toUpperCase()}`, [f, 'unset']],
  ]),
);

export type FlagsResult =
  | {
      readonly ok: true;
      readonly flags: TcpFlags;
      readonly repeated: ReadonlyArray<{ flag: FlagName; range: Range }>;
      /** The first item naming each flag, in order. */
      readonly named: ReadonlyArray<{ flag: FlagName; range: Range }>;
    }
  | { readonly ok: false; readonly item: string; readonly range: Range };

/** TCPFLAGS: upper-cased, split on `,` with NO trimming; a later item for a flag wins. */
export function readTcpFlags(v: Located<string>, before: TcpFlags = ANY_FLAGS): FlagsResult {
  const flags: Record<FlagName, FlagRequirement> = { ...before };
  const seen = new Set<FlagName>();
  const repeated: Array<{ flag: FlagName; range: Range }> = [];
  const named: Array<{ flag: FlagName; range: Range }> = [];
  for (const [item, off] of splitKeep(cUpper(v.value), ',')) {
    const hit = FLAG_WORDS.get(item);
    const range = subRange(v, off, off + item.length);
    if (!hit) return { ok: false, item, range };
    const [flag, req] = hit;
    if (seen.has(flag)) repeated.push({ flag, range });
    else named.push({ flag, range });
    seen.add(flag);
    flags[flag] = req;
  }
  return { ok: true, flags, repeated, named };
}
