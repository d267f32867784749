// Generated iptables command lines for the differential test: a structured rule spec, the many
// ways a person may spell it (short, long, `--opt=value`, glued, abbreviated, reordered,
// negated, quoted, behind a path), chained with `;`, `&&`, `||`. Every spelling choice is data,
// so a failing case can be shrunk towards the plain spelling.
//
// The oracle side (which key a loaded rule has) is computed here from the spec for the
// canonical commands that load the initial state; it does not use src/model/commands.
import fc from 'fast-check';
import { grantKey, type GrantMatch } from '../../src/model/grant.js';
import { canonAddr, canonNet, type Fam } from './ipt-addr.js';

export type { Fam } from './ipt-addr.js';

export type PortStyle = 'dec' | 'pad0' | 'hex' | 'svc';
export interface PortVal {
  readonly n: number;
  readonly style: PortStyle;
}
export type DportSpec =
  | { readonly kind: 'single'; readonly p: PortVal }
  | { readonly kind: 'range'; readonly lo: PortVal; readonly hi: PortVal }
  | { readonly kind: 'to'; readonly hi: PortVal }
  | { readonly kind: 'from'; readonly lo: PortVal };

export interface RuleSpec {
  readonly tool: Fam;
  readonly suffix: '' | '-legacy' | '-nft';
  readonly dir: string;
  readonly op: 'A' | 'I' | 'D';
  /** -I CHAIN N, or -D CHAIN N (delete by rule number). */
  readonly pos: number | null;
  readonly chain: 'INPUT' | 'FORWARD' | 'OUTPUT' | 'input';
  readonly table: null | 'filter' | 'mangle';
  readonly wait: null | { readonly value: number | null };
  readonly src: null | {
    readonly neg: boolean;
    readonly who: 'knocker' | 'other4' | 'other6';
    readonly len: '' | '/32' | '/128' | '/24' | '/64';
  };
  readonly proto: null | { readonly neg: boolean; readonly name: 'tcp' | 'udp' | '6' | '17' | 'all' | 'TCP' };
  /** An explicit -m tcp / -m udp. */
  readonly mproto: boolean;
  readonly dport: null | { readonly neg: boolean; readonly spec: DportSpec };
  readonly multiport: null | {
    readonly neg: boolean;
    readonly kind: 'dports' | 'ports';
    readonly items: readonly { readonly lo: PortVal; readonly hi: PortVal | null }[];
  };
  readonly daddr: null | { readonly neg: boolean; readonly text: string };
  readonly iif: null | { readonly neg: boolean; readonly name: string };
  readonly flags:
    | null
    | { readonly neg: boolean; readonly kind: 'syn' }
    | { readonly neg: boolean; readonly kind: 'mask'; readonly mask: string; readonly comp: string };
  readonly state: null | {
    readonly neg: boolean;
    readonly kind: 'state' | 'conntrack' | 'both';
    readonly value: 'NEW' | 'new' | 'NEW,ESTABLISHED';
  };
  readonly target: 'ACCEPT' | 'DROP' | 'accept';
}

/** How one command is written: per option group a spelling choice, an order, per-word quoting. */
export interface Spelling {
  readonly styles: readonly number[];
  /** Sort keys of the option groups, or null for the canonical order. */
  readonly order: readonly number[] | null;
  /** With an order: the options that need -p (--dport, -m tcp, --syn, -m multiport) stay after it. */
  readonly keepMatches?: boolean;
  /** Per word a quoting style (0 = none), or null for no quoting at all. */
  readonly quotes: readonly number[] | null;
}

export type Cmd =
  | { readonly kind: 'ipt'; readonly spec: RuleSpec; readonly spelling: Spelling; readonly init: 0 | 1 | 2 }
  | { readonly kind: 'other'; readonly text: string };

export type JoinOp = ';' | '&&' | '||';
export interface Join {
  readonly op: JoinOp;
  /** 0 ` op `, 1 `op `, 2 `op`, 3 ` op\n` (newline after && and ||; `;` keeps ` ; `). */
  readonly space: number;
}

export interface DiffCase {
  readonly cmds: readonly Cmd[];
  readonly joins: readonly Join[];
  readonly knocker: { readonly ip: string; readonly ip6: string };
}

// ------------------------------------------------------------------ addresses used

export const OTHER4 = '198.51.100.1';
export const OTHER6 = '2001:db8::1';
const DADDR4 = ['203.0.113.5', '203.0.113.5/32', '203.0.113.0/24', '203.0.113.7/24', '0.0.0.0/0', '203.0.113.128/25'];
const DADDR6 = [
  '2001:db8:ffff::5',
  '2001:DB8:FFFF::5/128',
  '2001:db8:ffff::/48',
  '2001:db8:ffff:0:0:0:0:7/64',
  '::/0',
  '2001:db8:ffff::1:0:0:1',
];
export const SERVICES: Readonly<Record<number, string>> = { 22: 'ssh', 80: 'http', 443: 'https' };

// ------------------------------------------------------------------ rendering

type Words = string[];
interface Group {
  readonly name: string;
  readonly w: Words;
}

