// Regenerates the table of finding codes in docs/lint-codes.md (between the
// lint-rules markers) from src/diagnostics/codes.ts:
//   npm run docs
// test/lint/docs.test.ts fails when the table is out of date.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../package.js';
import { ALL_CODES, type CodeInfo } from '../diagnostics/codes.js';

/** The page holding the generated table. */
export const LINT_CODES_DOC = 'docs/lint-codes.md';
export const START_MARKER = '<!-- lint-rules:start -->';
export const END_MARKER = '<!-- lint-rules:end -->';

interface Group {
  readonly title: string;
  readonly intro: string;
  readonly has: (code: string) => boolean;
}

const GROUPS: readonly Group[] = [
  { title: 'Input', intro: 'The file cannot be used at all (exit code 2).', has: (c) => /^KC0/.test(c) },
  { title: 'Errors: what knockd 0.8 rejects', intro: 'knockd refuses to start on these; so does knockc (exit code 1).', has: (c) => /^KC1/.test(c) },
  {
    title: 'Warnings: what knockd accepts but silently misreads',
    intro: 'knockd starts, but does something the author almost certainly did not mean (exit code 0, 1 with `--strict`).',
    has: (c) => /^KC2/.test(c),
  },
  { title: 'About the compiled result', intro: 'What compiling the config implies (runtime needed, interface, logging, state limits).', has: (c) => /^KC4/.test(c) },
  { title: 'Other inputs', intro: 'Findings about files other than knockd.conf.', has: (c) => /^KC5/.test(c) },
];

/** Table cells cannot hold "|" or line breaks. */
function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** An example as inline code, line breaks shown as ⏎; a described input "(...)" as italic text. */
export function exampleCell(example: string): string {
  if (/^\(.*\)$/s.test(example)) return `*${cell(example.slice(1, -1))}*`;
  const body = example.replace(/\r?\n/g, ' ⏎ ').replace(/\|/g, '\\|');
  const ticks = body.includes('`') ? '``' : '`';
  const pad = ticks.length > 1 || body.startsWith('`') || body.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${body}${pad}${ticks}`;
}

function row(c: CodeInfo): string {
  return `| ${c.code} | ${c.severity} | ${cell(c.title)} | ${cell(c.hint)} | ${exampleCell(c.example)} |`;
}

/** The generated section, without the markers. */
export function renderLintRules(codes: readonly CodeInfo[] = ALL_CODES): string {
  const sorted = [...codes].sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  const out: string[] = [
    '<!-- Generated from src/diagnostics/codes.ts by `npm run docs`; do not edit by hand. -->',
    '',
    `${sorted.length} codes. In examples, ⏎ is a line break. Each code has a real config that triggers it in`,
    '`fixtures/lint/` (or a generated input in `test/lint/codes.test.ts`, which checks them all).',
  ];
  const placed = new Set<string>();
  for (const g of [...GROUPS, { title: 'Other', intro: '', has: () => true }]) {
    const members = sorted.filter((c) => !placed.has(c.code) && g.has(c.code));
    if (members.length === 0) continue;
    for (const c of members) placed.add(c.code);
    out.push('', `### ${g.title}`, '');
    if (g.intro) out.push(g.intro, '');
    out.push('| Code | Severity | Finding | Hint | Example |', '| --- | --- | --- | --- | --- |');
    for (const c of members) out.push(row(c));
  }
  return out.join('\n');
}

/** Replaces what is between the markers; throws when they are missing. */
export function updateReadme(readme: string, section: string = renderLintRules()): string {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start < 0 || end < start) throw new Error(`docs/lint-codes.md has no ${START_MARKER} ... ${END_MARKER} markers`);
  return `${readme.slice(0, start + START_MARKER.length)}\n${section}\n${readme.slice(end)}`;
}

function main(): void {
  const file = join(packageRoot(), LINT_CODES_DOC);
  const before = readFileSync(file, 'utf8');
  const after = updateReadme(before);
  if (after === before) {
    process.stdout.write(`${LINT_CODES_DOC}: lint rules table is up to date\n`);
    return;
  }
  writeFileSync(file, after);
  process.stdout.write(`${LINT_CODES_DOC}: lint rules table regenerated (${ALL_CODES.length} codes)\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    main();
  } catch (e) {
    process.stderr.write(`gen-docs: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
