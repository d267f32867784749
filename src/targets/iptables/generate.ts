// iptables generator: renders the IR program of ONE address family with
// templates/iptables/*.hbs into `iptables-restore --noflush` (or
// `ip6tables-restore --noflush`) input. IR sets become xt_recent lists, IR
// rules become iptables rules. This file is the entry point; the work is split by
// concern: ruleset.ts (the data and the kernel's limits), matches.ts (IR matches
// and statements), dispatch.ts (search trees), translate.ts (chains, depth budget),
// render.ts (the templates hold the syntax).
//
// How the IR maps onto xt_recent (see ir-interpreter.ts for the IR's meaning):
//   src-in S       -m recent --name S --rcheck [--seconds T]   (T = the set's timeout: an entry whose
//                  newest stamp is older than T counts as absent, which is how expiry is emulated)
//   set-refresh S  -m recent --name S --set                    (always matches; adds a stamp = restarts the timer)
//   set-add S      -m recent --name S ! --rcheck [--seconds T] -m recent --name S --set
//                  (--set alone would restart the timer of a live entry; "absent or expired" first keeps it)
//   set-del S      -m recent --name S --remove                 (does NOT match when S lacks the source)
//   log / notify   -j LOG / -j NFLOG                           (non-terminating targets: a rule of their own)
// An IR rule evaluates all its matches, then runs its statements in order, then its verdict. Since a
// --remove of an absent source ends an iptables rule, and LOG/NFLOG need a rule of their own, a rule
// with several statements becomes `<matches> -j SUB` (or `-g SUB` for return/goto verdicts, so that
// falling off SUB leaves the calling chain as the IR verdict does) and SUB holds one rule per statement
// followed by the verdict. A dispatch becomes `-p P --dport N -g CHAIN` rules (`-j` for a jump entry), one per entry: walked in
// order when the dispatch is small, else behind a search tree over port ranges (see dispatchRules), so
// that a packet walks O(log n) rules instead of n (iptables has no verdict maps).
// Lists are named knockc_<role><4|6>_<the IR set's stable key> (see listNames); INPUT and FORWARD
// reach the program through knockc_input / knockc_forward, which the user hooks once (see the
// template's header: iptables-restore cannot insert a rule only when it is missing).
import { NOTIFY_GROUP } from '../../model/notify.js';
import type { KnockdConfig } from '../../frontend/config.js';
import { formatPosition } from '../../frontend/source.js';
import { timeoutProblems } from './check.js';
import { commentLine, doorSummaries } from '../header.js';
import type { Family } from '../../model/grant.js';
import type { Program } from '../../model/ir.js';
import { lower, type LowerOptions } from '../../model/lower.js';
import { planDoors, type DoorPlan } from '../../model/plan.js';
import { IptablesError, type IptRuleset } from './ruleset.js';
import { toRuleset } from './translate.js';
import { renderIptables } from './render.js';

export interface IptablesOptions {
  /** ip: iptables-restore input; ip6: ip6tables-restore input. */
  readonly family: Family;
  /** Standalone guard: also drop new connections to granted ports from sources without the grant. */
  readonly guard: boolean;
  readonly iface: string | null;
  readonly log: boolean;
  readonly notifyGroup: number;
  readonly version: string;
  readonly source: string;
}

export const IPTABLES_DEFAULTS: Omit<IptablesOptions, 'version' | 'source'> = {
  family: 'ip',
  guard: false,
  iface: null,
  log: false,
  notifyGroup: NOTIFY_GROUP,
};

/** `plans`: planDoors(config) when the caller has it already. */
export function compileIptables(config: KnockdConfig, o: IptablesOptions, plans?: readonly DoorPlan[]): { text: string; program: Program; ruleset: IptRuleset } {
  const lowerOpts: LowerOptions = {
    // Without --guard, grants accept, like knockd's iptables commands.
    guard: o.guard,
    mark: null,
    iface: o.iface ?? config.options.interface.value,
    log: o.log,
    families: [o.family],
    notifyGroup: o.notifyGroup,
  };
  const doorPlans = plans ?? planDoors(config);
  // What the target's check reports before generation, refused here too (compileIptables is also called directly).
  const problem = timeoutProblems(doorPlans, o.family)[0];
  if (problem) throw new IptablesError(`${formatPosition(problem.range.start)}: ${problem.message}`);
  const program = lower(config, lowerOpts, doorPlans);
  const ruleset = toRuleset(program, o.family);
  const text = renderIptables(ruleset, {
    version: o.version,
    source: commentLine(o.source),
    notifyGroup: o.notifyGroup,
    guard: o.guard,
    doors: doorSummaries(doorPlans, o.family),
    runtimeDoors: program.runtimeDoors,
  });
  return { text, program, ruleset };
}