function portText(p: PortVal): string {
  switch (p.style) {
    case 'dec':
      return `${p.n}`;
    case 'pad0':
      return `0${p.n}`;
    case 'hex':
      return `0x${p.n.toString(16)}`;
    case 'svc':
      return SERVICES[p.n] ?? `${p.n}`;
  }
}

function dportText(d: DportSpec): string {
  switch (d.kind) {
    case 'single':
      return portText(d.p);
    case 'range':
      return `${portText(d.lo)}:${portText(d.hi)}`;
    case 'to':
      return `:${portText(d.hi)}`;
    case 'from':
      return `${portText(d.lo)}:`;
  }
}

/** A spelling of option `short`/`long` with value v; every form the generator may choose. */
function optForms(short: string | null, longs: readonly string[], v: string): Words[] {
  // Plain forms first (a tame spelling picks among the first three): -o V, --long V, --long=V.
  const f: Words[] = [];
  if (short !== null) f.push([short, v]);
  longs.forEach((l, i) => {
    f.push([l, v], [`${l}=${v}`]);
    if (i === 0 && short !== null) f.push([`${short}${v}`]);
  });
  return f;
}

function pick<T>(forms: readonly T[], style: number): T {
  return forms[style % forms.length] as T;
}

function neg(n: boolean, w: Words): Words {
  return n ? ['!', ...w] : w;
}

export function srcText(spec: RuleSpec, knocker: string | null): string | null {
  if (spec.src === null) return null;
  const base = spec.src.who === 'knocker' ? (knocker ?? '%IP%') : spec.src.who === 'other4' ? OTHER4 : OTHER6;
  return base + spec.src.len;
}

export function protoMatch(spec: RuleSpec): 'tcp' | 'udp' {
  const n = spec.proto?.name;
  return n === 'udp' || n === '17' ? 'udp' : 'tcp';
}

/** The option groups of a command, canonical order; `knocker` null keeps %IP%. */
function groups(spec: RuleSpec, styles: readonly number[], knocker: string | null): Group[] {
  const s = (i: number): number => styles[i] ?? 0;
  const out: Group[] = [];
  let name = '';
  const g = { push: (w: Words): void => void out.push({ name, w }) };
  const cmdLong = { A: ['--append', '--app'], I: ['--insert', '--ins'], D: ['--delete', '--del'] }[spec.op];
  const cmd = pick(optForms(`-${spec.op}`, cmdLong, spec.chain), s(0));
  name = 'cmd';
  g.push(spec.pos === null ? cmd : [...cmd, `${spec.pos}`]);
  name = 'table';
  if (spec.table !== null) g.push(pick(optForms('-t', ['--table', '--tab'], spec.table), s(1)));
  if (spec.wait !== null) {
    const v = spec.wait.value;
    name = 'wait';
    g.push(v === null ? pick([['-w'], ['--wait'], ['-w'], ['--wa']], s(2)) : pick(optForms('-w', ['--wait'], `${v}`), s(2)));
  }
  const src = srcText(spec, knocker);
  name = 'src';
  if (spec.src !== null && src !== null) g.push(neg(spec.src.neg, pick(optForms('-s', ['--source', '--src', '--sour'], src), s(3))));
  name = 'daddr';
  if (spec.daddr !== null) g.push(neg(spec.daddr.neg, pick(optForms('-d', ['--destination', '--dst', '--dest'], spec.daddr.text), s(4))));
  name = 'iif';
  if (spec.iif !== null) g.push(neg(spec.iif.neg, pick(optForms('-i', ['--in-interface', '--in-int'], spec.iif.name), s(5))));
  name = 'proto';
  if (spec.proto !== null) g.push(neg(spec.proto.neg, pick(optForms('-p', ['--protocol', '--prot'], spec.proto.name), s(6))));
  const pm = protoMatch(spec);
  name = 'mproto';
  if (spec.mproto) g.push(pick(optForms('-m', ['--match', '--mat'], pm), s(7)));
  if (spec.dport !== null) {
    name = 'dport';
    g.push(neg(spec.dport.neg, pick(optForms(null, ['--dport', '--destination-port', '--dpo'], dportText(spec.dport.spec)), s(8))));
  }
  if (spec.flags !== null) {
    const f = spec.flags;
    const forms: Words[] =
      f.kind === 'syn' ? [['--syn'], ['--syn'], ['--sy']] : [['--tcp-flags', f.mask, f.comp], [`--tcp-flags=${f.mask}`, f.comp], ['--tcp-f', f.mask, f.comp]];
    name = 'flags';
    g.push(neg(f.neg, pick(forms, s(9))));
  }
  if (spec.multiport !== null) {
    const mp = spec.multiport;
    const list = mp.items.map((it) => (it.hi === null ? portText(it.lo) : `${portText(it.lo)}:${portText(it.hi)}`)).join(',');
    const longs = mp.kind === 'dports' ? ['--dports', '--destination-ports', '--dport'] : ['--ports'];
    const m = pick(optForms('-m', ['--match'], 'multiport'), s(10));
    name = 'multiport';
    g.push([...m, ...neg(mp.neg, pick(optForms(null, longs, list), s(13)))]);
  }
  if (spec.state !== null) {
    const st = spec.state;
    const state = (): Words => [...pick(optForms('-m', ['--match'], 'state'), s(11)), ...neg(st.neg, pick(optForms(null, ['--state', '--sta'], st.value), s(14)))];
    const ct = (): Words => [...pick(optForms('-m', ['--match'], 'conntrack'), s(11)), ...neg(st.neg, pick(optForms(null, ['--ctstate', '--ctst'], st.value), s(14)))];
    name = 'state';
    g.push(st.kind === 'state' ? state() : st.kind === 'conntrack' ? ct() : [...state(), ...ct()]);
  }
  name = 'target';
  g.push(pick(optForms('-j', ['--jump', '--ju'], spec.target), s(12)));
  return out;
}

