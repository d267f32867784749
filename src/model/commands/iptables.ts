// iptables / ip6tables (and their -legacy / -nft variants): one rule in the
// filter table's INPUT or FORWARD chain that accepts packets from %IP%.

import type { Family, GrantAction, Hook, PortRange } from '../grant.js';
import { Args, fail, sliceWord, type Word } from './shell.js';
import {
  familyName,
  interfaceName,
  iptPortList,
  iptPortRange,
  knockerFamilies,
  parseCidr,
  type Proto,
} from './values.js';

export const IPTABLES_TOOLS: ReadonlyMap<string, Family> = new Map([
  ['iptables', 'ip'],
  ['iptables-legacy', 'ip'],
  ['iptables-nft', 'ip'],
  ['ip6tables', 'ip6'],
  ['ip6tables-legacy', 'ip6'],
  ['ip6tables-nft', 'ip6'],
]);

const CHAINS: ReadonlyMap<string, Hook> = new Map([
  ['INPUT', 'input'],
  ['FORWARD', 'forward'],
]);
// The other spellings of the options below, to their long names (one switch case each).
const LONG_NAMES: ReadonlyMap<string, string> = new Map([
  ['-A', '--append'], ['-I', '--insert'], ['-D', '--delete'], ['-t', '--table'],
  ['-s', '--source'], ['--src', '--source'], ['-d', '--destination'], ['--dst', '--destination'],
  ['-i', '--in-interface'], ['-p', '--protocol'], ['-m', '--match'], ['--destination-port', '--dport'],
  ['--destination-ports', '--dports'], ['-j', '--jump'], ['-w', '--wait'],
]);
/**
 * The long options iptables 1.8 reads from `--option=value`. The others take their value
 * from the whole word (iptables reads argv[optind - 1], not getopt's optarg), so
 * `--source=ADDR` fails with "host/network `--source=ADDR' not found", `--protocol=tcp` with
 * "unknown protocol", `--jump=ACCEPT` with "Chain '--jump=ACCEPT' does not exist". Checked
 * against the real iptables and ip6tables, nft and legacy: test/differential/.
 */
const INLINE_OK = new Set(['--append', '--insert', '--delete', '--table', '--match', '--dport', '--dports', '--tcp-flags', '--state', '--ctstate', '--wait']);
const MATCHES = new Set(['tcp', 'udp', 'multiport', 'state', 'conntrack']);
const L4_MATCHES = ['tcp', 'udp'] as const;
// Other iptables commands, for a clearer message than "unrecognised option".
const OTHER_COMMANDS = new Set([
  '-R', '--replace', '-C', '--check', '-L', '--list', '-S', '--list-rules', '-F', '--flush',
  '-Z', '--zero', '-N', '--new-chain', '-X', '--delete-chain', '-P', '--policy', '-E', '--rename-chain',
]);
const SHORT_OPTIONS = new Set(['A', 'I', 'D', 't', 's', 'd', 'i', 'p', 'm', 'j', 'w']);
const TCP_FLAGS_MASK = ['ACK', 'FIN', 'RST', 'SYN'];
const TYPOGRAPHIC_DASH = /^[\u2010-\u2015\u2212]/u;

function isOptionLike(w: Word): boolean {
  return w.text.startsWith('-') || w.text === '!';
}

function chain(w: Word): Hook {
  const h = CHAINS.get(w.text);
  if (h === undefined) fail(w, `chain '${w.text}' is not supported (only INPUT and FORWARD)`);
  return h;
}

/** `--tcp-flags MASK COMP`: only the spelling of --syn. */
function checkSynFlags(mask: Word, comp: Word): void {
  const set = (x: Word): string[] => [...new Set(x.text.toUpperCase().split(','))].sort();
  if (set(mask).join(',') !== TCP_FLAGS_MASK.join(',') || set(comp).join(',') !== 'SYN') {
    fail(mask, 'only --tcp-flags SYN,RST,ACK,FIN SYN (= --syn) is supported');
  }
}

/** Fails on an argument that is no option knockc knows, saying what it probably is. */
function unexpected(w: Word, name: string): never {
  if (OTHER_COMMANDS.has(name)) fail(w, `iptables command '${name}' is not a grant`);
  if (name.startsWith('-')) fail(w, 'unrecognised iptables option');
  if (TYPOGRAPHIC_DASH.test(name)) fail(w, "typographic dash instead of '-' or '--'");
  if (name.length === 1 && SHORT_OPTIONS.has(name)) fail(w, `unexpected argument '${name}' (missing '-'?)`);
  fail(w, `unexpected argument '${name}'`);
}

