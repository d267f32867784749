// knockc status: per door, the sources mid-sequence, the active grants and
// the counters, read from the kernel.
import type { Command } from 'commander';
import { connect } from '../deploy/deploy.js';
import { localRunner, type Runner } from '../host/runner.js';
import { join, resolve } from 'node:path';
import { formatRuntimeStatus, readRuntimeStatus, runtimeShown } from '../runtime/status.js';
import { formatStatus, statusJson } from '../targets/status.js';
import { DEFAULT_PID_FILE, DEFAULT_STATE_DIR } from './run.js';
import { Exit, EXIT_FINDINGS, failuresToExit, stdio } from './common.js';
import { chosenTarget, targetOptions, type CommonFlags } from './options.js';

interface StatusFlags extends CommonFlags {
  readonly json?: boolean;
  readonly color?: boolean;
  readonly stateDir: string;
  readonly pidFile: string;
}

export function registerStatus(program: Command, run: Runner = localRunner): void {
  targetOptions(program.command('status'), 'status')
    .description('show live knock attempts, grants and counters, per door, as the kernel holds them')
    .option('--json', 'machine-readable output (stable, version 1)')
    .option('--no-color', 'no colours, even on a terminal')
    .option('--state-dir <dir>', "knockc run's state directory: its pending stop commands are shown", DEFAULT_STATE_DIR)
    .option('--pid-file <file>', "knockc run's PID file: whether it runs", DEFAULT_PID_FILE)
    .action((flags: StatusFlags & Record<string, unknown>, cmd: Command) =>
      failuresToExit(async () => {
        const { target, options } = chosenTarget(flags, cmd, 'status');
        const session = await connect(target, options, run, stdio, false, 'read');
        const { deployments, where } = await session.status();
        // knockc run's side, from the files it keeps (its stops are not in the kernel).
        const rt = readRuntimeStatus(join(resolve(flags.stateDir), 'pending.json'), resolve(flags.pidFile));
        if (flags.json) process.stdout.write(statusJson(deployments, { runtime: rt }));
        else {
          if (deployments.length) process.stdout.write(formatStatus(deployments, { color: flags.color !== false && process.stdout.isTTY === true && !process.env['NO_COLOR'] }));
          if (runtimeShown(rt)) process.stdout.write(`${deployments.length ? '\n' : ''}${formatRuntimeStatus(rt)}`);
        }
        if (deployments.length === 0) {
          process.stderr.write(`knockc: no knockc rules are loaded${where ? ` in ${where}` : ''} (load them with knockc apply)\n`);
          throw new Exit(EXIT_FINDINGS);
        }
      }),
    );
}
