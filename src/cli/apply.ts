// knockc apply: compile and load in one atomic step, keeping live attempts
// and grants of the doors that did not change.
import type { Command } from 'commander';
import { Option } from 'commander';
import { formatText } from '../diagnostics/format.js';
import { lintParsed } from '../lint/lint.js';
import { RUNTIME_CODES } from '../lint/rules.js';
import { compileNft, NFT_DEFAULTS } from '../targets/nft/generate.js';
import { applyNft, ApplyRefused, locationText, type NftApplyReport } from '../targets/nft/apply.js';
import { formatDiff } from '../targets/nft/diff.js';
import { formatMappedErrors } from '../targets/nft/errors.js';
import type { NftLocation } from '../targets/nft/script.js';
import { listDeployments } from '../targets/nft/live.js';
import { checkInterface, failed, formatChecks } from '../host/checks.js';
import { preflightNft } from '../targets/nft/preflight.js';
import { setMeaning } from '../model/names.js';
import { HostError, localRunner, type Runner } from '../host/runner.js';
import { compileIptables, IPTABLES_DEFAULTS } from '../targets/iptables/generate.js';
import { applyIptables, FAMILIES, otherBackendHasKnockc, toolOf, type IptCompiled } from '../targets/iptables/host.js';
import { preflightIptables, type Backend } from '../targets/iptables/preflight.js';
import { checkPrivileges, versionAtLeast } from '../host/checks.js';
import type { Family } from '../model/grant.js';
import { checkInterfaceOption, compiledOrExit, Exit, EXIT_FINDINGS, EXIT_USAGE, loadOrExit, packageVersion, type LoadedConfig } from './common.js';
import { maxSources, parseInto } from './compile.js';

const NOTHING_CHANGED = 'knockc: nothing was changed\n';

/** The host is not ready (permissions, tools, kernel): nothing was changed. */
export const EXIT_HOST = 3;

export interface HostFlags {
  target: 'nft' | 'iptables';
  table: string;
  into?: string;
  chain?: string;
  forwardChain?: string;
}

export function usage(msg: string): never {
  process.stderr.write(`knockc: ${msg}\n`);
  throw new Exit(EXIT_USAGE);
}

export function targetOption(): Option {
  return new Option('-t, --target <target>', 'ruleset flavour').choices(['nft', 'iptables']).default('nft');
}

/** Options of the nft target that mean nothing for --target iptables. */
export function refuseNftOptions(cmd: Command, names: readonly string[]): void {
  const given = names.find((n) => cmd.getOptionValueSource(n) === 'cli');
  if (given) usage(`--${given.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for --target nft; --target iptables loads knockc_* chains into the filter table of the iptables your firewall uses`);
}

/**
 * A warning when the interface knocks are counted on (--interface, else Interface in [options])
 * is not on this host: apply and run still load the rules.
 */
export async function warnMissingInterface(run: Runner, option: string | undefined, config: LoadedConfig['config'], dryRun = false): Promise<void> {
  const name = option ?? config.options.interface.value;
  if (!name) return;
  const check = await checkInterface(run, name, dryRun).catch(() => null);
  if (check) process.stderr.write(formatChecks([check]));
}

export const IPTABLES_MIN = [1, 6, 0] as const;

/** The checks of the iptables target: root, which iptables (nft or legacy), its version and tools, xt_recent capacity. */
export async function preflightIptablesOrExit(run: Runner, verbose: boolean): Promise<Backend> {
  const checks = [await checkPrivileges(run)];
  const ipt = await preflightIptables(run);
  checks.push(...ipt.checks);
  if (ipt.backend) {
    const r = await run([toolOf(ipt.backend, 'ip', ''), '--version']);
    const v = /v(\d+\.\d+(?:\.\d+)?)/.exec(r.stdout)?.[1] ?? null;
    if (v === null) checks.push({ level: 'error', what: 'iptables', message: `${toolOf(ipt.backend, 'ip', '')} --version: no version (${(r.stderr || r.stdout).trim()})` });
    else if (!versionAtLeast(v, IPTABLES_MIN)) checks.push({ level: 'error', what: 'iptables', message: `iptables ${v} is too old: knockc needs ${IPTABLES_MIN.join('.')} or newer` });
    else checks.push({ level: 'ok', what: 'iptables', message: `iptables ${v} (${ipt.backend})` });
  }
  process.stderr.write(formatChecks(checks, verbose ? 'all' : 'problems'));
  if (failed(checks).length || !ipt.backend) {
    process.stderr.write('knockc: the host is not ready; nothing was changed\n');
    throw new Exit(EXIT_HOST);
  }
  return ipt.backend;
}