/** Style slots (one per option group, and one each for the multiport and state options). */
export const GROUP_SLOTS = 15;
/** Group indices that need -p before them (they move with the -p group in a tame order). */
const NEEDS_PROTO = ['mproto', 'dport', 'flags', 'multiport'];

/** One word as the shell should see it, written with quoting style q. */
function quote(word: string, q: number): string {
  if (word === '') return "''";
  switch (q % 6) {
    case 1:
      return `'${word}'`;
    case 2:
      return `"${word}"`;
    case 3:
      return /^[A-Za-z0-9_.-]/.test(word) ? `\\${word}` : word;
    case 4: {
      const k = Math.max(1, Math.floor(word.length / 2));
      return `${word.slice(0, k)}'${word.slice(k)}'`;
    }
    case 5:
      return `""${word}`;
    default:
      return word;
  }
}

export function toolWord(spec: RuleSpec): string {
  return `${spec.dir}${spec.tool === 'ip' ? 'iptables' : 'ip6tables'}${spec.suffix}`;
}

/** The command as written in knockd.conf (knocker null: with %IP%). */
export function renderCmd(spec: RuleSpec, sp: Spelling, knocker: string | null = null): string {
  let gs = groups(spec, sp.styles, knocker);
  if (sp.order !== null) {
    const order = sp.order;
    const keyed = gs.map((g, i) => ({ g, k: order[i] ?? 0, i }));
    if (sp.keepMatches) {
      // The options that need -p before them move with it (the real program wants them after -p).
      const p = keyed.find((x) => x.g.name === 'proto');
      for (const x of keyed) if (p !== undefined && NEEDS_PROTO.includes(x.g.name)) x.k = p.k;
    }
    gs = keyed.sort((a, b) => a.k - b.k || a.i - b.i).map((x) => x.g);
  }
  const words = [toolWord(spec), ...gs.flatMap((g) => g.w)];
  if (sp.quotes === null) return words.join(' ');
  const q = sp.quotes;
  return words.map((w, i) => quote(w, q[i % q.length] ?? 0)).join(' ');
}

export function renderLine(c: DiffCase): string {
  let line = '';
  c.cmds.forEach((cmd, i) => {
    if (i > 0) {
      const j = c.joins[i - 1] ?? { op: ';', space: 0 };
      const nl = j.op === ';' ? ' ' : '\n';
      line += [` ${j.op} `, `${j.op} `, j.op, ` ${j.op}${nl}`][j.space % 4];
    }
    line += cmd.kind === 'other' ? cmd.text : renderCmd(cmd.spec, cmd.spelling);
  });
  return line;
}

// ------------------------------------------------------------------ oracle side: the spec's rule

/** The port iptables reads from the text (strtoul base 0, or a service name for tcp), or null. */
export function portValue(p: PortVal, proto: 'tcp' | 'udp'): number | null {
  switch (p.style) {
    case 'dec':
    case 'hex':
      return p.n;
    case 'pad0': {
      const t = `${p.n}`;
      return /^[0-7]+$/.test(t) ? parseInt(t, 8) : null;
    }
    case 'svc':
      return SERVICES[p.n] !== undefined && proto === 'tcp' ? p.n : null;
  }
}

export interface Loadable {
  readonly key: string;
  /** A canonical iptables/ip6tables command (bare name) that adds the rule once. */
  readonly command: string;
}

/**
 * The rule the spec stands for, when it is one of the plain grant rules this test can load as
 * the initial state for a knocker of `fam` (source exactly the knocker, nothing negated,
 * nothing the grant model lacks); null otherwise.
 */
