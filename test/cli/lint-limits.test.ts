// Issue 17 #6: a 16 MiB config of "[a]" lines (4 million doors) made lint and compile
// exit 70 ("internal error: RangeError: Invalid string length" in formatText) after
// 40 s and 4.4 GB. Now: at most --max-findings findings per file (1000 by default) in
// every format, then the count of the rest; KC117 where a config has more doors than
// knockc reads (10,000); memory bounded. The built CLI runs in a child with a 64 MB
// heap: the old code needed more than 500 MB for an 8 MiB file and dies there.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv-draft-04';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_FINDINGS } from '../../src/diagnostics/limit.js';
import { MAX_DOORS } from '../../src/frontend/build.js';
import { MAX_CONFIG_BYTES } from '../../src/frontend/load.js';
import { CLI, ensureBuilt, ROOT, type CliRun } from './built.js';

const HEAP_MB = 64;

let tmp = '';
let doors = '';
let directives = '';
beforeAll(() => {
  ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'knockc-limits-'));
  // Exactly the size limit: 4 Mi lines each.
  doors = join(tmp, 'a.conf');
  writeFileSync(doors, '[a]\n'.repeat(MAX_CONFIG_BYTES / 4));
  directives = join(tmp, 'x.conf');
  writeFileSync(directives, 'x=y\n'.repeat(MAX_CONFIG_BYTES / 4));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** The built CLI with a small heap: what the old code needed for these files is far more. */
