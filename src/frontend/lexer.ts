// Tokens of knockd.conf lines, lexed as one text with the lines joined by
// '\n'. knockd classifies a whole trimmed line at once (comment, section
// header, directive with or without '='), so the tokens are line-shaped:
// custom matchers anchored where the classification allows them, and the
// parser only checks their order. Line ends are skipped like blanks: only a
// Value follows an Equals and only an Equals a Key, so the order of the tokens
// tells where each line starts.
import type { CustomPatternMatcherFunc, IToken } from 'chevrotain';
import { createToken, Lexer } from './chevrotain.js';

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0c || c === 0x0b;
}

/** How knockd classifies a trimmed line: '#' first, then '[' first and ']' last, then with or without '='. */
type Shape = 'blank' | 'comment' | 'section' | 'directive' | 'word';

/** The line being lexed, measured once as the lexer enters it, for the matchers of its tokens. */
class LineView {
  /** Offset of the '\n' (or the text's end) closing the line. */
  end = 0;
  contentStart = 0;
  contentEnd = 0;
  firstEquals = -1;
  shape: Shape = 'blank';
  /** The first '=' at or after the line's start (text length if none), kept: lines are measured in order. */
  private nextEquals = -1;

  /** Measures the first line of a new text. */
  reset(text: string): void {
    this.nextEquals = -1;
    this.measure(text, 0);
  }

  measure(text: string, start: number): void {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl;
    let contentStart = start;
    while (contentStart < end && isBlank(text.charCodeAt(contentStart))) contentStart++;
    let contentEnd = end;
    while (contentEnd > contentStart && isBlank(text.charCodeAt(contentEnd - 1))) contentEnd--;
    if (this.nextEquals < start) {
      const eq = text.indexOf('=', start);
      this.nextEquals = eq < 0 ? text.length : eq;
    }
    this.end = end;
    this.contentStart = contentStart;
    this.contentEnd = contentEnd;
    this.firstEquals = this.nextEquals < end ? this.nextEquals : -1;
    this.shape =
      contentStart === contentEnd ? 'blank'
      : text[contentStart] === '#' ? 'comment'
      : text[contentStart] === '[' && text[contentEnd - 1] === ']' ? 'section'
      : this.firstEquals >= 0 ? 'directive'
      : 'word';
  }
}

const line = new LineView();

/** chevrotain takes a custom match's text at once, so one array carries every match. */
const match = [''] as unknown as RegExpExecArray;

/** A matcher's answer: the text from `offset` to `to`, or no match. */
function upTo(text: string, offset: number, to: number): RegExpExecArray | null {
  if (to <= offset) return null;
  match[0] = text.slice(offset, to);
  return match;
}

/** Matches from the first non-blank character of a line of `shape` to `to(line)`. */
function lineHead(shape: Shape, to: (l: LineView) => number): CustomPatternMatcherFunc {
  return (text, offset) => (line.shape === shape && offset === line.contentStart ? upTo(text, offset, to(line)) : null);
}

// Blank is tried first: it moves `line` to each new line, and the others are only asked at a
// non-blank character of it. Each matches only where its line's shape allows, in an order that
// tries the common ones first.

/** Blanks, and the line ends between them. */
export const Blank = createToken({
  name: 'Blank',
  pattern: (text, offset) => {
    let end = offset;
    let lineStart = -1;
    for (;;) {
      const c = text.charCodeAt(end);
      if (c === 0x0a) lineStart = end + 1;
      else if (!isBlank(c)) break;
      end++;
    }
    if (lineStart >= 0) line.measure(text, lineStart);
    return upTo(text, offset, end);
  },
  group: Lexer.SKIPPED,
  line_breaks: true,
});
/** `#` as the first non-blank character: the whole line is a comment. */
export const Comment = createToken({ name: 'Comment', pattern: lineHead('comment', (l) => l.end), line_breaks: false });
/** `[name]` spanning the whole trimmed line (knockd checks first and last character). */
export const Section = createToken({ name: 'Section', pattern: lineHead('section', (l) => l.contentEnd), line_breaks: false });
/** Everything before the first `=` of a directive line (may be blank-padded or empty). */
export const Key = createToken({ name: 'Key', pattern: lineHead('directive', (l) => l.firstEquals), line_breaks: false });
/** Everything after the first `=`: values may hold `=`, `#`, brackets and blanks. */
export const Value = createToken({
  name: 'Value',
  pattern: (text, offset) => (line.shape === 'directive' && offset > line.firstEquals ? upTo(text, offset, line.contentEnd) : null),
  line_breaks: false,
});
/** Only the FIRST `=` splits the line (strsep): Value is tried before, and takes any later one. */
export const Equals = createToken({ name: 'Equals', pattern: '=' });
/** A line with no `=` at all, e.g. the bare `UseSyslog` flag. */
export const Word = createToken({ name: 'Word', pattern: lineHead('word', (l) => l.contentEnd), line_breaks: false });

export const allTokens = [Blank, Value, Key, Equals, Section, Comment, Word];

const linesLexer = new Lexer(allTokens, {
  positionTracking: 'onlyOffset',
  ensureOptimizations: false,
  safeMode: true,
});

/** Lexes lines joined by '\n' (none of them holds one). */
export function lexLines(text: string): IToken[] {
  line.reset(text);
  const result = linesLexer.tokenize(text);
  if (result.errors.length > 0) {
    // Every character sequence is classifiable; a lexer error is a bug here.
    throw new Error(`internal: cannot lex ${JSON.stringify(result.errors[0]?.message)}`);
  }
  return result.tokens;
}
