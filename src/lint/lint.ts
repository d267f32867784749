import { compareDiagnostics, type Diagnostic } from '../diagnostics/diagnostic.js';
import type { BuildResult } from '../frontend/build.js';
import { planDoors } from '../model/plan.js';
import { runRules } from './rules.js';

export interface LintOptions {
  readonly interfaceOption?: string | null;
}

/** Everything knockc has to say about one parsed file, sorted by place. */
export function lintParsed(parsed: BuildResult, opts: LintOptions = {}): Diagnostic[] {
  const all = [...parsed.diagnostics];
  if (parsed.config) {
    all.push(...runRules({ config: parsed.config, plans: planDoors(parsed.config), interfaceOption: opts.interfaceOption ?? null }));
  }
  return all.sort(compareDiagnostics);
}
