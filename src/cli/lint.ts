import type { Command } from 'commander';
import { Option } from 'commander';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { formatJson, formatSarif, formatText, type OutputFormat } from '../diagnostics/format.js';
import { loadConfigFile } from '../frontend/load.js';
import { lintParsed } from '../lint/lint.js';
import { packageVersion } from '../package.js';
import { TARGET_NAMES } from '../targets/registry.js';
import { checkInterfaceOption, Exit, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, failuresToExit, isInputFailure } from './common.js';

export function registerLint(program: Command): void {
  program
    .command('lint')
    .description('check knockd.conf files: what knockd rejects, misreads, or does unsafely')
    .argument('<files...>', 'knockd.conf files ("-" reads standard input)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['text', 'json', 'sarif']).default('text'))
    .option('--strict', 'exit 1 on warnings too')
    .option('-i, --interface <iface>', 'the interface knockd would listen on (knockd -i)')
    .addOption(new Option('-t, --target <target>', 'also report what compiling for this ruleset flavour implies').choices(TARGET_NAMES))
    .action((files: string[], opts: { format: OutputFormat; strict?: boolean; interface?: string; target?: string }) =>
      failuresToExit(() => {
      checkInterfaceOption(opts.interface);
      const all: Diagnostic[] = [];
      let inputFailure = false;
      for (const f of files) {
        const parsed = loadConfigFile(f);
        if (isInputFailure(parsed.diagnostics)) inputFailure = true;
        for (const d of lintParsed(parsed, { interfaceOption: opts.interface ?? null, target: opts.target ?? null })) all.push(d);
      }
      const out =
        opts.format === 'json' ? formatJson(all)
        : opts.format === 'sarif' ? formatSarif(all, packageVersion())
        : formatText(all, process.stdout.isTTY === true);
      process.stdout.write(out);
      if (opts.format === 'text') {
        const n = (s: string): number => all.filter((d) => d.severity === s).length;
        process.stderr.write(`${files.length} file(s): ${n('error')} error(s), ${n('warning')} warning(s), ${n('info')} note(s)\n`);
      }
      if (inputFailure) throw new Exit(EXIT_USAGE);
      const failing = all.some((d) => d.severity === 'error' || (opts.strict === true && d.severity === 'warning'));
      throw new Exit(failing ? EXIT_FINDINGS : EXIT_OK);
      }),
    );
}
