// Reading knockc's objects back from the kernel with nft: `nft -j list table`
// for the structure (sets, chains, rules with handles and counters) and the
// text listing for set elements, whose remaining lifetimes it prints to the
// millisecond (the JSON output truncates them to whole seconds).
import { HostError, runOk, type Runner } from '../../host/runner.js';
import { familyOfName, isKnockcName, isRegistry, isSharedGrantSet, keyOfComment, names } from '../../model/names.js';

export type NftFamily = 'inet' | 'ip' | 'ip6';

export interface LiveElement {
  readonly addr: string;
  /** In a shared set (knockc_armed4, knockc_grant4, ...): the door's or grant's tag (`ADDR . TAG`); else null. */
  readonly tag: number | null;
  /** An element's own comment (the grant registry's: `TAG comment "grant ... [key]"`). */
  readonly comment?: string | null;
  /** The element's own timeout when it differs from the set's, else null. */
  readonly timeoutMs: number | null;
  /** Time left; null = no expiry. */
  readonly expiresMs: number | null;
}

export interface LiveSet {
  readonly name: string;
  readonly handle: number;
  readonly type: string;
  readonly comment: string | null;
  /** The `[key]` knockc writes at the end of its set comments (SetDecl.key), or null. */
  readonly key: string | null;
  readonly timeoutMs: number | null;
  readonly size: number | null;
  readonly elements: readonly LiveElement[];
  /** A grant of the shared grant set, as grantSets() shows it: that set and the grant's tag. */
  readonly store?: { readonly set: string; readonly tag: number };
}

export interface LiveChain {
  readonly name: string;
  readonly handle: number;
  /** Base chains: their hook (prerouting, input, ...). */
  readonly hook: string | null;
}

export interface LiveRule {
  readonly chain: string;
  readonly handle: number;
  readonly comment: string | null;
  readonly counter: { readonly packets: number; readonly bytes: number } | null;
  /** Chains this rule jumps or goes to (also through verdict maps). */
  readonly targets: readonly string[];
  /** Set statements: add / update / delete @set (in a shared state set, with the door's tag). */
  readonly setOps: ReadonlyArray<{ readonly op: string; readonly set: string; readonly tag: number | null }>;
}

export interface LiveTable {
  readonly family: NftFamily;
  readonly name: string;
  readonly sets: readonly LiveSet[];
  readonly chains: readonly LiveChain[];
  readonly rules: readonly LiveRule[];
}

