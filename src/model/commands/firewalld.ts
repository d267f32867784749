// firewall-cmd [--zone=Z] [-q] --add-rich-rule=RULE | --remove-rich-rule=RULE: understood,
// never compiled (KC408): the rule applies to its zone's interfaces and sources only, and
// which those are is firewalld's state when the command runs.
// with RULE: rule family="ipv4"|"ipv6" source address="%IP%"
//            [port port="N|A-B" protocol="tcp|udp" | service name="ssh|http|https"] accept
// (elements and attributes in any order, as firewalld reads them).

import type { Family } from '../grant.js';
import { Args, fail, failAt, offsetsOf, sliceWord, type Word } from './shell.js';
import { intersect, knockerFamilies, portNumber } from './values.js';

/** Services every firewalld defines (one TCP port each: ssh 22, http 80, https 443). */
const SERVICES = new Set(['ssh', 'http', 'https']);

interface RichToken {
  readonly word: Word; // the whole token, quotes removed
  readonly name: string; // element name, or attribute name
  readonly value?: Word; // attribute value
}

/** Splits a rich rule like Python's shlex.split, then `name=value` like firewalld's lexer. */
function richTokens(rule: Word): RichToken[] {
  const s = rule.text;
  const offsets = offsetsOf(rule);
  const tokens: RichToken[] = [];
  let i = 0;
  while (i < s.length) {
    if (/[ \t\r\n]/.test(s[i] as string)) {
      i++;
      continue;
    }
    const from = i;
    const idx: number[] = []; // indices into s of the token's characters
    while (i < s.length && !/[ \t\r\n]/.test(s[i] as string)) {
      const c = s[i] as string;
      if (c === '"' || c === "'") {
        const close = s.indexOf(c, i + 1);
        if (close < 0) failAt(offsets[i] ?? rule.end, 1, 'unterminated quote in rich rule');
        for (let k = i + 1; k < close; k++) idx.push(k);
        i = close + 1;
      } else if (c === '\\') {
        failAt(offsets[i] ?? rule.end, 1, 'backslash in a rich rule is not supported');
      } else {
        idx.push(i);
        i++;
      }
    }
    const text = idx.map((k) => s[k]).join('');
    const map = idx.map((k) => offsets[k] as number);
    // As written, the token spans its quotes.
    const word: Word = { text, map, start: offsets[from] as number, end: (offsets[i - 1] as number) + 1 };
    const eq = text.indexOf('=');
    if (eq < 0) {
      tokens.push({ word, name: text });
    } else {
      if (eq === 0 || eq === text.length - 1 || text.indexOf('=', eq + 1) >= 0) {
        fail(word, `bad rich rule attribute '${text}'`);
      }
      tokens.push({ word, name: text.slice(0, eq), value: sliceWord(word, eq + 1) });
    }
  }
  return tokens;
}

