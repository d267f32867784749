// The seam between the model and a kernel: what every target offers. A target
// is one folder under src/targets/ (its generator, templates, host I/O,
// live-state reader, status) and one line in the registry (registry.ts).
// Commands never ask which target they run: they ask the target.
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import type { KnockdConfig } from '../frontend/config.js';
import type { Purpose } from '../host/checks.js';
import type { Runner } from '../host/runner.js';
import type { Program } from '../model/ir.js';
import type { DoorPlan } from '../model/plan.js';
import type { DeploymentStatus } from './status.js';

/** The commands a target option can belong to. */
export type CommandName = 'compile' | 'lint' | 'apply' | 'run' | 'remove' | 'status';

/** A command-line option of a target, declared once; each command listed offers it. */
export interface TargetOption {
  /** commander's flags: '--into <family-table>'. */
  readonly flags: string;
  readonly help: string;
  /** Help text for a command where the option means something narrower. */
  readonly helpFor?: Partial<Record<CommandName, string>>;
  readonly default?: string;
  readonly choices?: readonly string[];
  readonly commands: readonly CommandName[];
}

/** Parsed flags of a command, by commander's attribute name (`forwardChain`). */
export type Flags = Readonly<Record<string, unknown>>;

/** Which flags the user typed (a default is not "given"). */
export type Given = (attribute: string) => boolean;

/** What every generator is told besides its own options. */
export interface CompileInput {
  readonly config: KnockdConfig;
  readonly plans: readonly DoorPlan[];
  /** --interface (null: Interface in [options], else every interface). */
  readonly iface: string | null;
  /** --log: kernel log lines like knockd's. */
  readonly log: boolean;
  readonly version: string;
  /** The config's path, for the generated file's header. */
  readonly source: string;
  /** The NFLOG group of the runtime's events (`knockc run --nflog-group`; default NOTIFY_GROUP). */
  readonly notifyGroup?: number;
}

export interface Compiled {
  /** What `compile` prints (one file; a target with several writes them one after the other). */
  readonly text: string;
  /** Doors the kernel cannot run alone (`knockc run` does). */
  readonly runtimeDoors: Program['runtimeDoors'];
}

/** Where a host operation prints: the CLI passes stdout and stderr, the runtime its log. */
export interface Say {
  out(text: string): void;
  err(text: string): void;
}

export interface ApplyRequest<C extends Compiled = Compiled> {
  readonly config: KnockdConfig;
  readonly compiled: C;
  readonly dryRun: boolean;
  /** Print the script (or restore inputs) that is loaded. */
  readonly printScript: boolean;
  readonly verbose: boolean;
  /** Print what was loaded (apply); the runtime loads quietly. */
  readonly report: boolean;
  readonly source: string;
}

/** A target on one host, after its preflight passed. */
export interface Session<C extends Compiled = Compiled> {
  /** Loads the compiled rules in one step, carrying live attempts and grants over; rolls back on failure. */
  apply(req: ApplyRequest<C>): Promise<void>;
  /**
   * Takes out what knockc loaded, nothing else; nothing to remove is success. `purge`: also the
   * standing rule and guard knockc attached to the host firewall (src/attach/), live and saved.
   */
  remove(verbose: boolean, purge?: boolean): Promise<void>;
  /** Live attempts, grants and counters; `where` says what was looked at (for "nothing loaded in ..."). */
  status(): Promise<{ readonly deployments: readonly DeploymentStatus[]; readonly where: string | null }>;
}

export interface TargetHost<O, C extends Compiled = Compiled> {
  /**
   * The target's host checks (printed through `say`); throws HostNotReady when it cannot load here.
   * `purpose` (default load): only the checks the command needs (status only reads), and a missing
   * privilege is reported alone (without it the other checks would fail for the wrong reason).
   */
  connect(run: Runner, options: O, say: Say, verbose: boolean, purpose?: Purpose): Promise<Session<C>>;
}

export interface Target<O = unknown, C extends Compiled = Compiled> {
  readonly name: string;
  readonly options: readonly TargetOption[];
  /** This target's options from a command's flags; throws UsageError. */
  parseOptions(flags: Flags, command: CommandName, given: Given): O;
  /**
   * What this config means for this target, before anything is generated: warnings (shown by
   * lint --target, compile and apply) and errors (what the target cannot express; nothing is
   * generated then).
   */
  check(config: KnockdConfig, plans: readonly DoorPlan[], options: O): readonly Diagnostic[];
  compile(input: CompileInput, options: O): C;
  /** Absent: the target only compiles (apply, run, remove and status refuse it). */
  readonly host?: TargetHost<O, C>;
}

// ---------------------------------------------------------------------------------------------
// How operations end when they do not succeed. The CLI maps each to its exit code.

/** A command line that makes no sense (exit 2). */
export class UsageError extends Error {}

/** A config that a target cannot express or deploy as asked (exit 1); the message says where and what to change. */
export class TargetError extends Error {}

/** A problem found on the host before anything was sent to the kernel (exit 1, nothing changed). */
export class Refused extends Error {}

/** The host cannot load rules (permissions, tools, kernel): exit 3, nothing changed. */
export class HostNotReady extends Error {}

/** The kernel tools refused the rules. `detail` is printed first; the runtime logs `message: detail`. */
export class LoadFailed extends Error {
  constructor(
    message: string,
    readonly detail: string,
    /** false: the host may be left half-changed (exit 3), true: nothing changed (exit 1). */
    readonly unchanged: boolean,
  ) {
    super(message);
  }
}
