// Small text helpers shared by the front end and the generators.

/** The first `max` bytes of `s` as UTF-8, never splitting a character (knockd, nft and iptables limit bytes). */
export function cutBytes(s: string, max: number): string {
  const b = Buffer.from(s, 'utf8');
  return b.length <= max ? s : b.subarray(0, Math.max(0, max)).toString('utf8').replace(/\uFFFD+$/, '');
}
