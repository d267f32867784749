import type { Command } from 'commander';
import { Option } from 'commander';
import { explainData, explainDot, explainText } from '../explain/explain.js';
import { loadOrExit } from './common.js';

export function registerExplain(program: Command): void {
  program
    .command('explain')
    .description('describe each door: its knocks, timeouts, what opens and closes, whether it needs the runtime')
    .argument('<file>', 'knockd.conf ("-" reads standard input)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['text', 'json', 'dot']).default('text'))
    .action((file: string, opts: { format: 'text' | 'json' | 'dot' }) => {
      const { config } = loadOrExit(file);
      const out =
        opts.format === 'json' ? JSON.stringify(explainData(config), null, 2) + '\n'
        : opts.format === 'dot' ? explainDot(config)
        : explainText(config);
      process.stdout.write(out);
    });
}