function small(args: readonly string[], input?: Uint8Array): CliRun {
  const r = spawnSync(process.execPath, [`--max-old-space-size=${HEAP_MB}`, CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: 80_000,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    ...(input ? { input } : {}),
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function noCrash(r: CliRun): void {
  expect(r.stderr).not.toMatch(/^\s+at |internal error|heap out of memory|RangeError/m);
  expect(r.stdout).not.toMatch(/^\s+at /m);
}

const lastLine = (s: string): string => s.trimEnd().split('\n').at(-1)!;
const textFindings = (s: string): string[] => [...s.matchAll(/^.+:(\d+):\d+: (?:error|warning|info): .* \[(KC\d+)\]$/gm)].map((m) => `${m[2]}@${m[1]}`);

interface JsonOut {
  version: number;
  findings: Array<{ code: string; line: number; file: string; severity: string }>;
  notShown?: Array<{ file: string; error: number; warning: number; info: number }>;
}

// Each run reads 16 MiB: seconds on a busy machine.
describe(`16 MiB of "[a]" lines (4 million doors), ${HEAP_MB} MB of heap`, { timeout: 90_000 }, () => {
  const notShown = MAX_DOORS - DEFAULT_MAX_FINDINGS;

  it('lint (text): the first 1000 findings, KC117 at door 10,001, the count of the rest; exit 1', () => {
    const r = small(['lint', doors]);
    noCrash(r);
    expect(r.status).toBe(1);
    const found = textFindings(r.stdout);
    expect(found).toHaveLength(DEFAULT_MAX_FINDINGS + 1);
    expect(found.slice(0, 2)).toEqual(['KC110@1', 'KC110@2']);
    expect(found.at(-2)).toBe(`KC110@${DEFAULT_MAX_FINDINGS}`);
    expect(found.at(-1)).toBe(`KC117@${MAX_DOORS + 1}`);
    expect(r.stdout).toContain(`${doors}:${MAX_DOORS + 1}:1: error: door ${MAX_DOORS + 1}: more than ${MAX_DOORS} doors, knockc stops reading here`);
    expect(lastLine(r.stdout)).toBe(`${doors}: ${notShown} more findings not shown (${notShown} errors); the first ${DEFAULT_MAX_FINDINGS} are shown, raise --max-findings to see more`);
    // Every finding counts in the summary, shown or not.
    expect(r.stderr).toBe(`1 file(s): ${MAX_DOORS + 1} error(s), 0 warning(s), 0 note(s)\n`);
  });

  it('lint --format json: the findings, and "notShown" with the count of the rest', () => {
    const r = small(['lint', '-f', 'json', doors]);
    noCrash(r);
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout) as JsonOut;
    expect(out.version).toBe(1);
    expect(out.findings).toHaveLength(DEFAULT_MAX_FINDINGS + 1);
    expect(out.findings.at(-1)).toMatchObject({ code: 'KC117', line: MAX_DOORS + 1, severity: 'error' });
    expect(out.notShown).toEqual([{ file: doors, error: notShown, warning: 0, info: 0 }]);
  });

  it('lint --format sarif: valid SARIF 2.1.0, the results, and a tool notification with the count', () => {
    const r = small(['lint', '-f', 'sarif', doors]);
    noCrash(r);
    expect(r.status).toBe(1);
    const require = createRequire(import.meta.url);
    const schema = JSON.parse(readFileSync(require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'), 'utf8')) as object;
    const validate = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false, validateFormats: false, logger: false }).compile(schema);
    const doc = JSON.parse(r.stdout) as {
      runs: Array<{
        results: Array<{ ruleId: string }>;
        invocations: Array<{ executionSuccessful: boolean; toolExecutionNotifications: Array<{ level: string; message: { text: string }; properties: { notShown: object } }> }>;
      }>;
    };
    expect(validate(doc), JSON.stringify(validate.errors?.slice(0, 5), null, 2)).toBe(true);
    const run = doc.runs[0]!;
    expect(run.results).toHaveLength(DEFAULT_MAX_FINDINGS + 1);
    expect(run.results.at(-1)!.ruleId).toBe('KC117');
    expect(run.invocations).toHaveLength(1);
    const n = run.invocations[0]!.toolExecutionNotifications;
    expect(n).toHaveLength(1);
    expect(n[0]!.level).toBe('warning');
    expect(n[0]!.message.text).toMatch(new RegExp(`: ${notShown} more findings not shown \\(${notShown} errors\\)`));
    expect(n[0]!.properties.notShown).toEqual({ error: notShown, warning: 0, info: 0 });
  });

  it('compile: the first errors, KC117, and how many more; exit 1, nothing on stdout', () => {
    const r = small(['compile', doors]);
    noCrash(r);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(textFindings(r.stderr).at(-1)).toBe(`KC117@${MAX_DOORS + 1}`);
    expect(lastLine(r.stderr)).toBe(`knockc: ${notShown} more error(s) not shown (\`knockc lint --max-findings N\` lists more than the first ${DEFAULT_MAX_FINDINGS} findings)`);
  });

  it('the same on standard input', () => {
    const r = small(['lint', '-f', 'json', '-'], readFileSync(doors));
    noCrash(r);
    expect(r.status).toBe(1);
    expect((JSON.parse(r.stdout) as JsonOut).notShown).toEqual([{ file: '<stdin>', error: notShown, warning: 0, info: 0 }]);
  });
});

describe(`16 MiB of "x=y" lines (4 million findings, every line read), ${HEAP_MB} MB of heap`, { timeout: 90_000 }, () => {
  const total = MAX_CONFIG_BYTES / 4;

  it('lint counts every finding and shows the first 1000', () => {
    const r = small(['lint', directives]);
    noCrash(r);
    expect(r.status).toBe(1);
    expect(textFindings(r.stdout)).toEqual(Array.from({ length: DEFAULT_MAX_FINDINGS }, (_, i) => `KC102@${i + 1}`));
    expect(lastLine(r.stdout)).toMatch(new RegExp(`: ${total - DEFAULT_MAX_FINDINGS} more findings not shown \\(${total - DEFAULT_MAX_FINDINGS} errors\\);`));
    expect(r.stderr).toBe(`1 file(s): ${total} error(s), 0 warning(s), 0 note(s)\n`);
  });

  it('compile says how many errors it did not print', () => {
    const r = small(['compile', directives]);
    noCrash(r);
    expect(r.status).toBe(1);
    expect(lastLine(r.stderr)).toMatch(new RegExp(`^knockc: ${total - DEFAULT_MAX_FINDINGS} more error\\(s\\) not shown`));
  });
});

describe('--max-findings', () => {
  let warnThenError = '';
  let small1 = '';
  beforeAll(() => {
    // Five warnings (KC216) before the only error (KC101, line 8).
    warnThenError = join(tmp, 'warn-then-error.conf');
    writeFileSync(warnThenError, `[d]\nsequence=1,2,3\n${'sequence=1,2,3\n'.repeat(5)}[]\n`);
    small1 = join(tmp, 'small.conf');
    writeFileSync(small1, 'x=1\nx=2\nx=3\n');
  });

  it('N shows the first N per file; the count of the rest follows each file', () => {
    const r = small(['lint', '--max-findings', '2', small1, warnThenError]);
    noCrash(r);
    expect(r.stdout.split('\n').filter((l) => !l.startsWith('    hint: '))).toEqual([
      `${small1}:1:1: error: all directives must belong to a section [KC102]`,
      `${small1}:2:1: error: all directives must belong to a section [KC102]`,
      `${small1}: 1 more finding not shown (1 error); the first 2 are shown, raise --max-findings to see more`,
      `${warnThenError}:3:1: warning: sequence given again in [d]: this one wins over line 2 [KC216]`,
      `${warnThenError}:4:1: warning: sequence given again in [d]: this one wins over line 3 [KC216]`,
      `${warnThenError}: 4 more findings not shown (1 error, 3 warnings); the first 2 are shown, raise --max-findings to see more`,
      '',
    ]);
    expect(r.stderr).toBe('2 file(s): 4 error(s), 5 warning(s), 0 note(s)\n');
  });

  it('an error that is not shown still fails the run (exit 1)', () => {
    const r = small(['lint', '-f', 'json', '--max-findings', '2', warnThenError]);
    noCrash(r);
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout) as JsonOut;
    expect(out.findings.map((f) => f.severity)).toEqual(['warning', 'warning']);
    expect(out.notShown).toEqual([{ file: warnThenError, error: 1, warning: 3, info: 0 }]);
  });

  it('enough to show everything: no count, the output as before', () => {
    const r = small(['lint', '-f', 'json', '--max-findings', '6', warnThenError]);
    expect(Object.keys(JSON.parse(r.stdout) as object)).toEqual(['version', 'findings']);
    expect((JSON.parse(r.stdout) as JsonOut).findings).toHaveLength(6);
  });

  for (const bad of ['0', '-1', '1.5', 'ten', '']) {
    it(`"${bad}" is a usage error (exit 2)`, () => {
      const r = small(['lint', '--max-findings', bad, small1]);
      noCrash(r);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`knockc: --max-findings takes a whole number from 1, not "${bad}"`);
    });
  }
});
