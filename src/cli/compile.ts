import { writeFileSync, renameSync } from 'node:fs';
import type { Command } from 'commander';
import { Option } from 'commander';
import { compareDiagnostics } from '../diagnostics/diagnostic.js';
import { formatText } from '../diagnostics/format.js';
import { COMPILE_RULES, RUNTIME_CODES, runRules } from '../lint/rules.js';
import { planDoors } from '../model/plan.js';
import { compileIptables, IPTABLES_DEFAULTS } from '../targets/iptables/generate.js';
import { compileNft, NFT_DEFAULTS, type NftOptions } from '../targets/nft/generate.js';
import { checkInterfaceOption, compiledOrExit, Exit, EXIT_USAGE, loadOrExit, packageVersion } from './common.js';

export interface CompileFlags {
  target: 'nft' | 'iptables';
  output?: string;
  interface?: string;
  log?: boolean;
  maxSources?: string;
  into?: string;
  chain?: string;
  forwardChain?: string;
  table: string;
  family: '4' | '6';
  guard?: boolean;
}

const NFT_ONLY = ['into', 'chain', 'forwardChain', 'table', 'maxSources'] as const;
const IPTABLES_ONLY = ['family', 'guard'] as const;
const flagName = (k: string): string => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

function usage(msg: string): never {
  process.stderr.write(`knockc: ${msg}\n`);
  throw new Exit(EXIT_USAGE);
}

export function parseInto(into: string | undefined, chain: string | undefined, forwardChain: string | undefined): NftOptions['into'] {
  if (!into) {
    if (chain || forwardChain) usage('--chain and --forward-chain need --into "FAMILY TABLE"');
    return null;
  }
  const parts = into.trim().split(/\s+/);
  const [family, table] = parts;
  if (parts.length !== 2 || (family !== 'inet' && family !== 'ip' && family !== 'ip6') || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(table ?? '')) {
    usage(`--into takes "FAMILY TABLE" with FAMILY inet, ip or ip6 (got "${into}")`);
  }
  const name = (s: string | undefined, what: string, dflt: string | null): string | null => {
    if (s === undefined) return dflt;
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(s)) usage(`${what} "${s}" is not an nftables chain name`);
    return s;
  };
  return { family, table: table!, chain: name(chain, '--chain', 'input')!, forwardChain: name(forwardChain, '--forward-chain', null) };
}

export function maxSources(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 1 << 24) usage(`--max-sources takes a whole number from 1 to ${1 << 24} (got "${s}")`);
  return n;
}

export function registerCompile(program: Command): void {
  program
    .command('compile')
    .description('compile the doors of a knockd.conf into a kernel ruleset (nft -f / iptables-restore input)')
    .argument('<file>', 'knockd.conf ("-" reads standard input)')
    .addOption(new Option('-t, --target <target>', 'ruleset flavour').choices(['nft', 'iptables']).default('nft'))
    .option('-o, --output <file>', 'write to FILE (atomically) instead of standard output')
    .option('-i, --interface <iface>', 'count knocks only on this interface, like knockd -i (overrides Interface in [options])')
    .option('--log', 'kernel log lines like knockd\'s ("DOOR: Stage N", "DOOR: OPEN SESAME")')
    .option('--max-sources <n>', 'bound every kernel set to N sources (default: the kernel bound for dynamic sets, 65535)')
    .option('--table <name>', 'name of the standalone nft table', 'knockc')
    .option('--into <family-table>', 'nft: add sets and chains into your table, e.g. "inet filter"')
    .option('--chain <chain>', 'with --into: your input chain to jump from (default input)')
    .option('--forward-chain <chain>', 'with --into: your forward chain, for FORWARD grants')
    .addOption(new Option('--family <family>', 'iptables: address family of the output (4: iptables-restore input, 6: ip6tables-restore input)').choices(['4', '6']).default('4'))
    .option('--guard', 'iptables: also drop new connections to granted ports from sources without the grant (your firewall allows the port)')
    .action((file: string, flags: CompileFlags, cmd: Command) => {
      // Options of the other target are mistakes, not no-ops.
      const given = (k: string): boolean => cmd.getOptionValueSource(k) === 'cli';
      const wrong = (flags.target === 'iptables' ? NFT_ONLY : IPTABLES_ONLY).find(given);
      if (wrong) usage(`${flagName(wrong)} does not apply to --target ${flags.target}`);
      checkInterfaceOption(flags.interface);
      const loaded = loadOrExit(file);
      const shown = flags.target === 'iptables' ? [...RUNTIME_CODES, 'KC406'] : RUNTIME_CODES;
      // The shown part of lintParsed's findings (only the rules that can report it run), with
      // door plans made once for the lint rules and the generator (planning is a tenth of a big compile).
      const plans = planDoors(loaded.config);
      const findings = [...loaded.diagnostics];
      for (const d of runRules({ config: loaded.config, plans, interfaceOption: flags.interface ?? null, target: flags.target }, COMPILE_RULES)) findings.push(d);
      const warnings = findings.filter((d) => shown.includes(d.code)).sort(compareDiagnostics);
      if (warnings.length) process.stderr.write(formatText(warnings, process.stderr.isTTY === true));
      const { text, program } = compiledOrExit(() => {
        if (flags.target === 'iptables') {
          return compileIptables(loaded.config, {
            ...IPTABLES_DEFAULTS,
            family: flags.family === '6' ? 'ip6' : 'ip',
            guard: flags.guard === true,
            iface: flags.interface ?? null,
            log: flags.log === true,
            version: packageVersion(),
            source: file,
          }, plans);
        }
        const into = parseInto(flags.into, flags.chain, flags.forwardChain);
        const size = flags.maxSources === undefined ? null : maxSources(flags.maxSources);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(flags.table)) usage(`--table "${flags.table}" is not a table name`);
        return compileNft(loaded.config, {
          ...NFT_DEFAULTS,
          iface: flags.interface ?? null,
          log: flags.log === true,
          maxSources: size,
          table: flags.table,
          into,
          version: packageVersion(),
          source: file,
        }, plans);
      });
      const runtimeDoors = program.runtimeDoors;
      if (runtimeDoors.length) {
        process.stderr.write(`knockc: ${runtimeDoors.length} door(s) need \`knockc run\`: ${runtimeDoors.map((d) => `[${d.door}] (${d.reason})`).join(', ')}\n`);
      }
      if (flags.output) {
        const tmp = `${flags.output}.knockc-tmp-${process.pid}`;
        try {
          writeFileSync(tmp, text);
          renameSync(tmp, flags.output);
        } catch (e) {
          usage(`cannot write ${flags.output}: ${(e as Error).message}`);
        }
      } else {
        process.stdout.write(text);
      }
    });
}
