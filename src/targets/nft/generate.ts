// nftables generator: renders the IR program with templates/nft/*.hbs into a
// script that `nft -f` loads atomically.
import { NOTIFY_GROUP } from '../../model/notify.js';
import type { KnockdConfig } from '../../frontend/config.js';
import type { Family, Hook } from '../../model/grant.js';
import type { Chain, Dispatch, Line, Match, Program, SetDecl, Stmt } from '../../model/ir.js';
import { lower, type LowerOptions } from '../../model/lower.js';
import { FAMILIES, planDoors, type DoorPlan } from '../../model/plan.js';
import { interfaceNameProblem } from '../../frontend/interface-name.js';
import { cutBytes } from '../../text.js';
import { DEFAULT_MARK, markHex, type Mark } from '../../model/mark.js';
import { SHARED_TAG_TYPEOF, names, setComment, tagExpr } from '../../model/names.js';
import { commentLine, doorSummaries } from '../header.js';
import { TargetError } from '../target.js';
import { loadTemplate, tidy } from '../templates.js';

export interface NftOptions {
  readonly iface: string | null;
  readonly log: boolean;
  /**
   * `size` of every set; null = the kernel's default bound for dynamic sets (65535).
   * An explicit size also pre-sizes the kernel hash table (about 1 MiB per set at 65535),
   * so it is written only when asked for.
   */
  readonly maxSources: number | null;
  /** Standalone table name (default knockc). */
  readonly table: string;
  /** --into "FAMILY TABLE": deploy into the user's table, jumping from `chain`. */
  readonly into: { readonly family: 'inet' | 'ip' | 'ip6'; readonly table: string; readonly chain: string; readonly forwardChain: string | null } | null;
  readonly version: string;
  readonly source: string;
  readonly notifyGroup: number;
  /** Standalone: the bits grants set for the host firewall's standing rule (src/attach/). */
  readonly mark: Mark;
}

export const NFT_DEFAULTS: Omit<NftOptions, 'version' | 'source'> = {
  iface: null,
  log: false,
  maxSources: null,
  table: 'knockc',
  into: null,
  notifyGroup: NOTIFY_GROUP,
  mark: DEFAULT_MARK,
};

const NFPROTO: Record<Family, string> = { ip: 'ipv4', ip6: 'ipv6' };
const ADDR_TYPE: Record<Family, string> = { ip: 'ipv4_addr', ip6: 'ipv6_addr' };

