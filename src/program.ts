// The knockc command tree: what --help prints, and what the man pages and shell completions are
// generated from (src/tools/package.ts), so none of them can drift from the CLI.
import { Command } from 'commander';
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