export function loadable(spec: RuleSpec, fam: Fam, knocker: string): Loadable | null {
  if (spec.tool !== fam || spec.src === null || spec.src.neg || spec.src.who !== 'knocker') return null;
  if (spec.src.len !== '' && spec.src.len !== (fam === 'ip' ? '/32' : '/128')) return null;
  if (spec.chain !== 'INPUT' && spec.chain !== 'FORWARD') return null;
  if (spec.table === 'mangle' || spec.target !== 'ACCEPT') return null;
  let proto: 'tcp' | 'udp' | null = null;
  if (spec.proto !== null) {
    if (spec.proto.neg) return null;
    const n = spec.proto.name;
    proto = n === 'tcp' || n === '6' || n === 'TCP' ? 'tcp' : n === 'udp' || n === '17' ? 'udp' : null;
  }
  if (spec.mproto && proto === null) return null;
  if (spec.dport !== null && spec.multiport !== null) return null;
  let dports: { lo: number; hi: number }[] | null = null;
  if (spec.dport !== null) {
    if (proto === null || spec.dport.neg) return null;
    const d = spec.dport.spec;
    const v = (p: PortVal): number | null => portValue(p, proto as 'tcp' | 'udp');
    let lo: number | null;
    let hi: number | null;
    if (d.kind === 'single') lo = hi = v(d.p);
    else if (d.kind === 'range') [lo, hi] = [v(d.lo), v(d.hi)];
    else if (d.kind === 'to') [lo, hi] = [0, v(d.hi)];
    else [lo, hi] = [v(d.lo), 65535];
    if (lo === null || hi === null || lo > hi || hi > 65535) return null;
    dports = [{ lo, hi }];
  }
  if (spec.multiport !== null) {
    const mp = spec.multiport;
    if (proto === null || mp.neg || mp.kind !== 'dports') return null;
    let count = 0;
    dports = [];
    for (const it of mp.items) {
      const lo = portValue(it.lo, proto);
      const hi = it.hi === null ? lo : portValue(it.hi, proto);
      if (lo === null || hi === null || hi > 65535) return null;
      if (it.hi !== null && lo >= hi) return null;
      count += it.hi === null ? 1 : 2;
      dports.push({ lo, hi });
    }
    if (count > 15 || dports.length === 0) return null;
  }
  let daddr: string | null = null;
  if (spec.daddr !== null) {
    if (spec.daddr.neg) return null;
    const c = canonNet(spec.daddr.text, fam);
    if (c === null) return null;
    daddr = c === '*' ? null : c;
  }
  let iif: string | null = null;
  if (spec.iif !== null) {
    if (spec.iif.neg || spec.iif.name.length < 1 || spec.iif.name.length > 15) return null;
    iif = spec.iif.name;
  }
  let synOnly = false;
  if (spec.flags !== null) {
    const f = spec.flags;
    if (f.neg || proto !== 'tcp') return null;
    if (f.kind === 'mask') {
      const bits = new Set(f.mask.split(','));
      if (bits.size !== 4 || !['FIN', 'SYN', 'RST', 'ACK'].every((b) => bits.has(b)) || f.comp !== 'SYN') return null;
    }
    synOnly = true;
  }
  let newOnly = false;
  if (spec.state !== null) {
    if (spec.state.neg || spec.state.value === 'NEW,ESTABLISHED') return null;
    newOnly = true;
  }
  const m: GrantMatch = { hook: spec.chain === 'INPUT' ? 'input' : 'forward', proto, dports, daddr, iif, synOnly, newOnly };
  const words = [fam === 'ip' ? 'iptables' : 'ip6tables', '-A', spec.chain, '-s', canonAddr(knocker, fam) ?? knocker];
  if (daddr !== null) words.push('-d', daddr);
  if (iif !== null) words.push('-i', iif);
  if (proto !== null) words.push('-p', proto);
  if (proto !== null && (spec.dport !== null || synOnly)) {
    words.push('-m', proto);
    if (spec.dport !== null && dports !== null) words.push('--dport', `${dports[0]?.lo}:${dports[0]?.hi}`);
    if (synOnly) words.push('--tcp-flags', 'FIN,SYN,RST,ACK', 'SYN');
  }
  if (spec.multiport !== null && dports !== null) words.push('-m', 'multiport', '--dports', dports.map((r) => (r.lo === r.hi ? `${r.lo}` : `${r.lo}:${r.hi}`)).join(','));
  if (spec.state !== null) {
    if (spec.state.kind !== 'conntrack') words.push('-m', 'state', '--state', 'NEW');
    if (spec.state.kind !== 'state') words.push('-m', 'conntrack', '--ctstate', 'NEW');
  }
  words.push('-j', 'ACCEPT');
  return { key: normKey(grantKey({ kind: 'filter', match: m })), command: words.join(' ') };
}

/**
 * Keys compared by meaning: a port list that is the single range 0-65535 is every port, which
 * iptables saves as a bare `-m tcp` (no --dport).
 */
export function normKey(key: string): string {
  return key.replace(/ dport=0-65535 /, ' dport=* ');
}

// ------------------------------------------------------------------ generators

const w = <T>(weight: number, arbitrary: fc.Arbitrary<T>): { weight: number; arbitrary: fc.Arbitrary<T> } => ({ weight, arbitrary });

const portN = fc.oneof(w(5, fc.constantFrom(22, 80, 443, 53, 1000, 2000, 8080)), w(1, fc.constantFrom(0, 65535, 65536)), w(2, fc.integer({ min: 1, max: 65535 })));
const portStyle: fc.Arbitrary<PortStyle> = fc.oneof(w(14, fc.constant<PortStyle>('dec')), w(1, fc.constant<PortStyle>('pad0')), w(1, fc.constant<PortStyle>('hex')), w(1, fc.constant<PortStyle>('svc')));
const portVal: fc.Arbitrary<PortVal> = fc.record({ n: portN, style: portStyle });
const decPort = (n: fc.Arbitrary<number>): fc.Arbitrary<PortVal> => n.map((x) => ({ n: x, style: 'dec' as PortStyle }));

