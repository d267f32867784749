// Addresses as knockd prints them into %IP%: inet_ntop() (glibc), so
// "2001:db8::5", "::ffff:198.51.100.7", "::2", lower-case hex.

/**
 * glibc's inet_ntop6 (resolv/inet_ntop.c), step for step: the first longest run of two or more
 * zero words becomes "::"; a dotted IPv4 tail only when that run starts at word 0 and is 6 words
 * long (::a.b.c.d with word 6 not zero) or 5 words long followed by ffff (::ffff:a.b.c.d).
 * So ::2 and ::100 stay hex (the run is 7 words), ::1:0 is ::0.1.0.0.
 */
export function ipText(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) throw new Error(`internal: address of ${b.length} bytes`);
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    // Strictly longer: on a tie the first run wins.
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  // A single zero word is written as "0", not "::".
  if (bestLen < 2) best = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (best >= 0 && i >= best && i < best + bestLen) {
      if (i === best) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && best === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
      return `${out}${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
    }
    out += w[i]!.toString(16);
  }
  // A trailing run: "2001:db8::" (the loop wrote one ':' of the two).
  if (best >= 0 && best + bestLen === 8) out += ':';
  return out;
}

/** The 16 bytes of an IPv6 literal (no zone); null if `text` is not one. */
export function ipv6Bytes(text: string): Uint8Array | null {
  let hex: string;
  try {
    // The WHATWG URL parser reads every IPv6 form (dotted tails included) into hex words.
    hex = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
  const [head, tail] = hex.includes('::') ? hex.split('::') : [hex, null];
  const hw = head ? head.split(':') : [];
  const tw = tail ? tail.split(':') : [];
  const words = tail === null ? hw : [...hw, ...Array<string>(8 - hw.length - tw.length).fill('0'), ...tw];
  if (words.length !== 8) return null;
  const b = new Uint8Array(16);
  words.forEach((x, i) => {
    const v = Number.parseInt(x, 16);
    b[2 * i] = v >> 8;
    b[2 * i + 1] = v & 0xff;
  });
  return b;
}