export function nftLocation(flags: HostFlags): NftLocation {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(flags.table)) usage(`--table "${flags.table}" is not a table name`);
  const into = parseInto(flags.into, flags.chain, flags.forwardChain);
  return into ? { mode: 'into', ...into } : { mode: 'standalone', family: 'inet', table: flags.table };
}

/** Turns host failures into messages and exit codes (never a stack trace). */
export async function hostStep<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ApplyRefused) {
      process.stderr.write(`knockc: ${e.message}\n${NOTHING_CHANGED}`);
      throw new Exit(EXIT_FINDINGS);
    }
    if (e instanceof HostError) {
      process.stderr.write(`knockc: ${e.message}\n`);
      throw new Exit(EXIT_HOST);
    }
    throw e;
  }
}

export async function preflightOrExit(run: Runner, mode: 'standalone' | 'into', verbose: boolean): Promise<void> {
  const checks = await preflightNft(run, mode);
  process.stderr.write(formatChecks(checks, verbose ? 'all' : 'problems'));
  if (failed(checks).length) {
    process.stderr.write('knockc: the host is not ready; nothing was changed\n');
    throw new Exit(EXIT_HOST);
  }
}

interface ApplyFlags extends HostFlags {
  interface?: string;
  guard?: boolean;
  log?: boolean;
  maxSources?: string;
  dryRun?: boolean;
  verbose?: boolean;
  printScript?: boolean;
}

const ms = (x: number): string => `${Math.round(x)} ms`;
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** "2 attempts in progress, 1 grant" from carried (or dropped) sets. */
function stateWords(sets: ReadonlyArray<{ name: string; count: number }>): string {
  let attempts = 0;
  let grants = 0;
  for (const s of sets) {
    const role = setMeaning(s.name).role;
    if (role === 'armed') attempts += s.count;
    else if (role === 'grant') grants += s.count;
  }
  return [attempts ? plural(attempts, 'attempt') + ' in progress' : '', grants ? plural(grants, 'grant') : ''].filter(Boolean).join(', ');
}

function stateLine(r: NftApplyReport, dry: boolean): string {
  const kept = stateWords(r.carry.carried.map((c) => ({ name: c.to, count: c.count })));
  const dropped = stateWords(r.carry.dropped);
  if (!kept && !dropped) return '';
  const parts = [kept ? `${kept} ${dry ? 'would be' : ''} kept`.replace('  ', ' ') : '', dropped ? `${dropped} of removed or changed doors ${dry ? 'would be ' : ''}dropped` : ''];
  return `knockc: live state: ${parts.filter(Boolean).join('; ')}\n`;
}

function summary(r: NftApplyReport): string {
  const overflow = r.carry.carried.reduce((n, c) => n + c.overflow, 0);
  const doors = r.diff.doors.filter((d) => d.change !== 'removed').length;
  let out = `knockc: loaded ${plural(doors, 'door')} into ${locationText(r.location)} (one nft transaction, ${ms(r.ms.load)})\n`;
  out += stateLine(r, false);
  if (overflow) out += `knockc: warning: ${plural(overflow, 'entry', 'entries')} did not fit the new --max-sources and were dropped (those with the least time left)\n`;
  return out;
}

/** What to load and where: the options apply and run share. */
export function loadOptions(cmd: Command): Command {
  return cmd
    .addOption(targetOption())
    .option('-i, --interface <iface>', 'count knocks only on this interface, like knockd -i (overrides Interface in [options])')
    .option('--log', 'kernel log lines like knockd\'s ("DOOR: Stage N", "DOOR: OPEN SESAME")')
    .option('--guard', 'iptables: also drop new connections to granted ports from sources without the grant')
    .option('--max-sources <n>', 'bound every kernel set to N sources')
    .option('--table <name>', 'name of knockc\'s own nft table', 'knockc')
    .option('--into <family-table>', 'load into your nft table instead, e.g. "inet filter"')
    .option('--chain <chain>', 'with --into: your input chain to jump from (default input)')
    .option('--forward-chain <chain>', 'with --into: your forward chain, for FORWARD grants');
}

