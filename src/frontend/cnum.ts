// C library number reading, as knockd uses it: atoi() never fails, it reads a
// prefix and ignores the rest. knockc reproduces the value and reports how
// the text was misread, so lint can say so.

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
  const lead = cSpaces(text);
  let i = lead;
  const negative = text[i] === '-';
  if (negative || text[i] === '+') i++;
  const digits = i;
  while (i < text.length && isDigit(text.charCodeAt(i))) i++;
  if (i === digits) return { value: 0, ignored: text.slice(lead), noDigits: true };
  return { value: toInt(text.slice(digits, i), negative), ignored: text.slice(i), noDigits: false };
}

/** glibc's strtol clamped to long, truncated to int. */
function toInt(digits: string, negative: boolean): number {
  // Up to 15 digits a double is exact and `| 0` truncates like asIntN(32): no BigInt needed.
  if (digits.length <= 15) return (negative ? -Number(digits) : Number(digits)) | 0;
  let n = BigInt(digits);
  if (negative) n = -n;
  if (n > LONG_MAX) n = LONG_MAX;
  if (n < LONG_MIN) n = LONG_MIN;
  return Number(BigInt.asIntN(32, n));
}

/** `(unsigned short)portnum` */
export function toUint16(n: number): number {
  return ((n % 65536) + 65536) % 65536;
}

/** C isspace() in the C locale. */
function isCSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** How many C isspace() characters `s` starts with. */
export function cSpaces(s: string): number {
  let n = 0;
  while (n < s.length && isCSpace(s.charCodeAt(n))) n++;
  return n;
}

/** `s` without C isspace() characters at either end. */
export function cTrim(s: string): string {
  const from = cSpaces(s);
  let to = s.length;
  while (to > from && isCSpace(s.charCodeAt(to - 1))) to--;
  return s.slice(from, to);
}

/** toupper() in the C locale only changes ASCII letters: on ASCII text, toUpperCase() does the same. */
export function cUpper(s: string): string {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) >= 0x80) return s.replace(/[a-z]+/g, (x) => x.toUpperCase());
  }
  return s.toUpperCase();
}

/** `cUpper(s) === upper` for an upper-case ASCII word, without building the string. */
export function cUpperIs(s: string, upper: string): boolean {
  if (s.length !== upper.length) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a ? c - 0x20 : c) !== upper.charCodeAt(i)) return false;
  }
  return true;
}
