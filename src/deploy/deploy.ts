// The deploy service: compile a config for a target, check the host, load the
// rules in one step carrying live attempts and grants over, roll back on
// failure. `knockc apply` runs it once; `knockc run` at start and on every
// reload (deployer). Nothing here knows which target it drives.
import { compareDiagnostics, type Diagnostic } from '../diagnostics/diagnostic.js';
import { formatPosition } from '../frontend/source.js';
import type { KnockdConfig } from '../frontend/config.js';
import { checkInterface, formatChecks, type Purpose } from '../host/checks.js';
import type { Runner } from '../host/runner.js';
import { COMPILE_RULES, RUNTIME_CODES, runRules } from '../lint/rules.js';
import { planDoors } from '../model/plan.js';
import { LoadFailed, TargetError, UsageError, type Compiled, type Say, type Session, type Target } from '../targets/target.js';

/** What to compile: the target, its options, and what every target is told. */
export interface CompileRequest {
  readonly target: Target<unknown>;
  readonly options: unknown;
  /** --interface (null: Interface in [options]). */
  readonly iface: string | null;
  readonly log: boolean;
  readonly version: string;
  readonly source: string;
  /** The runtime's NFLOG group (knockc run --nflog-group); the compiled rules log completions to it. */
  readonly notifyGroup?: number;
}

/** Errors mean nothing was generated. */
export type CompileResult =
  | { readonly warnings: readonly Diagnostic[]; readonly errors: readonly Diagnostic[]; readonly compiled: null }
  | { readonly warnings: readonly Diagnostic[]; readonly errors: readonly []; readonly compiled: Compiled };

/**
 * The config compiled for the target, unless the target's check finds errors (what it cannot
 * express): warnings are the doors that need the runtime and the target's own warnings.
 * Plans are made once for the lint rules, the check and the generator.
 */
export function compileConfig(config: KnockdConfig, diagnostics: readonly Diagnostic[], r: CompileRequest): CompileResult {
  const plans = planDoors(config);
  // Only the lint rules behind the codes shown run (planning is a tenth of a big compile).
  const runtime = [...diagnostics, ...runRules({ config, plans, interfaceOption: r.iface }, COMPILE_RULES)].filter((d) => RUNTIME_CODES.includes(d.code));
  const checked = r.target.check(config, plans, r.options);
  const warnings = [...runtime, ...checked.filter((d) => d.severity !== 'error')].sort(compareDiagnostics);
  const errors = checked.filter((d) => d.severity === 'error');
  if (errors.length) return { warnings, errors, compiled: null };
  return { warnings, errors: [], compiled: r.target.compile({ config, plans, iface: r.iface, log: r.log, version: r.version, source: r.source, notifyGroup: r.notifyGroup }, r.options) };
}

/** What the target's check refused (nothing was generated): coded findings, printed like lint's. */
export class CompileRefused extends TargetError {
  constructor(readonly errors: readonly Diagnostic[]) {
    super(errors.map((d) => `${formatPosition(d.range.start)}: ${d.message} [${d.code}]`).join('; '));
  }
}

/** The compiled rules, or CompileRefused with the check's errors. */
export function compiledOrThrow(r: CompileResult): Compiled {
  if (r.compiled) return r.compiled;
  throw new CompileRefused(r.errors);
}

/** "knockc: 2 door(s) need `knockc run`: [a] (why), [b] (why)", or ''. */
export function runtimeDoorsLine(c: Compiled): string {
  const ds = c.runtimeDoors;
  return ds.length ? `knockc: ${ds.length} door(s) need \`knockc run\`: ${ds.map((d) => `[${d.door}] (${d.reason})`).join(', ')}\n` : '';
}

/** The target's host checks; a session to load, remove or read with. */
export async function connect(target: Target<unknown>, options: unknown, run: Runner, say: Say, verbose: boolean, purpose: Purpose = 'load'): Promise<Session> {
  if (!target.host) throw new UsageError(`--target ${target.name} only compiles (knockc compile --target ${target.name})`);
  return target.host.connect(run, options, say, verbose, purpose);
}

/**
 * A warning when the interface knocks are counted on (--interface, else Interface in [options])
 * is not on this host: the rules are loaded anyway.
 */
export async function warnMissingInterface(run: Runner, say: Say, option: string | null, config: KnockdConfig, dryRun = false): Promise<void> {
  const name = option ?? config.options.interface.value;
  if (!name) return;
  const check = await checkInterface(run, name, dryRun).catch(() => null);
  if (check) say.err(formatChecks([check]));
}

export interface DeployRequest extends CompileRequest {
  readonly run: Runner;
  readonly say: Say;
  readonly config: KnockdConfig;
  readonly diagnostics: readonly Diagnostic[];
  readonly dryRun: boolean;
  readonly printScript: boolean;
  readonly verbose: boolean;
  /** Prints the compile's warnings (the CLI formats them for its terminal). */
  readonly warn: (warnings: readonly Diagnostic[]) => void;
}

/** knockc apply: compile, check the host, load (or, dry, check) with live state carried over. */
export async function deploy(r: DeployRequest): Promise<void> {
  const result = compileConfig(r.config, r.diagnostics, r);
  r.warn(result.warnings);
  const compiled = compiledOrThrow(result);
  r.say.err(runtimeDoorsLine(compiled));
  const session = await connect(r.target, r.options, r.run, r.say, r.verbose);
  await warnMissingInterface(r.run, r.say, r.iface, r.config, r.dryRun);
  await session.apply({ config: r.config, compiled, dryRun: r.dryRun, printScript: r.printScript, verbose: r.verbose, report: true, source: r.source });
}

/** A failure of the runtime's load, as one readable message. */
export class DeployError extends Error {}

/**
 * How `knockc run` loads a config (at start and on every reload): the same compile and load as
 * apply, on a session whose host checks passed at start; quiet, and a failure is a DeployError.
 */
export function deployer(session: Session, r: CompileRequest): (config: KnockdConfig) => Promise<void> {
  return async (config) => {
    try {
      const compiled = compiledOrThrow(compileConfig(config, [], r));
      await session.apply({ config, compiled, dryRun: false, printScript: false, verbose: false, report: false, source: r.source });
    } catch (e) {
      if (e instanceof LoadFailed) throw new DeployError(`${e.message}: ${e.detail.trim()}`);
      throw e;
    }
  };
}
