// The config file as knockd 0.8 sees it: bytes read with fgets() into a
// 4096-byte buffer, so a physical line longer than 4095 bytes becomes several
// "lines" (each counted by knockd's line number), and a NUL byte ends the
// string early. We keep both views: knockd's logical lines for semantics, and
// the physical line/column for messages.
import { isAscii } from 'node:buffer';

// Positions are the diagnostics' vocabulary (every finding has one).
import type { Position } from '../diagnostics/position.js';
export type { Position, Range } from '../diagnostics/position.js';

/** One string knockd's fgets() returns (before trimming). */
export interface LogicalLine {
  /** knockd's own line counter (counts fgets() chunks). */
  readonly knockdLine: number;
  /** Decoded text, newline removed, cut at the first NUL like strlen() does. */
  readonly text: string;
  readonly physLine: number;
  /** 1-based column where this chunk starts on its physical line. */
  readonly physCol: number;
  /** Byte offset of the chunk in the file (where knockd writes '#' to retire a one-time sequence). */
  readonly byteOffset: number;
  /** The chunk was cut by knockd's buffer, not by a newline. */
  readonly splitByBuffer: boolean;
  readonly hadNul: boolean;
}

export interface SourceText {
  readonly file: string;
  /**
   * knockd's lines, produced as they are read: a 16 MiB file holds millions of them, and
   * keeping them all would cost far more than the file itself. Each call of
   * `[Symbol.iterator]()` reads the text again from the start.
   */
  readonly lines: Iterable<LogicalLine>;
  readonly hasBom: boolean;
  /** Share of bytes that are control characters other than tab/CR/LF. */
  readonly binaryScore: number;
}

/** fgets(line, PATH_MAX, fp) reads at most PATH_MAX - 1 bytes per call. */
export const KNOCKD_LINE_BYTES = 4095;

/** Control characters other than tab, LF, VT, FF and CR (a newline never lies inside a chunk). */
const CONTROL = /[\x00-\x08\x0e-\x1f]/;
const NOT_CONTROL = /[^\x00-\x08\x0e-\x1f]+/g;

export function splitKnockdLines(file: string, bytes: Uint8Array): SourceText {
  const hasBom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  // One char per byte: searched and counted with native string code, as a JS loop over
  // every byte costs ~20 ms on a big file before it is optimised.
  const latin1 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const control = CONTROL.test(latin1) ? latin1.replace(NOT_CONTROL, '').length : 0;
  // ASCII (nearly every config): byte and character offsets are the same, a line's text is a slice of the whole.
  const ascii = isAscii(bytes) ? latin1 : null;
  return {
    file,
    lines: { [Symbol.iterator]: () => fgetsLines(bytes, latin1, ascii) },
    hasBom,
    binaryScore: bytes.length === 0 ? 0 : control / bytes.length,
  };
}

/** What fgets() returns, chunk by chunk; `ascii` is the decoded text when the bytes are all ASCII. */
function* fgetsLines(bytes: Uint8Array, latin1: string, ascii: string | null): Generator<LogicalLine, void, undefined> {
  let physLine = 1;
  let physCol = 1;
  let knockdLine = 0;
  let pos = 0;
  const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  const decode = (from: number, to: number): string => (ascii !== null ? ascii.slice(from, to) : decoder.decode(bytes.subarray(from, to)));
  // The next newline and NUL at or after `pos` (or the end), searched again only once passed.
  let nextNewline = -1;
  let nextNul = -1;
  while (pos < bytes.length) {
    const limit = Math.min(bytes.length, pos + KNOCKD_LINE_BYTES);
    if (nextNewline < pos) nextNewline = indexFrom(latin1, '\n', pos);
    if (nextNul < pos) nextNul = indexFrom(latin1, '\0', pos);
    const end = Math.min(nextNewline, limit);
    // A line of exactly 4095 bytes fills the buffer: its newline is read by
    // the next fgets() call as an empty line of its own.
    const endsWithNewline = end - pos < KNOCKD_LINE_BYTES && end === nextNewline && end < bytes.length;
    const hadNul = nextNul < end;
    knockdLine++;
    yield {
      knockdLine,
      text: decode(pos, hadNul ? nextNul : end),
      physLine,
      physCol,
      byteOffset: pos,
      // A chunk of exactly 4095 bytes followed by its newline is not really split:
      // the next fgets() only reads that newline, an empty line knockd skips.
      splitByBuffer: !endsWithNewline && end < bytes.length && bytes[end] !== 0x0a,
      hadNul,
    };
    if (endsWithNewline) {
      physLine++;
      physCol = 1;
      pos = end + 1;
    } else {
      physCol += decode(pos, end).length;
      pos = end;
    }
  }
}

function indexFrom(text: string, char: string, from: number): number {
  const i = text.indexOf(char, from);
  return i < 0 ? text.length : i;
}

export function pos(file: string, line: number, col: number): Position {
  return { file, line, col };
}

export function formatPosition(p: Position): string {
  return `${p.file}:${p.line}:${p.col}`;
}
