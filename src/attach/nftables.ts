// A plain nftables ruleset: the standing rule goes at the top of every base
// chain that drops at the hooks knockc's grants use (an accept in another table
// would not be final), live, and into /etc/nftables.conf through an include of
// /etc/knockc/standing.nft, so that `systemctl reload nftables` (which usually
// starts with `flush ruleset`) loads it again with the user's own rules.
import { runOk, type Runner } from '../host/runner.js';
import type { Hook } from '../model/grant.js';
import { markHex, type Mark } from '../model/mark.js';
import { nftJsonItems, type NftBaseChain } from './detect.js';
import type { HostPaths } from './paths.js';
import { readHostFile, removeHostFile, writeHostFile } from './host-files.js';
import { nftStandingRule, STANDING_COMMENT } from './standing.js';

const INCLUDE_MARKER = '# knockc: the standing rule (added by knockc apply; knockc remove --purge takes these two lines out)';
const includeLine = (p: HostPaths): string => `include "${p.standingNft}"`;

interface JsonRule {
  family: string;
  table: string;
  chain: string;
  handle: number;
  comment?: string;
  expr?: unknown[];
}

/** Every standing rule (any mark) among the items of `nft -j` dumps, with the mark it accepts. */
export function standingRulesIn(items: ReadonlyArray<Record<string, unknown>>): StandingRule[] {
  const out: StandingRule[] = [];
  for (const it of items) {
    const r = it['rule'] as JsonRule | undefined;
    if (!r || r.comment !== STANDING_COMMENT) continue;
    // {"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, BITS]}, "right": BITS}}
    const m = /\{"&":\[\{"meta":\{"key":"mark"\}\},(\d+)\]\},"right":(\d+)\}/.exec(JSON.stringify(r.expr ?? []));
    out.push({ ...r, bits: m && m[1] === m[2] ? Number(m[1]) >>> 0 : null });
  }
  return out;
}

export type StandingRule = JsonRule & { readonly bits: number | null };

/** The file that includes the standing rule: one `insert rule` per chain. */
export function standingFile(chains: readonly NftBaseChain[], mark: Mark): string {
  return [
    `# knockc standing rule (mark ${markHex(mark)}): written by knockc apply, taken out by knockc remove --purge.`,
    "# Accepts the packets knockc's grants mark; without knockc's table nothing is marked.",
    ...chains.map((c) => `insert rule ${c.family} ${c.table} ${c.chain} ${nftStandingRule(mark)}`),
    '',
  ].join('\n');
}

/** nftables.conf with the include appended (unchanged when present). */
export function withInclude(conf: string, p: HostPaths): string {
  if (conf.split('\n').includes(includeLine(p))) return conf;
  const sep = conf === '' || conf.endsWith('\n') ? '' : '\n';
  return `${conf}${sep}${INCLUDE_MARKER}\n${includeLine(p)}\n`;
}

/** nftables.conf without the include (what it was before apply: the two lines were appended). */
export function withoutInclude(conf: string, p: HostPaths): string {
  return conf.replace(`${INCLUDE_MARKER}\n${includeLine(p)}\n`, '').replace(`${includeLine(p)}\n`, '');
}

/**
 * Puts the standing rule in place (live, then persistent); returns what changed. `live`: the
 * standing rules already there (from the snapshot detection read: those tables hold them).
 */
export async function ensureNftables(run: Runner, p: HostPaths, chains: readonly NftBaseChain[], hooks: readonly Hook[], mark: Mark, dryRun: boolean, live: readonly StandingRule[]): Promise<string[]> {
  const mine = chains.filter((c) => hooks.includes(c.hook));
  const done: string[] = [];
  const verb = dryRun ? 'would insert' : 'inserted';
  for (const c of mine) {
    const here = live.filter((r) => r.family === c.family && r.table === c.table && r.chain === c.chain);
    if (!here.some((r) => r.bits === mark.bits)) {
      if (!dryRun) await runOk(run, ['nft', `insert rule ${c.family} ${c.table} ${c.chain} ${nftStandingRule(mark)}`]);
      done.push(`${verb} the standing rule at the top of chain ${c.family} ${c.table} ${c.chain}`);
    }
    for (const r of here.filter((x) => x.bits !== mark.bits)) {
      if (!dryRun) await runOk(run, ['nft', 'delete', 'rule', r.family, r.table, r.chain, 'handle', String(r.handle)]);
      done.push(`${dryRun ? 'would delete' : 'deleted'} the standing rule of another mark from chain ${c.family} ${c.table} ${c.chain}`);
    }
  }
  done.push(...(await persistNftables(run, p, mine, mark, dryRun)));
  return done;
}

async function persistNftables(run: Runner, p: HostPaths, chains: readonly NftBaseChain[], mark: Mark, dryRun: boolean): Promise<string[]> {
  const conf = await readHostFile(run, p.nftablesConf);
  if (conf === null) return [`note: ${p.nftablesConf} does not exist: the standing rule is not saved; knockc.service attaches it again at boot`];
  const file = standingFile(chains, mark);
  const old = await readHostFile(run, p.standingNft);
  const conf2 = withInclude(conf, p);
  if (old === file && conf2 === conf) return [];
  // Check that nftables.conf still loads with the include: a file that fails to load at boot
  // would leave the host without its firewall. `nft -c` runs the whole file in a transaction
  // that is never committed (its `flush ruleset` included).
  const check = await run(['nft', '-c', '-f', '-'], `${conf2.replace(includeLine(p), '')}\n${file}`);
  if (check.code !== 0) {
    return [`note: the standing rule is not saved in ${p.nftablesConf} (with it the file would not load: ${check.stderr.trim().split('\n')[0]}); knockc.service attaches it again at boot`];
  }
  if (dryRun) return [`would write ${p.standingNft}${conf2 !== conf ? ` and include it from ${p.nftablesConf}` : ''}`];
  await writeHostFile(run, p.standingNft, file, { mkdir: true });
  if (conf2 !== conf) await writeHostFile(run, p.nftablesConf, conf2);
  return [`wrote ${p.standingNft}${conf2 !== conf ? ` and included it from ${p.nftablesConf}` : ''}`];
}

/** remove --purge: every standing rule in nft tables, the include and its file. */
export async function purgeNftables(run: Runner, p: HostPaths, dryRun: boolean): Promise<string[]> {
  const done: string[] = [];
  // The whole ruleset: by now knockc's own table is gone (remove runs first).
  for (const r of standingRulesIn(nftJsonItems(await runOk(run, ['nft', '-j', 'list', 'ruleset'])))) {
    if (!dryRun) await runOk(run, ['nft', 'delete', 'rule', r.family, r.table, r.chain, 'handle', String(r.handle)]);
    done.push(`deleted the standing rule from chain ${r.family} ${r.table} ${r.chain}`);
  }
  const conf = await readHostFile(run, p.nftablesConf);
  if (conf !== null && withoutInclude(conf, p) !== conf) {
    if (!dryRun) await writeHostFile(run, p.nftablesConf, withoutInclude(conf, p));
    done.push(`took the include of ${p.standingNft} out of ${p.nftablesConf}`);
  }
  if ((await readHostFile(run, p.standingNft)) !== null) {
    if (!dryRun) await removeHostFile(run, p.standingNft);
    done.push(`removed ${p.standingNft}`);
  }
  return done;
}
