// The small part of /bin/sh that knockd's command lines need: words with
// quotes and backslashes, and the separators `;`, `&&` and `||` (an and-or
// list: the joins are kept, since `A && B` runs B only when A succeeds). Every other shell
// construct is kept as a "problem" on the word where it occurs, so that the
// command analysers report it when (and only if) they reach it, in line order.

/** One shell word after quote removal, with where each character came from. */
export interface Word {
  /** The word as the command receives it (quotes and backslashes removed). */
  readonly text: string;
  /** map[i] is the offset in the line of text[i]; absent when that is start + i (see offsetsOf). */
  readonly map?: readonly number[];
  /** Offset of the word's first source character (an opening quote included). */
  readonly start: number;
  /** Offset just past the word's last source character. */
  readonly end: number;
  /** The first construct in this word that knockc does not model. */
  readonly problem?: Problem;
}

export interface Problem {
  readonly token: string;
  readonly offset: number;
  readonly reason: string;
}

/** A simple command: its words, the first being the command name. Never empty. */
export type ShellCommand = readonly Word[];

/** How a command is joined to the one before it: always run, run on success, run on failure. */
export type Join = ';' | '&&' | '||';

/** One command of a list and the operator before it (';' for the first). */
export interface Listed {
  readonly join: Join;
  readonly words: ShellCommand;
}

/**
 * Thrown by the analysers; turned into an opaque result at the top, whose
 * token is the line's text from `offset` to `end`: the token as written,
 * quotes included, so that offset + token.length spans it exactly.
 */
export class Opaque extends Error {
  constructor(
    readonly offset: number,
    readonly end: number,
    readonly reason: string,
    readonly code: OpaqueCode = 'KC401',
  ) {
    super(reason);
  }
}

/**
 * Why a line goes to the runtime: KC401 knockc cannot tell what it does; KC407 what it does
 * depends on the firewall's state when it runs; KC408 knockc understands it but cannot
 * reproduce it exactly in the kernel.
 */
export type OpaqueCode = 'KC401' | 'KC407' | 'KC408';

export function fail(word: Word, reason: string, code?: OpaqueCode): never {
  throw new Opaque(word.start, word.end, reason, code);
}

/** Fails at `length` characters of the line from `offset`. */
export function failAt(offset: number, length: number, reason: string, code?: OpaqueCode): never {
  throw new Opaque(offset, offset + length, reason, code);
}

/** Throws the word's problem, if it has one; returns the word otherwise. */
export function checked(word: Word): Word {
  if (word.problem) failAt(word.problem.offset, word.problem.token.length, word.problem.reason);
  return word;
}

/** Where each character of the word came from in the line (map[i] for text[i]). */
export function offsetsOf(word: Word): readonly number[] {
  return word.map ?? Array.from({ length: word.text.length }, (_, k) => word.start + k);
}

/** Part of a word (text.slice(from, to)), keeping the character offsets. */
export function sliceWord(word: Word, from: number, to: number = word.text.length): Word {
  const map = offsetsOf(word).slice(from, to);
  const first = map[0];
  const last = map[map.length - 1];
  return {
    text: word.text.slice(from, to),
    map,
    start: first ?? word.end,
    end: last === undefined ? word.end : last + 1,
  };
}

/** Reads the arguments of one command, left to right. */
export class Args {
  private index = 1;
  constructor(private readonly words: ShellCommand) {}

  /** The command name word. */
  get command(): Word {
    return this.words[0] as Word;
  }

  /** The next word, not consumed and not checked. */
  peek(): Word | undefined {
    return this.words[this.index];
  }

  /** Consumes the next word; throws if it holds an unsupported shell construct. */
  next(): Word | undefined {
    const w = this.words[this.index];
    if (w === undefined) return undefined;
    this.index++;
    return checked(w);
  }

  /** Consumes the value of option `after`, which must be there. */
  value(after: Word): Word {
    const w = this.next();
    if (w === undefined) fail(after, `missing value after '${after.text}'`);
    return w;
  }
}

const BLANK = new Set([' ', '\t']);
const OPERATOR_START = new Set([';', '&', '|', '<', '>', '(', ')']);
// Unicode spaces that look like blanks but are ordinary characters to the shell
// (tutorials copied from web pages or PDFs are full of U+00A0).
const FAKE_SPACE = /[\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]/u;
const DQ_ESCAPABLE = new Set(['$', '`', '"', '\\', '\n']);