const dportSpec: fc.Arbitrary<DportSpec> = fc.oneof(
  w(6, portVal.map((p) => ({ kind: 'single' as const, p }))),
  w(
    3,
    fc.tuple(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }), fc.nat(9)).map(([a, b, r]) => {
      const [lo, hi] = r === 0 ? [b, a] : r === 1 ? [a, a] : r === 2 ? [0, 65535] : [Math.min(a, b), Math.max(a, b)];
      return { kind: 'range' as const, lo: { n: lo, style: 'dec' as PortStyle }, hi: { n: hi, style: 'dec' as PortStyle } };
    }),
  ),
  w(1, decPort(fc.integer({ min: 0, max: 65535 })).map((hi) => ({ kind: 'to' as const, hi }))),
  w(1, decPort(fc.integer({ min: 0, max: 65535 })).map((lo) => ({ kind: 'from' as const, lo }))),
);

const mpItem = fc.oneof(
  w(4, portVal.map((lo) => ({ lo, hi: null }))),
  w(
    1,
    fc.tuple(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 })).map(([a, b]) => ({
      lo: { n: Math.min(a, b), style: 'dec' as PortStyle },
      hi: { n: Math.max(a, b), style: 'dec' as PortStyle },
    })),
  ),
);

/** arb in `percent` % of the values, null otherwise. */
const opt = <T>(arb: fc.Arbitrary<T>, percent: number): fc.Arbitrary<T | null> => fc.oneof(w(100 - percent, fc.constant(null)), w(percent, arb));
const negArb = fc.oneof(w(40, fc.constant(false)), w(1, fc.constant(true)));

const specArb: fc.Arbitrary<RuleSpec> = fc
  .record({
    tool: fc.constantFrom<Fam>('ip', 'ip6'),
    suffix: fc.oneof(w(8, fc.constant('' as const)), w(1, fc.constant('-legacy' as const)), w(1, fc.constant('-nft' as const))),
    dir: fc.oneof(
      w(10, fc.constant('')),
      w(6, fc.constantFrom('/sbin/', '/usr/sbin/')),
      w(3, fc.constantFrom('/bin/', '/usr/bin/', '/usr/local/sbin/', '/usr/local/bin/')),
      w(2, fc.constantFrom('/opt/bogus/', 'bin/', './', '/usr//sbin/', '/usr/sbin/../sbin/')),
    ),
    op: fc.oneof(w(5, fc.constant('A' as const)), w(3, fc.constant('I' as const)), w(3, fc.constant('D' as const))),
    pos: opt(fc.integer({ min: 1, max: 3 }), 12),
    chain: fc.oneof(w(12, fc.constant('INPUT' as const)), w(5, fc.constant('FORWARD' as const)), w(1, fc.constantFrom('OUTPUT' as const, 'input' as const))),
    table: opt(fc.oneof(w(4, fc.constant('filter' as const)), w(1, fc.constant('mangle' as const))), 15),
    wait: opt(fc.record({ value: opt(fc.integer({ min: 1, max: 5 }), 50) }), 15),
    src: opt(
      fc.record({
        neg: negArb,
        who: fc.oneof(w(14, fc.constant('knocker' as const)), w(1, fc.constantFrom('other4' as const, 'other6' as const))),
        len: fc.oneof(w(12, fc.constant('' as const)), w(3, fc.constantFrom('/32' as const, '/128' as const)), w(1, fc.constantFrom('/24' as const, '/64' as const))),
      }),
      96,
    ),
    proto: opt(
      fc.record({ neg: negArb, name: fc.oneof(w(8, fc.constant('tcp' as const)), w(4, fc.constant('udp' as const)), w(3, fc.constantFrom('6' as const, '17' as const, 'all' as const, 'TCP' as const))) }),
      85,
    ),
    mproto: fc.oneof(w(3, fc.constant(false)), w(1, fc.constant(true))),
    ports: fc.oneof(
      w(2, fc.constant(0)),
      w(6, fc.constant(1)),
      w(2, fc.constant(2)),
      w(1, fc.constant(3)),
    ),
    dport: fc.record({ neg: negArb, spec: dportSpec }),
    multiport: fc.record({
      neg: negArb,
      kind: fc.oneof(w(10, fc.constant('dports' as const)), w(1, fc.constant('ports' as const))),
      items: fc.oneof(w(12, fc.array(mpItem, { minLength: 1, maxLength: 5 })), w(1, fc.array(mpItem, { minLength: 14, maxLength: 17 }))),
    }),
    daddr: opt(
      fc.record({ neg: negArb, other: fc.oneof(w(7, fc.constant(false)), w(1, fc.constant(true))), i: fc.nat(DADDR4.length - 1) }),
      20,
    ),
    iif: opt(fc.record({ neg: negArb, name: fc.oneof(w(8, fc.constantFrom('eth0', 'eth1', 'eth+', 'br-lan')), w(1, fc.constant('interface-name-16'))) }), 15),
    flags: opt(
      fc.oneof(
        w(3, fc.record({ neg: negArb, kind: fc.constant('syn' as const) })),
        w(
          2,
          fc.record({
            neg: negArb,
            kind: fc.constant('mask' as const),
            mc: fc.constantFrom(['SYN,RST,ACK,FIN', 'SYN'], ['FIN,SYN,RST,ACK', 'SYN'], ['ALL', 'SYN'], ['SYN,ACK', 'SYN'], ['syn,rst,ack,fin', 'syn'], ['FIN,SYN,RST,ACK', 'SYN,ACK']),
          }).map(({ neg, kind, mc }) => ({ neg, kind, mask: mc[0] as string, comp: mc[1] as string })),
        ),
      ),
      18,
    ),
    state: opt(
      fc.record({
        neg: negArb,
        kind: fc.constantFrom('state' as const, 'conntrack' as const, 'both' as const),
        value: fc.oneof(w(8, fc.constant('NEW' as const)), w(1, fc.constantFrom('new' as const, 'NEW,ESTABLISHED' as const))),
      }),
      18,
    ),
    target: fc.oneof(w(20, fc.constant('ACCEPT' as const)), w(1, fc.constantFrom('DROP' as const, 'accept' as const))),
  })
  .map((r): RuleSpec => {
    const tcpish = r.proto !== null && r.proto.name !== 'all';
    return {
      tool: r.tool,
      suffix: r.suffix,
      dir: r.dir,
      op: r.op,
      // -D CHAIN N deletes by number; keep it rare (a quarter of the positions).
      pos: r.pos !== null && r.op === 'D' && r.pos !== 1 ? null : r.pos,
      chain: r.chain,
      table: r.table,
      wait: r.wait,
      src: r.src,
      proto: r.proto,
      mproto: r.mproto && tcpish,
      // Ports mostly with a protocol that has them; sometimes without (the real program rejects).
      dport: r.ports === 1 || r.ports === 3 ? r.dport : null,
      multiport: r.ports === 2 || r.ports === 3 ? r.multiport : null,
      daddr: r.daddr === null ? null : { neg: r.daddr.neg, text: ((r.tool === 'ip') !== r.daddr.other ? DADDR4 : DADDR6)[r.daddr.i] as string },
      iif: r.iif,
      flags: r.flags,
      state: r.state,
      target: r.target,
    };
  });

