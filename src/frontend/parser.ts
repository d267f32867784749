// Grammar of one knockd.conf line, over the line-shaped tokens of lexer.ts:
//   line := Comment | Section | Key? Equals Value? | Word | (nothing)
import type { IToken } from 'chevrotain';
import { EmbeddedActionsParser } from './chevrotain.js';
import { allTokens, Comment, Equals, Key, lexLine, Section, Value, Word } from './lexer.js';

export type LineNode =
  | { readonly kind: 'empty' }
  | { readonly kind: 'comment'; readonly token: IToken }
  | { readonly kind: 'section'; readonly token: IToken }
  | { readonly kind: 'directive'; readonly key: IToken | null; readonly equals: IToken; readonly value: IToken | null }
  | { readonly kind: 'bare'; readonly word: IToken };

class LineParser extends EmbeddedActionsParser {
  constructor() {
    super(allTokens, { recoveryEnabled: false });
    this.performSelfAnalysis();
  }

  public line = this.RULE('line', (): LineNode => {
    return this.OR([
      { ALT: () => ({ kind: 'comment', token: this.CONSUME(Comment) }) as LineNode },
      { ALT: () => ({ kind: 'section', token: this.CONSUME(Section) }) as LineNode },
      { ALT: () => ({ kind: 'bare', word: this.CONSUME(Word) }) as LineNode },
      { ALT: () => this.SUBRULE(this.directive) },
      { ALT: () => ({ kind: 'empty' }) as LineNode },
    ]);
  });

  private directive = this.RULE('directive', (): LineNode => {
    const key = this.OPTION(() => this.CONSUME(Key)) ?? null;
    const equals = this.CONSUME(Equals);
    const value = this.OPTION2(() => this.CONSUME(Value)) ?? null;
    return { kind: 'directive', key, equals, value };
  });
}

const parser = new LineParser();

export function parseLine(text: string): LineNode {
  parser.input = lexLine(text);
  const node = parser.line();
  if (parser.errors.length > 0) {
    // The lexer only produces token orders the grammar accepts.
    throw new Error(`internal: cannot parse line ${JSON.stringify(text)}: ${parser.errors[0]?.message}`);
  }
  return node;
}
