// The target-independent ruleset: sets of source addresses with timeouts,
// and chains of rules over a small vocabulary of matches and statements.
// Every generator renders this same program; the IR interpreter
// (ir-interpreter.ts) runs it on simulated packets for the property tests.
import type { FlagName, Proto } from '../frontend/config.js';
import type { Family, Hook, PortRange } from './grant.js';

export type SetRole = 'armed' | 'stage' | 'grant';

export interface SetDecl {
  readonly name: string;
  readonly family: Family;
  readonly role: SetRole;
  /** Default element lifetime in seconds; null = elements stay until deleted. */
  readonly timeout: number | null;
  readonly comment: string;
  /** The door (its index in the config) whose attempts the set holds; null for grant sets. */
  readonly door: number | null;
  /**
   * What the set's elements mean, independent of door order and line numbers:
   * equal keys across two compilations = elements can be carried over on reload.
   */
  readonly key: string;
  /**
   * Where nft keeps the elements: one set shared by every door (names.shared), keyed by source
   * and this tag (the door's, unique in the set and stable like `key`). The IR's semantics are
   * the set's own; iptables keeps one xt_recent list per set. Absent: a set of its own.
   */
  readonly store?: { readonly set: string; readonly tag: number };
}

export type Match =
  | { readonly k: 'proto'; readonly proto: Proto }
  | { readonly k: 'dport'; readonly port: number }
  | { readonly k: 'dports'; readonly ranges: readonly PortRange[] }
  /** TCP flags: each flag in `mask` must be set iff it is in `set`. */
  | { readonly k: 'tcp-flags'; readonly mask: readonly FlagName[]; readonly set: readonly FlagName[] }
  /** Destination is one of this host's addresses (on `iface`, when given). */
  | { readonly k: 'dst-local'; readonly iface: string | null }
  | { readonly k: 'daddr'; readonly addr: string }
  | { readonly k: 'iif'; readonly name: string }
  | { readonly k: 'src-in'; readonly set: string }
  | { readonly k: 'ct-new' }
  | { readonly k: 'syn-only' };

export type Stmt =
  /** Insert the source; an existing element keeps its timer. */
  | { readonly k: 'set-add'; readonly set: string }
  /** Insert the source or restart its timer. */
  | { readonly k: 'set-refresh'; readonly set: string }
  | { readonly k: 'set-del'; readonly set: string }
  | { readonly k: 'log'; readonly prefix: string }
  /** Tell the runtime that a door opened for this source (prefix: model/notify.ts). */
  | { readonly k: 'notify'; readonly prefix: string; readonly group: number }
  /** Set these bits of the packet mark (a grant, for the host firewall's standing rule: model/mark.ts). */
  | { readonly k: 'mark'; readonly bits: number };

export type Verdict =
  | { readonly k: 'accept' }
  | { readonly k: 'drop' }
  | { readonly k: 'return' }
  | { readonly k: 'goto'; readonly chain: string }
  | { readonly k: 'jump'; readonly chain: string };

export interface Rule {
  readonly kind: 'rule';
  readonly match: readonly Match[];
  readonly stmts: readonly Stmt[];
  readonly verdict: Verdict | null;
  readonly comment?: string;
}

/**
 * One lookup on (protocol, destination port) that goes to the chain listed for it: a goto (the
 * chain's end or return ends the dispatching chain too), or with `jump` a call after which the
 * dispatching chain goes on with its next line.
 */
export interface Dispatch {
  readonly kind: 'dispatch';
  readonly entries: readonly DispatchEntry[];
  readonly comment?: string;
}

export interface DispatchEntry {
  readonly proto: Proto;
  readonly port: number;
  readonly chain: string;
  readonly jump?: true;
}

export type Line = Rule | Dispatch;

export interface Chain {
  readonly name: string;
  readonly family: Family;
  readonly lines: readonly Line[];
  readonly comment: string;
  /** A door's own chain: the door's index in the config. */
  readonly door?: number;
}

/**
 * Where the program is entered: per family, the chain a generator hooks into input (and
 * forward). Each does knock tracking first, then grants (and the standalone guard), behind ONE
 * lookup on (protocol, port): traffic that is neither a knock nor to a granted port costs that.
 */
export type Entries = Partial<Record<Family, Partial<Record<Hook, string>>>>;

export interface Program {
  readonly families: readonly Family[];
  readonly sets: readonly SetDecl[];
  readonly chains: readonly Chain[];
  readonly entries: Entries;
  /** Doors whose openings the runtime must act on. */
  readonly runtimeDoors: ReadonlyArray<{ readonly door: string; readonly id: string; readonly reason: string }>;
  /**
   * Every door of each family with its tag (the one its state sets are stored under, if any) and
   * label: nft loads them as the door registry, so that a reload can tell which doors were live
   * without reading every rule back.
   */
  readonly doorTags?: ReadonlyArray<{ readonly family: Family; readonly tag: number; readonly label: string }>;
}

// No `comment` key without a comment (what the tests compare); no spread: big configs make 20,000 rules.
export const rule = (match: readonly Match[], stmts: readonly Stmt[], verdict: Verdict | null, comment?: string): Rule =>
  comment ? { kind: 'rule', match, stmts, verdict, comment } : { kind: 'rule', match, stmts, verdict };
