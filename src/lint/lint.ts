import { compareDiagnostics, type Diagnostic } from '../diagnostics/diagnostic.js';
import type { BuildResult } from '../frontend/build.js';
import { planDoors } from '../model/plan.js';
import { targetNamed } from '../targets/registry.js';
import { runRules } from './rules.js';

export interface LintOptions {
  readonly interfaceOption?: string | null;
  /** The target the config is compiled for, when known: its check adds what compiling for it implies (e.g. KC406). */
  readonly target?: string | null;
}

/** Everything knockc has to say about one parsed file, sorted by place. */
export function lintParsed(parsed: BuildResult, opts: LintOptions = {}): Diagnostic[] {
  const all = [...parsed.diagnostics];
  if (parsed.config) {
    // A loop, not push(...): a config with 100k doors has more findings than a call has arguments.
    const plans = planDoors(parsed.config);
    for (const d of runRules({ config: parsed.config, plans, interfaceOption: opts.interfaceOption ?? null })) all.push(d);
    if (opts.target) {
      // The target's check with its defaults (lint takes no target options).
      const t = targetNamed(opts.target);
      for (const d of t.check(parsed.config, plans, t.parseOptions({}, 'lint', () => false))) all.push(d);
    }
  }
  return all.sort(compareDiagnostics);
}
