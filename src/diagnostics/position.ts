// Where something is in an input file: every finding points at one.
export interface Position {
  readonly file: string;
  /** 1-based physical line. */
  readonly line: number;
  /** 1-based column, in characters of the decoded line. */
  readonly col: number;
}

export interface Range {
  readonly start: Position;
  readonly end: Position;
}
