// The typed result of reading a knockd.conf: every value keeps where it came
// from, so later stages can point at the exact text.
import type { Range } from './source.js';

/** A piece of text from the file: its trimmed content and where it is. */
export interface Located<T = string> {
  readonly value: T;
  readonly raw: string;
  readonly range: Range;
}

/** A door setting: the effective value, and the directive that set it (null = knockd's default). */
export interface Setting<T> {
  readonly value: T;
  readonly from: Located<string> | null;
}

export type Proto = 'tcp' | 'udp';

export interface Knock {
  readonly port: number;
  readonly proto: Proto;
  /** The item's text as written between commas, and its place. */
  readonly item: Located<string>;
}

export type FlagName = 'fin' | 'syn' | 'rst' | 'psh' | 'ack' | 'urg';
export const FLAG_NAMES: readonly FlagName[] = ['fin', 'syn', 'rst', 'psh', 'ack', 'urg'];
/** knockd's per-flag requirement: SET, NOT_SET or DONT_CARE. */
export type FlagRequirement = 'set' | 'unset' | 'any';
export type TcpFlags = Readonly<Record<FlagName, FlagRequirement>>;

export const ANY_FLAGS: TcpFlags = { fin: 'any', syn: 'any', rst: 'any', psh: 'any', ack: 'any', urg: 'any' };

export interface SequenceSource {
  readonly kind: 'sequence' | 'one-time';
  readonly directive: Located<string>;
  /** For one-time doors: the file, the line the current sequence came from, and all valid lines. */
  readonly oneTime?: OneTimeFile;
}

export interface OneTimeFile {
  readonly path: string;
  /** The sequences knockd would use, in order; the first is the current one. */
  readonly sequences: readonly OneTimeEntry[];
}

export interface OneTimeEntry {
  readonly knocks: readonly Knock[];
  /** 1-based line in the one-time file. */
  readonly line: number;
  /** Byte offset of the line's first character (knockd overwrites it with '#' once used). */
  readonly offset: number;
  readonly text: string;
}

export interface Door {
  readonly index: number;
  readonly name: string;
  readonly header: Located<string>;
  readonly knocks: readonly Knock[];
  readonly sequenceFrom: SequenceSource;
  readonly target: Setting<string | null>;
  readonly seqTimeout: Setting<number>;
  readonly cmdTimeout: Setting<number>;
  readonly startCommand: Setting<string | null>;
  readonly startCommand6: Setting<string | null>;
  readonly stopCommand: Setting<string | null>;
  readonly stopCommand6: Setting<string | null>;
  readonly tcpFlags: Setting<TcpFlags>;
}

export interface Options {
  readonly logFile: Setting<string | null>;
  readonly pidFile: Setting<string>;
  readonly interface: Setting<string | null>;
  readonly useSyslog: Setting<boolean>;
}

export interface KnockdConfig {
  readonly file: string;
  readonly doors: readonly Door[];
  readonly options: Options;
}

export const DEFAULT_SEQ_TIMEOUT = 25;
export const DEFAULT_CMD_TIMEOUT = 10;
export const DEFAULT_PIDFILE = '/var/run/knockd.pid';
export const DEFAULT_INTERFACE = 'eth0';
export const MAX_SEQUENCE = 32;