export function registerApply(program: Command, run: Runner = localRunner): void {
  loadOptions(program.command('apply'))
    .description('compile a knockd.conf and load it into the kernel in one atomic step, keeping live attempts and grants')
    .argument('<file>', 'knockd.conf')
    .option('-n, --dry-run', 'check with nft -c and print what would change; the kernel is not touched')
    .option('--print-script', 'print the nft script that is (or, with --dry-run, would be) loaded')
    .option('-v, --verbose', 'print the host checks and timings')
    .action(async (file: string, flags: ApplyFlags, cmd: Command) => {
      checkInterfaceOption(flags.interface, NOTHING_CHANGED);
      if (flags.target === 'iptables') return applyIptablesCommand(run, file, flags, cmd);
      if (flags.guard) usage('--guard is for --target iptables (the nft target guards granted ports itself in its own table)');
      if (cmd.getOptionValueSource('table') === 'cli' && flags.into) usage('--table names knockc\'s own table; it does not go with --into');
      const loc = nftLocation(flags);
      const size = flags.maxSources === undefined ? null : maxSources(flags.maxSources);
      const loaded = loadOrExit(file);
      const warnings = lintParsed(loaded, { interfaceOption: flags.interface ?? null, target: 'nft' }).filter((d) => RUNTIME_CODES.includes(d.code));
      if (warnings.length) process.stderr.write(formatText(warnings, process.stderr.isTTY === true));
      const compiled = compiledOrExit(() =>
        compileNft(loaded.config, {
          ...NFT_DEFAULTS,
          iface: flags.interface ?? null,
          log: flags.log === true,
          maxSources: size,
          table: loc.table,
          into: loc.mode === 'into' ? loc : null,
          version: packageVersion(),
          source: file,
        }),
        NOTHING_CHANGED,
      );
      if (compiled.program.runtimeDoors.length) {
        process.stderr.write(
          `knockc: ${compiled.program.runtimeDoors.length} door(s) need \`knockc run\`: ${compiled.program.runtimeDoors.map((d) => `[${d.door}] (${d.reason})`).join(', ')}\n`,
        );
      }
      await hostStep(async () => {
        await preflightOrExit(run, loc.mode, flags.verbose === true);
        await warnMissingInterface(run, flags.interface, loaded.config, flags.dryRun === true);
        const r = await applyNft({ run, config: loaded.config, compiled, location: loc, maxSources: size, dryRun: flags.dryRun === true });
        if (flags.printScript) process.stdout.write(r.script);
        if (flags.dryRun) {
          if (!flags.printScript) process.stdout.write(formatDiff(r.diff, locationText(loc)) + stateLine(r, true));
        }
        if (!r.ok) {
          process.stderr.write(formatMappedErrors(r.errors, file));
          process.stderr.write(`knockc: ${flags.dryRun ? 'nft -c rejects these rules' : 'nft refused the rules'}; nothing was changed\n`);
          throw new Exit(EXIT_FINDINGS);
        }
        // Only a warning: a failure to list must not turn a done apply into an error.
        const others = (await listDeployments(run).catch(() => [])).filter((d) => !(d.family === loc.family && d.table === loc.table));
        for (const d of others) {
          process.stderr.write(
            `knockc: warning: knockc rules are also loaded in table ${d.family} ${d.table}${d.mode === 'into' ? ' (--into)' : ''}: knocks are then counted twice; ` +
              `remove them with knockc remove ${d.mode === 'into' ? `--into "${d.family} ${d.table}"` : `--table ${d.table}`}\n`,
          );
        }
        const out = flags.printScript ? process.stderr : process.stdout;
        if (flags.dryRun) out.write(`knockc: dry run: nft -c accepts these rules (${ms(r.ms.load)}); the kernel was not touched\n`);
        else out.write(summary(r));
        if (flags.verbose) process.stderr.write(`knockc: read ${ms(r.ms.read)}, load ${ms(r.ms.load)}, total ${ms(r.ms.total)}\n`);
      });
    });
}

