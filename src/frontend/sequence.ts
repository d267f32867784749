// knockd's parse_port_sequence() and TCPFlags reading, with the positions of
// each item kept so findings point at the exact knock.
import { atoi, cTrim, cUpper, cUpperIs, toUint16 } from './cnum.js';
import type { FlagName, FlagRequirement, Knock, Located, Proto, TcpFlags } from './config.js';
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

type Misread = 'none' | 'zero' | 'junk' | 'negative' | 'extra-field';

/** A knock accepted by knockd, and how its text was (mis)read. */
export interface ReadKnock extends Knock {
  readonly misread: Misread;
}

export type SequenceResult =
  | { readonly ok: true; readonly knocks: readonly ReadKnock[] }
  | { readonly ok: false; readonly problem: SequenceProblem };

/** One item of a sequence, or what is wrong with the part of it at `at`. */
type KnockReading =
  | { readonly ok: true; readonly port: number; readonly proto: Proto; readonly misread: Misread }
  | { readonly ok: false; readonly kind: 'port-invalid' | 'bad-proto'; readonly text: string; readonly at: number };

/** The common shape, e.g. `7000` or `7000:udp`: read alike without atoi()'s corner cases. */
const PLAIN_KNOCK = /^(\d{1,5})(?::(tcp|udp))?$/;

function readKnock(item: string): KnockReading {
  const plain = PLAIN_KNOCK.exec(item);
  if (plain !== null && Number(plain[1]) <= 65535) {
    return { ok: true, port: Number(plain[1]), proto: plain[2] === 'udp' ? 'udp' : 'tcp', misread: 'none' };
  }
  const fields = item.split(':');
  const portText = fields[0]!;
  const n = atoi(portText);
  if (n.value > 65535) return { ok: false, kind: 'port-invalid', text: portText, at: 0 };
  let proto: Proto = 'tcp';
  if (fields.length > 1) {
    const protoText = fields[1]!;
    const p = cTrim(protoText);
    if (cUpperIs(p, 'TCP')) proto = 'tcp';
    else if (cUpperIs(p, 'UDP')) proto = 'udp';
    else return { ok: false, kind: 'bad-proto', text: protoText, at: portText.length + 1 };
  }
  const misread =
    n.noDigits ? 'zero'
    : n.value < 0 ? 'negative'
    : cTrim(n.ignored) !== '' ? 'junk'
    : fields.length > 2 ? 'extra-field'
    : 'none';
  return { ok: true, port: toUint16(n.value), proto, misread };
}

export function readSequence(v: Located<string>): SequenceResult {
  const knocks: ReadKnock[] = [];
  // split() keeps empty items, like strsep().
  const items = v.value.split(',');
  let off = 0;
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const itemRange = subRange(v, off, off + item.length);
    if (knocks.length >= MAX_SEQUENCE) return { ok: false, problem: { kind: 'too-many', range: itemRange } };
    const r = readKnock(item);
    if (!r.ok) {
      const range = subRange(v, off + r.at, off + r.at + r.text.length);
      return { ok: false, problem: r.kind === 'port-invalid' ? { kind: r.kind, port: r.text, range } : { kind: r.kind, proto: r.text, range } };
    }
    knocks.push({ port: r.port, proto: r.proto, misread: r.misread, item: { value: item, raw: item, range: itemRange } });
    off += item.length + 1;
  }
  return { ok: true, knocks };
}

interface FlagWord {
  readonly flag: FlagName;
  readonly req: FlagRequirement;
}

const FLAG_WORDS: ReadonlyMap<string, FlagWord> = new Map(
  (['fin', 'syn', 'rst', 'psh', 'ack', 'urg'] as const).flatMap((flag): Array<[string, FlagWord]> => [
    [flag.toUpperCase(), { flag, req: 'set' }],
    [`!${flag.toUpperCase()}`, { flag, req: 'unset' }],
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
  let off = 0;
  for (const item of cUpper(v.value).split(',')) {
    const hit = FLAG_WORDS.get(item);
    const range = subRange(v, off, off + item.length);
    if (!hit) return { ok: false, item, range };
    const { flag, req } = hit;
    if (seen.has(flag)) repeated.push({ flag, range });
    else named.push({ flag, range });
    seen.add(flag);
    flags[flag] = req;
    off += item.length + 1;
  }
  return { ok: true, flags, repeated, named };
}
