// Small text helpers shared by the front end and the generators.

/** The first `max` bytes of `s` as UTF-8, never splitting a character (knockd, nft and iptables limit bytes). */
export function cutBytes(s: string, max: number): string {
  const b = Buffer.from(s, 'utf8');
  return b.length <= max ? s : b.subarray(0, Math.max(0, max)).toString('utf8').replace(/\uFFFD+$/, '');
}

/** "1 door", "2 doors", "3 entries". */
export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** A duration for a report: "19 ms". */
export const msText = (x: number): string => `${Math.round(x)} ms`;
