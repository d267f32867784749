// The config file as knockd 0.8 sees it: bytes read with fgets() into a
// 4096-byte buffer, so a physical line longer than 4095 bytes becomes several
// "lines" (each counted by knockd's line number), and a NUL byte ends the
// string early. We keep both views: knockd's logical lines for semantics, and
// the physical line/column for messages.

export interface Position {
  readonly file: string;
  /** 1-based physical line. */
  readonly line: number;
  /** 1-based column, in characters of the decoded line. */
  readonly col: number;
}

export interface Range {
  readonly start: Position;
  readonly end: Position;
}

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
  readonly lines: readonly LogicalLine[];
  readonly hasBom: boolean;
  readonly hasCrlf: boolean;
  /** Share of bytes that are control characters other than tab/CR/LF. */
  readonly binaryScore: number;
}

/** fgets(line, PATH_MAX, fp) reads at most PATH_MAX - 1 bytes per call. */
export const KNOCKD_LINE_BYTES = 4095;

export function splitKnockdLines(file: string, bytes: Uint8Array): SourceText {
  const lines: LogicalLine[] = [];
  const hasBom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  let hasCrlf = false;
  let control = 0;
  let physLine = 1;
  let physCol = 1;
  let knockdLine = 0;
  let pos = 0;
  const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  // ASCII (nearly every config): a chunk's text is a slice of the whole file's, one decode in
  // all instead of one per line; byte and character offsets are the same.
  const ascii = isAscii(bytes) ? decoder.decode(bytes) : null;
  const decode = (from: number, to: number): string => (ascii !== null ? ascii.slice(from, to) : decoder.decode(bytes.subarray(from, to)));
  while (pos < bytes.length) {
    let end = pos;
    const limit = Math.min(bytes.length, pos + KNOCKD_LINE_BYTES);
    while (end < limit && bytes[end] !== 0x0a) end++;
    // A line of exactly 4095 bytes fills the buffer: its newline is read by
    // the next fgets() call as an empty line of its own.
    const endsWithNewline = end - pos < KNOCKD_LINE_BYTES && end < bytes.length && bytes[end] === 0x0a;
    const chunk = bytes.subarray(pos, end);
    const nul = chunk.indexOf(0);
    for (let k = pos; k < end; k++) {
      const b = bytes[k]!;
      if (b < 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0c && b !== 0x0b) control++;
    }
    if (endsWithNewline && end > pos && bytes[end - 1] === 0x0d) hasCrlf = true;
    const text = decode(pos, nul >= 0 ? pos + nul : end);
    knockdLine++;
    lines.push({
      knockdLine,
      text,
      physLine,
      physCol,
      byteOffset: pos,
      // A chunk of exactly 4095 bytes followed by its newline is not really split:
      // the next fgets() only reads that newline, an empty line knockd skips.
      splitByBuffer: !endsWithNewline && end < bytes.length && bytes[end] !== 0x0a,
      hadNul: nul >= 0,
    });
    if (endsWithNewline) {
      physLine++;
      physCol = 1;
      pos = end + 1;
    } else {
      physCol += decode(pos, end).length;
      pos = end;
    }
  }
  return { file, lines, hasBom, hasCrlf, binaryScore: bytes.length === 0 ? 0 : control / bytes.length };
}

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

export function pos(file: string, line: number, col: number): Position {
  return { file, line, col };
}

export function formatPosition(p: Position): string {
  return `${p.file}:${p.line}:${p.col}`;
}
