// The pure half of `knockc apply|remove|status --target iptables`: reading
// `iptables-save` output and /proc/net/xt_recent, and writing the ONE
// `iptables-restore --noflush` input per family that takes the kernel from
// what is loaded to what is wanted (knockc's chains, their rules, and the
// jumps from INPUT/FORWARD), so that each family changes atomically.
//
// What a restore input from buildRestore() holds, in order:
//   :knockc_X - [0:0]          every wanted chain: created, or emptied if it exists
//   -A knockc_X ...            their rules
//   -D INPUT -j knockc_input   jumps no longer wanted (and duplicates of wanted ones)
//   -I INPUT 1 -j knockc_input wanted jumps that are missing (found by reading iptables-save first)
//   -F knockc_old / -X knockc_old   knockc_* chains the new rules no longer declare: all emptied, then deleted
// iptables-restore commits a table in one step: when any line fails, nothing changes.

import { hookTarget, isKnockcName as isKnockc, reachesKnockc } from '../../model/names.js';

export { isKnockc };

export interface SaveRule {
  readonly chain: string;
  /** Everything after `-A CHAIN ` (valid restore syntax, as iptables-save prints it). */
  readonly spec: string;
  readonly packets: number | null;
}

export interface SaveTable {
  /** Chain names in the order iptables-save lists them (built-ins first). */
  readonly chains: readonly string[];
  readonly rules: readonly SaveRule[];
}

/** The filter table of `iptables-save [-c] [-t filter]` output (empty when absent). */
export function parseSave(text: string, table = 'filter'): SaveTable {
  const chains: string[] = [];
  const rules: SaveRule[] = [];
  let inside = false;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line.startsWith('*')) {
      inside = line.slice(1) === table;
      continue;
    }
    if (!inside) continue;
    if (line === 'COMMIT') {
      inside = false;
      continue;
    }
    const chain = /^:(\S+) /.exec(line);
    if (chain) {
      chains.push(chain[1]!);
      continue;
    }
    const rule = /^(?:\[(\d+):(\d+)\] )?-A (\S+) (.*)$/.exec(line);
    if (rule) rules.push({ chain: rule[3]!, spec: rule[4]!, packets: rule[1] === undefined ? null : Number(rule[1]) });
  }
  return { chains, rules };
}

export interface Hook {
  readonly builtin: string;
  readonly chain: string;
}

/** knockc's objects in one family's filter table: chains with their rules, and the jumps to them. */
export interface KnockcRules {
  readonly chains: ReadonlyArray<{ readonly name: string; readonly rules: readonly string[] }>;
  readonly hooks: readonly Hook[];
}

/** A compiled file (knockc compile --target iptables) as chains and rules; its hooks come from the ruleset. */
export function parseRestoreInput(text: string, hooks: readonly Hook[]): KnockcRules {
  const t = parseSave(text);
  return { chains: t.chains.map((name) => ({ name, rules: t.rules.filter((r) => r.chain === name).map((r) => r.spec) })), hooks };
}

/** The jump knockc adds to a built-in chain, exactly as iptables-save prints it. */
const hookOf = (r: SaveRule): Hook | null => {
  const chain = hookTarget(r.spec);
  return chain && !isKnockc(r.chain) ? { builtin: r.chain, chain } : null;
};

/** What knockc has loaded (its chains, their rules, its jumps): also what a rollback restores. */
export function liveKnockc(t: SaveTable): KnockcRules {
  return {
    chains: t.chains.filter(isKnockc).map((name) => ({ name, rules: t.rules.filter((r) => r.chain === name).map((r) => r.spec) })),
    hooks: t.rules.map(hookOf).filter((h): h is Hook => h !== null),
  };
}

/** Rules of yours (not knockc's jumps) that reference a knockc chain: knockc cannot delete a chain they use. */
export function foreignReferences(t: SaveTable): SaveRule[] {
  return t.rules.filter((r) => !isKnockc(r.chain) && hookOf(r) === null && reachesKnockc(r.spec));
}

export interface RestorePlan {
  /** The restore input; null when there is nothing to do (remove of nothing). */
  readonly input: string | null;
  readonly hooksAdded: readonly Hook[];
  readonly hooksDeleted: readonly Hook[];
  readonly chainsDeleted: readonly string[];
}