/**
 * Tame specs: what a person writes when the command works; knockc should compile most of them,
 * so the comparison of effects (not only the runtime hand-off) gets exercised.
 */
const tameSpecArb: fc.Arbitrary<RuleSpec> = fc
  .record({
    tool: fc.constantFrom<Fam>('ip', 'ip6'),
    suffix: fc.oneof(w(12, fc.constant('' as const)), w(1, fc.constant('-legacy' as const)), w(1, fc.constant('-nft' as const))),
    dir: fc.oneof(w(10, fc.constant('')), w(6, fc.constantFrom('/sbin/', '/usr/sbin/')), w(2, fc.constantFrom('/bin/', '/usr/bin/', '/usr/local/sbin/', '/usr/local/bin/'))),
    op: fc.oneof(w(5, fc.constant('A' as const)), w(3, fc.constant('I' as const)), w(3, fc.constant('D' as const))),
    pos: opt(fc.constant(1), 8),
    chain: fc.oneof(w(3, fc.constant('INPUT' as const)), w(1, fc.constant('FORWARD' as const))),
    table: opt(fc.constant('filter' as const), 10),
    wait: opt(fc.record({ value: opt(fc.integer({ min: 1, max: 5 }), 50) }), 10),
    len: fc.oneof(w(12, fc.constant(false)), w(3, fc.constant(true))),
    proto: opt(fc.oneof(w(8, fc.constant('tcp' as const)), w(4, fc.constant('udp' as const)), w(2, fc.constantFrom('6' as const, '17' as const, 'TCP' as const))), 92),
    mproto: fc.oneof(w(3, fc.constant(false)), w(1, fc.constant(true))),
    ports: fc.oneof(w(2, fc.constant(0)), w(6, fc.constant(1)), w(2, fc.constant(2))),
    dport: dportSpec,
    items: fc.array(mpItem, { minLength: 1, maxLength: 5 }),
    daddr: opt(fc.record({ other: fc.oneof(w(9, fc.constant(false)), w(1, fc.constant(true))), i: fc.nat(DADDR4.length - 1) }), 15),
    iif: opt(fc.constantFrom('eth0', 'eth1', 'br-lan'), 10),
    flags: opt(
      fc.oneof(
        w(3, fc.constant({ neg: false, kind: 'syn' as const })),
        w(1, fc.constantFrom('SYN,RST,ACK,FIN', 'FIN,SYN,RST,ACK').map((mask) => ({ neg: false, kind: 'mask' as const, mask, comp: 'SYN' }))),
      ),
      15,
    ),
    state: opt(fc.constantFrom('state' as const, 'conntrack' as const, 'both' as const).map((kind) => ({ neg: false, kind, value: 'NEW' as const })), 15),
  })
  .map(
    (r): RuleSpec => ({
      tool: r.tool,
      suffix: r.suffix,
      dir: r.dir,
      op: r.op,
      pos: r.op === 'I' ? r.pos : null,
      chain: r.chain,
      table: r.table,
      wait: r.wait,
      src: { neg: false, who: 'knocker', len: r.len ? (r.tool === 'ip' ? '/32' : '/128') : '' },
      proto: r.proto === null ? (r.ports === 0 ? null : { neg: false, name: 'tcp' }) : { neg: false, name: r.proto },
      mproto: r.mproto && r.proto !== null,
      dport: r.ports === 1 ? { neg: false, spec: r.dport } : null,
      multiport: r.ports === 2 ? { neg: false, kind: 'dports', items: r.items } : null,
      daddr: r.daddr === null ? null : { neg: false, text: ((r.tool === 'ip') !== r.daddr.other ? DADDR4 : DADDR6)[r.daddr.i] as string },
      iif: r.iif === null ? null : { neg: false, name: r.iif },
      flags: r.flags,
      state: r.state,
      target: 'ACCEPT',
    }),
  );

