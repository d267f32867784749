import type { Range } from './position.js';

export type Severity = 'error' | 'warning' | 'info';

export interface Diagnostic {
  readonly code: string;
  readonly severity: Severity;
  readonly message: string;
  /** Where the finding is; a file-level finding points at 1:1. */
  readonly range: Range;
  readonly hint: string;
}

export function fileStart(file: string): Range {
  return { start: { file, line: 1, col: 1 }, end: { file, line: 1, col: 1 } };
}

export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  const fa = a.range.start;
  const fb = b.range.start;
  if (fa.file !== fb.file) return fa.file < fb.file ? -1 : 1;
  return fa.line - fb.line || fa.col - fb.col || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0);
}

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === 'error');
}
