// Address helpers of the iptables differential test (independent of src/: they are part of
// the oracle side). IPv6 text is printed the way glibc's inet_ntop prints it (RFC 5952: the
// longest run of two or more zero groups becomes `::`, the first one on a tie; lower case).

export type Fam = 'ip' | 'ip6';

export function parseV4(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (m === null) return null;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const p = Number(m[i]);
    if (p > 255) return null;
    n = n * 256 + p;
  }
  return n;
}

export function formatV4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export function parseV6(s: string): bigint | null {
  if (!/^[0-9A-Fa-f:]+$/.test(s)) return null;
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (t: string): string[] | null => {
    if (t === '') return [];
    const g = t.split(':');
    return g.every((x) => /^[0-9A-Fa-f]{1,4}$/.test(x)) ? g : null;
  };
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (head === null || tail === null) return null;
  let all: string[];
  if (halves.length === 2) {
    const fill = 8 - head.length - tail.length;
    if (fill < 1) return null;
    all = [...head, ...Array<string>(fill).fill('0'), ...tail];
  } else {
    if (head.length !== 8) return null;
    all = head;
  }
  return all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

export function formatV6(v: bigint): string {
  const w: number[] = [];
  for (let i = 7; i >= 0; i--) w.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestBase = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) return w.map((x) => x.toString(16)).join(':');
  const left = w.slice(0, bestBase).map((x) => x.toString(16)).join(':');
  const right = w.slice(bestBase + bestLen).map((x) => x.toString(16)).join(':');
  return `${left}::${right}`;
}

/** glibc's text for an address of the family, or null when it is not one. */
export function canonAddr(text: string, fam: Fam): string | null {
  if (fam === 'ip') {
    const n = parseV4(text);
    return n === null ? null : formatV4(n);
  }
  const v = parseV6(text);
  return v === null ? null : formatV6(v);
}

/**
 * `ADDR[/LEN]` as the grant key writes a destination: `ADDR` for a host, `NET/LEN` with the
 * host bits cleared, `*` for /0. Null when the text is not an address of the family.
 */
export function canonNet(text: string, fam: Fam): string | null {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const full = fam === 'ip' ? 32 : 128;
  let len = full;
  if (slash >= 0) {
    const l = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(l)) return null;
    len = Number(l);
    if (len > full) return null;
  }
  if (len === 0) return fam === 'ip' ? (parseV4(addr) === null ? null : '*') : parseV6(addr) === null ? null : '*';
  if (fam === 'ip') {
    const n = parseV4(addr);
    if (n === null) return null;
    const hostBits = 2 ** (32 - len);
    const net = n - (n % hostBits);
    return len === 32 ? formatV4(net) : `${formatV4(net)}/${len}`;
  }
  const v = parseV6(addr);
  if (v === null) return null;
  const mask = ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - len)) - 1n);
  const net = v & mask;
  return len === 128 ? formatV6(net) : `${formatV6(net)}/${len}`;
}
