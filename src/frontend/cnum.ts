// C library number reading, as knockd uses it: atoi() never fails, it reads a
// prefix and ignores the rest. knockc reproduces the value and reports how
// the text was misread, so lint can say so.

const C_SPACE = /^[ \t\n\v\f\r]*/;

export interface AtoiResult {
  /** What atoi() returns (glibc: strtol clamped to long, then truncated to int). */
  readonly value: number;
  /** Text after the number that atoi() silently ignored. */
  readonly ignored: string;
  /** No digits at all: atoi() returned 0. */
  readonly noDigits: boolean;
}

const LONG_MAX = (1n << 63n) - 1n;
const LONG_MIN = -(1n << 63n);

export function atoi(text: string): AtoiResult {
  const lead = C_SPACE.exec(text)?.[0].length ?? 0;
  const m = /^([+-]?)(\d+)/.exec(text.slice(lead));
  if (!m) return { value: 0, ignored: text.slice(lead), noDigits: true };
  let n = BigInt(m[2] ?? '0');
  if (m[1] === '-') n = -n;
  if (n > LONG_MAX) n = LONG_MAX;
  if (n < LONG_MIN) n = LONG_MIN;
  return { value: Number(BigInt.asIntN(32, n)), ignored: text.slice(lead + m[0].length), noDigits: false };
}

/** `(unsigned short)portnum` */
export function toUint16(n: number): number {
  return ((n % 65536) + 65536) % 65536;
}

/** C isspace() in the C locale. */
export function cTrim(s: string): string {
  return s.replace(/^[ \t\n\v\f\r]+/, '').replace(/[ \t\n\v\f\r]+$/, '');
}

/** toupper() in the C locale only changes ASCII letters. */
export function cUpper(s: string): string {
  return s.replace(/[a-z]+/g, (x) => x.toUpperCase());
}
