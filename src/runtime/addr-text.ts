// Addresses as knockd prints them into %IP%: inet_ntop() (glibc), so
// "2001:db8::5", "::ffff:198.51.100.7", lower-case hex.

export function ipText(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) throw new Error(`internal: address of ${b.length} bytes`);
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  // glibc writes IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d, not ::1 or ::) with a dotted tail.
  const zero5 = w.slice(0, 5).every((x) => x === 0);
  if (zero5 && (w[5] === 0xffff || (w[5] === 0 && (w[6] !== 0 || w[7]! > 1)))) {
    return `::${w[5] === 0xffff ? 'ffff:' : ''}${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  // The longest run of two or more zero words becomes "::" (the first one on a tie).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}