/** nft strings cannot hold double quotes, and comments are limited to 128 bytes. */
function safe(s: string, max = 120): string {
  // Short ASCII without quotes (nearly every comment) is fine as it is: one scan, no copy.
  if (s.length <= max && !/["\\\n\r\u0080-\uffff]/.test(s)) return s;
  return cutBytes(s.replace(/["\\\n\r]/g, "'"), max);
}

/**
 * An interface name as an nft string: `"eth0"`. Names are checked where they enter (KC116,
 * --interface); this is the last word before the text: nothing nft would read otherwise
 * (a '"' ends the string, a trailing '*' is a wildcard) gets through.
 */
export function nftIfname(name: string): string {
  const problem = interfaceNameProblem(name);
  if (problem !== null) throw new NftError(`interface ${JSON.stringify(name)} cannot be written in an nft rule: ${problem.text}`);
  return `"${name}"`;
}

/**
 * `{ ...x, ...fields }` without object spread, which V8 runs slowly on the many shapes of IR
 * matches and statements (a fifth of a big compile went there).
 */
function withFields<T extends object, U extends object>(x: T, fields: U): T & U {
  return Object.assign(Object.assign({}, x), fields);
}

/** A state set stored in a shared set: that set, the door's tag, and the element timeout. */
type Stores = ReadonlyMap<string, { readonly set: string; readonly tag: number; readonly timeout: number | null }>;

/** The key of a set match or statement: the source, and for a shared set the door's tag. */
function keyFields(set: string, af: Family, stores: Stores): { set: string; key: string; timeout: number | null } {
  const st = stores.get(set);
  if (!st) return { set, key: `${af} saddr`, timeout: null };
  return { set: st.set, key: `${af} saddr . ${tagExpr(af, st.tag)}`, timeout: st.timeout };
}

function lineView(l: Line, af: Family, stores: Stores): unknown {
  if (l.kind === 'dispatch') return withFields(l, { comment: l.comment ? safe(l.comment) : undefined });
  // `tcp dport N` reads better than `meta l4proto tcp th dport N`, and means the same.
  const match: Array<Match & { af: Family }> = [];
  for (let i = 0; i < l.match.length; i++) {
    const m = l.match[i]!;
    const next = l.match[i + 1];
    if (m.k === 'proto' && next?.k === 'dport') {
      match.push({ k: 'proto-dport', proto: m.proto, port: next.port, af } as unknown as Match & { af: Family });
      i++;
      continue;
    }
    if (m.k === 'src-in') match.push(withFields(m, Object.assign({ af }, keyFields(m.set, af, stores))));
    else if (m.k === 'iif') match.push(withFields(m, { af, ifname: nftIfname(m.name) }));
    else if (m.k === 'dst-local' && m.iface) match.push(withFields(m, { af, ifname: nftIfname(m.iface) }));
    else match.push(withFields(m, { af }));
  }
  const stmts = l.stmts.map((s: Stmt) => {
    if (s.k === 'log') return withFields(s, { prefix: safe(`knockc ${s.prefix}`, 120), af });
    if (s.k === 'mark') return withFields(s, { af, hex: markHex({ bits: s.bits }) });
    // A shared set has no timeout of its own: each element gets its door's (add and update).
    if (s.k === 'set-add' || s.k === 'set-refresh' || s.k === 'set-del') return withFields(s, Object.assign({ af }, keyFields(s.set, af, stores)));
    return withFields(s, { af });
  });
  // Rules that change a source's state count their packets: `knockc status` reads knocks,
  // openings and resets per door from these counters.
  const counter = l.stmts.some((s) => s.k !== 'log' && s.k !== 'mark');
  return withFields(l, { match, stmts, counter, comment: l.comment ? safe(l.comment) : undefined });
}

function chainView(c: Chain, stores: Stores): unknown {
  // Made when the template reaches the chain (an own getter, which Handlebars reads like a
  // property), so that the views of a big ruleset never all live at once.
  return {
    name: c.name,
    comment: safe(c.comment),
    get lines() {
      return c.lines.map((l) => lineView(l, c.family, stores));
    },
  };
}

function setView(s: SetDecl, maxSources: number | null): unknown {
  return { name: s.name, typeDecl: `type ${ADDR_TYPE[s.family]}`, hasTimeout: s.timeout !== null, timeout: s.timeout, size: maxSources, comment: setComment(safe(s.comment, 100), s.key) };
}

/**
 * The sets to load: once each shared set that stores others, then each set of its own, then the
 * registries: what each grant tag opens (`TAG comment "grant ... [key]"`, read back by status,
 * diff and carry-over) and whose each door tag is (`TAG comment "[door] line N: ..."`, so that
 * apply need not read every rule back). Shared sets first: the kernel finds a set named in a rule by
 * walking the table's sets in the order they were added, and the shared ones are named by most rules.
 */
function setViews(program: Program, maxSources: number | null): unknown[] {
  const out: unknown[] = [];
  const own: unknown[] = [];
  const registry = new Map<Family, string[]>();
  const doorRegistry = new Map<Family, string[]>();
  const shared = new Set<string>();
  for (const s of program.sets) {
    if (!s.store) {
      own.push(setView(s, maxSources));
      continue;
    }
    if (s.role === 'grant') {
      const r = registry.get(s.family) ?? [];
      r.push(`${s.store.tag} comment "${setComment(safe(s.comment, 100), s.key)}"`);
      registry.set(s.family, r);
    }
    if (shared.has(s.store.set)) continue;
    shared.add(s.store.set);
    const what = s.role === 'grant' ? 'sources granted' : s.role === 'armed' ? 'attempts started' : `sources that made ${/_(\d+)$/.exec(s.store.set)?.[1] ?? '?'} knock(s)`;
    out.push({
      name: s.store.set,
      typeDecl: `typeof ${s.family} saddr . ${SHARED_TAG_TYPEOF}`,
      hasTimeout: true,
      timeout: null,
      size: maxSources,
      comment: safe(`${what}, ${s.role === 'grant' ? 'every grant: source . grant tag' : 'every door: source . door tag'}`, 100),
    });
  }
  const registries = [...registry].map(([f, elements]) => ({
    name: names.grantRegistry(f),
    typeDecl: `typeof ${SHARED_TAG_TYPEOF}`,
    hasTimeout: false,
    timeout: null,
    size: null,
    comment: `what each tag of ${names.shared(f, 'grant')} opens`,
    elements: elements.join(', '),
  }));
  for (const d of program.doorTags ?? []) {
    const r = doorRegistry.get(d.family) ?? [];
    r.push(`${d.tag} comment "${safe(d.label, 120)}"`);
    doorRegistry.set(d.family, r);
  }
  const doorRegistries = [...doorRegistry].map(([f, elements]) => ({
    name: names.doorRegistry(f),
    typeDecl: `typeof ${SHARED_TAG_TYPEOF}`,
    hasTimeout: false,
    timeout: null,
    size: null,
    comment: `whose each door tag of the shared state sets is`,
    elements: elements.join(', '),
  }));
  return out.concat(own, registries, doorRegistries);
}

/**
 * Entry chains that are only their dispatch, with it: nft writes that dispatch into the hook's
 * chain itself (input / knockc_input ...), one jump less for every packet (measured:
 * bench/throughput.ts), so no chain of that name is loaded.
 */
export function inlinedEntries(program: Program): Map<string, Dispatch> {
  const out = new Map<string, Dispatch>();
  const names = new Set(Object.values(program.entries).flatMap((hooks) => Object.values(hooks ?? {})));
  for (const c of program.chains) {
    const only = c.lines.length === 1 ? c.lines[0]! : null;
    if (names.has(c.name) && only?.kind === 'dispatch') out.set(c.name, only);
  }
  return out;
}

/** A config that the nft target cannot deploy as asked (the message says what to change). */
export class NftError extends TargetError {}

/** `plans`: planDoors(config) when the caller has it already. */
export function compileNft(config: KnockdConfig, o: NftOptions, plans?: readonly DoorPlan[]): { text: string; program: Program } {
  const families: Family[] = o.into ? (o.into.family === 'inet' ? [...FAMILIES] : [o.into.family]) : [...FAMILIES];
  const lowerOpts: LowerOptions = {
    // In its own table an accept cannot override a drop elsewhere: grants mark their packets,
    // and the host firewall accepts marked packets (src/attach/). In the user's table, accept.
    guard: false,
    mark: o.into ? null : o.mark,
    iface: o.iface ?? config.options.interface.value,
    log: o.log,
    families,
    notifyGroup: o.notifyGroup,
  };
  const doorPlans = plans ?? planDoors(config);
  const program = lower(config, lowerOpts, doorPlans);
  const inlined = inlinedEntries(program);
  const stores: Stores = new Map(program.sets.filter((s) => s.store).map((s) => [s.name, { set: s.store!.set, tag: s.store!.tag, timeout: s.timeout }]));
  const hookView = (hook: Hook) =>
    families.flatMap((f) => {
      const chain = program.entries[f]?.[hook];
      if (!chain) return [];
      const only = inlined.get(chain);
      return [{ nfproto: NFPROTO[f], inet: !o.into || o.into.family === 'inet', chain, dispatch: only ? lineView(only, f, stores) : null }];
    });
  const inputEntries = hookView('input');
  const forwardEntries = hookView('forward');
  const doors = doorSummaries(doorPlans, 'ip');
  const data = {
    version: o.version,
    source: commentLine(o.source),
    notifyGroup: o.notifyGroup,
    mark: markHex(o.mark),
    doors,
    runtimeDoors: program.runtimeDoors,
    table: o.into ? o.into.table : o.table,
    family: o.into?.family ?? 'inet',
    inet: (o.into?.family ?? 'inet') === 'inet',
    chain: o.into?.chain,
    forwardChain: o.into?.forwardChain ?? null,
    sets: setViews(program, o.maxSources),
    chains: program.chains.filter((c) => !inlined.has(c.name)).map((c) => chainView(c, stores)),
    inputEntries,
    forwardEntries,
    forwardNeeded: forwardEntries.length > 0 || Boolean(o.into?.forwardChain),
  };
  const tpl = loadTemplate('nft', o.into ? 'into' : 'standalone', ['syntax', 'header']);
  return { text: tidy(tpl(data)), program };
}
