// The nft target: one `nft -f` transaction into knockc's own table, or into
// the user's table with --into. Its options, checks, compile and host side.
import { attach, hostLine, knockcTables, planAttach, purgeAttachments, type AttachRequest } from '../../attach/attach.js';
import { HOST_KINDS, type HostKind } from '../../attach/detect.js';
import { guardEntries } from '../../attach/guard.js';
import { defaultEtc } from '../../attach/paths.js';
import { DEFAULT_MARK, markHex, parseMark, type Mark } from '../../model/mark.js';
import type { Hook } from '../../model/grant.js';
import { codeInfo } from '../../diagnostics/codes.js';
import type { Diagnostic } from '../../diagnostics/diagnostic.js';
import { failed, formatChecks, notReadyMessage, type Purpose } from '../../host/checks.js';
import type { Runner } from '../../host/runner.js';
import type { Family } from '../../model/grant.js';
import { FAMILIES, type DoorPlan } from '../../model/plan.js';
import { formatDiff } from './diff.js';
import { formatMappedErrors } from './errors.js';
import { compileNft, NFT_DEFAULTS } from './generate.js';
import { listDeployments, readTable, type Deployment } from './live.js';
import { applyNft, locationText, removeNft, type NftApplyReport } from './apply.js';
import { preflightNft } from './preflight.js';
import type { NftLocation } from './script.js';
import { deploymentStatus } from './status.js';
import type { DeploymentStatus } from '../status.js';
import { HostNotReady, LoadFailed, UsageError, type CommandName, type Compiled, type Flags, type Given, type Say, type Session, type Target } from '../target.js';
import { setMeaning } from '../../model/names.js';
import { msText as ms, plural } from '../../text.js';

type Into = NftLocation & { mode: 'into' };

export interface NftTargetOptions {
  /** compile: the table written; apply/run: where to load; remove/status: where to look (null: every table holding knockc). */
  readonly location: NftLocation | null;
  readonly maxSources: number | null;
  /** The bits grants set (standalone); the host firewall's standing rule accepts them. */
  readonly mark: Mark;
  /** apply/run: the host firewall to attach to (auto: detected). */
  readonly hostFirewall: HostKind | 'auto';
  /** Root of the host firewall's saved rules (/etc; src/attach/paths.ts). */
  readonly etc: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function parseInto(into: string, chain: string | undefined, forwardChain: string | undefined): Into {
  const parts = into.trim().split(/\s+/);
  const [family, table] = parts;
  if (parts.length !== 2 || (family !== 'inet' && family !== 'ip' && family !== 'ip6') || !NAME.test(table ?? '')) {
    throw new UsageError(`--into takes "FAMILY TABLE" with FAMILY inet, ip or ip6 (got "${into}")`);
  }
  const name = (s: string | undefined, what: string, dflt: string | null): string | null => {
    if (s === undefined) return dflt;
    if (!NAME.test(s)) throw new UsageError(`${what} "${s}" is not an nftables chain name`);
    return s;
  };
  return { mode: 'into', family, table: table!, chain: name(chain, '--chain', 'input')!, forwardChain: name(forwardChain, '--forward-chain', null) };
}

function maxSources(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 1 << 24) throw new UsageError(`--max-sources takes a whole number from 1 to ${1 << 24} (got "${s}")`);
  return n;
}

function parseOptions(flags: Flags, command: CommandName, given: Given): NftTargetOptions {
  const o = parseLocation(flags, command, given);
  const markText = flags['mark'] as string | undefined;
  const mark = markText === undefined ? DEFAULT_MARK : parseMark(markText);
  if ('error' in mark) throw new UsageError(mark.error);
  if (markText !== undefined && o.location?.mode === 'into') throw new UsageError('--mark is for knockc\'s own table: with --into, grants accept in your table');
  const host = (flags['hostFirewall'] as string | undefined) ?? 'auto';
  if (host !== 'auto' && o.location?.mode === 'into') throw new UsageError('--host-firewall is for knockc\'s own table: with --into, knockc loads into your table');
  return { ...o, mark, hostFirewall: host as HostKind | 'auto', etc: defaultEtc() };
}

function parseLocation(flags: Flags, command: CommandName, given: Given): Pick<NftTargetOptions, 'location' | 'maxSources'> {
  const into = flags['into'] as string | undefined;
  const table = (flags['table'] as string | undefined) ?? 'knockc';
  const loadsOrLooks = command !== 'compile' && command !== 'lint';
  if (loadsOrLooks && given('table') && into) throw new UsageError('--table names knockc\'s own table; it does not go with --into');
  const size = flags['maxSources'] === undefined ? null : maxSources(flags['maxSources'] as string);
  if (!into && (flags['chain'] || flags['forwardChain'])) throw new UsageError('--chain and --forward-chain need --into "FAMILY TABLE"');
  // remove and status look everywhere unless told where.
  if ((command === 'remove' || command === 'status') && !given('table') && !into) return { location: null, maxSources: size };
  if (into) return { location: parseInto(into, flags['chain'] as string | undefined, flags['forwardChain'] as string | undefined), maxSources: size };
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new UsageError(`--table "${table}" is not a table name`);
  return { location: { mode: 'standalone', family: 'inet', table }, maxSources: size };
}

