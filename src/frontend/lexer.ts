// Tokens of one knockd.conf line. knockd classifies a whole trimmed line at
// once (comment, section header, directive with or without '='), so the
// tokens are line-shaped: custom matchers anchored where the classification
// allows them, and the parser only checks their order.
import type { CustomPatternMatcherFunc, IToken } from 'chevrotain';
import { createToken, Lexer } from './chevrotain.js';

const BLANKS = /^[ \t\r\f\v]*$/;

/** Matches `re` at `offset` only when nothing but blanks precedes it on the line. */
function atLineStart(re: RegExp): CustomPatternMatcherFunc {
  const sticky = new RegExp(re.source, 'y');
  return (text, offset) => {
    if (!BLANKS.test(text.slice(0, offset))) return null;
    sticky.lastIndex = offset;
    return sticky.exec(text);
  };
}

export const Blank = createToken({ name: 'Blank', pattern: /[ \t\r\f\v]+/, group: Lexer.SKIPPED });
/** `#` as the first non-blank character: the whole line is a comment. */
export const Comment = createToken({ name: 'Comment', pattern: atLineStart(/#[^]*/), line_breaks: false });
/** `[name]` spanning the whole trimmed line (knockd checks first and last character). */
export const Section = createToken({
  name: 'Section',
  pattern: atLineStart(/\[[^]*\](?=[ \t\r\f\v]*$)/),
  line_breaks: false,
});
/** Everything before the first `=` of a directive line (may be blank-padded or empty). */
export const Key = createToken({ name: 'Key', pattern: atLineStart(/[^=]+(?==)/), line_breaks: false });
/** Only the FIRST `=` splits the line (strsep); later ones belong to the value. */
export const Equals = createToken({
  name: 'Equals',
  pattern: (text, offset) => (text[offset] === '=' && !text.slice(0, offset).includes('=') ? (['='] as unknown as RegExpExecArray) : null),
  line_breaks: false,
});
/** Everything after the first `=`: values may hold `=`, `#`, brackets and blanks. */
export const Value = createToken({
  name: 'Value',
  pattern: (text, offset) => {
    if (offset === 0 || !text.slice(0, offset).includes('=')) return null;
    const m = /^[^]*?(?=[ \t\r\f\v]*$)/.exec(text.slice(offset));
    return m && m[0].length > 0 ? ([m[0]] as unknown as RegExpExecArray) : null;
  },
  line_breaks: false,
});
/** A line with no `=` at all, e.g. the bare `UseSyslog` flag. */
export const Word = createToken({
  name: 'Word',
  pattern: (text, offset) => {
    if (text.includes('=') || !BLANKS.test(text.slice(0, offset))) return null;
    const m = /^[^]*?(?=[ \t\r\f\v]*$)/.exec(text.slice(offset));
    return m && m[0].length > 0 ? ([m[0]] as unknown as RegExpExecArray) : null;
  },
  line_breaks: false,
});

export const allTokens = [Blank, Comment, Section, Key, Equals, Value, Word];

export const lineLexer = new Lexer(allTokens, {
  positionTracking: 'onlyOffset',
  ensureOptimizations: false,
  safeMode: true,
});

export function lexLine(text: string): IToken[] {
  const result = lineLexer.tokenize(text);
  if (result.errors.length > 0) {
    // Every character sequence is classifiable; a lexer error is a bug here.
    throw new Error(`internal: cannot lex line ${JSON.stringify(text)}`);
  }
  return result.tokens;
}
