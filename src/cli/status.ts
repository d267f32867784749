// knockc status: per door, the sources mid-sequence, the active grants and
// the counters, read from the kernel.
import type { Command } from 'commander';
import { connect } from '../deploy/deploy.js';
import { localRunner, type Runner } from '../host/runner.js';
import { formatStatus, statusJson } from '../targets/status.js';
import { Exit, EXIT_FINDINGS, failuresToExit, stdio } from './common.js';
import { chosenTarget, targetOptions, type CommonFlags } from './options.js';

interface StatusFlags extends CommonFlags {
  readonly json?: boolean;
  readonly color?: boolean;
}

export function registerStatus(program: Command, run: Runner = localRunner): void {
  targetOptions(program.command('status'), 'status')
    .description('show live knock attempts, grants and counters, per door, as the kernel holds them')
    .option('--json', 'machine-readable output (stable, version 1)')
    .option('--no-color', 'no colours, even on a terminal')
    .action((flags: StatusFlags & Record<string, unknown>, cmd: Command) =>
      failuresToExit(async () => {
        const { target, options } = chosenTarget(flags, cmd, 'status');
        const session = await connect(target, options, run, stdio, false, 'read');
        const { deployments, where } = await session.status();
        if (flags.json) process.stdout.write(statusJson(deployments));
        else if (deployments.length) process.stdout.write(formatStatus(deployments, { color: flags.color !== false && process.stdout.isTTY === true && !process.env['NO_COLOR'] }));
        if (deployments.length === 0) {
          process.stderr.write(`knockc: no knockc rules are loaded${where ? ` in ${where}` : ''} (load them with knockc apply)\n`);
          throw new Exit(EXIT_FINDINGS);
        }
      }),
    );
}
