import type { Command } from 'commander';
import { Option } from 'commander';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { jsonChunks, sarifChunks, textChunks, type OutputFormat } from '../diagnostics/format.js';
import { addTallies, DEFAULT_MAX_FINDINGS, NO_FINDINGS, parseMaxFindings, type NotShown } from '../diagnostics/limit.js';
import { loadConfigFile } from '../frontend/load.js';
import { lintReport } from '../lint/lint.js';
import { packageVersion } from '../package.js';
import { TARGET_NAMES } from '../targets/registry.js';
import { UsageError } from '../targets/target.js';
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
    .option('--max-findings <n>', 'findings shown per file; the others are counted', String(DEFAULT_MAX_FINDINGS))
    .action((files: string[], opts: { format: OutputFormat; strict?: boolean; interface?: string; target?: string; maxFindings: string }) =>
      failuresToExit(() => {
      checkInterfaceOption(opts.interface);
      const maxFindings = parseMaxFindings(opts.maxFindings);
      if (maxFindings === null) throw new UsageError(`--max-findings takes a whole number from 1, not "${opts.maxFindings}"`);
      const all: Diagnostic[] = [];
      const notShown: NotShown[] = [];
      let total = NO_FINDINGS;
      let inputFailure = false;
      for (const f of files) {
        const parsed = loadConfigFile(f, undefined, { maxFindings });
        if (isInputFailure(parsed.diagnostics)) inputFailure = true;
        const r = lintReport(parsed, { interfaceOption: opts.interface ?? null, target: opts.target ?? null, maxFindings });
        for (const d of r.findings) all.push(d);
        if (r.notShown) notShown.push(r.notShown);
        total = addTallies(total, r.total);
      }
      const shown = { findings: all, notShown, more: `the first ${maxFindings} are shown, raise --max-findings to see more` };
      const chunks =
        opts.format === 'json' ? jsonChunks(shown)
        : opts.format === 'sarif' ? sarifChunks(shown, packageVersion())
        : textChunks(shown, process.stdout.isTTY === true);
      // In pieces of about 64 KiB: never one string of every finding.
      let buf = '';
      for (const c of chunks) {
        buf += c;
        if (buf.length >= 1 << 16) {
          process.stdout.write(buf);
          buf = '';
        }
      }
      if (buf) process.stdout.write(buf);
      if (opts.format === 'text') {
        process.stderr.write(`${files.length} file(s): ${total.error} error(s), ${total.warning} warning(s), ${total.info} note(s)\n`);
      }
      if (inputFailure) throw new Exit(EXIT_USAGE);
      const failing = total.error > 0 || (opts.strict === true && total.warning > 0);
      throw new Exit(failing ? EXIT_FINDINGS : EXIT_OK);
      }),
    );
}
