// Host facts for the iptables target: which iptables the host's firewall
// uses (iptables-nft and iptables-legacy keep separate rule sets; rules that
// open holes in a firewall must go into the same one) and how many sources
// xt_recent keeps per list. Used by the preflight of `--target iptables`.
import type { Runner } from '../../host/runner.js';
import type { Check } from '../../host/checks.js';

export type Backend = 'nft' | 'legacy';

/** Rules and non-ACCEPT policies in iptables-save output: what says "this firewall is in use". */
export function usage(save: string): { rules: number; input: number; policies: number } {
  let rules = 0;
  let input = 0;
  let policies = 0;
  for (const line of save.split('\n')) {
    if (line.startsWith('-A ')) {
      rules++;
      if (line.startsWith('-A INPUT ')) input++;
    } else if (/^:[A-Z]+ (DROP|REJECT)\b/.test(line)) policies++;
  }
  return { rules, input, policies };
}

export interface BackendChoice {
  readonly backend: Backend | null;
  readonly checks: readonly Check[];
}

/**
 * Picks the iptables the host's rules use: the only one holding rules; when both do, the one
 * whose INPUT chain is in use (knockc hooks into INPUT), with a warning; when neither, the
 * distribution's default (`iptables --version` says nf_tables or legacy).
 */
export function chooseBackend(saves: Record<Backend, string | null>, defaultVersion: string | null): BackendChoice {
  const u = { nft: saves.nft === null ? null : usage(saves.nft), legacy: saves.legacy === null ? null : usage(saves.legacy) };
  const used = (b: Backend): boolean => {
    const x = u[b];
    return !!x && x.rules + x.policies > 0;
  };
  const dflt: Backend | null = defaultVersion === null ? null : /legacy/.test(defaultVersion) ? 'legacy' : /nf_tables/.test(defaultVersion) ? 'nft' : null;
  if (u.nft === null && u.legacy === null) {
    return { backend: null, checks: [{ level: 'error', what: 'iptables', message: 'neither iptables-nft nor iptables-legacy is installed (apt-get install iptables)' }] };
  }
  const describe = (b: Backend): string => `${u[b]!.rules} rule(s)${u[b]!.policies ? `, ${u[b]!.policies} DROP/REJECT polic${u[b]!.policies === 1 ? 'y' : 'ies'}` : ''}`;
  if (used('nft') && used('legacy')) {
    const pick: Backend = u.legacy!.input + u.legacy!.policies > u.nft!.input + u.nft!.policies ? 'legacy' : 'nft';
    return {
      backend: pick,
      checks: [
        {
          level: 'warning',
          what: 'iptables',
          message:
            `both iptables-nft (${describe('nft')}) and iptables-legacy (${describe('legacy')}) hold rules; using iptables-${pick} (its INPUT chain is the one in use). ` +
            'A DROP in the other one still drops what knockc accepts: consolidate your firewall into one of them',
        },
      ],
    };
  }
  for (const b of ['nft', 'legacy'] as const) {
    if (used(b)) return { backend: b, checks: [{ level: 'ok', what: 'iptables', message: `iptables-${b} (the host's rules are there: ${describe(b)})` }] };
  }
  const pick = dflt ?? (u.nft !== null ? 'nft' : 'legacy');
  return { backend: pick, checks: [{ level: 'ok', what: 'iptables', message: `iptables-${pick} (no rules yet in either; the distribution's default)` }] };
}

/** xt_recent's per-list capacity: a full list evicts its oldest source (an attempt in progress, or a grant). */
export function listCapacityCheck(ipListTot: string | null, wanted = 1000): Check {
  const fix = "raise it before the module loads: echo 'options xt_recent ip_list_tot=65535' > /etc/modprobe.d/knockc.conf (then reboot, or rmmod xt_recent when no rule uses it)";
  if (ipListTot === null) {
    return { level: 'warning', what: 'xt_recent', message: `xt_recent is not loaded yet: unless /etc/modprobe.d sets ip_list_tot it will keep 100 sources per list; ${fix}` };
  }
  const n = Number(ipListTot.trim());
  if (!Number.isInteger(n)) return { level: 'warning', what: 'xt_recent', message: `cannot read ip_list_tot (${JSON.stringify(ipListTot.trim())})` };
  if (n < wanted) {
    return { level: 'warning', what: 'xt_recent', message: `ip_list_tot is ${n}: each door keeps at most ${n} sources mid-sequence (and each grant ${n} sources); when full, the oldest is evicted; ${fix}` };
  }
  return { level: 'ok', what: 'xt_recent', message: `ip_list_tot ${n}` };
}

const out = async (run: Runner, cmd: string[]): Promise<string | null> => {
  const r = await run(cmd);
  return r.code === 0 ? r.stdout : null;
};

/**
 * The checks of the iptables target: which iptables, its restore tools, and (`capacity`: when
 * loading rules; remove and status do not need it) xt_recent capacity.
 */
export async function preflightIptables(run: Runner, capacity = true): Promise<{ backend: Backend | null; checks: Check[] }> {
  const saves = { nft: await out(run, ['iptables-nft-save']), legacy: await out(run, ['iptables-legacy-save']) };
  const six = { nft: await out(run, ['ip6tables-nft-save']), legacy: await out(run, ['ip6tables-legacy-save']) };
  const merged = {
    nft: saves.nft === null && six.nft === null ? null : `${saves.nft ?? ''}${six.nft ?? ''}`,
    legacy: saves.legacy === null && six.legacy === null ? null : `${saves.legacy ?? ''}${six.legacy ?? ''}`,
  };
  const choice = chooseBackend(merged, await out(run, ['iptables', '--version']));
  const checks: Check[] = [...choice.checks];
  if (choice.backend) {
    for (const tool of ['iptables', 'ip6tables']) {
      const restore = `${tool}-${choice.backend}-restore`;
      const r = await run([restore, '--version']);
      if (r.code !== 0) checks.push({ level: 'error', what: restore, message: `${restore} not found (apt-get install iptables)` });
    }
  }
  if (capacity) checks.push(listCapacityCheck(await out(run, ['cat', '/sys/module/xt_recent/parameters/ip_list_tot'])));
  return { backend: choice.backend, checks };
}
