// Shared CLI plumbing: exit codes, reading configs, printing findings, and
// turning every failure into a message and an exit code (never a stack trace).
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { formatText } from '../diagnostics/format.js';
import type { BuildResult } from '../frontend/build.js';
import { interfaceNameError } from '../frontend/interface-name.js';
import { loadConfigFile } from '../frontend/load.js';
import { CompileRefused } from '../deploy/deploy.js';
import { HostError } from '../host/runner.js';
import { HostNotReady, LoadFailed, Refused, TargetError, UsageError, type Say } from '../targets/target.js';

export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_USAGE = 2;
/** The host is not ready (permissions, tools, kernel), or was left half-changed. */
export const EXIT_HOST = 3;

/** Raised to stop a command with a given exit code after its output has been printed. */
export class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

export const NOTHING_CHANGED = 'knockc: nothing was changed\n';

/** The process's terminal. */
export const stdio: Say = { out: (t) => void (t && process.stdout.write(t)), err: (t) => void (t && process.stderr.write(t)) };

/** Findings for the terminal (colours when stderr is one). */
export function printFindings(ds: readonly Diagnostic[]): void {
  if (ds.length) process.stderr.write(formatText(ds, process.stderr.isTTY === true));
}

export const INPUT_CODES = new Set(['KC001', 'KC002', 'KC003', 'KC004']);

export function isInputFailure(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => INPUT_CODES.has(d.code));
}

export type LoadedConfig = BuildResult & { config: NonNullable<BuildResult['config']> };

/** --interface VALUE must be a name knockc can write into rules (the same rule as Interface in [options], KC116). */
export function checkInterfaceOption(value: string | undefined): void {
  if (value === undefined) return;
  const error = interfaceNameError(value, '--interface');
  if (error !== null) throw new UsageError(error);
}

/**
 * Loads one config for commands that need a usable one; prints its errors (then `after`, e.g.
 * that nothing was changed) and exits otherwise.
 */
export function loadOrExit(path: string, after = ''): LoadedConfig {
  const r = loadConfigFile(path);
  if (!r.config) {
    printFindings(r.diagnostics.filter((d) => d.severity === 'error'));
    process.stderr.write(after);
    throw new Exit(isInputFailure(r.diagnostics) ? EXIT_USAGE : EXIT_FINDINGS);
  }
  return r as LoadedConfig;
}

/**
 * Runs a command's work and maps each way it can fail to its message and exit code; `after` is
 * printed after a usage or target error (e.g. that nothing was changed).
 */
export async function failuresToExit<T>(f: () => T | Promise<T>, after = ''): Promise<T> {
  const fail = (message: string, code: number, tail = ''): never => {
    process.stderr.write(`knockc: ${message}\n${tail}`);
    throw new Exit(code);
  };
  try {
    return await f();
  } catch (e) {
    if (e instanceof UsageError) fail(e.message, EXIT_USAGE, after);
    if (e instanceof CompileRefused) {
      printFindings(e.errors);
      process.stderr.write(after);
      throw new Exit(EXIT_FINDINGS);
    }
    if (e instanceof TargetError) fail(e.message, EXIT_FINDINGS, after);
    if (e instanceof Refused) fail(e.message, EXIT_FINDINGS, NOTHING_CHANGED);
    if (e instanceof HostNotReady || e instanceof HostError) fail(e.message, EXIT_HOST);
    if (e instanceof LoadFailed) {
      process.stderr.write(e.detail);
      if (e.unchanged) fail(`${e.message}; nothing was changed`, EXIT_FINDINGS);
      fail(e.message, EXIT_HOST);
    }
    throw e;
  }
}
