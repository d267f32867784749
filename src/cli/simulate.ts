import type { Command } from 'commander';
import { codeInfo } from '../diagnostics/codes.js';
import { formatText } from '../diagnostics/format.js';
import { simulate } from '../simulate/simulate.js';
import { parseTrace, readTrace } from '../simulate/trace.js';
import { Exit, EXIT_FINDINGS, EXIT_USAGE, loadOrExit } from './common.js';

/** Trace errors printed; the rest are counted. */
export const MAX_TRACE_ERRORS_SHOWN = 20;

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('run a packet trace through knockd\'s state machine and the compiled rules: what opens when (no kernel needed)')
    .argument('<config>', 'knockd.conf')
    .argument('<trace>', 'trace file: lines of "TIME SOURCE PROTO/PORT [FLAGS]" or "TIME SOURCE probe PROTO/PORT" ("-" reads standard input)')
    .option('-i, --interface <iface>', 'interface the packets arrive on (default: Interface in [options], else eth0)')
    .option('--local4 <addr>', 'the host\'s IPv4 address', '198.51.100.1')
    .option('--local6 <addr>', 'the host\'s IPv6 address', '2001:db8::1')
    .action((configPath: string, tracePath: string, o: { interface?: string; local4: string; local6: string }) => {
      const { config } = loadOrExit(configPath);
      const read = readTrace(tracePath);
      const { events, errors } = 'text' in read ? parseTrace(read.file, read.text) : { events: [], errors: [read.error] };
      if (errors.length > 0) {
        // The first ones: a file that is not a trace at all would otherwise print a line per line.
        const shown = errors.slice(0, MAX_TRACE_ERRORS_SHOWN);
        process.stderr.write(
          formatText(shown.map((e) => ({ code: e.code ?? 'KC501', severity: 'error' as const, message: e.message, range: e.range, hint: codeInfo(e.code ?? 'KC501').hint }))),
        );
        if (errors.length > shown.length) process.stderr.write(`knockc: ${errors.length - shown.length} more trace error(s) not shown (${errors.length} in all)\n`);
        throw new Exit(EXIT_USAGE);
      }
      const iface = o.interface ?? config.options.interface.value ?? 'eth0';
      const r = simulate(config, events, { iface, local4: o.local4, local6: o.local6 });
      process.stdout.write(r.lines.map((l) => l.text).join('\n') + (r.lines.length ? '\n' : ''));
      if (r.disagreements > 0) throw new Exit(EXIT_FINDINGS);
    });
}