/** The one restore input that turns `current` (knockc's part of it) into `want`. */
export function buildRestore(current: SaveTable, want: KnockcRules): RestorePlan {
  const live = liveKnockc(current);
  const lines: string[] = ['*filter'];
  for (const c of want.chains) lines.push(`:${c.name} - [0:0]`);
  for (const c of want.chains) for (const r of c.rules) lines.push(`-A ${c.name} ${r}`);
  const key = (h: Hook): string => `${h.builtin} ${h.chain}`;
  const wanted = new Set(want.hooks.map(key));
  const seen = new Set<string>();
  const hooksDeleted: Hook[] = [];
  for (const h of live.hooks) {
    // Keep the first copy of a wanted jump where it is; a second copy would count every knock twice.
    if (wanted.has(key(h)) && !seen.has(key(h))) {
      seen.add(key(h));
      continue;
    }
    hooksDeleted.push(h);
    lines.push(`-D ${h.builtin} -j ${h.chain}`);
  }
  const hooksAdded = want.hooks.filter((h) => !seen.has(key(h)));
  // Inserted in reverse, so that they end up at the top in the wanted order.
  for (const h of [...hooksAdded].reverse()) lines.push(`-I ${h.builtin} 1 -j ${h.chain}`);
  const declared = new Set(want.chains.map((c) => c.name));
  const stale = live.chains.map((c) => c.name).filter((n) => !declared.has(n));
  for (const s of stale) lines.push(`-F ${s}`);
  for (const s of stale) lines.push(`-X ${s}`);
  lines.push('COMMIT');
  const noop = want.chains.length === 0 && hooksDeleted.length === 0 && hooksAdded.length === 0 && stale.length === 0;
  return { input: noop ? null : `${lines.join('\n')}\n`, hooksAdded, hooksDeleted, chainsDeleted: stale };
}

// ---------------------------------------------------------------------------------------------
// Rules as data (for the diff and for status)

/** Splits a rule spec into arguments, as iptables-restore does ("..." groups, quotes removed). */
export function splitArgs(spec: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const m of spec.matchAll(re)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}

/**
 * The same rule as knockc writes it and as iptables-save prints it back gives the same key:
 * implicit `-m tcp`/`-m udp`, the default `--mask`/`--rsource` of recent, `/32` on addresses,
 * `--syn`, log levels by name, and the order of options are ignored.
 */
export function ruleKey(spec: string): string {
  const a = splitArgs(spec);
  const out: string[] = [];
  for (let i = 0; i < a.length; i++) {
    const t = a[i]!;
    if (t === '-m' && (a[i + 1] === 'tcp' || a[i + 1] === 'udp')) {
      i++;
      continue;
    }
    if (t === '--mask') {
      i++;
      continue;
    }
    if (t === '--rsource') continue;
    if (t === '--syn') {
      out.push('--tcp-flags', 'FIN,SYN,RST,ACK', 'SYN');
      continue;
    }
    if (t === '--log-level' && a[i + 1] === 'info') {
      out.push(t, '6');
      i++;
      continue;
    }
    out.push(t.replace(/\/(32|128)$/, ''));
  }
  return out.sort().join(' ');
}

export interface RecentUse {
  readonly list: string;
  readonly op: 'rcheck' | 'set' | 'remove' | 'update';
  readonly negated: boolean;
  readonly seconds: number | null;
}

export interface RuleFacts {
  readonly recent: readonly RecentUse[];
  readonly comment: string | null;
  readonly target: { readonly how: '-j' | '-g'; readonly chain: string } | null;
  readonly proto: string | null;
  readonly dport: string | null;
}

/** What a rule does with xt_recent lists, its comment, target, protocol and port. */
export function ruleFacts(spec: string): RuleFacts {
  const a = splitArgs(spec);
  const recent: RecentUse[] = [];
  let comment: string | null = null;
  let target: RuleFacts['target'] = null;
  let proto: string | null = null;
  let dport: string | null = null;
  let cur: { list: string; op: RecentUse['op']; negated: boolean; seconds: number | null } | null = null;
  let neg = false;
  const flush = (): void => {
    if (cur) recent.push(cur);
    cur = null;
  };
  for (let i = 0; i < a.length; i++) {
    const t = a[i]!;
    if (t === '!') {
      neg = true;
      continue;
    }
    if (t === '-m') {
      flush();
      if (a[i + 1] === 'recent') cur = { list: 'DEFAULT', op: 'rcheck', negated: false, seconds: null };
      i++;
    } else if (t === '-j' || t === '-g') {
      flush();
      const c = a[i + 1] ?? '';
      if (isKnockc(c)) target = { how: t, chain: c };
      i++;
    } else if (t === '-p') proto = a[++i] ?? null;
    else if (t === '--dport') dport = a[++i] ?? null;
    else if (t === '--comment') comment = a[++i] ?? null;
    else if (cur && t === '--name') cur.list = a[++i] ?? '';
    else if (cur && t === '--seconds') cur.seconds = Number(a[++i]);
    else if (cur && (t === '--rcheck' || t === '--set' || t === '--remove' || t === '--update')) {
      cur.op = t.slice(2) as RecentUse['op'];
      cur.negated = neg;
    }
    neg = false;
  }
  flush();
  return { recent, comment, target, proto, dport };
}

/** xt_recent lists knockc's rules use, with the --seconds their checks use (null: until removed). */
export function listsOf(rules: KnockcRules): Map<string, number | null> {
  const out = new Map<string, number | null>();
  for (const c of rules.chains) {
    for (const r of c.rules) {
      for (const u of ruleFacts(r).recent) {
        if (!isKnockc(u.list)) continue;
        const prev = out.get(u.list) ?? null;
        out.set(u.list, u.seconds === null ? prev : Math.max(prev ?? 0, u.seconds));
      }
    }
  }
  return out;
}
