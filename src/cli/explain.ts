import type { Command } from 'commander';
import { Option } from 'commander';
import { explainData, explainDot, explainText } from '../explain/explain.js';
import { knockcTables } from '../attach/attach.js';
import { detectHostFirewall } from '../attach/detect.js';
import { readHostSnapshot } from '../attach/snapshot.js';
import { GUARD_TABLE } from '../attach/guard.js';
import { checkPrivileges } from '../host/checks.js';
import { localRunner } from '../host/runner.js';
import { DEFAULT_MARK, markHex } from '../model/mark.js';
import { loadOrExit } from './common.js';

/** Where `knockc apply` (standalone, no --host-firewall) would attach on this host, and why. */
async function hostText(): Promise<string> {
  const priv = await checkPrivileges(localRunner, 'read');
  if (priv.level === 'error') return `\nhost      not read: ${priv.message}\n`;
  const own = knockcTables('knockc');
  const h = detectHostFirewall(await readHostSnapshot(localRunner, own), own);
  const how =
    h.kind === 'none'
      ? `knockc's guard table (inet ${GUARD_TABLE}) keeps the granted ports closed in both families`
      : `grants mark their packets (${markHex(DEFAULT_MARK)}) and ONE standing rule in ${h.kind} accepts them`;
  return `\nhost      firewall: ${h.kind} (${h.why})\n          ${how}; \`knockc apply --dry-run\` shows what it would add\n`;
}

export function registerExplain(program: Command): void {
  program
    .command('explain')
    .description('describe each door: its knocks, timeouts, what opens and closes, whether it needs the runtime')
    .argument('<file>', 'knockd.conf ("-" reads standard input)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['text', 'json', 'dot']).default('text'))
    .option('--host', 'also say which host firewall `knockc apply` would attach to here, and why (reads the firewall: needs root)')
    .action(async (file: string, opts: { format: 'text' | 'json' | 'dot'; host?: boolean }) => {
      const { config } = loadOrExit(file);
      const out =
        opts.format === 'json' ? JSON.stringify(explainData(config), null, 2) + '\n'
        : opts.format === 'dot' ? explainDot(config)
        : explainText(config);
      process.stdout.write(out);
      if (opts.host) process.stdout.write(await hostText());
    });
}
