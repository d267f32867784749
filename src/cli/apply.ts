// knockc apply: compile and load in one atomic step, keeping live attempts
// and grants of the doors that did not change.
import type { Command } from 'commander';
import { deploy } from '../deploy/deploy.js';
import { localRunner, type Runner } from '../host/runner.js';
import { packageVersion } from '../package.js';
import { checkInterfaceOption, failuresToExit, loadOrExit, NOTHING_CHANGED, printFindings, stdio } from './common.js';
import { chosenTarget, compileOptions, type CommonFlags } from './options.js';

interface ApplyFlags extends CommonFlags {
  readonly dryRun?: boolean;
  readonly verbose?: boolean;
  readonly printScript?: boolean;
}

export function registerApply(program: Command, run: Runner = localRunner): void {
  compileOptions(program.command('apply'), 'apply')
    .description('compile a knockd.conf and load it into the kernel in one atomic step, keeping live attempts and grants')
    .argument('<file>', 'knockd.conf')
    .option('-n, --dry-run', 'check with nft -c and print what would change; the kernel is not touched')
    .option('--print-script', 'print the nft script that is (or, with --dry-run, would be) loaded')
    .option('-v, --verbose', 'print the host checks and timings')
    .action((file: string, flags: ApplyFlags & Record<string, unknown>, cmd: Command) =>
      failuresToExit(async () => {
        checkInterfaceOption(flags.interface);
        const { target, options } = chosenTarget(flags, cmd, 'apply');
        const loaded = loadOrExit(file, NOTHING_CHANGED);
        await deploy({
          target,
          options,
          iface: flags.interface ?? null,
          log: flags.log === true,
          version: packageVersion(),
          source: file,
          run,
          say: stdio,
          config: loaded.config,
          diagnostics: loaded.diagnostics,
          dryRun: flags.dryRun === true,
          printScript: flags.printScript === true,
          verbose: flags.verbose === true,
          warn: printFindings,
        });
      }, NOTHING_CHANGED),
    );
}
