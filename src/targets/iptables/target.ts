// The iptables target: knockc_* chains and xt_recent lists in the filter table
// of the iptables the host's firewall uses (nft or legacy), one
// iptables-restore per family. Its options, checks, compile and host side.
import { purgeAttachments } from '../../attach/attach.js';
import { defaultEtc } from '../../attach/paths.js';
import { checkPrivileges, failed, formatChecks, notReadyMessage, versionAtLeast, type Check, type Purpose } from '../../host/checks.js';
import type { Runner } from '../../host/runner.js';
import type { Family } from '../../model/grant.js';
import { FAMILIES } from '../../model/plan.js';
import type { DeploymentStatus } from '../status.js';
import { HostNotReady, LoadFailed, type Compiled, type Say, type Session, type Target } from '../target.js';
import { checkIptables } from './check.js';
import { compileIptables, IPTABLES_DEFAULTS } from './generate.js';
import { applyIptables, famText, otherBackendHasKnockc, removeIptables, statusIptables, toolOf, type IptCompiled } from './host.js';
import { preflightIptables, type Backend } from './preflight.js';
import { msText as ms, plural } from '../../text.js';

export interface IptablesTargetOptions {
  /** compile: the one family written; apply and run load both (null). */
  readonly family: Family | null;
  /** Also drop new connections to granted ports from sources without the grant. */
  readonly guard: boolean;
  /**
   * apply and run: the host check reads xt_recent's real ip_list_tot and warns with it, so the
   * config-level KC406 (which can only assume the default) is not said a second time.
   */
  readonly hostChecksCapacity?: boolean;
}

interface IptablesCompiled extends Compiled {
  readonly families: Readonly<Partial<Record<Family, IptCompiled>>>;
}

const IPTABLES_MIN = [1, 6, 0] as const;

/**
 * Root, which iptables (nft or legacy), its version and tools, and (when loading) xt_recent
 * capacity. Without root only that is said: iptables-save fails for non-root, which would read as
 * "not installed".
 */
async function preflight(run: Runner, say: Say, verbose: boolean, purpose: Purpose): Promise<Backend> {
  const privileges = await checkPrivileges(run, purpose);
  if (privileges.level === 'error') {
    say.err(formatChecks([privileges]));
    throw new HostNotReady(notReadyMessage(purpose));
  }
  const checks: Check[] = [privileges];
  const ipt = await preflightIptables(run, purpose === 'load');
  checks.push(...ipt.checks);
  if (ipt.backend) {
    const r = await run([toolOf(ipt.backend, 'ip', ''), '--version']);
    const v = /v(\d+\.\d+(?:\.\d+)?)/.exec(r.stdout)?.[1] ?? null;
    if (v === null) checks.push({ level: 'error', what: 'iptables', message: `${toolOf(ipt.backend, 'ip', '')} --version: no version (${(r.stderr || r.stdout).trim()})` });
    else if (!versionAtLeast(v, IPTABLES_MIN)) checks.push({ level: 'error', what: 'iptables', message: `iptables ${v} is too old: knockc needs ${IPTABLES_MIN.join('.')} or newer` });
    else checks.push({ level: 'ok', what: 'iptables', message: `iptables ${v} (${ipt.backend})` });
  }
  say.err(formatChecks(checks, verbose ? 'all' : 'problems'));
  if (failed(checks).length || !ipt.backend) throw new HostNotReady(notReadyMessage(purpose));
  return ipt.backend;
}

function stateLine(kept: number, dropped: number, dry: boolean): string {
  if (!kept && !dropped) return '';
  const w = dry ? 'would be ' : '';
  const parts = [kept ? `${plural(kept, 'source')} in kept lists (attempts and grants) ${w}kept` : '', dropped ? `${plural(dropped, 'source')} in lists no longer used ${w}dropped` : ''];
  return `knockc: live state: ${parts.filter(Boolean).join('; ')}\n`;
}

