// iptables hosts (the nft and the legacy variant) and ufw, which is iptables
// underneath: the standing rule goes first in the chain where the host's own
// accepts live (INPUT / FORWARD; ufw: ufw-before-input / ufw-before-forward,
// ufw6-* for IPv6), live, and into the files the host loads at boot and on
// reload (netfilter-persistent's rules.v4/v6; ufw's before.rules/before6.rules).
import { HostError, type Runner } from '../host/runner.js';
import type { Hook } from '../model/grant.js';
import type { Mark } from '../model/mark.js';
import { iptCommand, type IptVariant } from './detect.js';
import type { HostPaths } from './paths.js';
import { readHostFile, writeHostFile } from './host-files.js';
import { iptStandingArgs, iptStandingMark, isIptStandingLine, withIptStandingLine, withoutIptStandingLines } from './standing.js';

export type IptKind = 'iptables' | 'ufw';

const files = (p: HostPaths, kind: IptKind): Readonly<Record<'4' | '6', string>> => (kind === 'ufw' ? p.ufwBefore : p.iptablesRules);

export function iptChain(kind: IptKind, hook: Hook, v6: boolean): string {
  if (kind === 'iptables') return hook === 'input' ? 'INPUT' : 'FORWARD';
  return `${v6 ? 'ufw6' : 'ufw'}-before-${hook}`;
}

/** The chain's rules as `-S` prints them (`-A` lines only), in order: rule N is [N-1]. */
async function rulesOf(run: Runner, cmd: string, chain: string): Promise<string[] | null> {
  const r = await run([cmd, '-w', '-S', chain]);
  if (r.code !== 0) return null;
  return r.stdout.split('\n').filter((l) => l.startsWith('-A '));
}

async function must(run: Runner, argv: string[]): Promise<void> {
  const r = await run(argv);
  if (r.code !== 0) throw new HostError(`\`${argv.join(' ')}\` failed: ${r.stderr.trim() || `exit ${r.code}`}`, r);
}

export async function ensureIptables(run: Runner, p: HostPaths, kind: IptKind, variant: IptVariant, hooks: readonly Hook[], mark: Mark, dryRun: boolean): Promise<string[]> {
  const done: string[] = [];
  for (const v6 of [false, true]) {
    const cmd = iptCommand(variant, v6);
    const fam = v6 ? '6' : '4';
    for (const hook of hooks) {
      const chain = iptChain(kind, hook, v6);
      const rules = await rulesOf(run, cmd, chain);
      if (rules === null) {
        done.push(`note: ${cmd} has no chain ${chain}: nothing attached there (IPv${fam} grants on ${hook} do not pass)`);
        continue;
      }
      if (!rules.some((l) => isIptStandingLine(l) && iptStandingMark(l) === mark.bits)) {
        if (!dryRun) await must(run, [cmd, '-w', '-I', chain, '1', ...iptStandingArgs(mark)]);
        done.push(`${dryRun ? 'would insert' : 'inserted'} the standing rule first in ${cmd} chain ${chain}`);
      }
      // Standing rules of another mark (an earlier --mark): deleted by number, last first.
      const now = dryRun ? rules : ((await rulesOf(run, cmd, chain)) ?? []);
      const stale = now.flatMap((l, i) => (isIptStandingLine(l) && iptStandingMark(l) !== mark.bits ? [i + 1] : [])).reverse();
      for (const n of stale) {
        if (!dryRun) await must(run, [cmd, '-w', '-D', chain, String(n)]);
        done.push(`${dryRun ? 'would delete' : 'deleted'} a standing rule of another mark from ${cmd} chain ${chain}`);
      }
    }
    done.push(...(await persistFile(run, files(p, kind)[fam], hooks.map((h) => iptChain(kind, h, v6)), mark, dryRun, kind)));
  }
  return done;
}

async function persistFile(run: Runner, path: string, chains: readonly string[], mark: Mark, dryRun: boolean, kind: IptKind): Promise<string[]> {
  const text = await readHostFile(run, path);
  const boot = kind === 'ufw' ? 'ufw' : 'netfilter-persistent';
  if (text === null) return kind === 'ufw' ? [`note: ${path} does not exist: the standing rule is not saved for ufw reload`] : [`note: ${path} does not exist (no ${boot}): the standing rule is not saved; knockc.service attaches it again at boot`];
  let next = text;
  for (const c of chains) {
    const w = withIptStandingLine(next, c, mark);
    if (w === null) return [`note: ${path} has no chain ${c} in its *filter section: the standing rule is not saved there`];
    next = w;
  }
  if (next === text) return [];
  if (!dryRun) await writeHostFile(run, path, next);
  return [`${dryRun ? 'would save' : 'saved'} the standing rule in ${path}`];
}

/** remove --purge: every standing rule of both variants and both families, live and in the files. */
export async function purgeIptables(run: Runner, p: HostPaths, dryRun: boolean): Promise<string[]> {
  const done: string[] = [];
  for (const variant of ['nft', 'legacy'] as const) {
    for (const v6 of [false, true]) {
      const cmd = iptCommand(variant, v6);
      const save = await run([`${cmd}-save`, '-t', 'filter']);
      if (save.code !== 0) continue;
      const chains = [...new Set(save.stdout.split('\n').filter(isIptStandingLine).map((l) => l.split(' ')[1]!))];
      for (const chain of chains) {
        const rules = (await rulesOf(run, cmd, chain)) ?? [];
        const mine = rules.flatMap((l, i) => (isIptStandingLine(l) ? [i + 1] : [])).reverse();
        for (const n of mine) if (!dryRun) await must(run, [cmd, '-w', '-D', chain, String(n)]);
        if (mine.length) done.push(`deleted the standing rule from ${cmd} chain ${chain}`);
      }
    }
  }
  for (const kind of ['iptables', 'ufw'] as const) {
    for (const path of Object.values(files(p, kind))) {
      const text = await readHostFile(run, path);
      if (text === null || withoutIptStandingLines(text) === text) continue;
      if (!dryRun) await writeHostFile(run, path, withoutIptStandingLines(text));
      done.push(`took the standing rule out of ${path}`);
    }
  }
  return done;
}
