// Shared CLI plumbing: exit codes, reading configs, printing findings.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { formatText } from '../diagnostics/format.js';
import type { BuildResult } from '../frontend/build.js';
import { interfaceNameError } from '../frontend/interface-name.js';
import { loadConfigFile } from '../frontend/load.js';
import { TargetError } from '../targets/target-error.js';

export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_USAGE = 2;

/** Raised to stop a command with a given exit code after its output has been printed. */
export class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** The package root, found from this file both in src/ (tests) and dist/ (installed). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      readFileSync(join(dir, 'package.json'));
      return dir;
    } catch {
      const up = dirname(dir);
      if (up === dir) throw new Error('internal: package.json not found');
      dir = up;
    }
  }
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export const INPUT_CODES = new Set(['KC001', 'KC002', 'KC003']);

export function isInputFailure(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => INPUT_CODES.has(d.code));
}

export type LoadedConfig = BuildResult & { config: NonNullable<BuildResult['config']> };

/**
 * --interface VALUE must be a name knockc can write into rules (the same rule as Interface in
 * [options], KC116); otherwise a usage error (exit 2), `after` printed next.
 */
export function checkInterfaceOption(value: string | undefined, after = ''): void {
  if (value === undefined) return;
  const error = interfaceNameError(value, '--interface');
  if (error === null) return;
  process.stderr.write(`knockc: ${error}\n${after}`);
  throw new Exit(EXIT_USAGE);
}

/** Loads one config for commands that need a usable one; prints its errors and exits otherwise. */
export function loadOrExit(path: string): LoadedConfig {
  const r = loadConfigFile(path);
  if (!r.config) {
    const errors = r.diagnostics.filter((d) => d.severity === 'error');
    process.stderr.write(formatText(errors, process.stderr.isTTY === true));
    throw new Exit(isInputFailure(r.diagnostics) ? EXIT_USAGE : EXIT_FINDINGS);
  }
  return r as LoadedConfig;
}

/**
 * A target's compile, or exit 1 with its message when the config cannot be expressed or deployed
 * as asked (TargetError); `after` is printed next (e.g. that nothing was changed).
 */
export function compiledOrExit<T>(compile: () => T, after = ''): T {
  try {
    return compile();
  } catch (e) {
    if (!(e instanceof TargetError)) throw e;
    process.stderr.write(`knockc: ${e.message}\n${after}`);
    throw new Exit(EXIT_FINDINGS);
  }
}
