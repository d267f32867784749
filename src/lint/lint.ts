import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { FindingCollector, NO_FINDINGS, tallyTotal, type NotShown, type Tally } from '../diagnostics/limit.js';
import type { BuildResult } from '../frontend/build.js';
import { planDoors } from '../model/plan.js';
import { targetNamed } from '../targets/registry.js';
import { runRules } from './rules.js';

export interface LintOptions {
  readonly interfaceOption?: string | null;
  /** The target the config is compiled for, when known: its check adds what compiling for it implies (e.g. KC406). */
  readonly target?: string | null;
}

export interface LintReport {
  /** The first `maxFindings` findings in place order. */
  readonly findings: Diagnostic[];
  /** The findings counted but not in `findings` (the front end's and the rules'); null: none. */
  readonly notShown: NotShown | null;
  /** Every finding, shown or not, by severity. */
  readonly total: Tally;
}

/** Everything knockc has to say about one parsed file: the first `maxFindings` by place, and a count of the rest. */
export function lintReport(parsed: BuildResult, opts: LintOptions & { readonly maxFindings: number }): LintReport {
  const all = new FindingCollector(opts.maxFindings);
  // The front end kept its first findings in place order: the ones it dropped come after them.
  for (const d of parsed.diagnostics) all.add(d);
  all.addUncounted(parsed.notShown ?? NO_FINDINGS);
  if (parsed.config) {
    const plans = planDoors(parsed.config);
    for (const d of runRules({ config: parsed.config, plans, interfaceOption: opts.interfaceOption ?? null })) all.add(d);
    if (opts.target) {
      // The target's check with its defaults (lint takes no target options).
      const t = targetNamed(opts.target);
      for (const d of t.check(parsed.config, plans, t.parseOptions({}, 'lint', () => false))) all.add(d);
    }
  }
  const { findings, notShown } = all.result();
  // A file with findings not shown has shown at least one (maxFindings >= 1): the last names the file.
  const last = findings[findings.length - 1];
  return { findings, notShown: last && tallyTotal(notShown) > 0 ? { file: last.range.start.file, ...notShown } : null, total: all.total };
}

/** Everything knockc has to say about one parsed file, sorted by place (all of what the front end kept). */
export function lintParsed(parsed: BuildResult, opts: LintOptions = {}): Diagnostic[] {
  return lintReport(parsed, { ...opts, maxFindings: Number.MAX_SAFE_INTEGER }).findings;
}
