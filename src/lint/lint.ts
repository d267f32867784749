import { compareDiagnostics, type Diagnostic } from '../diagnostics/diagnostic.js';
import type { BuildResult } from '../frontend/build.js';
import { planDoors } from '../model/plan.js';
import { runRules } from './rules.js';

export interface LintOptions {
  readonly interfaceOption?: string | null;
  /** The ruleset flavour the config is compiled for, when known (adds its facts, e.g. KC406). */
  readonly target?: 'nft' | 'iptables' | null;
}

/** Everything knockc has to say about one parsed file, sorted by place. */
export function lintParsed(parsed: BuildResult, opts: LintOptions = {}): Diagnostic[] {
  const all = [...parsed.diagnostics];
  if (parsed.config) {
    // A loop, not push(...): a config with 100k doors has more findings than a call has arguments.
    for (const d of runRules({ config: parsed.config, plans: planDoors(parsed.config), interfaceOption: opts.interfaceOption ?? null, target: opts.target ?? null })) all.push(d);
  }
  return all.sort(compareDiagnostics);
}
