// What the iptables target cannot express, and what it implies, found from the door plans
// before anything is generated (coded diagnostics).
import { codeInfo } from '../../diagnostics/codes.js';
import type { Diagnostic } from '../../diagnostics/diagnostic.js';
import type { Door, KnockdConfig } from '../../frontend/config.js';
import type { Range } from '../../frontend/source.js';
import type { Family } from '../../model/grant.js';
import type { DoorPlan } from '../../model/plan.js';

/**
 * xt_recent computes `seconds * HZ` in 32 bits: with HZ up to 1000, longer timeouts wrap around
 * (and expire far too early). 4294967 s is about 49.7 days.
 */
export const RECENT_SECONDS_MAX = 4294967;

const diagnostic = (code: string, message: string, range: Range): Diagnostic => {
  const info = codeInfo(code);
  return { code, severity: info.severity, message, range, hint: info.hint };
};

/** Timeouts xt_recent cannot count (KC410), at the directive that sets them. */
export function timeoutProblems(plans: readonly DoorPlan[], family: Family): Diagnostic[] {
  const out: Diagnostic[] = [];
  const fail = (d: Door, what: string, secs: number, r: Range | undefined): void => {
    out.push(diagnostic('KC410', `${what} ${secs} of [${d.name}] is longer than xt_recent can count (${RECENT_SECONDS_MAX} s, about 49 days); use --target nft, or a shorter timeout`, r ?? d.header.range));
  };
  for (const p of plans) {
    const d = p.door;
    if (d.knocks.length > 1 && d.seqTimeout.value > RECENT_SECONDS_MAX) fail(d, 'seq_timeout', d.seqTimeout.value, d.seqTimeout.from?.range);
    const plan = p.families[family];
    if (plan.kind !== 'kernel') continue;
    for (const g of plan.opens) {
      if (g.lifetime.kind === 'timed' && g.lifetime.seconds > RECENT_SECONDS_MAX) fail(d, 'cmd_timeout', g.lifetime.seconds, d.cmdTimeout.from?.range);
    }
  }
  return out;
}

/** xt_recent's default list size (KC406), once per config, at its first door. */
export function listSizeNote(config: KnockdConfig): Diagnostic[] {
  if (config.doors.length === 0) return [];
  return [diagnostic('KC406', 'with --target iptables, attempts and grants live in xt_recent lists of ip_list_tot sources (default 100): when one is full the oldest source is evicted', config.doors[0]!.header.range)];
}

/** Both, for the families compiled (the same finding of two families once). */
export function checkIptables(config: KnockdConfig, plans: readonly DoorPlan[], families: readonly Family[]): Diagnostic[] {
  const seen = new Set<string>();
  const problems = families.flatMap((f) => timeoutProblems(plans, f)).filter((d) => {
    const k = `${d.message}|${d.range.start.line}|${d.range.start.col}`;
    return !seen.has(k) && !!seen.add(k);
  });
  return [...listSizeNote(config), ...problems];
}
