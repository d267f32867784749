// The packet-mark bits of a grant. knockc's own table sets them on the packets a
// grant lets in; the host firewall accepts packets carrying them through ONE
// standing rule (src/attach/). Without knockc's table nothing sets them, so no
// state of knockc can open a port: the host firewall's own verdict applies.

/** Bits set on granted packets; the standing rule matches `mark & bits == bits`. */
export interface Mark {
  readonly bits: number;
}

/**
 * Bit 24: clear of the marks common host software uses (kube-proxy 0x4000/0x8000, wg-quick
 * 0xca6c, Tailscale 0xff0000, Istio 0x539, Docker none), not of Calico's default 0xffff0000:
 * `knockc apply` looks for rules that use the bits and refuses then (--mark picks others).
 */
export const DEFAULT_MARK: Mark = { bits: 0x01000000 };

/** "0x01000000" (what nft and iptables print, and what --mark takes). */
export function markHex(m: Mark): string {
  return `0x${m.bits.toString(16).padStart(8, '0')}`;
}

/** --mark: a non-zero 32-bit value in hex (0x...) or decimal; the error text otherwise. */
export function parseMark(text: string): Mark | { readonly error: string } {
  const t = text.trim();
  if (!/^(0x[0-9a-fA-F]{1,8}|[0-9]{1,10})$/.test(t)) return { error: `--mark takes the mark bits as 0x... (hex, up to 8 digits) or a decimal number (got "${text}")` };
  const n = Number(t);
  if (!Number.isSafeInteger(n) || n <= 0 || n > 0xffffffff) return { error: `--mark takes a non-zero 32-bit value (got "${text}")` };
  return { bits: n >>> 0 };
}

/** Do two 32-bit masks share a bit? */
export function overlaps(a: number, b: number): boolean {
  return ((a >>> 0) & (b >>> 0)) !== 0;
}