/** Compiles both families for --target iptables (exit 1 with the message when iptables cannot express the config). */
function compileBoth(config: LoadedConfig['config'], flags: ApplyFlags, file: string): Record<Family, IptCompiled> {
  const out = {} as Record<Family, IptCompiled>;
  for (const family of FAMILIES) {
    const c = compiledOrExit(
      () => compileIptables(config, { ...IPTABLES_DEFAULTS, family, iface: flags.interface ?? null, log: flags.log === true, guard: flags.guard === true, version: packageVersion(), source: file }),
      NOTHING_CHANGED,
    );
    out[family] = { text: c.text, hooks: c.ruleset.hooks };
  }
  return out;
}

async function applyIptablesCommand(run: Runner, file: string, flags: ApplyFlags, cmd: Command): Promise<void> {
  refuseNftOptions(cmd, ['table', 'into', 'chain', 'forwardChain', 'maxSources']);
  const loaded = loadOrExit(file);
  const warnings = lintParsed(loaded, { interfaceOption: flags.interface ?? null, target: 'iptables' }).filter((d) => RUNTIME_CODES.includes(d.code));
  if (warnings.length) process.stderr.write(formatText(warnings, process.stderr.isTTY === true));
  const compiled = compileBoth(loaded.config, flags, file);
  await hostStep(async () => {
    const backend = await preflightIptablesOrExit(run, flags.verbose === true);
    await warnMissingInterface(run, flags.interface, loaded.config, flags.dryRun === true);
    const r = await applyIptables({ run, backend, compiled, dryRun: flags.dryRun === true });
    if (flags.printScript) for (const f of FAMILIES) process.stdout.write(`# ${toolOf(backend, f, 'restore')} --noflush\n${r.inputs[f]}`);
    if (flags.dryRun && !flags.printScript) process.stdout.write(r.diff + iptStateLine(r.kept, r.dropped, true));
    if (!r.ok) {
      process.stderr.write(r.error);
      if (r.rolledBack === false) {
        process.stderr.write(`knockc: ${toolOf(backend, 'ip6', 'restore')} refused the IPv6 rules, and putting the IPv4 rules back failed: check with ${toolOf(backend, 'ip', 'save')}\n`);
        throw new Exit(EXIT_HOST);
      }
      process.stderr.write(`knockc: ${flags.dryRun ? 'iptables-restore --test rejects these rules' : `iptables-restore refused the rules${r.rolledBack ? ' (IPv6; the IPv4 rules loaded just before were put back)' : ''}`}; nothing was changed\n`);
      throw new Exit(EXIT_FINDINGS);
    }
    if (await otherBackendHasKnockc(run, backend).catch(() => false)) {
      const other = backend === 'nft' ? 'legacy' : 'nft';
      process.stderr.write(`knockc: warning: knockc chains are also loaded in iptables-${other}: knocks may be counted twice there; remove them with ${toolOf(other, 'ip', '')}-save / -D / -F / -X (knockc remove only touches iptables-${backend})\n`);
    }
    const out = flags.printScript ? process.stderr : process.stdout;
    if (flags.dryRun) out.write(`knockc: dry run: iptables-restore --test accepts these rules (${ms(r.ms.load)}); the kernel was not touched\n`);
    else {
      out.write(`knockc: loaded ${plural(r.doors, 'door')} into iptables-${backend} (IPv4 and IPv6 table filter, one iptables-restore per family, ${ms(r.ms.load)})\n`);
      out.write(iptStateLine(r.kept, r.dropped, false));
    }
    if (flags.verbose) process.stderr.write(`knockc: read ${ms(r.ms.read)}, load ${ms(r.ms.load)}, total ${ms(r.ms.total)}\n`);
  });
}

function iptStateLine(kept: number, dropped: number, dry: boolean): string {
  if (!kept && !dropped) return '';
  const w = dry ? 'would be ' : '';
  const parts = [kept ? `${plural(kept, 'source')} in kept lists (attempts and grants) ${w}kept` : '', dropped ? `${plural(dropped, 'source')} in lists no longer used ${w}dropped` : ''];
  return `knockc: live state: ${parts.filter(Boolean).join('; ')}\n`;
}