/**
 * Splits a command line into simple commands at `;`, `&&`, `||` and newlines
 * (outside quotes), keeping how each is joined to the one before. Unsupported
 * constructs become problems on words; an empty command before a separator
 * becomes a command of one problem word.
 */
export function splitShell(line: string): Listed[] {
  return plainCommand(line) ?? splitShellSlow(line);
}

/**
 * A line of PLAIN words and spaces only (nearly every command line): one simple command,
 * its words found by looking for spaces, with no per-character work.
 */
function plainCommand(line: string): Listed[] | null {
  if (NOT_PLAIN_LINE.test(line)) return null;
  const words: Word[] = [];
  for (let at = 0; at < line.length; ) {
    const space = line.indexOf(' ', at);
    const end = space < 0 ? line.length : space;
    if (end > at) words.push({ text: line.slice(at, end), start: at, end });
    at = end + 1;
  }
  return words.length > 0 ? [{ join: ';', words }] : [];
}

function splitShellSlow(line: string): Listed[] {
  const commands: Listed[] = [];
  let words: Word[] = [];
  let join: Join = ';'; // how the command being read is joined to the one before
  let pending: Word | undefined; // a `&&` or `||` still waiting for its right-hand command
  const n = line.length;
  let i = 0;

  const problemWord = (token: string, offset: number, reason: string): Word => ({
    text: token,
    map: Array.from(token, (_, k) => offset + k),
    start: offset,
    end: offset + token.length,
    problem: { token, offset, reason },
  });
  const endCommand = (sep: string, at: number): void => {
    if (words.length > 0) {
      commands.push({ join, words });
      words = [];
    } else if (sep !== '\n') {
      commands.push({ join, words: [problemWord(sep, at, `empty command before '${sep}'`)] });
    }
    join = sep === '&&' || sep === '||' ? sep : ';';
  };

  while (i < n) {
    const c = line[i] as string;
    if (BLANK.has(c)) {
      i++;
      continue;
    }
    if (c === '\n') {
      // A newline right after `&&` or `||` continues the list.
      if (pending === undefined) endCommand('\n', i);
      i++;
      continue;
    }
    if (c === '#') {
      // A comment runs to the end of its line.
      const nl = line.indexOf('\n', i);
      i = nl < 0 ? n : nl;
      continue;
    }
    pending = undefined;
    if (OPERATOR_START.has(c)) {
      const two = line.slice(i, i + 2);
      if (c === ';' && two !== ';;') {
        endCommand(';', i);
        i++;
      } else if (two === '&&' || two === '||') {
        endCommand(two, i);
        pending = problemWord(two, i, `'${two}' with no command after it`);
        i += 2;
      } else {
        const op = operatorAt(line, i);
        words.push(problemWord(op.token, i, op.reason));
        i += op.token.length;
      }
      continue;
    }
    const word = readWord(line, i);
    i = word.end;
    words.push(word);
  }
  if (pending !== undefined) commands.push({ join, words: [pending] });
  else if (words.length > 0) commands.push({ join, words });
  return commands;
}

function operatorAt(line: string, i: number): { token: string; reason: string } {
  const rest = line.slice(i);
  if (rest.startsWith(';;')) return { token: ';;', reason: "';;' outside 'case' is a shell syntax error" };
  if (rest.startsWith('|')) return { token: '|', reason: 'pipes are not supported' };
  if (rest.startsWith('&')) return { token: '&', reason: "background '&' is not supported" };
  if (rest.startsWith('(') || rest.startsWith(')')) {
    return { token: rest.slice(0, 1), reason: 'subshells and grouping are not supported' };
  }
  const redirect = /^(<<-|<<|>>|<&|>&|<>|>\||<|>)/.exec(rest);
  return { token: redirect ? (redirect[0] as string) : rest.slice(0, 1), reason: 'redirections are not supported' };
}

/**
 * A character a line of plain words cannot hold: one outside printable ASCII and the space,
 * or a quote, backslash, operator, expansion, glob, tilde or comment character.
 */
