// knockc status: per door, the sources mid-sequence, the active grants and
// the counters, read from the kernel.
import { Option, type Command } from 'commander';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from '../deploy/deploy.js';
import { localRunner, type Runner } from '../host/runner.js';
import { join, resolve } from 'node:path';
import { formatRuntimeStatus, readRuntimeStatus, runtimeShown } from '../runtime/status.js';
import { formatStatus, statusJson } from '../targets/status.js';
import { DEFAULT_PID_FILE, DEFAULT_STATE_DIR } from './run.js';
import { Exit, EXIT_FINDINGS, failuresToExit, stdio } from './common.js';
import { chosenTarget, targetOptions, type CommonFlags } from './options.js';
import { collectDetails } from '../metrics/collect.js';
import { exposition, type ExpositionFormat } from '../metrics/exposition.js';
import { statusFamilies } from '../metrics/status-metrics.js';
import { COMMAND_COUNTS_FILE, readCommandCounts } from '../runtime/command-counts.js';
import { UsageError } from '../targets/target.js';

interface StatusFlags extends CommonFlags {
  readonly json?: boolean;
  readonly format: 'text' | 'json' | ExpositionFormat;
  readonly output?: string;
  readonly color?: boolean;
  readonly stateDir: string;
  readonly pidFile: string;
}

export function registerStatus(program: Command, run: Runner = localRunner): void {
  targetOptions(program.command('status'), 'status')
    .description('show live knock attempts, grants and counters, per door, as the kernel holds them')
    .option('--json', 'machine-readable output (stable, version 1); the same as --format json')
    .addOption(new Option('-f, --format <format>', 'output format: openmetrics and prometheus (text 0.0.4, for node_exporter\'s textfile collector) are metrics').choices(['text', 'json', 'openmetrics', 'prometheus']).default('text'))
    .option('-o, --output <file>', 'metrics formats: write to this file atomically (a temporary file renamed over it) instead of standard output')
    .option('--no-color', 'no colours, even on a terminal')
    .option('--state-dir <dir>', "knockc run's state directory: its pending stop commands are shown", DEFAULT_STATE_DIR)
    .option('--pid-file <file>', "knockc run's PID file: whether it runs", DEFAULT_PID_FILE)
    .action((flags: StatusFlags & Record<string, unknown>, cmd: Command) =>
      failuresToExit(async () => {
        if (flags.json && flags.format !== 'text' && flags.format !== 'json') throw new UsageError(`--json and --format ${flags.format} ask for two outputs: give one`);
        const format = flags.json ? 'json' : flags.format;
        const metrics = format === 'openmetrics' || format === 'prometheus';
        if (flags.output !== undefined && !metrics) throw new UsageError('--output writes metrics: use it with --format openmetrics or --format prometheus');
        const { target, options } = chosenTarget(flags, cmd, 'status');
        const session = await connect(target, options, run, stdio, false, 'read');
        const { deployments, where } = await session.status();
        // knockc run's side, from the files it keeps (its stops are not in the kernel).
        const rt = readRuntimeStatus(join(resolve(flags.stateDir), 'pending.json'), resolve(flags.pidFile));
        if (metrics) {
          // Metrics say "nothing loaded" themselves (knockc_rules_loaded 0): not an error for a scraper.
          const details = await collectDetails(run, deployments);
          const commands = readCommandCounts(join(resolve(flags.stateDir), COMMAND_COUNTS_FILE));
          const text = exposition(statusFamilies({ deployments, ...details, runtime: rt, commands }), format);
          if (flags.output === undefined) process.stdout.write(text);
          else writeAtomically(resolve(flags.output), text);
          return;
        }
        if (format === 'json') process.stdout.write(statusJson(deployments, { runtime: rt }));
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

/** A temporary file beside `file`, renamed over it: a reader (node_exporter) never sees half of it. */
function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new UsageError(`cannot write ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (e as Error).message}`);
  }
}