/** nft's time text (`1d2h3m4s5ms`, `30s`) in milliseconds; null when it is not one. */
export function parseNftTime(s: string): number | null {
  if (!/^(\d+(d|h|ms|m|s))+$/.test(s)) return null;
  let ms = 0;
  for (const m of s.matchAll(/(\d+)(d|h|ms|m|s)/g)) {
    const n = Number(m[1]);
    ms += n * { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[m[2] as 'd' | 'h' | 'm' | 's' | 'ms'];
  }
  return ms;
}

/** Milliseconds as nft time text (whole milliseconds, at least 1ms). */
export function formatNftTime(ms: number): string {
  let rest = Math.max(1, Math.round(ms));
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join('');
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function walk(x: Json, visit: (o: { [k: string]: Json }) => void): void {
  if (Array.isArray(x)) x.forEach((y) => walk(y, visit));
  else if (x && typeof x === 'object') {
    visit(x);
    for (const v of Object.values(x)) walk(v, visit);
  }
}

const str = (x: Json | undefined): string | null => (typeof x === 'string' ? x : null);
const num = (x: Json | undefined): number | null => (typeof x === 'number' ? x : null);

/** The door tag of a shared-set key as nft lists it in a rule: the offset of `jhash ... mod 1 offset TAG`. */
function tagOfKey(x: Json | undefined): number | null {
  let tag: number | null = null;
  walk(x ?? null, (o) => {
    const h = o['jhash'];
    if (h && typeof h === 'object' && !Array.isArray(h) && h['mod'] === 1 && typeof h['offset'] === 'number') tag = h['offset'];
  });
  return tag;
}

function ruleOf(r: { [k: string]: Json }): LiveRule {
  const targets: string[] = [];
  const setOps: Array<{ op: string; set: string; tag: number | null }> = [];
  let counter: LiveRule['counter'] = null;
  walk(r['expr'] ?? [], (o) => {
    for (const v of ['jump', 'goto'] as const) {
      const t = o[v];
      if (t && typeof t === 'object' && !Array.isArray(t)) {
        const target = str(t['target']);
        if (target && !targets.includes(target)) targets.push(target);
      }
    }
    const s = o['set'];
    if (s && typeof s === 'object' && !Array.isArray(s) && typeof s['op'] === 'string' && typeof s['set'] === 'string') {
      setOps.push({ op: s['op'], set: s['set'].replace(/^@/, ''), tag: tagOfKey(s['elem']) });
    }
    const c = o['counter'];
    if (c && typeof c === 'object' && !Array.isArray(c) && typeof c['packets'] === 'number') {
      counter = { packets: c['packets'], bytes: num(c['bytes']) ?? 0 };
    }
  });
  return { chain: str(r['chain']) ?? '', handle: num(r['handle']) ?? 0, comment: str(r['comment']), counter, targets, setOps };
}

/** An element's key in JSON: an address, or `{"concat": [address, tag]}` in a shared state set. */
function keyOfElement(v: Json | undefined): { addr: string; tag: number | null } | null {
  if (typeof v === 'string') return { addr: v, tag: null };
  const c = v && typeof v === 'object' && !Array.isArray(v) ? v['concat'] : null;
  if (Array.isArray(c) && c.length === 2 && typeof c[0] === 'string' && typeof c[1] === 'number') return { addr: c[0], tag: c[1] };
  return null;
}

/**
 * The objects of one table from `nft -j list table` output. Elements come with whole-second
 * expiries here; `withElements` replaces them with the text listing's.
 */
export function parseTableJson(json: string, family: NftFamily, name: string): LiveTable {
  let doc: { nftables?: Array<{ [k: string]: Json }> };
  try {
    doc = JSON.parse(json) as typeof doc;
  } catch (e) {
    throw new HostError(`cannot read nft's JSON output: ${(e as Error).message}`);
  }
  const sets: LiveSet[] = [];
  const chains: LiveChain[] = [];
  const rules: LiveRule[] = [];
  for (const item of doc.nftables ?? []) {
    const s = item['set'];
    if (s && typeof s === 'object' && !Array.isArray(s)) {
      const elements: LiveElement[] = [];
      for (const e of Array.isArray(s['elem']) ? s['elem'] : []) {
        if (typeof e === 'string') elements.push({ addr: e, tag: null, timeoutMs: null, expiresMs: null });
        else if (e && typeof e === 'object' && !Array.isArray(e) && e['elem'] && typeof e['elem'] === 'object' && !Array.isArray(e['elem'])) {
          const el = e['elem'];
          // The grant registry: `TAG comment "..."`.
          if (typeof el['val'] === 'number') {
            elements.push({ addr: String(el['val']), tag: el['val'], timeoutMs: null, expiresMs: null, comment: str(el['comment']) });
            continue;
          }
          const key = keyOfElement(el['val']);
          if (key === null) continue;
          const t = num(el['timeout']);
          const x = num(el['expires']);
          elements.push({ addr: key.addr, tag: key.tag, timeoutMs: t === null ? null : t * 1000, expiresMs: x === null ? null : x * 1000 });
        } else {
          const key = keyOfElement(e);
          if (key) elements.push({ addr: key.addr, tag: key.tag, timeoutMs: null, expiresMs: null });
        }
      }
      const comment = str(s['comment']);
      const timeout = num(s['timeout']);
      sets.push({
        name: str(s['name']) ?? '',
        handle: num(s['handle']) ?? 0,
        type: str(s['type']) ?? '',
        comment,
        key: keyOfComment(comment),
        timeoutMs: timeout === null ? null : timeout * 1000,
        size: num(s['size']),
        elements,
      });
    }
    const c = item['chain'];
    if (c && typeof c === 'object' && !Array.isArray(c)) chains.push({ name: str(c['name']) ?? '', handle: num(c['handle']) ?? 0, hook: str(c['hook']) });
    const r = item['rule'];
    if (r && typeof r === 'object' && !Array.isArray(r)) rules.push(ruleOf(r));
  }
  return { family, name, sets, chains, rules };
}

/** Elements of every knockc_* set in an `nft list table` text listing, with millisecond expiries. */
export function parseElementsText(text: string): Map<string, LiveElement[]> {
  const out = new Map<string, LiveElement[]>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const head = /^(\s*)set (\S+) \{/.exec(lines[i]!);
    // (the grant registry's elements, with their comments, come from the JSON listing)
    if (!head || !isKnockcName(head[2]!) || isRegistry(head[2]!)) continue;
    const indent = head[1]!;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== `${indent}}`; i++) body.push(lines[i]!);
    const joined = body.join(' ');
    const m = /elements = \{([^}]*)\}/.exec(joined);
    const elems: LiveElement[] = [];
    if (m) {
      for (const item of m[1]!.split(',')) {
        const words = item.trim().split(/\s+/).filter(Boolean);
        if (words.length === 0) continue;
        let timeoutMs: number | null = null;
        let expiresMs: number | null = null;
        // `ADDR . TAG` in a shared state set.
        const tag = words[1] === '.' && /^\d+$/.test(words[2] ?? '') ? Number(words[2]) : null;
        for (let w = tag === null ? 1 : 3; w < words.length; w++) {
          if (words[w] === 'timeout') timeoutMs = parseNftTime(words[++w] ?? '');
          else if (words[w] === 'expires') expiresMs = parseNftTime(words[++w] ?? '');
        }
        elems.push({ addr: words[0]!, tag, timeoutMs, expiresMs });
      }
    }
    out.set(head[2]!, elems);
  }
  return out;
}

