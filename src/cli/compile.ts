// knockc compile: a knockd.conf into a ruleset file for the chosen target.
import { writeFileSync, renameSync } from 'node:fs';
import type { Command } from 'commander';
import { compiledOrThrow, compileConfig, runtimeDoorsLine } from '../deploy/deploy.js';
import { packageVersion } from '../package.js';
import { UsageError } from '../targets/target.js';
import { checkInterfaceOption, failuresToExit, loadOrExit, printFindings } from './common.js';
import { chosenTarget, compileOptions, type CommonFlags } from './options.js';

interface CompileFlags extends CommonFlags {
  readonly output?: string;
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
        const loaded = loadOrExit(file);
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
