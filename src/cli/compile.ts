// knockc compile: a knockd.conf into a ruleset file for the chosen target.
import { writeFileSync, renameSync } from 'node:fs';
import type { Command } from 'commander';
import { compiledOrThrow, compileConfig, runtimeDoorsLine } from '../deploy/deploy.js';
import { DEFAULT_MAX_FINDINGS } from '../diagnostics/limit.js';
import { loadConfigFile } from '../frontend/load.js';
import { packageVersion } from '../package.js';
import { UsageError } from '../targets/target.js';
import { checkInterfaceOption, Exit, EXIT_FINDINGS, EXIT_USAGE, failuresToExit, isInputFailure, printFindings, type LoadedConfig } from './common.js';
import { chosenTarget, compileOptions, type CommonFlags } from './options.js';

interface CompileFlags extends CommonFlags {
  readonly output?: string;
}

/** loadOrExit, and the count of the errors not printed (a config of millions of bad lines shows its first ones). */
function loadCounting(file: string): LoadedConfig {
  const r = loadConfigFile(file);
  if (r.config) return r as LoadedConfig;
  printFindings(r.diagnostics.filter((d) => d.severity === 'error'));
  const more = r.notShown?.error ?? 0;
  if (more > 0) process.stderr.write(`knockc: ${more} more error(s) not shown (\`knockc lint --max-findings N\` lists more than the first ${DEFAULT_MAX_FINDINGS} findings)\n`);
  throw new Exit(isInputFailure(r.diagnostics) ? EXIT_USAGE : EXIT_FINDINGS);
}

export function registerCompile(program: Command): void {
  compileOptions(program.command('compile'), 'compile')
    .description('compile the doors of a knockd.conf into a kernel ruleset (nft -f / iptables-restore input)')
    .argument('<file>', 'knockd.conf ("-" reads standard input)')
    .option('-o, --output <file>', 'write to FILE (atomically) instead of standard output')
    .action((file: string, flags: CompileFlags & Record<string, unknown>, cmd: Command) =>
      failuresToExit(() => {
        const { target, options } = chosenTarget(flags, cmd, 'compile');
        checkInterfaceOption(flags.interface);
        const loaded = loadCounting(file);
        const r = compileConfig(loaded.config, loaded.diagnostics, { target, options, iface: flags.interface ?? null, log: flags.log === true, version: packageVersion(), source: file });
        printFindings(r.warnings);
        const compiled = compiledOrThrow(r);
        process.stderr.write(runtimeDoorsLine(compiled));
        if (!flags.output) {
          process.stdout.write(compiled.text);
          return;
        }
        const tmp = `${flags.output}.knockc-tmp-${process.pid}`;
        try {
          writeFileSync(tmp, compiled.text);
          renameSync(tmp, flags.output);
        } catch (e) {
          throw new UsageError(`cannot write ${flags.output}: ${(e as Error).message}`);
        }
      }),
    );
}