/** Knocks to a Target may be forwarded; grants on FORWARD are. */
function needsForward(p: DoorPlan, families: readonly Family[]): boolean {
  if (p.door.target.value !== null) return true;
  return families.some((f) => {
    const plan = p.families[f];
    return plan.kind === 'kernel' && [...plan.opens, ...plan.revokes].some((g) => g.target.kind === 'filter' && g.target.match.hook === 'forward');
  });
}

/** --into without --forward-chain: nothing of the user's would jump to knockc_forward, so those knocks and grants would do nothing. */
function check(_config: unknown, plans: readonly DoorPlan[], o: NftTargetOptions): Diagnostic[] {
  const loc = o.location;
  if (loc?.mode !== 'into' || loc.forwardChain) return [];
  const families: Family[] = loc.family === 'inet' ? [...FAMILIES] : [loc.family];
  const p = plans.find((x) => needsForward(x, families));
  if (!p) return [];
  const range = p.door.target.value !== null ? (p.door.target.from?.range ?? p.door.header.range) : p.door.header.range;
  const info = codeInfo('KC409');
  return [{ code: 'KC409', severity: info.severity, range, hint: info.hint, message: `[${p.door.name}] needs the FORWARD path (a Target address routed through this host, or a grant on FORWARD), which --into reaches only through your forward chain` }];
}

interface NftCompiled extends Compiled {
  readonly program: Parameters<typeof applyNft>[0]['compiled']['program'];
  /** Standalone: what attaching to the host firewall needs (hooks of the grants, the guard for a host without one). */
  readonly attach: { readonly hooks: readonly Hook[]; readonly guard: ReturnType<typeof guardEntries> } | null;
}

function attachRequest(o: NftTargetOptions, loc: NftLocation, a: NonNullable<NftCompiled['attach']>): AttachRequest {
  return { mark: o.mark, hooks: a.hooks, guard: a.guard, host: o.hostFirewall, etc: o.etc, own: knockcTables(loc.table) };
}


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

async function connect(run: Runner, o: NftTargetOptions, say: Say, verbose: boolean, purpose: Purpose = 'load'): Promise<Session<NftCompiled>> {
  const checks = await preflightNft(run, o.location?.mode ?? 'standalone', purpose);
  say.err(formatChecks(checks, verbose ? 'all' : 'problems'));
  if (failed(checks).length) throw new HostNotReady(notReadyMessage(purpose));
  const located = (): NftLocation => o.location ?? { mode: 'standalone', family: 'inet', table: 'knockc' };
  return {
    async apply(req) {
      const loc = located();
      // Standalone: the host firewall is found and checked BEFORE anything is loaded, so that a
      // refusal changes nothing; attached after the load (until then the ports stay closed).
      const a = loc.mode === 'standalone' && req.compiled.attach?.hooks.length ? attachRequest(o, loc, req.compiled.attach) : null;
      const plan = a ? await planAttach(run, a) : null;
      if (plan && (req.report || req.dryRun)) (req.printScript ? say.err : say.out)(hostLine(plan));
      const r = await applyNft({ run, config: req.config, compiled: req.compiled, location: loc, maxSources: o.maxSources, dryRun: req.dryRun });
      if (req.printScript) say.out(r.script);
      if (req.dryRun && !req.printScript) say.out(formatDiff(r.diff, locationText(loc)) + stateLine(r, true));
      if (!r.ok) {
        const detail = formatMappedErrors(r.errors, req.source);
        throw new LoadFailed(req.dryRun ? 'nft -c rejects these rules' : 'nft refused the rules', detail.trim() ? detail : r.nftStderr, true);
      }
      let changes: string[] = [];
      if (plan && a) {
        try {
          changes = await attach(run, plan, a, req.dryRun);
        } catch (e) {
          const msg = e instanceof Error ? e.message : String(e);
          throw new LoadFailed(`the doors are loaded, but attaching to the host firewall (${plan.host.kind}) failed: the granted ports stay closed`, msg, false);
        }
      }
      const attached = changes.map((line) => `knockc: ${line}\n`).join('');
      if (!req.report) {
        if (req.dryRun) (req.printScript ? say.err : say.out)(attached);
        return;
      }
      // Only a warning: a failure to list must not turn a done apply into an error.
      const others = (await listDeployments(run).catch(() => [])).filter((d) => !(d.family === loc.family && d.table === loc.table));
      for (const d of others) {
        say.err(
          `knockc: warning: knockc rules are also loaded in table ${d.family} ${d.table}${d.mode === 'into' ? ' (--into)' : ''}: knocks are then counted twice; ` +
            `remove them with knockc remove ${d.mode === 'into' ? `--into "${d.family} ${d.table}"` : `--table ${d.table}`}\n`,
        );
      }
      const out = req.printScript ? say.err : say.out;
      if (req.dryRun) out(`${attached}knockc: dry run: nft -c accepts these rules (${ms(r.ms.load)}); the kernel was not touched\n`);
      else out(summary(r) + attached);
      if (req.verbose) say.err(`knockc: read ${ms(r.ms.read)}, load ${ms(r.ms.load)}, total ${ms(r.ms.total)}\n`);
    },
    async remove(verbose, purge) {
      const where: Deployment[] | null = o.location ? [{ family: o.location.family, table: o.location.table, mode: o.location.mode }] : null;
      const r = await removeNft(run, where);
      if (!r.ok) throw new LoadFailed('nft refused the removal', r.stderr, true);
      if (r.removed.length === 0) say.out('knockc: nothing to remove (no knockc rules are loaded)\n');
      for (const x of r.removed) {
        const d = x.where;
        say.out(
          d.mode === 'standalone'
            ? `knockc: removed table ${d.family} ${d.table}\n`
            : `knockc: removed from table ${d.family} ${d.table}: ${x.chains} knockc chain(s), ${x.sets} set(s), ${x.hooks} jump(s)\n`,
        );
      }
      const granted = [...new Set(r.removed.flatMap((x) => x.unguarded))];
      const purged = purge ? await purgeAttachments(run, o.etc) : [];
      for (const line of purged) say.out(`knockc: ${line}\n`);
      if (granted.length) {
        say.err(
          purge
            ? `knockc: note: ${granted.join(', ')}: new connections there are now as your firewall's own rules leave them (the standing rule is gone)\n`
            : `knockc: note: ${granted.join(', ')}: closed to everyone now (nothing marks packets for your firewall's standing rule; \`knockc remove --purge\` takes that rule out too)\n`,
        );
      }
      if (verbose) say.err(`knockc: ${Math.round(r.ms)} ms\n`);
    },
    async status() {
      const where = o.location;
      const deployments: DeploymentStatus[] = [];
      for (const d of where ? [{ family: where.family, table: where.table, mode: where.mode }] : await listDeployments(run)) {
        const t = await readTable(run, d.family, d.table);
        if (t) deployments.push(deploymentStatus(d, t));
      }
      return { deployments, where: where ? `table ${where.family} ${where.table}` : null };
    },
  };
}

