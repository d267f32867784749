// knockc remove: take out exactly what knockc added (its table, or its
// knockc_* chains, sets and hook rules in a user's table), nothing else.
// Idempotent: nothing to remove is success.
import type { Command } from 'commander';
import { connect } from '../deploy/deploy.js';
import { localRunner, type Runner } from '../host/runner.js';
import { failuresToExit, stdio } from './common.js';
import { chosenTarget, targetOptions, type CommonFlags } from './options.js';

export function registerRemove(program: Command, run: Runner = localRunner): void {
  targetOptions(program.command('remove'), 'remove')
    .description('remove what knockc loaded (its table, or its chains, sets and jumps in your table); nothing else')
    .option('--purge', "also take out the standing rule (and guard) knockc attached to the host firewall, live and from its saved rules")
    .option('-v, --verbose', 'print the host checks and timings')
    .action((flags: CommonFlags & { verbose?: boolean; purge?: boolean } & Record<string, unknown>, cmd: Command) =>
      failuresToExit(async () => {
        const { target, options } = chosenTarget(flags, cmd, 'remove');
        const session = await connect(target, options, run, stdio, flags.verbose === true, 'remove');
        await session.remove(flags.verbose === true, flags.purge === true);
      }),
    );
}
