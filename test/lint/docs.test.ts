// The README's table of lint rules is generated from codes.ts; this keeps it
// in step (regenerate with `npm run docs`).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_CODES } from '../../src/diagnostics/codes.js';
import { END_MARKER, exampleCell, renderLintRules, START_MARKER, updateReadme } from '../../src/tools/gen-docs.js';

const README = join(resolve(import.meta.dirname, '../..'), 'README.md');

describe('README lint rules table', () => {
  const readme = readFileSync(README, 'utf8');

  it('has the markers', () => {
    expect(readme).toContain(START_MARKER);
    expect(readme).toContain(END_MARKER);
    expect(readme.indexOf(START_MARKER)).toBeLessThan(readme.indexOf(END_MARKER));
  });

  it('is up to date with src/diagnostics/codes.ts', () => {
    const fresh = updateReadme(readme);
    if (fresh !== readme) {
      throw new Error('README.md lint rules table is out of date: run npm run docs');
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