const NOT_PLAIN_LINE = /[^ -~]|['"\\$`*?[~#;&|<>()]/;

/**
 * Printable ASCII that is an ordinary character everywhere in a word: not a blank, quote,
 * backslash, operator, expansion, glob, tilde, comment or redirection digit's neighbour.
 */
const PLAIN = Uint8Array.from({ length: 128 }, (_, c) => (c > 0x20 && !NOT_PLAIN_LINE.test(String.fromCharCode(c)) ? 1 : 0));

/**
 * A word of only PLAIN characters, followed by a blank, a newline or the end: its text is
 * the line's slice, so it needs no map. Null when readWordSlow must decide (quotes,
 * expansions, operators right after the word...).
 */
function plainWord(line: string, start: number): Word | null {
  const n = line.length;
  let i = start;
  while (i < n) {
    const c = line.charCodeAt(i);
    if (c < 128 && PLAIN[c] === 1) i++;
    else if (c === 0x20 || c === 0x09 || c === 0x0a) break;
    else return null;
  }
  return { text: line.slice(start, i), start, end: i };
}

function readWord(line: string, start: number): Word {
  return plainWord(line, start) ?? readWordSlow(line, start);
}

function readWordSlow(line: string, start: number): Word {
  const n = line.length;
  let text = '';
  const map: number[] = [];
  let problem: Problem | undefined;
  let quoted = false;
  const note = (token: string, offset: number, reason: string): void => {
    problem ??= { token, offset, reason };
  };
  const put = (ch: string, at: number): void => {
    text += ch;
    map.push(at);
  };
  const unquoted = (ch: string, at: number): void => {
    if (ch === '$') {
      note(expansionToken(line, at), at, 'shell expansion ($) is not supported');
    } else if (ch === '`') {
      note('`', at, 'command substitution is not supported');
    } else if (ch === '*' || ch === '?' || ch === '[') {
      note(ch, at, `glob character '${ch}' is not supported`);
    } else if (ch === '~' && at === start) {
      note('~', at, 'tilde expansion is not supported');
    } else if (FAKE_SPACE.test(ch)) {
      note(ch, at, fakeSpaceReason(ch));
    }
    put(ch, at);
  };

  let i = start;
  while (i < n) {
    const c = line[i] as string;
    if (BLANK.has(c) || c === '\n' || OPERATOR_START.has(c)) break;
    if (c === "'") {
      quoted = true;
      const close = line.indexOf("'", i + 1);
      if (close < 0) {
        note("'", i, 'unterminated single quote');
        for (let k = i + 1; k < n; k++) put(line[k] as string, k);
        i = n;
        break;
      }
      for (let k = i + 1; k < close; k++) put(line[k] as string, k);
      i = close + 1;
    } else if (c === '"') {
      quoted = true;
      const open = i;
      i++;
      let closed = false;
      while (i < n) {
        const d = line[i] as string;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < n && DQ_ESCAPABLE.has(line[i + 1] as string)) {
          if (line[i + 1] !== '\n') put(line[i + 1] as string, i + 1);
          i += 2;
          continue;
        }
        if (d === '$') note(expansionToken(line, i), i, 'shell expansion ($) is not supported');
        else if (d === '`') note('`', i, 'command substitution is not supported');
        put(d, i);
        i++;
      }
      if (!closed) note('"', open, 'unterminated double quote');
    } else if (c === '\\') {
      if (i + 1 >= n) {
        note('\\', i, 'backslash at the end of the line');
        put('\\', i);
        i++;
      } else {
        if (line[i + 1] !== '\n') put(line[i + 1] as string, i + 1);
        i += 2;
      }
    } else {
      unquoted(c, i);
      i++;
    }
  }
  // `2>file`: an unquoted all-digit word right before a redirection is its fd.
  if (!quoted && /^[0-9]+$/.test(text) && (line[i] === '<' || line[i] === '>')) {
    note(line.slice(start, i + 1), start, 'redirections are not supported');
  }
  return problem ? { text, map, start, end: i, problem } : { text, map, start, end: i };
}

function expansionToken(line: string, at: number): string {
  const m = /^\$(\{|\(|[A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])?/.exec(line.slice(at));
  return m ? (m[0] as string) : '$';
}

function fakeSpaceReason(ch: string): string {
  const code = (ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  return `U+${code} looks like a space but does not separate words for the shell`;
}