/** The table with the text listing's (millisecond) elements in its knockc_* sets. */
export function withElements(t: LiveTable, elements: ReadonlyMap<string, readonly LiveElement[]>): LiveTable {
  return { ...t, sets: t.sets.map((s) => (elements.has(s.name) ? { ...s, elements: elements.get(s.name)! } : s)) };
}

/**
 * The grants of a live table, one set each: a grant set of its own (a table loaded before issue
 * 20), or one per tag of the shared grant set (knockc_grant4), with its comment and key from the
 * grant registry (knockc_grantkey4) and the shared set's elements of that tag.
 */
export function grantSets(t: LiveTable): LiveSet[] {
  const out: LiveSet[] = [];
  for (const s of t.sets) {
    if (!isKnockcName(s.name)) continue;
    if (/^knockc_grant[46]_g\d+_/.test(s.name)) out.push(s);
    if (!isSharedGrantSet(s.name)) continue;
    const f = familyOfName(s.name);
    const registry = f ? t.sets.find((r) => r.name === names.grantRegistry(f)) : undefined;
    for (const r of registry?.elements ?? []) {
      if (r.tag === null || !f) continue;
      const comment = r.comment ?? null;
      out.push({ ...s, name: names.grantView(f, r.tag), comment, key: keyOfComment(comment), timeoutMs: null, elements: s.elements.filter((e) => e.tag === r.tag), store: { set: s.name, tag: r.tag } });
    }
  }
  return out;
}

const NO_SUCH = /No such file or directory|does not exist/;

/**
 * One table as knockc sees it; null when the table does not exist. The elements to the
 * millisecond come from `nft list sets FAMILY` (only the sets, much cheaper than the table's
 * text with every rule), read at the same time as the JSON.
 */
export async function readTable(run: Runner, family: NftFamily, name: string): Promise<LiveTable | null> {
  const [r, text] = await Promise.all([run(['nft', '-j', 'list', 'table', family, name]), run(['nft', 'list', 'sets', family])]);
  if (r.code !== 0) {
    if (NO_SUCH.test(r.stderr)) return null;
    throw new HostError(`\`nft -j list table ${family} ${name}\` failed: ${r.stderr.trim() || `exit ${r.code}`}`, r);
  }
  const table = parseTableJson(r.stdout, family, name);
  if (!table.sets.some((s) => isKnockcName(s.name) && s.elements.length > 0)) return table;
  if (text.code !== 0) throw new HostError(`\`nft list sets ${family}\` failed: ${text.stderr.trim()}`, text);
  return withElements(table, parseElementsText(tableBlock(text.stdout, family, name)));
}

const MAX_CHAIN_LISTINGS = 8;

/**
 * One table as `knockc apply` needs it, without reading every rule back: listing a table's rules
 * makes the kernel walk its rules again for each netlink message of the dump (1000 doors: 2.4 s,
 * 10,000: 66 s, nearly all in the kernel). Read: the family's chains and sets (JSON), the sets'
 * text (elements to the millisecond), and the rules of the chains that are not knockc's only
 * (base chains, a user's chains for --into); door tags and labels come from the door registry.
 * null when the table has no chain and no set (missing, or empty: nothing to keep).
 */