/** Fails on a match loaded (-m) but not used as iptables requires. `seen`: the options given. */
function checkMatchesUsed(matches: ReadonlyMap<string, Word>, proto: Proto | null | undefined, seen: ReadonlySet<string>): void {
  for (const m of L4_MATCHES) {
    const mw = matches.get(m);
    if (mw !== undefined && proto !== m) fail(mw, `-m ${m} needs -p ${m}`);
  }
  const multiport = matches.get('multiport');
  if (multiport !== undefined && !seen.has('dports')) fail(multiport, '-m multiport without --dports');
  const state = matches.get('state');
  if (state !== undefined && !seen.has('--state')) fail(state, '-m state without --state');
  const conntrack = matches.get('conntrack');
  if (conntrack !== undefined && !seen.has('--ctstate')) fail(conntrack, '-m conntrack without --ctstate');
}

export function analyseIptables(args: Args, tool: string, family: Family): GrantAction {
  let op: 'add' | 'delete' | undefined;
  let hook: Hook | undefined;
  let source = false;
  let daddr: string | null = null;
  let iif: string | null = null;
  let proto: Proto | null | undefined; // undefined: no -p given; null: -p all
  const matches = new Map<string, Word>();
  let dports: PortRange[] | null = null;
  let dportsFrom: 'dport' | 'multiport' | null = null;
  let synOnly = false;
  let newOnly = false;
  let accept = false;
  const seen = new Set<string>();
  // The matches in the order iptables loads them (-m, or an option of -p's protocol): a
  // rule's identity, which -D compares (`-m tcp` or another order makes another rule).
  const loaded: string[] = [];
  const load = (m: string): void => {
    if (!loaded.includes(m)) loaded.push(m);
  };

  const once = (key: string, w: Word): void => {
    if (seen.has(key)) fail(w, `'${w.text}' given twice`);
    seen.add(key);
  };
  // The layer-4 protocol whose match options (--dport, --syn) are loaded so far.
  const l4 = (): Proto | null => {
    if (proto === 'tcp' || proto === 'udp') return proto;
    if (matches.has('tcp')) return 'tcp';
    if (matches.has('udp')) return 'udp';
    return null;
  };
  const command = (w: Word, which: 'add' | 'delete'): void => {
    if (op !== undefined) fail(w, 'more than one iptables command');
    op = which;
  };

  // The option being read, and its value when written `--option=value`
  // (declared out of the loop: one `value` closure per command, not per word).
  let w: Word | undefined;
  let inline: Word | undefined;
  const value = (): Word => {
    const v = inline ?? args.value(w as Word);
    if (v.text === '!') fail(v, 'negation with ! is not supported');
    return v;
  };

  for (w = args.next(); w !== undefined; w = args.next()) {
    let name = w.text;
    inline = undefined;
    if (name.startsWith('--')) {
      const eq = name.indexOf('=');
      if (eq > 0) {
        inline = sliceWord(w, eq + 1);
        name = name.slice(0, eq);
      }
    }

    const long = LONG_NAMES.get(name) ?? name;
    if (inline !== undefined && !INLINE_OK.has(long) && long !== '--syn') {
      fail(w, `iptables does not read '${name}=VALUE' (it takes the whole word as the value and fails)`);
    }
    switch (long) {
      case '--append':
        command(w, 'add');
        hook = chain(value());
        break;
      case '--insert': {
        command(w, 'add');
        hook = chain(value());
        const p = args.peek();
        if (p !== undefined && !isOptionLike(p)) {
          const n = args.next() as Word;
          if (!/^[1-9][0-9]*$/.test(n.text)) fail(n, `bad rule number '${n.text}'`);
          // Inserting at N fails when the chain holds fewer than N - 1 rules at that moment.
          if (n.text !== '1') fail(n, `inserting at position ${n.text} fails when the chain holds fewer than ${Number(n.text) - 1} rules`, 'KC407');
        }
        break;
      }
      case '--delete': {
        command(w, 'delete');
        hook = chain(value());
        const p = args.peek();
        if (p !== undefined && !isOptionLike(p)) {
          fail(args.next() as Word, 'deleting a rule by its number is not supported (give the rule)');
        }
        break;
      }
      case '--table': {
        once('table', w);
        const v = value();
        if (v.text !== 'filter') fail(v, `table '${v.text}' is not supported (only filter)`);
        break;
      }
      case '--source': {
        once('source', w);
        const v = value();
        const fams = knockerFamilies(v);
        if (fams === null) fail(v, 'source is not %IP%');
        if (!fams.includes(family)) fail(v, `prefix length does not fit ${familyName(family)}`);
        source = true;
        break;
      }
      case '--destination': {
        once('destination', w);
        const v = value();
        const c = parseCidr(v.text);
        if (c === null) fail(v, `destination '${v.text}' is not an address or prefix`);
        if (c.family !== family) fail(v, `destination is not an ${familyName(family)} address`);
        daddr = c.value;
        break;
      }
      case '--in-interface':
        once('in-interface', w);
        iif = interfaceName(value());
        break;
      case '--protocol': {
        once('protocol', w);
        const v = value();
        const p = v.text.toLowerCase(); // iptables lower-cases it too
        if (p === 'tcp' || p === '6') proto = 'tcp';
        else if (p === 'udp' || p === '17') proto = 'udp';
        else if (p === 'all' || p === '0') proto = null;
        else fail(v, `protocol '${v.text}' is not supported (only tcp and udp)`);
        break;
      }
      case '--match': {
        const v = value();
        if (!MATCHES.has(v.text)) fail(v, `match '${v.text}' is not supported`);
        if (matches.has(v.text)) fail(v, `match '${v.text}' loaded twice`);
        // An option of -p's protocol loaded it already: iptables adds a second, empty one.
        if (loaded.includes(v.text)) fail(v, `match '${v.text}' is already loaded by an option before it`);
        matches.set(v.text, v);
        loaded.push(v.text);
        break;
      }
      case '--dport': {
        const p = l4();
        if (p === null) fail(w, `'${name}' needs -p tcp or -p udp before it`);
        if (dports !== null) fail(w, 'more than one destination port match');
        dports = [iptPortRange(value(), p)];
        dportsFrom = 'dport';
        load(p);
        break;
      }
      case '--dports': {
        if (!matches.has('multiport')) fail(w, `'${name}' needs -m multiport before it`);
        if (proto !== 'tcp' && proto !== 'udp') fail(w, '-m multiport needs -p tcp or -p udp before it');
        if (dports !== null) fail(w, 'more than one destination port match');
        dports = iptPortList(value(), proto);
        dportsFrom = 'multiport';
        seen.add('dports');
        break;
      }
      case '--syn':
        if (inline !== undefined) fail(w, `'${name}' takes no value`);
        if (l4() !== 'tcp') fail(w, "'--syn' needs -p tcp before it");
        once('tcp-flags', w);
        synOnly = true;
        load('tcp');
        break;
      case '--tcp-flags': {
        if (l4() !== 'tcp') fail(w, "'--tcp-flags' needs -p tcp before it");
        once('tcp-flags', w);
        const m = value();
        checkSynFlags(m, args.value(m));
        synOnly = true;
        load('tcp');
        break;
      }
      case '--state':
      case '--ctstate': {
        const match = name === '--state' ? 'state' : 'conntrack';
        if (!matches.has(match)) fail(w, `'${name}' needs -m ${match} before it`);
        once(name, w);
        const v = value();
        if (v.text.toUpperCase() !== 'NEW') fail(v, `state '${v.text}' is not supported (only NEW)`);
        newOnly = true;
        break;
      }
      case '--jump': {
        once('jump', w);
        const v = value();
        if (v.text !== 'ACCEPT') fail(v, `target '${v.text}' is not supported (only ACCEPT)`);
        accept = true;
        break;
      }
      case '--wait': {
        once('wait', w);
        // The seconds are optional: iptables takes the next word if it is no option.
        let n = inline;
        const p = args.peek();
        if (n === undefined && p !== undefined && !isOptionLike(p)) n = args.next();
        if (n !== undefined && !/^[0-9]+$/.test(n.text)) fail(n, `bad wait time '${n.text}'`);
        break;
      }
      case '!':
        fail(w, 'negation with ! is not supported');
      default:
        unexpected(w, name);
    }
  }

  const tool0 = args.command;
  if (op === undefined || hook === undefined) fail(tool0, 'no -A, -I or -D INPUT|FORWARD');
  if (!source) fail(tool0, 'source is not %IP% (no -s %IP%)');
  if (!accept) fail(tool0, 'no -j ACCEPT');
  checkMatchesUsed(matches, proto, seen);

  // Every port is no port match at all (iptables saves --dport 0:65535 as a bare -m tcp).
  const all = dports !== null && dports.length === 1 && dports[0]?.lo === 0 && dports[0]?.hi === 65535;
  const ports = dports === null || all ? '' : dports.map((r) => (r.lo === r.hi ? `${r.lo}` : `${r.lo}:${r.hi}`)).join(',');
  const part = (m: string): string => {
    if (m === 'tcp' || m === 'udp') return `${m}[${dportsFrom === 'dport' ? ports : ''}${m === 'tcp' && synOnly ? ' syn' : ''}]`;
    if (m === 'multiport') return `multiport[${ports}]`;
    return `${m}[NEW]`;
  };
  const rule = `${hook} d=${daddr ?? '*'} i=${iif ?? '*'} p=${proto ?? '*'} ${loaded.map(part).join(' ')}`;

  return {
    op,
    families: [family],
    target: {
      kind: 'filter',
      match: { hook, proto: proto ?? null, dports: all ? null : dports, daddr, iif, synOnly, newOnly },
    },
    rule,
    tool,
    // iptables and ip6tables share a back end; -legacy and -nft may be other rule sets than the plain name's.
    store: { name: tool.replace(/^ip6tables/, 'iptables'), kind: 'copies' },
    offset: tool0.start,
  };
}
