#!/usr/bin/env node
// knockc command line. Every user error ends with a message and a non-zero
// exit code; a stack trace means a bug in knockc.
import { CommanderError } from 'commander';
import { Exit, EXIT_USAGE } from './cli/common.js';
import { buildProgram } from './program.js';

export { buildProgram };

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
