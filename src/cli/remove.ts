// knockc remove: take out exactly what knockc added (its table, or its
// knockc_* chains, sets and hook rules in a user's table), nothing else.
// Idempotent: nothing to remove is success.
import type { Command } from 'commander';
import { removeNft } from '../targets/nft/apply.js';
import type { Deployment } from '../targets/nft/live.js';
import { localRunner, type Runner } from '../host/runner.js';
import { Exit, EXIT_FINDINGS } from './common.js';
import { type HostFlags, hostStep, nftLocation, preflightIptablesOrExit, preflightOrExit, refuseNftOptions, targetOption, usage } from './apply.js';
import { famText, removeIptables, toolOf } from '../targets/iptables/host.js';

interface RemoveFlags extends HostFlags {
  verbose?: boolean;
}

/** The locations named on the command line, or null (= every table where knockc is found). */
export function namedLocation(flags: HostFlags, cmd: Command): Deployment[] | null {
  const tableGiven = cmd.getOptionValueSource('table') === 'cli';
  if (tableGiven && flags.into) usage('--table names knockc\'s own table; it does not go with --into');
  if (!tableGiven && !flags.into) return null;
  const loc = nftLocation({ ...flags, chain: undefined, forwardChain: undefined });
  return [{ family: loc.family, table: loc.table, mode: loc.mode }];
}

export function registerRemove(program: Command, run: Runner = localRunner): void {
  program
    .command('remove')
    .description('remove what knockc loaded (its table, or its chains, sets and jumps in your table); nothing else')
    .addOption(targetOption())
    .option('--table <name>', 'only knockc\'s own table of this name', 'knockc')
    .option('--into <family-table>', 'only knockc\'s objects in your table, e.g. "inet filter"')
    .option('-v, --verbose', 'print the host checks and timings')
    .action(async (flags: RemoveFlags, cmd: Command) => {
      if (flags.target === 'iptables') {
        refuseNftOptions(cmd, ['table', 'into']);
        await hostStep(async () => {
          const backend = await preflightIptablesOrExit(run, flags.verbose === true);
          const r = await removeIptables(run, backend);
          if (!r.ok) {
            process.stderr.write(r.error);
            process.stderr.write('knockc: iptables-restore refused the removal; nothing was changed\n');
            throw new Exit(EXIT_FINDINGS);
          }
          if (r.removed.length === 0) process.stdout.write(`knockc: nothing to remove (no knockc rules are loaded in iptables-${backend})\n`);
          for (const x of r.removed) {
            process.stdout.write(`knockc: removed from ${toolOf(backend, x.family, '')} (${famText(x.family)}, table filter): ${x.chains} knockc chain(s), ${x.hooks} jump(s)\n`);
          }
          if (flags.verbose) process.stderr.write(`knockc: ${Math.round(r.ms)} ms\n`);
        });
        return;
      }
      const where = namedLocation(flags, cmd);
      await hostStep(async () => {
        await preflightOrExit(run, 'standalone', flags.verbose === true);
        const r = await removeNft(run, where);
        if (!r.ok) {
          process.stderr.write(r.stderr);
          process.stderr.write('knockc: nft refused the removal; nothing was changed\n');
          throw new Exit(EXIT_FINDINGS);
        }
        if (r.removed.length === 0) process.stdout.write('knockc: nothing to remove (no knockc rules are loaded)\n');
        for (const x of r.removed) {
          const d = x.where;
          process.stdout.write(
            d.mode === 'standalone'
              ? `knockc: removed table ${d.family} ${d.table}\n`
              : `knockc: removed from table ${d.family} ${d.table}: ${x.chains} knockc chain(s), ${x.sets} set(s), ${x.hooks} jump(s)\n`,
          );
        }
        const unguarded = [...new Set(r.removed.flatMap((x) => x.unguarded))];
        if (unguarded.length) {
          process.stderr.write(`knockc: note: knockc no longer guards ${unguarded.join(', ')}: new connections there are now as your own firewall leaves them\n`);
        }
        if (flags.verbose) process.stderr.write(`knockc: ${Math.round(r.ms)} ms\n`);
      });
    });
}
