// knockc status: per door, the sources mid-sequence, the active grants and
// the counters, read from the kernel.
import type { Command } from 'commander';
import { listDeployments, readTable } from '../targets/nft/live.js';
import { localRunner, type Runner } from '../host/runner.js';
import { deploymentStatus } from '../targets/nft/status.js';
import { formatStatus, statusJson, type DeploymentStatus } from '../targets/status.js';
import { Exit, EXIT_FINDINGS } from './common.js';
import { type HostFlags, hostStep, preflightIptablesOrExit, preflightOrExit, refuseNftOptions, targetOption } from './apply.js';
import { statusIptables } from '../targets/iptables/host.js';
import { namedLocation } from './remove.js';

interface StatusFlags extends HostFlags {
  json?: boolean;
  color?: boolean;
}

export function registerStatus(program: Command, run: Runner = localRunner): void {
  program
    .command('status')
    .description('show live knock attempts, grants and counters, per door, as the kernel holds them')
    .addOption(targetOption())
    .option('--json', 'machine-readable output (stable, version 1)')
    .option('--table <name>', 'only knockc\'s own table of this name', 'knockc')
    .option('--into <family-table>', 'only knockc\'s objects in your table, e.g. "inet filter"')
    .option('--no-color', 'no colours, even on a terminal')
    .action(async (flags: StatusFlags, cmd: Command) => {
      const ipt = flags.target === 'iptables';
      if (ipt) refuseNftOptions(cmd, ['table', 'into']);
      const where = ipt ? null : namedLocation(flags, cmd);
      await hostStep(async () => {
        const out: DeploymentStatus[] = [];
        if (ipt) {
          const backend = await preflightIptablesOrExit(run, false);
          out.push(...(await statusIptables(run, backend)));
        } else {
          await preflightOrExit(run, 'standalone', false);
          const targets = where ?? (await listDeployments(run));
          for (const d of targets) {
            const t = await readTable(run, d.family, d.table);
            if (t) out.push(deploymentStatus(d, t));
          }
        }
        if (flags.json) process.stdout.write(statusJson(out));
        else if (out.length) process.stdout.write(formatStatus(out, { color: flags.color !== false && process.stdout.isTTY === true && !process.env['NO_COLOR'] }));
        if (out.length === 0) {
          process.stderr.write(`knockc: no knockc rules are loaded${where ? ` in table ${where[0]!.family} ${where[0]!.table}` : ''} (load them with knockc apply)\n`);
          throw new Exit(EXIT_FINDINGS);
        }
      });
    });
}
