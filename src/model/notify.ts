// How a compiled door tells the runtime it opened: an NFLOG message (nft
// `log group N prefix P`, iptables `-j NFLOG --nflog-prefix P`) whose prefix
// names the door and, for one-time doors, the line of the sequence that was
// used. This file is the only writer and the only reader of that tag.
//
// The door is named by a digest of what it IS (name, sequence, flags,
// timeouts, target, commands; for a one-time door its file instead of its
// current sequence), never by its place in the config: an event queued while
// a reload renumbers the doors still names the door whose rules logged it,
// and an event of a door that was deleted or changed names no loaded door and
// is dropped (never mapped to another door). Two doors that are identical in
// every field share a tag; whichever one the event is mapped to runs the same
// commands under the same name.
//
// One-time doors add the line of their current sequence and a digest of that
// sequence: a completion of a line already retired (two sources finishing it
// at once), or of a sequence the file no longer holds at that line (the file
// was rewritten and the config reloaded), opens nothing.
//
// Length: nft takes a `log prefix` of up to 127 bytes (NF_LOG_PREFIXLEN 128
// with the NUL); iptables-legacy's NFLOG target keeps 63 (struct
// xt_nflog_info, prefix[64]) and silently cuts a longer one, and
// iptables-nft keeps 127. Tags stay within 63 bytes (at most 43 here).
import { createHash } from 'node:crypto';
import type { Door, Knock } from '../frontend/config.js';

export const NOTIFY_GROUP = 4242;

/** The longest prefix every target keeps whole: iptables-legacy NFLOG, 64 bytes with the NUL. */
export const NOTIFY_PREFIX_MAX = 63;

export interface NotifyTag {
  /** The door's identity (doorId). */
  readonly door: string;
  /** One-time doors: 1-based line of the one-time file the sequence came from. */
  readonly line: number | null;
  /** One-time doors: sequenceId of that line's sequence. */
  readonly seq: string | null;
}

const digest = (parts: unknown, hexChars: number): string => createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, hexChars);

/** The current one-time line of a door, or null for a door with a fixed sequence. */
export function oneTimeLine(d: Door): number | null {
  return d.sequenceFrom.kind === 'one-time' ? (d.sequenceFrom.oneTime?.sequences[0]?.line ?? null) : null;
}

/** A door's identity across reloads: the same for the same door wherever it sits in the config. */
export function doorId(d: Door): string {
  const oneTime = d.sequenceFrom.kind === 'one-time';
  return digest(
    [
      'knockc-door-1',
      d.name,
      oneTime ? ['one-time', d.sequenceFrom.oneTime?.path ?? null] : ['sequence', d.knocks.map((k) => `${k.port}/${k.proto}`)],
      d.tcpFlags.value,
      d.seqTimeout.value,
      d.target.value,
      d.cmdTimeout.value,
      d.startCommand.value,
      d.startCommand6.value,
      d.stopCommand.value,
      d.stopCommand6.value,
    ],
    16,
  );
}

/** A one-time sequence's identity (its knocks). */
export function sequenceId(knocks: readonly Knock[]): string {
  return digest(knocks.map((k) => `${k.port}/${k.proto}`), 8);
}

export function notifyPrefix(d: Door): string {
  const line = oneTimeLine(d);
  const tag = `knockc ${doorId(d)}${line === null ? '' : ` L${line} ${sequenceId(d.knocks)}`}`;
  if (Buffer.byteLength(tag) > NOTIFY_PREFIX_MAX) throw new Error(`internal: notify tag "${tag}" is over ${NOTIFY_PREFIX_MAX} bytes`);
  return tag;
}

const TAG = /^knockc ([0-9a-f]{16})(?: L(\d{1,9}) ([0-9a-f]{8}))?$/;

/** Reads a prefix written by notifyPrefix; null for anything else. */
export function parseNotifyPrefix(prefix: string): NotifyTag | null {
  const m = TAG.exec(prefix.replace(/\0+$/, ''));
  if (!m) return null;
  return { door: m[1]!, line: m[2] === undefined ? null : Number(m[2]), seq: m[3] ?? null };
}

/** A prefix that claims to be knockc's but is not one this version writes (rules of another version?). */
export function looksLikeNotify(prefix: string): boolean {
  return prefix.startsWith('knockc ');
}
