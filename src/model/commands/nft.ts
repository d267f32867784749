// nft add|delete element [ip|ip6|inet] TABLE SET { %IP% }
// nft joins its arguments with blanks and parses the result, so
// `nft add element inet t s '{ %IP% }'` and `nft 'add element inet t s { %IP% }'`
// mean the same. One command, one element, no element options.
//
// Understood, never compiled (KC408): what the element does depends on the user's set (its
// type decides which family's address fits, its flags whether rules may fill it, the
// user's rules what it opens), none of which the compiled rules can see or check. The
// runtime runs the command as knockd would.

import { Args, fail, failAt, offsetsOf, sliceWord, type Word } from './shell.js';
import { KNOCKER } from './values.js';

const FAMILIES = new Set(['ip', 'ip6', 'inet']);
const OTHER_FAMILIES = new Set(['arp', 'bridge', 'netdev']);
const IDENTIFIER = /^[A-Za-z_.][A-Za-z0-9_./-]*$/;

interface NftToken {
  readonly word: Word;
  readonly quoted: boolean;
}

/** nft's arguments joined by blanks, as nft does, keeping line offsets. */
function joined(args: Args): Word | undefined {
  let text = '';
  const map: number[] = [];
  let first: Word | undefined;
  let last: Word | undefined;
  for (let w = args.next(); w !== undefined; w = args.next()) {
    if (w.text === '-f') fail(w, "'nft -f' (a ruleset file) is not supported");
    if (w.text.startsWith('-')) fail(w, 'nft options are not supported');
    if (last !== undefined) {
      text += ' ';
      map.push(last.end);
    }
    first ??= w;
    text += w.text;
    map.push(...offsetsOf(w));
    last = w;
  }
  if (first === undefined || last === undefined) return undefined;
  return { text, map, start: first.start, end: last.end };
}

function nftTokens(all: Word): NftToken[] {
  const s = all.text;
  const offsets = offsetsOf(all);
  const out: NftToken[] = [];
  const word = (from: number, to: number): Word => sliceWord(all, from, to);
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (/[ \t\r\n]/.test(c)) {
      i++;
    } else if ('{},;'.includes(c)) {
      out.push({ word: word(i, i + 1), quoted: false });
      i++;
    } else if (c === '"') {
      const close = s.indexOf('"', i + 1);
      if (close < 0) fail(word(i, i + 1), 'unterminated quote');
      const w = word(i + 1, close);
      // The token as written spans the quotes.
      out.push({ word: { ...w, start: offsets[i] ?? w.start, end: (offsets[close] ?? w.end - 1) + 1 }, quoted: true });
      i = close + 1;
    } else {
      let j = i;
      while (j < s.length && !/[ \t\r\n{},;"]/.test(s[j] as string)) j++;
      out.push({ word: word(i, j), quoted: false });
      i = j;
    }
  }
  return out;
}

export function analyseNft(args: Args): never {
  const tool0 = args.command;
  const all = joined(args);
  if (all === undefined) fail(tool0, 'nft without a command');
  const toks = nftTokens(all);
  const end: Word = { text: '', map: [], start: all.end, end: all.end };
  function bad(t: NftToken | undefined, reason: string): never {
    fail(t?.word ?? end, reason);
  }

  const [verb, element] = toks;
  if (verb === undefined || verb.quoted || (verb.word.text !== 'add' && verb.word.text !== 'delete')) {
    bad(verb, 'only nft add element / delete element are supported');
  }
  if (element === undefined || element.quoted || element.word.text !== 'element') {
    bad(element, 'only nft add element / delete element are supported');
  }
  let k = 2;
  const names: NftToken[] = [];
  const isName = (t: NftToken): boolean => t.quoted || !['{', '}', ',', ';', KNOCKER].includes(t.word.text);
  for (let t = toks[k]; t !== undefined && isName(t); t = toks[++k]) names.push(t);
  let family = 'ip'; // nft's default family
  const isFamily = (t: NftToken | undefined): boolean =>
    t !== undefined && !t.quoted && (FAMILIES.has(t.word.text) || OTHER_FAMILIES.has(t.word.text));
  if (names.length > 3) bad(names[3], 'expected [FAMILY] TABLE SET { %IP% }');
  if (names.length < 2) bad(toks[k], 'expected [FAMILY] TABLE SET { %IP% }');
  for (const n of names) if (!IDENTIFIER.test(n.word.text)) bad(n, `bad nft name '${n.word.text}'`);
  if (names.length === 3) {
    const f = names.shift() as NftToken;
    if (OTHER_FAMILIES.has(f.word.text)) bad(f, `family '${f.word.text}' is not supported (ip, ip6, inet)`);
    if (!isFamily(f)) bad(f, `unknown nft family '${f.word.text}'`);
    family = f.word.text;
  } else if (isFamily(names[0])) {
    bad(toks[k], 'missing set name after the table');
  }
  const [table, set] = names as [NftToken, NftToken];

  const open = toks[k];
  if (open?.word.text !== '{' || open.quoted) bad(open, "expected '{ %IP% }'");
  const elem = toks[k + 1];
  if (elem === undefined || elem.quoted || elem.word.text !== KNOCKER) bad(elem, 'set element is not %IP%');
  const close = toks[k + 2];
  if (close === undefined || close.quoted || close.word.text !== '}') {
    if (close?.word.text === ',') bad(close, 'only one set element is supported');
    if (close !== undefined && ['timeout', 'expires', 'comment'].includes(close.word.text)) {
      bad(close, `element option '${close.word.text}' is not supported`);
    }
    bad(close, "expected '}'");
  }
  const extra = toks[k + 3];
  if (extra?.word.text === ';') bad(extra, 'only one nft command is supported');
  if (extra !== undefined) bad(extra, 'unexpected text after the element');

  failAt(tool0.start, tool0.end - tool0.start, `nft set element of ${family} ${table.word.text} @${set.word.text}: the compiled rules cannot see that set's type and flags`, 'KC408');
}
