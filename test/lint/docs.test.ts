// docs/lint-codes.md's table of lint rules is generated from codes.ts; this keeps it
// in step (regenerate with `npm run docs`).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_CODES } from '../../src/diagnostics/codes.js';
import { END_MARKER, exampleCell, LINT_CODES_DOC, renderLintRules, START_MARKER, updateReadme } from '../../src/tools/gen-docs.js';

const DOC = join(resolve(import.meta.dirname, '../..'), LINT_CODES_DOC);

describe('docs/lint-codes.md lint rules table', () => {
  const doc = readFileSync(DOC, 'utf8');

  it('has the markers', () => {
    expect(doc).toContain(START_MARKER);
    expect(doc).toContain(END_MARKER);
    expect(doc.indexOf(START_MARKER)).toBeLessThan(doc.indexOf(END_MARKER));
  });

  it('is up to date with src/diagnostics/codes.ts', () => {
    const fresh = updateReadme(doc);
    if (fresh !== doc) {
      throw new Error(`${LINT_CODES_DOC} lint rules table is out of date: run npm run docs`);
    }
  });

  it('lists every code once, with its severity, title, hint and example', () => {
    const section = renderLintRules();
    for (const c of ALL_CODES) {
      const rows = section.split('\n').filter((l) => l.startsWith(`| ${c.code} |`));
      expect(rows, c.code).toHaveLength(1);
      expect(rows[0]).toContain(`| ${c.severity} |`);
      expect(rows[0]).toContain(exampleCell(c.example));
    }
  });

  it('renders examples as one-line inline code (⏎ for line breaks) and described inputs in italics', () => {
    expect(exampleCell('[door]\nsequence = 7000')).toBe('`[door] ⏎ sequence = 7000`');
    expect(exampleCell('(a directory)')).toBe('*a directory*');
    expect(exampleCell('a|b')).toBe('`a\\|b`');
    expect(exampleCell('run `x`')).toBe('`` run `x` ``');
  });

  it('only touches the text between the markers', () => {
    const doc = `# t\nbefore\n${START_MARKER}\nold\n${END_MARKER}\nafter\n`;
    expect(updateReadme(doc, 'NEW')).toBe(`# t\nbefore\n${START_MARKER}\nNEW\n${END_MARKER}\nafter\n`);
    expect(() => updateReadme('# no markers\n')).toThrow(/markers/);
  });
});
