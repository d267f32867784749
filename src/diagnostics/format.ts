// Output formats for findings: gcc-style text, JSON, and SARIF 2.1.0 for
// GitHub code scanning. Each format is produced in pieces (the *Chunks
// generators): many findings never become one giant string. When a file has
// more findings than are shown (limit.ts), every format ends that file with
// their count: a text line, "notShown" in JSON, a tool notification in SARIF.
import { plural } from '../text.js';
import { ALL_CODES } from './codes.js';
import type { Diagnostic } from './diagnostic.js';
import { tallyTotal, type NotShown } from './limit.js';

export type OutputFormat = 'text' | 'json' | 'sarif';

/** Findings and what was not shown of them; `more` says how to see more (e.g. "raise --max-findings"). */
export interface FindingsOutput {
  readonly findings: readonly Diagnostic[];
  readonly notShown?: readonly NotShown[];
  readonly more?: string;
}

/** "f.conf: 4193304 more findings not shown (4193304 errors); raise --max-findings to see more". */
export function notShownText(n: NotShown, more = ''): string {
  const parts = [
    n.error ? plural(n.error, 'error') : '',
    n.warning ? plural(n.warning, 'warning') : '',
    n.info ? plural(n.info, 'note') : '',
  ].filter((p) => p !== '');
  const total = tallyTotal(n);
  return `${n.file}: ${total} more ${total === 1 ? 'finding' : 'findings'} not shown (${parts.join(', ')})${more ? `; ${more}` : ''}`;
}

export function* textChunks(out: FindingsOutput, color = false): Generator<string, void, undefined> {
  const paint = (sev: string, s: string): string => {
    if (!color) return s;
    const c = sev === 'error' ? '31' : sev === 'warning' ? '33' : '36';
    return `\x1b[1;${c}m${s}\x1b[0m`;
  };
  // Each file's count comes after its last finding.
  const pending = new Map((out.notShown ?? []).map((n) => [n.file, n]));
  const flush = (file: string | null): string => {
    const n = file === null ? undefined : pending.get(file);
    if (!n) return '';
    pending.delete(n.file);
    return `${notShownText(n, out.more)}\n`;
  };
  let file: string | null = null;
  for (const d of out.findings) {
    const p = d.range.start;
    const before = p.file !== file ? flush(file) : '';
    file = p.file;
    yield `${before}${p.file}:${p.line}:${p.col}: ${paint(d.severity, d.severity)}: ${d.message} [${d.code}]\n    hint: ${d.hint}\n`;
  }
  yield flush(file);
  for (const n of pending.values()) yield `${notShownText(n, out.more)}\n`;
}

export function formatText(ds: readonly Diagnostic[], color = false, notShown: readonly NotShown[] = [], more = ''): string {
  return [...textChunks({ findings: ds, notShown, more }, color)].join('');
}

export interface JsonFinding {
  code: string;
  severity: string;
  message: string;
  hint: string;
  file: string;
  line: number;
  col: number;
  endLine: number;
  endCol: number;
}

function jsonFinding(d: Diagnostic): JsonFinding {
  return {
    code: d.code,
    severity: d.severity,
    message: d.message,
    hint: d.hint,
    file: d.range.start.file,
    line: d.range.start.line,
    col: d.range.start.col,
    endLine: d.range.end.line,
    endCol: d.range.end.col,
  };
}

export function toJson(ds: readonly Diagnostic[]): JsonFinding[] {
  return ds.map(jsonFinding);
}

/** JSON.stringify(items, null, 2) as it reads inside a document, its closing bracket indented by `pad` spaces, item by item. */
function* jsonArrayChunks<T>(items: Iterable<T>, pad: number, toValue: (item: T) => unknown): Generator<string, void, undefined> {
  const inner = ' '.repeat(pad + 2);
  let first = true;
  for (const item of items) {
    yield `${first ? '[\n' : ',\n'}${inner}${JSON.stringify(toValue(item), null, 2).replace(/\n/g, `\n${inner}`)}`;
    first = false;
  }
  yield first ? '[]' : `\n${' '.repeat(pad)}]`;
}

