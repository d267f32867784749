// Grammar of knockd.conf lines, over the line-shaped tokens of lexer.ts:
//   lines := line*
//   line  := Comment | Section | Key? Equals Value? | Word
// A line without tokens (blank) has no node of its own.
import type { IToken } from 'chevrotain';
import { EmbeddedActionsParser } from './chevrotain.js';
import { allTokens, Comment, Equals, Key, lexLines, Section, Value, Word } from './lexer.js';

export type LineNode =
  | { readonly kind: 'empty' }
  | { readonly kind: 'comment'; readonly token: IToken }
  | { readonly kind: 'section'; readonly token: IToken }
  | { readonly kind: 'directive'; readonly key: IToken | null; readonly equals: IToken; readonly value: IToken | null }
  | { readonly kind: 'bare'; readonly word: IToken };

/** The node of a line with tokens. */
type TokenLine = Exclude<LineNode, { kind: 'empty' }>;

const EMPTY: LineNode = { kind: 'empty' };

class LinesParser extends EmbeddedActionsParser {
  constructor() {
    super(allTokens, { recoveryEnabled: false });
    this.performSelfAnalysis();
  }

  // Built once: written inline, these functions would be allocated again for every line.
  private readonly key = (): IToken => this.CONSUME(Key);
  private readonly value = (): IToken => this.CONSUME(Value);
  private readonly lineShapes = [
    { ALT: (): TokenLine => ({ kind: 'comment', token: this.CONSUME(Comment) }) },
    { ALT: (): TokenLine => ({ kind: 'section', token: this.CONSUME(Section) }) },
    { ALT: (): TokenLine => ({ kind: 'bare', word: this.CONSUME(Word) }) },
    {
      ALT: (): TokenLine => {
        const key = this.OPTION(this.key) ?? null;
        const equals = this.CONSUME(Equals);
        const value = this.OPTION2(this.value) ?? null;
        return { kind: 'directive', key, equals, value };
      },
    },
  ];

  public lines = this.RULE('lines', (): TokenLine[] => {
    const nodes: TokenLine[] = [];
    this.MANY(() => nodes.push(this.OR(this.lineShapes)));
    return nodes;
  });
}

const parser = new LinesParser();

function firstToken(node: TokenLine): IToken {
  switch (node.kind) {
    case 'directive':
      return node.key ?? node.equals;
    case 'bare':
      return node.word;
    default:
      return node.token;
  }
}

/**
 * Lines per chevrotain call: one call per line costs more than the parsing,
 * and the tokens of a whole big file would outlive several garbage collections.
 */
const BATCH = 256;

/**
 * Calls `each` with every line (none may hold a '\n') and its node, in order;
 * `start` is where the line starts in the lexed text, so a token's column in
 * its line is `startOffset - start`. Lines are taken from `lines` a batch at a
 * time: only one batch is held at once. `each` returns false to stop reading.
 */
export function parseLines<L extends { readonly text: string }>(
  lines: Iterable<L>,
  each: (line: L, node: LineNode, start: number) => boolean | void,
): void {
  const batch: L[] = [];
  for (const line of lines) {
    batch.push(line);
    if (batch.length === BATCH) {
      if (!parseBatch(batch, each)) return;
      batch.length = 0;
    }
  }
  if (batch.length > 0) parseBatch(batch, each);
}

function parseBatch<L extends { readonly text: string }>(batch: readonly L[], each: (line: L, node: LineNode, start: number) => boolean | void): boolean {
  parser.input = lexLines(batch.map((l) => l.text).join('\n'));
  const nodes = parser.lines();
  if (parser.errors.length > 0) {
    // The lexer only produces token orders the grammar accepts.
    throw new Error(`internal: cannot parse: ${parser.errors[0]?.message}`);
  }
  // A node belongs to the line its first token is on; lines without one are empty.
  let start = 0;
  let next = 0;
  for (const line of batch) {
    const node = nodes[next];
    const end = start + line.text.length;
    let more: boolean | void;
    if (node !== undefined && firstToken(node).startOffset < end) {
      more = each(line, node, start);
      next++;
    } else more = each(line, EMPTY, start);
    if (more === false) return false;
    start = end + 1;
  }
  return true;
}