/** Option groups whose `--long=value` iptables 1.8 does not read (-s, -d, -i, -p, -j): tame spellings avoid it. */
const NO_EQ_SLOTS = new Set([3, 4, 5, 6, 12]);
/** Option groups without a short option (--dport, --syn / --tcp-flags, --dports, --state): their forms 0 and 1 are plain. */
const NO_SHORT_SLOTS = new Set([8, 9, 13, 14]);
const tameStyle = (slot: number): fc.Arbitrary<number> =>
  NO_EQ_SLOTS.has(slot) || NO_SHORT_SLOTS.has(slot) ? fc.oneof(w(2, fc.constant(0)), w(1, fc.constant(1))) : fc.oneof(w(6, fc.constant(0)), w(3, fc.constant(1)), w(2, fc.constant(2)));
const tameSpellingArb: fc.Arbitrary<Spelling> = fc.record({
  styles: fc.tuple(...Array.from({ length: GROUP_SLOTS }, (_, i) => tameStyle(i))),
  order: opt(fc.array(fc.nat(20), { minLength: GROUP_SLOTS, maxLength: GROUP_SLOTS }), 20),
  keepMatches: fc.constant(true),
  quotes: opt(fc.array(fc.oneof(w(6, fc.constant(0)), w(1, fc.nat(5))), { minLength: 1, maxLength: 30 }), 10),
});

const styleArb = fc.oneof(w(3, fc.constant(0)), w(2, fc.nat(30)));
const spellingArb: fc.Arbitrary<Spelling> = fc.record({
  styles: fc.oneof(w(1, fc.constant(Array<number>(GROUP_SLOTS).fill(0))), w(3, fc.array(styleArb, { minLength: GROUP_SLOTS, maxLength: GROUP_SLOTS }))),
  order: opt(fc.array(fc.nat(20), { minLength: GROUP_SLOTS, maxLength: GROUP_SLOTS }), 25),
  quotes: opt(fc.array(fc.oneof(w(6, fc.constant(0)), w(1, fc.nat(5))), { minLength: 1, maxLength: 30 }), 15),
});

const initArb = fc.oneof(w(5, fc.constant<0 | 1 | 2>(0)), w(3, fc.constant<0 | 1 | 2>(1)), w(2, fc.constant<0 | 1 | 2>(2)));

const rawCmdOf = (tame: boolean) =>
  fc.oneof(
    w(
      tame ? 30 : 10,
      fc.record({ kind: fc.constant('ipt' as const), spec: tame ? tameSpecArb : specArb, spelling: tame ? tameSpellingArb : spellingArb, init: initArb, same: opt(fc.nat(3), 50) }),
    ),
    w(1, fc.record({ kind: fc.constant('other' as const), text: fc.constantFrom('true', 'false', 'logger x', ':') })),
  );
const rawCmdsOf = (tame: boolean) =>
  fc.oneof(
    w(4, fc.array(rawCmdOf(tame), { minLength: 1, maxLength: 1 })),
    w(4, fc.array(rawCmdOf(tame), { minLength: 2, maxLength: 2 })),
    w(2, fc.array(rawCmdOf(tame), { minLength: 3, maxLength: 4 })),
  );

const ip4Knocker = fc.integer({ min: 2, max: 254 }).map((n) => `198.51.100.${n}`);
const ip6Knocker = fc
  .tuple(fc.constantFrom('2001:db8::X', '2001:db8:0:1::X', '2001:db8:a:b:c:d:e:X', '2001:db8::1:0:0:X', '2001:db8:X::', '2001:db8:0:0:1:0:0:X'), fc.integer({ min: 2, max: 0xfffe }))
  .map(([pattern, n]) => canonAddr(pattern.replace('X', n.toString(16)), 'ip6') as string);