/** Where an array goes in a document stringified around it (JSON escapes the NUL bytes). */
const HOLE = '\u0000knockc-array\u0000';
const HOLE_TEXT = JSON.stringify(HOLE);

/** `doc` stringified with 2-space indents, with the array `items` where `doc` holds HOLE (once; at `pad` spaces). */
function* jsonDocChunks<T>(doc: unknown, pad: number, items: Iterable<T>, toValue: (item: T) => unknown): Generator<string, void, undefined> {
  const text = JSON.stringify(doc, null, 2);
  const at = text.indexOf(HOLE_TEXT);
  if (at < 0) throw new Error('internal: no place for the array');
  yield text.slice(0, at);
  yield* jsonArrayChunks(items, pad, toValue);
  yield `${text.slice(at + HOLE_TEXT.length)}\n`;
}

/**
 * `{ "version": 1, "findings": [...] }`, and `"notShown": [{ file, error, warning, info }]`
 * when a file had more findings than are shown.
 */
export function jsonChunks(out: FindingsOutput): Generator<string, void, undefined> {
  const notShown = out.notShown ?? [];
  const doc = { version: 1, findings: HOLE, ...(notShown.length ? { notShown: notShown.map((n) => ({ file: n.file, error: n.error, warning: n.warning, info: n.info })) } : {}) };
  return jsonDocChunks(doc, 2, out.findings, jsonFinding);
}

export function formatJson(ds: readonly Diagnostic[], notShown: readonly NotShown[] = []): string {
  return [...jsonChunks({ findings: ds, notShown })].join('');
}

const SARIF_LEVEL = { error: 'error', warning: 'warning', info: 'note' } as const;

export function sarifChunks(out: FindingsOutput, toolVersion: string): Generator<string, void, undefined> {
  const usedCodes = ALL_CODES;
  const ruleIndex = new Map(usedCodes.map((c, i) => [c.code, i]));
  const notShown = out.notShown ?? [];
  const sarif = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'knockc',
            version: toolVersion,
            informationUri: 'https://github.com/knockc/knockc',
            rules: usedCodes.map((c) => ({
              id: c.code,
              name: c.title.replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ? ch.toUpperCase() : '')),
              shortDescription: { text: c.title },
              help: { text: c.hint },
              defaultConfiguration: { level: SARIF_LEVEL[c.severity] },
            })),
          },
        },
        // The results of a file end at the limit; the tool says how many more there were.
        ...(notShown.length
          ? {
              invocations: [
                {
                  executionSuccessful: true,
                  toolExecutionNotifications: notShown.map((n) => ({
                    level: 'warning',
                    message: { text: notShownText(n, out.more) },
                    locations: [{ physicalLocation: { artifactLocation: { uri: toUri(n.file) } } }],
                    properties: { notShown: { error: n.error, warning: n.warning, info: n.info } },
                  })),
                },
              ],
            }
          : {}),
        results: HOLE,
      },
    ],
  };
  return jsonDocChunks(sarif, 6, out.findings, (d: Diagnostic) => ({
    ruleId: d.code,
    ruleIndex: ruleIndex.get(d.code) ?? -1,
    level: SARIF_LEVEL[d.severity],
    message: { text: `${d.message} (hint: ${d.hint})` },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: toUri(d.range.start.file) },
          region: {
            startLine: d.range.start.line,
            startColumn: d.range.start.col,
            endLine: d.range.end.line,
            endColumn: Math.max(d.range.end.col, d.range.start.col),
          },
        },
      },
    ],
  }));
}

export function formatSarif(ds: readonly Diagnostic[], toolVersion: string, notShown: readonly NotShown[] = []): string {
  return [...sarifChunks({ findings: ds, notShown }, toolVersion)].join('');
}

/** SARIF wants URIs; relative paths stay relative to the repository root. */
function toUri(file: string): string {
  if (file === '<stdin>') return 'stdin';
  // GitHub code scanning links only paths relative to the repository (the working directory in CI).
  const cwd = process.cwd().replace(/\/$/, '') + '/';
  if (file.startsWith(cwd)) file = file.slice(cwd.length);
  return file.split('/').map(encodeURIComponent).join('/');
}
