// Output formats for findings: gcc-style text, JSON, and SARIF 2.1.0 for
// GitHub code scanning.
import { ALL_CODES } from './codes.js';
import type { Diagnostic } from './diagnostic.js';

export type OutputFormat = 'text' | 'json' | 'sarif';

export function formatText(ds: readonly Diagnostic[], color = false): string {
  const paint = (sev: string, s: string): string => {
    if (!color) return s;
    const c = sev === 'error' ? '31' : sev === 'warning' ? '33' : '36';
    return `\x1b[1;${c}m${s}\x1b[0m`;
  };
  return ds
    .map((d) => {
      const p = d.range.start;
      return `${p.file}:${p.line}:${p.col}: ${paint(d.severity, d.severity)}: ${d.message} [${d.code}]\n    hint: ${d.hint}\n`;
    })
    .join('');
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

export function toJson(ds: readonly Diagnostic[]): JsonFinding[] {
  return ds.map((d) => ({
    code: d.code,
    severity: d.severity,
    message: d.message,
    hint: d.hint,
    file: d.range.start.file,
    line: d.range.start.line,
    col: d.range.start.col,
    endLine: d.range.end.line,
    endCol: d.range.end.col,
  }));
}

export function formatJson(ds: readonly Diagnostic[]): string {
  return JSON.stringify({ version: 1, findings: toJson(ds) }, null, 2) + '\n';
}

const SARIF_LEVEL = { error: 'error', warning: 'warning', info: 'note' } as const;

export function formatSarif(ds: readonly Diagnostic[], toolVersion: string): string {
  const usedCodes = ALL_CODES;
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
        results: ds.map((d) => ({
          ruleId: d.code,
          ruleIndex: usedCodes.findIndex((c) => c.code === d.code),
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
        })),
      },
    ],
  };
  return JSON.stringify(sarif, null, 2) + '\n';
}

/** SARIF wants URIs; relative paths stay relative to the repository root. */
function toUri(file: string): string {
  if (file === '<stdin>') return 'stdin';
  // GitHub code scanning links only paths relative to the repository (the working directory in CI).
  const cwd = process.cwd().replace(/\/$/, '') + '/';
  if (file.startsWith(cwd)) file = file.slice(cwd.length);
  return file.split('/').map(encodeURIComponent).join('/');
}
