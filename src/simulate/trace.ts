// The `knockc simulate` trace format: one packet or probe per line.
//   # comment
//   TIME SOURCE PROTO/PORT [FLAGS] [to ADDRESS] [on IFACE]
//   TIME SOURCE probe PROTO/PORT [to ADDRESS] [on IFACE]
// TIME is seconds from the start (e.g. 0, 1.5); FLAGS is a comma list of
// fin,syn,rst,psh,ack,urg or "-" for none (TCP default: syn). Without "to",
// the packet is addressed to the host itself.
import { closeSync, openSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import type { FlagName } from '../frontend/config.js';
import { FLAG_NAMES } from '../frontend/config.js';
import { describeFsError, readBounded } from '../frontend/read.js';
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
  /** KC501 (a bad line) when absent; KC502: the trace cannot be read; KC503: it is not text. */
  readonly code?: 'KC502' | 'KC503';
  readonly message: string;
  readonly range: Range;
}

/** A trace is a text file of packets; more than this is not one. */
export const MAX_TRACE_BYTES = 64 * 1024 * 1024;

const at = (file: string, line = 1, col = 1): Range => ({ start: { file, line, col }, end: { file, line, col: col + 1 } });

/** Line and column (1-based, in bytes) of a byte offset. */
function positionOf(bytes: Uint8Array, offset: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      start = i + 1;
    }
  }
  return { line, col: offset - start + 1 };
}

/** The offset of the first byte that makes this not text (a NUL, or not UTF-8), or -1. */
export function firstNonText(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    if (b === 0) return i;
    if (b < 0x80) {
      i++;
      continue;
    }
    const n = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (n < 0 || i + n >= bytes.length) return i;
    for (let k = 1; k <= n; k++) if (((bytes[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    // Overlongs and surrogates (E0 80-9F, ED A0-BF, F0 80-8F, F4 90-BF).
    const c = bytes[i + 1]!;
    if ((b === 0xe0 && c < 0xa0) || (b === 0xed && c > 0x9f) || (b === 0xf0 && c < 0x90) || (b === 0xf4 && c > 0x8f)) return i;
    i += n + 1;
  }
  return -1;
}

/**
 * Reads a trace file ("-": standard input) as text: a coded error (KC502, KC503) at file:line:col
 * instead of a Node error, and no bytes of a binary file echoed back.
 */
export function readTrace(path: string): { text: string; file: string } | { error: TraceError; file: string } {
  const file = path === '-' ? '<stdin>' : path;
  let bytes: Buffer | null;
  let fd: number | null = null;
  try {
    if (path !== '-') {
      // stat before open: opening a FIFO would wait for a writer.
      const st = statSync(path);
      if (st.isDirectory()) return { file, error: { code: 'KC502', message: `${file}: Is a directory, not a trace file`, range: at(file) } };
      if (!st.isFile() && !path.startsWith('/dev/fd/') && !path.startsWith('/proc/')) {
        return { file, error: { code: 'KC502', message: `${file}: not a regular file`, range: at(file) } };
      }
      if (st.size > MAX_TRACE_BYTES) return { file, error: { code: 'KC502', message: `${file}: ${st.size} bytes is over the ${MAX_TRACE_BYTES}-byte limit of a trace`, range: at(file) } };
    }
    fd = path === '-' ? 0 : openSync(path, 'r');
    bytes = readBounded(fd, MAX_TRACE_BYTES);
  } catch (e) {
    return { file, error: { code: 'KC502', message: `${file}: ${describeFsError(e)}`, range: at(file) } };
  } finally {
    if (fd !== null && fd !== 0) closeSync(fd);
  }
  if (bytes === null) return { file, error: { code: 'KC502', message: `${file}: more than ${MAX_TRACE_BYTES} bytes, over the limit of a trace`, range: at(file) } };
  const bad = firstNonText(bytes);
  if (bad >= 0) {
    const p = positionOf(bytes, bad);
    return { file, error: { code: 'KC503', message: `${file} is not a text file (byte 0x${bytes[bad]!.toString(16).padStart(2, '0')} at offset ${bad}): a trace is lines of text`, range: at(file, p.line, p.col) } };
  }
  return { file, text: bytes.toString('utf8') };
}

/** A word of the trace in a message: quoted, control characters escaped, long ones cut. */
const q = (w: string): string => JSON.stringify(w.length > 40 ? `${w.slice(0, 40)}...` : w);

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
    if (!Number.isFinite(time) || time < 0) return fail(t!.col, `${q(t!.w)} is not a time in seconds`, t!.w.length);
    if (time < last) return fail(t!.col, `time ${time} is earlier than the line before (${last})`, t!.w.length);
    if (!s || isIP(s.w) === 0) return fail(s?.col ?? raw.length + 1, `expected a source IP address${s ? `, got ${q(s.w)}` : ''}`, s?.w.length ?? 1);
    let kind: 'packet' | 'probe' = 'packet';
    if (rest[0]?.w === 'probe') {
      kind = 'probe';
      rest.shift();
    }
    const pp = rest.shift();
    const m = pp ? /^(tcp|udp)\/(\d{1,5})$/i.exec(pp.w) : null;
    if (!pp || !m || Number(m[2]) > 65535) return fail(pp?.col ?? raw.length + 1, `expected PROTO/PORT like tcp/7000 or udp/8000${pp ? `, got ${q(pp.w)}` : ''}`, pp?.w.length ?? 1);
    const proto = m[1]!.toLowerCase() as 'tcp' | 'udp';
    let flags: FlagName[] = proto === 'tcp' ? ['syn'] : [];
    let to: string | null = null;
    let iface: string | null = null;
    while (rest.length > 0) {
      const w = rest.shift()!;
      if (w.w === 'to' || w.w === 'on') {
        const v = rest.shift();
        if (!v) return fail(w.col, `${q(w.w)} needs a value`, w.w.length);
        if (w.w === 'to') {
          if (isIP(v.w) === 0) return fail(v.col, `${q(v.w)} is not an IP address`, v.w.length);
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
        return fail(w.col, `unknown TCP flag ${q(bad)} (use fin,syn,rst,psh,ack,urg or -)`, w.w.length);
      }
      return fail(w.col, `unexpected ${q(w.w)}`, w.w.length);
    }
    last = time;
    events.push({ kind, line, time, src: s.w, proto, port: Number(m[2]), flags, to, iface });
  });
  return { events, errors };
}
