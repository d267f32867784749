// A packet as both executable models see it.
import type { FlagName, Proto } from '../frontend/config.js';
import type { Family } from './grant.js';

export interface Packet {
  /** Seconds since the start of the trace (fractions allowed). */
  readonly time: number;
  readonly family: Family;
  readonly src: string;
  /** Destination address as text. */
  readonly dst: string;
  /** The destination is one of this host's addresses on the receiving interface. */
  readonly dstLocal: boolean;
  readonly iif: string;
  readonly proto: Proto | 'icmp';
  readonly port: number;
  readonly flags: readonly FlagName[];
  /** Conntrack would call this packet NEW (first packet of a connection). */
  readonly ctNew: boolean;
}

export interface Opening {
  readonly time: number;
  readonly door: string;
  readonly doorIndex: number;
  readonly src: string;
  readonly family: Family;
}