export async function readTableForApply(run: Runner, family: NftFamily, name: string): Promise<LiveTable | null> {
  const [c, j, text] = await Promise.all([
    run(['nft', '-j', 'list', 'chains', family]),
    run(['nft', '-j', 'list', 'sets', family]),
    run(['nft', 'list', 'sets', family]),
  ]);
  for (const [r, what] of [[c, 'chains'], [j, 'sets']] as const) {
    if (r.code !== 0) throw new HostError(`\`nft -j list ${what} ${family}\` failed: ${r.stderr.trim() || `exit ${r.code}`}`, r);
  }
  const mine = (json: string): Array<{ [k: string]: Json }> => {
    let doc: { nftables?: Array<{ [k: string]: Json }> };
    try {
      doc = JSON.parse(json) as typeof doc;
    } catch (e) {
      throw new HostError(`cannot read nft's JSON output: ${(e as Error).message}`);
    }
    return (doc.nftables ?? []).filter((i) => {
      const o = i['chain'] ?? i['set'];
      return o !== null && typeof o === 'object' && !Array.isArray(o) && o['table'] === name && o['family'] === family;
    });
  };
  const items = [...mine(c.stdout), ...mine(j.stdout)];
  if (items.length === 0) return null;
  const table = parseTableJson(JSON.stringify({ nftables: items }), family, name);
  const others = table.chains.filter((x) => !isKnockcName(x.name));
  // Each `list chain` is one nft that loads the table: a user table of many chains is read whole.
  if (others.length > MAX_CHAIN_LISTINGS) {
    const whole = await readTable(run, family, name);
    return whole && { ...table, rules: whole.rules, sets: whole.sets };
  }
  const listed = await Promise.all(others.map((x) => run(['nft', '-j', 'list', 'chain', family, name, x.name])));
  const rules: LiveRule[] = [];
  listed.forEach((r, i) => {
    if (r.code !== 0) throw new HostError(`\`nft -j list chain ${family} ${name} ${others[i]!.name}\` failed: ${r.stderr.trim() || `exit ${r.code}`}`, r);
    rules.push(...parseTableJson(r.stdout, family, name).rules);
  });
  const withRules = { ...table, rules };
  if (!table.sets.some((s) => isKnockcName(s.name) && s.elements.length > 0)) return withRules;
  if (text.code !== 0) throw new HostError(`\`nft list sets ${family}\` failed: ${text.stderr.trim()}`, text);
  return withElements(withRules, parseElementsText(tableBlock(text.stdout, family, name)));
}

/** The part of a listing of several tables that is `table FAMILY NAME { ... }` ('' when absent). */
export function tableBlock(text: string, family: NftFamily, name: string): string {
  const lines = text.split('\n');
  const start = lines.indexOf(`table ${family} ${name} {`);
  if (start < 0) return '';
  const end = lines.indexOf('}', start);
  return lines.slice(start, end < 0 ? undefined : end + 1).join('\n');
}

/** A table holding knockc objects: its own (standalone) or a user's (--into). */
export interface Deployment {
  readonly family: NftFamily;
  readonly table: string;
  readonly mode: 'standalone' | 'into';
}

/**
 * Where knockc's rules are loaded, from the chain names alone (`nft -j list chains`):
 * a table with a knockc_input chain holds an --into deployment, any other table
 * with knockc_* chains is a standalone one.
 */
export function findDeployments(chainsJson: string): Deployment[] {
  const doc = JSON.parse(chainsJson) as { nftables?: Array<{ chain?: { family?: string; table?: string; name?: string } }> };
  const byTable = new Map<string, { family: NftFamily; table: string; names: Set<string> }>();
  for (const item of doc.nftables ?? []) {
    const c = item.chain;
    if (!c?.family || !c.table || !c.name) continue;
    if (c.family !== 'inet' && c.family !== 'ip' && c.family !== 'ip6') continue;
    const id = `${c.family} ${c.table}`;
    const e = byTable.get(id) ?? { family: c.family, table: c.table, names: new Set<string>() };
    e.names.add(c.name);
    byTable.set(id, e);
  }
  const out: Deployment[] = [];
  for (const e of byTable.values()) {
    if (![...e.names].some(isKnockcName)) continue;
    // knockc_prerouting: an --into deployment by an earlier knockc (knocks were tracked in prerouting).
    out.push({ family: e.family, table: e.table, mode: e.names.has(names.top.input) || e.names.has(names.top.prerouting) ? 'into' : 'standalone' });
  }
  return out.sort((a, b) => `${a.family} ${a.table}`.localeCompare(`${b.family} ${b.table}`));
}

export async function listDeployments(run: Runner): Promise<Deployment[]> {
  return findDeployments(await runOk(run, ['nft', '-j', 'list', 'chains']));
}

/** nft's version ("1.0.6"), or null when nft is missing. */
export async function nftVersion(run: Runner): Promise<string | null> {
  const r = await run(['nft', '--version']);
  if (r.code !== 0) return null;
  const m = /v(\d+(?:\.\d+)+)/.exec(r.stdout);
  return m ? m[1]! : r.stdout.trim() || null;
}

export interface NftLoadResult {
  readonly ok: boolean;
  readonly stderr: string;
  readonly ms: number;
}

/** `nft -f -` (or `nft -c -f -`): one transaction; on failure the kernel is unchanged. */
export async function nftLoad(run: Runner, script: string, opts: { check?: boolean } = {}): Promise<NftLoadResult> {
  const t0 = performance.now();
  const r = await run(opts.check ? ['nft', '-c', '-f', '-'] : ['nft', '-f', '-'], script);
  const ms = performance.now() - t0;
  if (r.code === 127) throw new HostError('nft not found (install nftables)', r);
  return { ok: r.code === 0, stderr: r.stderr, ms };
}
