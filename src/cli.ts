#!/usr/bin/env node
// knockc command line. Every user error ends with a message and a non-zero
// exit code; a stack trace means a bug in knockc.
import { Command, CommanderError } from 'commander';
import { Exit, EXIT_USAGE } from './cli/common.js';
import { packageVersion } from './package.js';
import { registerApply } from './cli/apply.js';
import { registerCompile } from './cli/compile.js';
import { registerExplain } from './cli/explain.js';
import { registerLint } from './cli/lint.js';
import { registerRemove } from './cli/remove.js';
import { registerSimulate } from './cli/simulate.js';
import { registerStatus } from './cli/status.js';
import { registerRun } from './cli/run.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('knockc')
    .description('Compile knockd.conf port-knocking doors into kernel-only nftables / iptables rules')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(run knockc --help for usage)')
    .exitOverride();
  registerCompile(program);
  registerLint(program);
  registerExplain(program);
  registerSimulate(program);
  registerApply(program);
  registerRemove(program);
  registerStatus(program);
  registerRun(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof Exit) return e.code;
    if (e instanceof CommanderError) {
      // --help and --version end here with code 0.
      return e.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    process.stderr.write(`knockc: internal error: ${(e as Error)?.stack ?? String(e)}\nPlease report this as a bug.\n`);
    return 70;
  }
}

process.exitCode = await main(process.argv.slice(2));