/** Reads a rich rule as firewalld would, failing (KC401) on what knockc does not know. */
function checkRich(rule: Word): void {
  const toks = richTokens(rule);
  const first = toks[0];
  if (first === undefined || first.value !== undefined || first.name !== 'rule') {
    fail(first?.word ?? rule, "rich rule must start with 'rule'");
  }
  let family: Family | undefined;
  let source: readonly Family[] | undefined;
  let element = false;
  let accept = false;
  // An element's attributes: those it knows, up to the first it does not (as firewalld reads them).
  const attrs = (from: number, allowed: readonly string[]): [Map<string, RichToken>, number] => {
    const found = new Map<string, RichToken>();
    let k = from;
    for (let t = toks[k]; t?.value !== undefined && allowed.includes(t.name); t = toks[++k]) {
      if (found.has(t.name)) fail(t.word, `attribute '${t.name}' given twice`);
      found.set(t.name, t);
    }
    return [found, k];
  };

  let k = 1;
  while (k < toks.length) {
    const t = toks[k] as RichToken;
    if (t.value !== undefined) {
      if (t.name !== 'family') fail(t.word, `rich rule attribute '${t.name}' is not supported here`);
      if (family !== undefined) fail(t.word, "'family' given twice");
      if (t.value.text === 'ipv4') family = 'ip';
      else if (t.value.text === 'ipv6') family = 'ip6';
      else fail(t.value, `family '${t.value.text}' is not ipv4 or ipv6`);
      k++;
      continue;
    }
    if (t.name === 'source') {
      if (source !== undefined) fail(t.word, "more than one 'source'");
      const next = toks[k + 1];
      if (next?.name === 'not' || next?.name === 'NOT') fail(next.word, "'source not' is not supported");
      const [a, after] = attrs(k + 1, ['address']);
      const addr = a.get('address')?.value;
      if (addr === undefined) fail(t.word, "'source' without address=");
      const fams = knockerFamilies(addr);
      if (fams === null) fail(addr, 'source is not %IP%');
      source = fams;
      k = after;
    } else if (t.name === 'port') {
      if (element) fail(t.word, 'more than one rich rule element');
      element = true;
      const [a, after] = attrs(k + 1, ['port', 'protocol']);
      const port = a.get('port')?.value;
      const protocol = a.get('protocol')?.value;
      if (port === undefined || protocol === undefined) fail(t.word, "'port' needs port= and protocol=");
      if (protocol.text !== 'tcp' && protocol.text !== 'udp') {
        fail(protocol, `protocol '${protocol.text}' is not supported (only tcp and udp)`);
      }
      const [a1, a2, ...rest] = port.text.split('-');
      const lo = portNumber(a1 ?? '', 1);
      const hi = a2 === undefined ? lo : portNumber(a2, 1);
      if (lo === null || hi === null || rest.length > 0 || (a2 !== undefined && lo >= hi)) {
        fail(port, `bad port '${port.text}' (a number or a range A-B)`);
      }
      k = after;
    } else if (t.name === 'service') {
      if (element) fail(t.word, 'more than one rich rule element');
      element = true;
      const [a, after] = attrs(k + 1, ['name']);
      const name = a.get('name')?.value;
      if (name === undefined) fail(t.word, "'service' needs name=");
      if (!SERVICES.has(name.text)) fail(name, `service '${name.text}' is not known to knockc (ssh, http, https)`);
      k = after;
    } else if (t.name === 'accept') {
      if (accept) fail(t.word, "more than one 'accept'");
      accept = true;
      k++;
      const next = toks[k];
      if (next?.name === 'limit') fail(next.word, 'rate limits are not supported');
    } else {
      fail(t.word, `rich rule element '${t.name}' is not supported`);
    }
  }
  if (family === undefined) fail(first.word, 'firewalld needs family="ipv4" or "ipv6" with a source address');
  if (source === undefined) fail(first.word, 'source is not %IP% (no source address="%IP%")');
  if (!accept) fail(first.word, "rich rule without 'accept'");
  if (intersect(source, [family]).length === 0) fail(first.word, 'source prefix length does not fit the family');
}

export function analyseFirewallCmd(args: Args): never {
  const tool0 = args.command;
  let op: 'add' | 'delete' | undefined;
  let rule: Word | undefined;
  let zone: Word | undefined;
  for (let w = args.next(); w !== undefined; w = args.next()) {
    const eq = w.text.startsWith('--') ? w.text.indexOf('=') : -1;
    const name = eq < 0 ? w.text : w.text.slice(0, eq);
    const inline = eq < 0 ? undefined : sliceWord(w, eq + 1);
    switch (name) {
      case '--add-rich-rule':
      case '--remove-rich-rule':
        if (op !== undefined) fail(w, 'only one rich rule per command');
        op = name === '--add-rich-rule' ? 'add' : 'delete';
        rule = inline ?? args.value(w);
        break;
      case '--zone': {
        if (zone !== undefined) fail(w, "'--zone' given twice");
        zone = w;
        const z = inline ?? args.value(w);
        if (!/^[A-Za-z0-9_+-]+$/.test(z.text)) fail(z, `bad zone name '${z.text}'`);
        break;
      }
      case '-q':
      case '--quiet':
        if (inline !== undefined) fail(w, `'${name}' takes no value`);
        break;
      case '--permanent':
        fail(w, '--permanent changes only the saved configuration, not the running firewall');
      case '--timeout':
        fail(w, '--timeout (a rule firewalld removes by itself) is not supported');
      default:
        fail(w, 'unrecognised firewall-cmd option');
    }
  }
  if (op === undefined || rule === undefined) fail(tool0, 'no --add-rich-rule or --remove-rich-rule');
  checkRich(rule);
  // The rule lands in a zone (the default one without --zone), and applies only to the
  // interfaces and sources that zone holds at that moment, none of which the compiled rules
  // can see: checked against the real firewalld (test/lab/hostfw-differential.test.ts).
  fail(zone ?? tool0, "a firewalld rule applies only to the interfaces and sources of its zone (the default zone without --zone), which knockc cannot see", 'KC408');
}