/** A generated case (its line has %IP%; it runs for a knocker of each family). */
export const caseArb: fc.Arbitrary<DiffCase> = fc
  .record({
    // Tame cases (plain, working commands) and wild ones (every spelling, path, negation, ...).
    raw: fc.oneof(w(2, rawCmdsOf(true)), w(1, rawCmdsOf(false))),
    joins: fc.array(fc.record({ op: fc.oneof(w(4, fc.constant<JoinOp>(';')), w(4, fc.constant<JoinOp>('&&')), w(2, fc.constant<JoinOp>('||'))), space: fc.oneof(w(6, fc.constant(0)), w(2, fc.nat(3))) }), {
      minLength: 3,
      maxLength: 3,
    }),
    ip: ip4Knocker,
    ip6: ip6Knocker,
  })
  .map(({ raw, joins, ip, ip6 }): DiffCase => {
    const cmds: Cmd[] = [];
    for (const r of raw) {
      if (r.kind === 'other') {
        cmds.push(r);
        continue;
      }
      let spec = r.spec;
      const earlier = cmds.filter((c): c is Extract<Cmd, { kind: 'ipt' }> => c.kind === 'ipt');
      if (r.same !== null && earlier.length > 0) {
        // The same rule again (another op, tool, path or spelling): adds and deletes that meet.
        const base = (earlier[r.same % earlier.length] as Extract<Cmd, { kind: 'ipt' }>).spec;
        spec = { ...base, op: spec.op, pos: spec.pos, tool: r.same % 4 === 3 ? spec.tool : base.tool, suffix: spec.suffix, dir: spec.dir, wait: spec.wait };
      }
      cmds.push({ kind: 'ipt', spec, spelling: r.spelling, init: r.init });
    }
    return { cmds, joins: joins.slice(0, cmds.length - 1), knocker: { ip, ip6 } };
  });

// ------------------------------------------------------------------ shrinking

const PLAIN: Spelling = { styles: Array<number>(GROUP_SLOTS).fill(0), order: null, quotes: null };

/** Simpler variants of a case, simplest first: fewer commands, less initial state, plain spelling, fewer options. */
export function shrinkCase(c: DiffCase): DiffCase[] {
  const out: DiffCase[] = [];
  const n = c.cmds.length;
  for (let i = 0; i < n && n > 1; i++) {
    const cmds = c.cmds.filter((_, k) => k !== i);
    const joins = c.joins.filter((_, k) => k !== (i === 0 ? 0 : i - 1));
    out.push({ ...c, cmds, joins });
  }
  const withCmd = (i: number, cmd: Cmd): DiffCase => ({ ...c, cmds: c.cmds.map((x, k) => (k === i ? cmd : x)) });
  c.joins.forEach((j, i) => {
    if (j.space !== 0) out.push({ ...c, joins: c.joins.map((x, k) => (k === i ? { ...x, space: 0 } : x)) });
  });
  c.cmds.forEach((cmd, i) => {
    if (cmd.kind !== 'ipt') return;
    if (cmd.init !== 0) out.push(withCmd(i, { ...cmd, init: 0 }));
    if (cmd.init === 2) out.push(withCmd(i, { ...cmd, init: 1 }));
    const sp = cmd.spelling;
    if (sp.quotes !== null) {
      out.push(withCmd(i, { ...cmd, spelling: { ...sp, quotes: null } }));
      const q = sp.quotes;
      // Only one word quoted (as it was), for each word.
      for (let k = 0; k < 40; k++) {
        const x = q[k % q.length] ?? 0;
        if (x % 6 !== 0) out.push(withCmd(i, { ...cmd, spelling: { ...sp, quotes: Array.from({ length: 40 }, (_, m) => (m === k ? x : 0)) } }));
      }
    }
    if (sp.order !== null) out.push(withCmd(i, { ...cmd, spelling: { ...sp, order: null } }));
    sp.styles.forEach((s, k) => {
      if (s !== 0) out.push(withCmd(i, { ...cmd, spelling: { ...sp, styles: sp.styles.map((x, m) => (m === k ? 0 : x)) } }));
    });
    if (sp.styles.some((s) => s !== 0) && sp.quotes === null && sp.order === null) out.push(withCmd(i, { ...cmd, spelling: PLAIN }));
    const s = cmd.spec;
    const alt = (over: Partial<RuleSpec>): void => {
      out.push(withCmd(i, { ...cmd, spec: { ...s, ...over } }));
    };
    if (s.dir !== '') alt({ dir: '' });
    if (s.suffix !== '') alt({ suffix: '' });
    if (s.pos !== null) alt({ pos: null });
    if (s.table !== null) alt({ table: null });
    if (s.wait !== null) alt({ wait: null });
    if (s.daddr !== null) alt({ daddr: null });
    if (s.iif !== null) alt({ iif: null });
    if (s.flags !== null) alt({ flags: null });
    if (s.state !== null) alt({ state: null });
    if (s.multiport !== null) alt({ multiport: null });
    if (s.dport !== null) alt({ dport: null });
    if (s.mproto) alt({ mproto: false });
    if (s.proto !== null && s.dport === null && s.multiport === null && s.flags === null && !s.mproto) alt({ proto: null });
    if (s.src !== null && s.src.len !== '') alt({ src: { ...s.src, len: '' } });
    if (s.op !== 'A') alt({ op: 'A' });
    if (s.chain !== 'INPUT') alt({ chain: 'INPUT' });
  });
  return out;
}