async function connect(run: Runner, _o: IptablesTargetOptions, say: Say, verbose: boolean, purpose: Purpose = 'load'): Promise<Session<IptablesCompiled>> {
  const backend = await preflight(run, say, verbose, purpose);
  return {
    async apply(req) {
      const compiled = req.compiled.families as Record<Family, IptCompiled>;
      const r = await applyIptables({ run, backend, compiled, dryRun: req.dryRun });
      if (req.printScript) for (const f of FAMILIES) say.out(`# ${toolOf(backend, f, 'restore')} --noflush\n${r.inputs[f]}`);
      if (req.dryRun && !req.printScript) say.out(r.diff + stateLine(r.kept, r.dropped, true));
      if (!r.ok) {
        if (r.rolledBack === false) {
          throw new LoadFailed(`${toolOf(backend, 'ip6', 'restore')} refused the IPv6 rules, and putting the IPv4 rules back failed: check with ${toolOf(backend, 'ip', 'save')}`, r.error, false);
        }
        const what = req.dryRun ? 'iptables-restore --test rejects these rules' : `iptables-restore refused the rules${r.rolledBack ? ' (IPv6; the IPv4 rules loaded just before were put back)' : ''}`;
        throw new LoadFailed(what, r.error, true);
      }
      if (!req.report) return;
      if (await otherBackendHasKnockc(run, backend).catch(() => false)) {
        const other = backend === 'nft' ? 'legacy' : 'nft';
        say.err(`knockc: warning: knockc chains are also loaded in iptables-${other}: knocks may be counted twice there; remove them with ${toolOf(other, 'ip', '')}-save / -D / -F / -X (knockc remove only touches iptables-${backend})\n`);
      }
      const out = req.printScript ? say.err : say.out;
      if (req.dryRun) out(`knockc: dry run: iptables-restore --test accepts these rules (${ms(r.ms.load)}); the kernel was not touched\n`);
      else {
        out(`knockc: loaded ${plural(r.doors, 'door')} into iptables-${backend} (IPv4 and IPv6 table filter, one iptables-restore per family, ${ms(r.ms.load)})\n`);
        out(stateLine(r.kept, r.dropped, false));
      }
      if (req.verbose) say.err(`knockc: read ${ms(r.ms.read)}, load ${ms(r.ms.load)}, total ${ms(r.ms.total)}\n`);
    },
    async remove(verbose, purge) {
      const r = await removeIptables(run, backend);
      if (!r.ok) throw new LoadFailed('iptables-restore refused the removal', r.error, true);
      if (purge) for (const line of await purgeAttachments(run, defaultEtc())) say.out(`knockc: ${line}\n`);
      if (r.removed.length === 0) say.out(`knockc: nothing to remove (no knockc rules are loaded in iptables-${backend})\n`);
      for (const x of r.removed) say.out(`knockc: removed from ${toolOf(backend, x.family, '')} (${famText(x.family)}, table filter): ${x.chains} knockc chain(s), ${x.hooks} jump(s)\n`);
      if (verbose) say.err(`knockc: ${Math.round(r.ms)} ms\n`);
    },
    async status() {
      const deployments: DeploymentStatus[] = await statusIptables(run, backend);
      return { deployments, where: null };
    },
  };
}

export const iptablesTarget: Target<IptablesTargetOptions, IptablesCompiled> = {
  name: 'iptables',
  options: [
    {
      flags: '--family <family>',
      help: 'iptables: address family of the output (4: iptables-restore input, 6: ip6tables-restore input)',
      choices: ['4', '6'],
      default: '4',
      commands: ['compile'],
    },
    {
      flags: '--guard',
      help: 'iptables: also drop new connections to granted ports from sources without the grant',
      helpFor: { compile: 'iptables: also drop new connections to granted ports from sources without the grant (your firewall allows the port)' },
      commands: ['compile', 'apply', 'run'],
    },
  ],
  parseOptions(flags, command) {
    return {
      family: command === 'compile' ? (flags['family'] === '6' ? 'ip6' : 'ip') : null,
      guard: flags['guard'] === true,
      hostChecksCapacity: command === 'apply' || command === 'run',
    };
  },
  check(config, plans, o) {
    const ds = checkIptables(config, plans, o.family ? [o.family] : FAMILIES);
    return o.hostChecksCapacity ? ds.filter((d) => d.code !== 'KC406') : ds;
  },
  compile(input, o) {
    const families: Partial<Record<Family, IptCompiled>> = {};
    let text = '';
    let runtimeDoors: Compiled['runtimeDoors'] = [];
    for (const family of o.family ? [o.family] : FAMILIES) {
      const c = compileIptables(
        input.config,
        { ...IPTABLES_DEFAULTS, family, guard: o.guard, iface: input.iface, log: input.log, version: input.version, source: input.source, notifyGroup: input.notifyGroup ?? IPTABLES_DEFAULTS.notifyGroup },
        input.plans,
      );
      families[family] = { text: c.text, hooks: c.ruleset.hooks };
      text += c.text;
      runtimeDoors = c.program.runtimeDoors;
    }
    return { text, runtimeDoors, families };
  },
  host: { connect },
};
