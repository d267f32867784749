// ufw: `ufw [delete | prepend] allow [in [on IFACE]] from %IP%
// [to any|ADDR] [port P] [proto tcp|udp]` (keywords after `allow` in any
// order, as ufw reads them). Only the user rule is modelled: ufw's own
// before/after chains are not, so the grant means "INPUT accept from %IP%".

import type { Family, GrantAction, GrantMatch, PortRange } from '../grant.js';
import { Args, fail, type Word } from './shell.js';
import { BOTH, interfaceName, intersect, knockerFamilies, parseCidr, portNumber, type Proto } from './values.js';

/** ufw ports: `N`, `A:B` or a list of those; numeric only, 1-65535, at most 15 (a range counts 2). */
function ufwPorts(word: Word): PortRange[] {
  const out: PortRange[] = [];
  let count = 0;
  for (const item of word.text.split(',')) {
    const [a, b, ...rest] = item.split(':');
    const lo = portNumber(a ?? '', 1);
    const hi = b === undefined ? lo : portNumber(b, 1);
    if (lo === null || hi === null || rest.length > 0) {
      if (/^[A-Za-z]/.test(word.text)) fail(word, `service name '${word.text}' is not supported (use the port number)`);
      fail(word, `bad port '${word.text}'`);
    }
    if (b !== undefined && lo >= hi) fail(word, `bad port range '${item}'`);
    out.push({ lo, hi });
    count += b === undefined ? 1 : 2;
  }
  if (count > 15) fail(word, 'ufw takes at most 15 ports (a range counts as 2)');
  return out;
}

export function analyseUfw(args: Args, tool: string): GrantAction[] {
  const tool0 = args.command;
  let op: 'add' | 'delete' = 'add';
  let w = args.next();
  if (w?.text === 'delete') {
    op = 'delete';
    w = args.next();
  } else if (w?.text === 'insert') {
    const n = args.value(w);
    if (!/^[1-9][0-9]*$/.test(n.text)) fail(n, `bad rule number '${n.text}'`);
    // ufw refuses a position past its rule count ("Invalid position '1'" with no rules, exit 1).
    fail(n, `'insert ${n.text}' fails unless ufw already holds ${n.text} rules`, 'KC407');
  } else if (w?.text === 'prepend') {
    w = args.next();
  }
  if (w === undefined) fail(tool0, 'no ufw rule');
  if (op === 'delete' && /^[0-9]+$/.test(w.text)) {
    fail(w, 'deleting a ufw rule by its number is not supported (give the rule)');
  }
  if (w.text === 'deny' || w.text === 'reject' || w.text === 'limit') fail(w, `ufw ${w.text} is not a grant`);
  if (w.text !== 'allow') fail(w, `ufw command '${w.text}' is not supported`);

  let iif: string | null = null;
  let proto: Proto | undefined;
  let families: readonly Family[] | undefined; // set by `from %IP%`
  let toFamilies: readonly Family[] = BOTH;
  let daddr: string | null = null;
  let dports: PortRange[] | null = null;
  let portWord: Word | undefined;
  let where: '' | 'from' | 'to' = '';
  const seen = new Set<string>();
  const once = (x: Word): void => {
    if (seen.has(x.text)) fail(x, `'${x.text}' given twice`);
    seen.add(x.text);
  };

  // `allow in on IFACE ...` / `allow in ...`: only right after the action.
  if (args.peek()?.text === 'in') {
    args.next();
    if (args.peek()?.text === 'on') {
      const on = args.next() as Word;
      iif = interfaceName(args.value(on));
    }
  }

  for (let k = args.next(); k !== undefined; k = args.next()) {
    switch (k.text) {
      case 'from': {
        once(k);
        const v = args.value(k);
        const fams = knockerFamilies(v);
        if (fams === null) fail(v, 'source is not %IP%');
        // ufw takes 2001:db8::2/32 as the /32 network (exit 0): a prefix is not the knocker alone.
        if (fams.length === 1) fail(v, `ufw reads '${v.text}' of a knocker of the other family as a whole network`);
        families = fams;
        where = 'from';
        break;
      }
      case 'to': {
        once(k);
        const v = args.value(k);
        if (v.text.toLowerCase() !== 'any') {
          const c = parseCidr(v.text.toLowerCase());
          if (c === null) fail(v, `destination '${v.text}' is not an address, a prefix or 'any'`);
          toFamilies = [c.family];
          daddr = c.value;
        }
        where = 'to';
        break;
      }
      case 'port':
        if (where === '') fail(k, "'port' needs 'to any' before it");
        if (where === 'from') fail(k, "'port' right after 'from' is a source port (write 'to any port N')");
        once(k);
        portWord = args.value(k);
        dports = ufwPorts(portWord);
        break;
      case 'proto': {
        once(k);
        const v = args.value(k);
        if (v.text !== 'tcp' && v.text !== 'udp') fail(v, `protocol '${v.text}' is not supported (only tcp and udp)`);
        proto = v.text;
        break;
      }
      case 'in':
      case 'on':
        fail(k, "'in on IFACE' must come right after 'allow'");
      case 'out':
        fail(k, 'outgoing rules are not grants');
      case 'app':
        fail(k, 'application profiles are not supported');
      case 'comment':
        fail(k, 'ufw comments are not supported');
      case 'log':
      case 'log-all':
        fail(k, 'ufw logging is not supported');
      default:
        fail(k, `unexpected ufw argument '${k.text}'`);
    }
  }

  if (families === undefined) fail(tool0, 'source is not %IP% (no from %IP%)');
  const fams = intersect(families, toFamilies);
  if (fams.length === 0) fail(tool0, "'from' and 'to' are of different address families");
  const single = dports !== null && dports.length === 1 && dports[0]?.lo === dports[0]?.hi;
  if (portWord !== undefined && proto === undefined && !single) {
    fail(portWord, 'a port list or range needs proto tcp or proto udp');
  }

  // ufw tells its rules apart as written: `port 22` (tcp and udp) is not `port 22 proto tcp`,
  // and deleting one leaves the other.
  const rule = `in=${iif ?? '*'} to=${daddr ?? 'any'} port=${portWord?.text ?? '*'} proto=${proto ?? 'any'}`;
  const action = (p: Proto | null): GrantAction => {
    const match: GrantMatch = { hook: 'input', proto: p, dports, daddr, iif, synOnly: false, newOnly: false };
    return { op, families: fams, target: { kind: 'filter', match }, rule, tool, store: { name: 'ufw', kind: 'set' }, offset: tool0.start };
  };
  // A port without proto: ufw adds the rule for tcp and for udp.
  if (dports !== null && proto === undefined) return [action('tcp'), action('udp')];
  return [action(proto ?? null)];
}