export const nftTarget: Target<NftTargetOptions, NftCompiled> = {
  name: 'nft',
  options: [
    { flags: '--max-sources <n>', help: 'bound every kernel set to N sources (default: the kernel bound for dynamic sets, 65535)', helpFor: { apply: 'bound every kernel set to N sources', run: 'bound every kernel set to N sources' }, commands: ['compile', 'apply', 'run'] },
    {
      flags: '--table <name>',
      help: 'name of knockc\'s own nft table',
      helpFor: { compile: 'name of the standalone nft table', remove: 'only knockc\'s own table of this name', status: 'only knockc\'s own table of this name' },
      default: 'knockc',
      commands: ['compile', 'apply', 'run', 'remove', 'status'],
    },
    {
      flags: '--into <family-table>',
      help: 'load into your nft table instead, e.g. "inet filter"',
      helpFor: { compile: 'nft: add sets and chains into your table, e.g. "inet filter"', remove: 'only knockc\'s objects in your table, e.g. "inet filter"', status: 'only knockc\'s objects in your table, e.g. "inet filter"' },
      commands: ['compile', 'apply', 'run', 'remove', 'status'],
    },
    { flags: '--chain <chain>', help: 'with --into: your input chain to jump from (default input)', commands: ['compile', 'apply', 'run'] },
    { flags: '--forward-chain <chain>', help: 'with --into: your forward chain, for FORWARD grants', commands: ['compile', 'apply', 'run'] },
    { flags: '--mark <bits>', help: `packet-mark bits a grant sets for your firewall's standing rule (default ${markHex(DEFAULT_MARK)})`, commands: ['compile', 'apply', 'run'] },
    {
      flags: '--host-firewall <kind>',
      help: 'the host firewall to attach to (default: detected)',
      choices: ['auto', ...HOST_KINDS],
      default: 'auto',
      commands: ['apply', 'run'],
    },
  ],
  parseOptions,
  check,
  compile(input, o) {
    const loc = o.location;
    const c = compileNft(
      input.config,
      {
        ...NFT_DEFAULTS,
        iface: input.iface,
        log: input.log,
        maxSources: o.maxSources,
        table: loc?.table ?? 'knockc',
        into: loc?.mode === 'into' ? loc : null,
        version: input.version,
        source: input.source,
        notifyGroup: input.notifyGroup ?? NFT_DEFAULTS.notifyGroup,
        mark: o.mark,
      },
      input.plans,
    );
    const hooks = [...new Set(input.plans.flatMap((p) => FAMILIES.flatMap((f) => { const fp = p.families[f]; return fp.kind === 'kernel' ? fp.opens.map((g) => g.target.match.hook) : []; })))].sort();
    const attach = loc?.mode === 'into' ? null : { hooks, guard: guardEntries(input.plans) };
    return { text: c.text, runtimeDoors: c.program.runtimeDoors, program: c.program, attach };
  },
  host: { connect },
};
