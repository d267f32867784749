// How a compiled door tells the runtime it opened: an NFLOG message (nft
// `log group N prefix P`, iptables `-j NFLOG`) whose prefix names the door
// and, for one-time doors, the line of the sequence that was used. The line
// lets the runtime refuse a completion of a sequence it has already retired
// (two sources finishing the same sequence before the swap).
import type { Door } from '../frontend/config.js';

export const NOTIFY_GROUP = 4242;

export interface NotifyTag {
  /** Door index in the config (d0, d1, ...). */
  readonly door: number;
  /** One-time doors: 1-based line of the one-time file the sequence came from. */
  readonly line: number | null;
}

/** The current one-time line of a door, or null for a door with a fixed sequence. */
export function oneTimeLine(d: Door): number | null {
  return d.sequenceFrom.kind === 'one-time' ? (d.sequenceFrom.oneTime?.sequences[0]?.line ?? null) : null;
}

export function notifyPrefix(d: Door): string {
  const line = oneTimeLine(d);
  return `knockc d${d.index}${line === null ? '' : ` L${line}`}`;
}

/** Reads a prefix written by notifyPrefix; null for anything else (not ours). */
export function parseNotifyPrefix(prefix: string): NotifyTag | null {
  const m = /^knockc d(\d{1,6})(?: L(\d{1,9}))?$/.exec(prefix.replace(/\0+$/, '').trim());
  if (!m) return null;
  return { door: Number(m[1]), line: m[2] === undefined ? null : Number(m[2]) };
}
