// The built command line, run as a user would: exit codes, several files and
// standard input, the three finding formats (SARIF checked against the
// official 2.1.0 schema), explain for every seed, help for every command,
// and never a stack trace whatever the input.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv-draft-04';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_CODES } from '../../src/diagnostics/codes.js';
import { MAX_CONFIG_BYTES } from '../../src/frontend/load.js';
import { ensureBuilt, knockc, knockcAsync, pool, ROOT, type CliRun } from './built.js';

const CLEAN = 'fixtures/lint/clean.conf';
const WARN = 'fixtures/lint/KC214-one-knock.conf'; // warnings only
const ERR = 'fixtures/lint/KC106-port-out-of-range.conf'; // one error
const SEEDS = readdirSync(join(ROOT, 'fixtures')).filter((n) => /^seed-.*\.conf$/.test(n)).sort().map((n) => `fixtures/${n}`);
const CLEAN_TEXT = readFileSync(join(ROOT, CLEAN), 'utf8');
/** clean.conf without its Interface: one note (KC403), nothing else. */
const INFO_ONLY = CLEAN_TEXT.replace(/^\s*Interface = eth0\n/m, '');

let tmp = '';
beforeAll(() => {
  ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'knockc-cli-'));
  chmodSync(tmp, 0o755);
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const STACK = /^\s+at /m;
function noCrash(r: CliRun, what: string): void {
  expect(r.stderr, `${what}: stack trace`).not.toMatch(STACK);
  expect(r.stdout, `${what}: stack trace`).not.toMatch(STACK);
  expect(r.stderr, what).not.toContain('internal error');
  expect([0, 1, 2], `${what}: exit ${r.status}\n${r.stderr}`).toContain(r.status);
}

interface JsonOut {
  version: number;
  findings: Array<{ code: string; severity: string; message: string; hint: string; file: string; line: number; col: number; endLine: number; endCol: number }>;
}

// ------------------------------------------------------------------ lint exit codes

describe('knockc lint: exit codes', () => {
  it('0 for a clean config', () => {
    const r = knockc(['lint', CLEAN]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('1 file(s): 0 error(s), 0 warning(s), 0 note(s)\n');
  });

  it('0 for warnings, 1 with --strict', () => {
    const r = knockc(['lint', WARN]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(': warning: ');
    expect(knockc(['lint', '--strict', WARN]).status).toBe(1);
  });

  it('notes never fail, even with --strict', () => {
    const r = knockc(['lint', '--strict', '-'], { input: INFO_ONLY });
    expect(r.stdout).toMatch(/^<stdin>:\d+:\d+: info: .*\[KC403\]$/m);
    expect(r.status).toBe(0);
  });

  it('1 for an error finding (with or without --strict)', () => {
    const r = knockc(['lint', ERR]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^fixtures\/lint\/KC106-port-out-of-range\.conf:6:26: error: .* \[KC106\]\n {4}hint: .+$/m);
    expect(knockc(['lint', '--strict', ERR]).status).toBe(1);
  });

  it('2 for a missing file, a directory, or an unreadable one, even next to other findings', () => {
    for (const args of [['lint', 'no/such/knockd.conf'], ['lint', 'fixtures'], ['lint', ERR, 'no/such/knockd.conf', CLEAN], ['lint', '/proc/self/mem']]) {
      const r = knockc(args);
      noCrash(r, args.join(' '));
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout).toMatch(/\[KC00[12]\]/);
    }
  });

  it('2 for a file over 16 MiB (KC003)', () => {
    const huge = join(tmp, 'huge.conf');
    writeFileSync(huge, '');
    truncateSync(huge, MAX_CONFIG_BYTES + 1);
    const r = knockc(['lint', huge]);
    expect(r.status).toBe(2);
    expect(r.stdout).toContain('[KC003]');
  });

  it('2 for usage errors', () => {
    for (const args of [['lint'], ['lint', '--format', 'xml', CLEAN], ['lint', '--bogus', CLEAN], ['lint', '--target', 'pf', CLEAN], ['frobnicate'], []]) {
      const r = knockc(args);
      noCrash(r, args.join(' '));
      expect(r.status, `knockc ${args.join(' ')}`).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.length).toBeGreaterThan(0);
    }
  });

  it('2 for a file nobody can read (chmod 000; root runs without CAP_DAC_OVERRIDE)', () => {
    const isRoot = process.getuid?.() === 0;
    const file = join(tmp, 'secret.conf');
    writeFileSync(file, CLEAN_TEXT);
    chmodSync(file, 0o000);
    // Root reads anything: run the CLI as root without the capabilities that let it.
    const r = knockc(['lint', file], isRoot ? { dropCaps: ['dac_override', 'dac_read_search'] } : {});
    noCrash(r, 'chmod 000');
    expect(r.status).toBe(2);
    expect(r.stdout).toContain(`${file}:1:1: error: ${file}: Permission denied [KC001]`);
  });
});

// ------------------------------------------------------------------ several files, stdin

describe('knockc lint: several files and standard input', () => {
  it('reports every file, in the order given, with one summary line', () => {
    const r = knockc(['lint', '--format', 'json', WARN, ERR, CLEAN]);
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout) as JsonOut;
    expect([...new Set(out.findings.map((f) => f.file))]).toEqual([WARN, ERR]);
    const text = knockc(['lint', WARN, ERR, CLEAN]);
    expect(text.stderr).toBe(`3 file(s): 1 error(s), ${out.findings.filter((f) => f.severity === 'warning').length} warning(s), 0 note(s)\n`);
  });

  it('"-" reads standard input, named <stdin>', () => {
    const r = knockc(['lint', '-'], { input: readFileSync(join(ROOT, ERR)) });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^<stdin>:6:26: error: .*\[KC106\]$/m);
    const mixed = knockc(['lint', '--format', 'json', CLEAN, '-', WARN], { input: INFO_ONLY });
    expect(mixed.status).toBe(0);
    expect([...new Set((JSON.parse(mixed.stdout) as JsonOut).findings.map((f) => f.file))]).toEqual(['<stdin>', WARN]);
  });

  it('empty standard input is an empty, clean config', () => {
    const r = knockc(['lint', '-'], { input: '' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
  });

  it('more than 16 MiB on standard input: exit 2 (KC003), no hang', () => {
    const r = knockc(['lint', '-'], { input: new Uint8Array(MAX_CONFIG_BYTES + 1).fill(0x0a) });
    expect(r.status).toBe(2);
    expect(r.stdout).toContain('<stdin>:1:1: error: standard input: more than');
  });

  it('a config with 100,000 doors: KC117 at door 10,001 (knockd 0.8 cannot start with 4,000), exit 1, no stack trace', () => {
    const file = join(tmp, 'many-doors.conf');
    let text = '';
    for (let i = 0; i < 100_000; i++) text += `[d${i}]\nsequence=${(i % 60_000) + 1},${((i * 7) % 60_000) + 1},${((i * 13) % 60_000) + 1}\n`;
    writeFileSync(file, text);
    const r = knockc(['lint', '-f', 'json', file]);
    noCrash(r, 'many doors');
    expect(r.status).toBe(1);
    expect((JSON.parse(r.stdout) as JsonOut).findings.filter((f) => f.severity === 'error').map((f) => `${f.code}@${f.line}`)).toEqual(['KC117@20001']);
  }, 120_000);

  it('text output has no colour codes when not on a terminal', () => {
    expect(knockc(['lint', ERR]).stdout).not.toContain('\x1b[');
  });
});

// ------------------------------------------------------------------ formats

describe('knockc lint --format json', () => {
  it('has the documented shape and the same findings as the text output', () => {
    const r = knockc(['lint', '--format', 'json', ...SEEDS, ERR]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(''); // no summary line: stdout is pure JSON
    const out = JSON.parse(r.stdout) as JsonOut;
    expect(out.version).toBe(1);
    expect(out.findings.length).toBeGreaterThan(SEEDS.length);
    const codes = new Set(ALL_CODES.map((c) => c.code));
    for (const f of out.findings) {
      expect(Object.keys(f).sort()).toEqual(['code', 'col', 'endCol', 'endLine', 'file', 'hint', 'line', 'message', 'severity']);
      expect(codes.has(f.code), f.code).toBe(true);
      expect(['error', 'warning', 'info']).toContain(f.severity);
      expect(f.line).toBeGreaterThanOrEqual(1);
      expect(f.col).toBeGreaterThanOrEqual(1);
      expect(f.endLine > f.line || (f.endLine === f.line && f.endCol >= f.col)).toBe(true);
      expect(f.message.length).toBeGreaterThan(0);
      expect(f.hint).toBe(ALL_CODES.find((c) => c.code === f.code)!.hint);
    }
    const text = knockc(['lint', ...SEEDS, ERR]).stdout;
    const textFindings = [...text.matchAll(/^(.+):(\d+):(\d+): (error|warning|info): .* \[(KC\d+)\]$/gm)].map((m) => `${m[1]}:${m[2]}:${m[3]} ${m[4]} ${m[5]}`);
    expect(out.findings.map((f) => `${f.file}:${f.line}:${f.col} ${f.severity} ${f.code}`)).toEqual(textFindings);
  });

  it('a clean run is an empty list', () => {
    expect(JSON.parse(knockc(['lint', '-f', 'json', CLEAN]).stdout)).toEqual({ version: 1, findings: [] });
  });
});

describe('knockc lint --format sarif', () => {
  const require = createRequire(import.meta.url);
  const schemaPath = require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as object;
  // The official schema is draft-04; one of its patterns is not valid with the "u" flag.
  const validate = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false, validateFormats: false, logger: false }).compile(schema);

  type Sarif = {
    version: string;
    $schema: string;
    runs: Array<{
      tool: { driver: { name: string; version: string; rules: Array<{ id: string; shortDescription: { text: string }; defaultConfiguration: { level: string } }> } };
      results: Array<{
        ruleId: string;
        ruleIndex: number;
        level: string;
        message: { text: string };
        locations: Array<{ physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number; startColumn: number; endLine: number; endColumn: number } } }>;
      }>;
    }>;
  };

  const oddName = (): string => {
    const file = join(tmp, 'my knockd #2 (copy).conf');
    writeFileSync(file, readFileSync(join(ROOT, WARN)));
    return file;
  };
  const runs: Array<[string, () => string[], string?]> = [
    ['seeds and an error', () => [...SEEDS, ERR]],
    ['no findings', () => [CLEAN]],
    ['a missing file and a directory', () => ['no/such.conf', 'fixtures']],
    ['standard input', () => ['-'], readFileSync(join(ROOT, 'fixtures/lint/KC219-hash-in-value.conf'), 'utf8')],
    ['an absolute path with blanks, "#" and parentheses', () => [oddName()]],
  ];

  for (const [name, files, input] of runs) {
    it(`is valid SARIF 2.1.0 (official schema): ${name}`, () => {
      const r = knockc(['lint', '--format', 'sarif', ...files()], input !== undefined ? { input } : {});
      noCrash(r, name);
      const doc = JSON.parse(r.stdout) as Sarif;
      const ok = validate(doc);
      expect(ok, JSON.stringify(validate.errors?.slice(0, 5), null, 2)).toBe(true);
      // What GitHub code scanning needs.
      expect(doc.version).toBe('2.1.0');
      expect(doc.$schema).toMatch(/sarif/);
      expect(doc.runs).toHaveLength(1);
      const run = doc.runs[0]!;
      expect(run.tool.driver.name).toBe('knockc');
      expect(run.tool.driver.version).toMatch(/^\d+\.\d+\.\d+/);
      const ids = run.tool.driver.rules.map((x) => x.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.sort()).toEqual(ALL_CODES.map((c) => c.code).sort());
      for (const res of run.results) {
        expect(run.tool.driver.rules[res.ruleIndex]!.id).toBe(res.ruleId);
        expect(['error', 'warning', 'note']).toContain(res.level);
        expect(res.message.text.length).toBeGreaterThan(0);
        expect(res.locations.length).toBeGreaterThanOrEqual(1);
        for (const l of res.locations) {
          const uri = l.physicalLocation.artifactLocation.uri;
          expect(uri.length).toBeGreaterThan(0);
          expect(uri).not.toMatch(/^<|\s/);
          expect(l.physicalLocation.region.startLine).toBeGreaterThanOrEqual(1);
          expect(l.physicalLocation.region.startColumn).toBeGreaterThanOrEqual(1);
        }
      }
    });
  }

  it('maps severities to SARIF levels (info -> note) and keeps the text positions', () => {
    const r = knockc(['lint', '-f', 'sarif', 'fixtures/lint/KC403-no-interface.conf', ERR]);
    const doc = JSON.parse(r.stdout) as Sarif;
    const got = doc.runs[0]!.results.map((x) => {
      const p = x.locations[0]!.physicalLocation;
      return `${p.artifactLocation.uri}:${p.region.startLine}:${p.region.startColumn} ${x.level} ${x.ruleId}`;
    });
    expect(got).toEqual([
      'fixtures/lint/KC403-no-interface.conf:3:15 note KC405',
      'fixtures/lint/KC403-no-interface.conf:5:1 note KC403',
      'fixtures/lint/KC403-no-interface.conf:7:21 warning KC211',
      'fixtures/lint/KC106-port-out-of-range.conf:6:26 error KC106',
    ]);
  });

  it('rejects a broken document (the validator is not vacuous)', () => {
    const doc = JSON.parse(knockc(['lint', '-f', 'sarif', ERR]).stdout) as Sarif;
    doc.runs[0]!.results[0]!.level = 'fatal';
    expect(validate(doc)).toBe(false);
  });
});

// ------------------------------------------------------------------ never a stack trace

describe('no stack trace, whatever the input', () => {
  type Input = [name: string, path: string, stdin?: string | Uint8Array];

  function junkInputs(): Input[] {
    const dir = join(tmp, 'bad');
    mkdirSync(dir, { recursive: true });
    const put = (name: string, data: string | Uint8Array): string => {
      writeFileSync(join(dir, name), data);
      return join(dir, name);
    };
    return [
      ['missing file', join(dir, 'nope.conf')],
      ['directory', dir],
      ['/dev/null', '/dev/null'],
      ['/proc/self/mem (EIO)', '/proc/self/mem'],
      ['empty file', put('empty.conf', '')],
      ['BOM only', put('bom.conf', '\uFEFF')],
      ['binary (node executable head)', put('node.bin', readFileSync(process.execPath).subarray(0, 200_000))],
      ['NUL bytes', put('nul.conf', new Uint8Array(5000))],
      ['long line', put('long.conf', `[d]\nsequence=1,2,3\nstart_command=${'x'.repeat(100_000)}\n`)],
      ['lone CRs and U+2028', put('odd.conf', '[d]\rsequence=1\u2028\n# c\u2028d\n[a\rb]\nsequence = 1,2\n')],
      ['one-time file that is a directory', put('ot.conf', `[d]\none_time_sequences = ${dir}\n`)],
      ['stdin junk', '-', new Uint8Array(Array.from({ length: 3000 }, (_, i) => (i * 131 + 7) & 0xff))],
      ['stdin config', '-', CLEAN_TEXT],
    ];
  }
  const configInputs = (): Input[] => [
    ...SEEDS,
    ...readdirSync(join(ROOT, 'fixtures/lint')).filter((n) => n.endsWith('.conf')).map((n) => `fixtures/lint/${n}`),
  ].map((p): Input => [p, p]);

  async function sweep(cmd: readonly string[], inputs: readonly Input[]): Promise<void> {
    const runs = await pool(inputs, 6, ([, path, input]) => knockcAsync([...cmd, path], input !== undefined ? { input } : {}));
    runs.forEach((r, i) => {
      const name = inputs[i]![0];
      noCrash(r, `knockc ${cmd.join(' ')} ${name}`);
      if (cmd[0] === 'explain' && r.status !== 0) {
        expect(r.stdout, `${name}: explain prints nothing on stdout when it fails`).toBe('');
        expect(r.stderr).toMatch(/\[KC\d{3}\]/);
      }
    });
  }

  const commands: string[][] = [
    ['lint'], ['lint', '-f', 'json'], ['lint', '-f', 'sarif'], ['lint', '--strict', '-t', 'iptables'],
    ['explain'], ['explain', '-f', 'json'], ['explain', '-f', 'dot'],
  ];
  for (const cmd of commands) {
    it(`knockc ${cmd.join(' ')} on unreadable, binary and odd input: exit 0/1/2, no "    at "`, () => sweep(cmd, junkInputs()), 180_000);
  }
  // compile reads the same configs (to standard output only: safe to run anywhere).
  for (const cmd of [['compile'], ['compile', '-t', 'iptables', '--log']]) {
    it(`knockc ${cmd.join(' ')} on unreadable, binary and odd input: exit 0/1/2, no "    at "`, () => sweep(cmd, junkInputs()), 180_000);
  }
  for (const cmd of [['lint', '-f', 'sarif'], ['explain', '-f', 'dot'], ['compile', '-t', 'iptables']]) {
    it(`knockc ${cmd.join(' ')} on every seed and lint fixture: exit 0/1/2, no "    at "`, () => sweep(cmd, configInputs()), 180_000);
  }

  it('compile --into: a door that needs the FORWARD path without --forward-chain is an error at its Target line, exit 1', () => {
    const conf = '[fwd]\nsequence = 7000,8000\ntarget = 198.51.100.9\nstart_command = iptables -A FORWARD -s %IP% -d 198.51.100.9 -p tcp --dport 22 -j ACCEPT\n';
    const r = knockc(['compile', '--into', 'inet filter', '-'], { input: conf });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^<stdin>:3:10: error: \[fwd\] needs the FORWARD path .* \[KC409\]\n    hint: .*--forward-chain CHAIN\n$/);
    expect(r.stdout).toBe('');
    const ok = knockc(['compile', '--into', 'inet filter', '--forward-chain', 'forward', '-'], { input: conf });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('insert rule inet filter forward jump knockc_forward comment "knockc"');
  });

  it('explain exits 2 for unreadable input and 1 for a config knockd rejects', () => {
    expect(knockc(['explain', 'no/such.conf']).status).toBe(2);
    expect(knockc(['explain', 'fixtures']).status).toBe(2);
    expect(knockc(['explain', ERR]).status).toBe(1);
    expect(knockc(['explain', CLEAN, WARN]).status).toBe(2); // one file only
  });
});

// ------------------------------------------------------------------ explain

describe('knockc explain on every seed example', () => {
  const hasDot = spawnSync('dot', ['-V']).status === 0;

  for (const seed of SEEDS) {
    it(`${seed}: text, json and dot agree on the doors`, () => {
      const json = knockc(['explain', '--format', 'json', seed]);
      expect(json.status, json.stderr).toBe(0);
      const data = JSON.parse(json.stdout) as { file: string; doors: Array<{ name: string; line: number; sequence: Array<{ port: number; proto: string }>; seqTimeout: number; needsRuntime: boolean; actions: Record<string, { kind: string; summary: string }> }> };
      expect(data.file).toBe(seed);
      expect(data.doors.length).toBeGreaterThan(0);
      for (const d of data.doors) {
        expect(d.sequence.length).toBeGreaterThan(0);
        for (const k of d.sequence) expect(['tcp', 'udp']).toContain(k.proto);
        expect(Object.keys(d.actions).sort()).toEqual(['ipv4', 'ipv6']);
      }

      const text = knockc(['explain', seed]);
      expect(text.status, text.stderr).toBe(0);
      const headers = [...text.stdout.matchAll(/^\[(.+)\] {2}\((.+):(\d+)\)$/gm)].map((m) => [m[1], Number(m[3])]);
      expect(headers).toEqual(data.doors.map((d) => [d.name, d.line]));
      for (const d of data.doors) {
        expect(text.stdout).toContain(d.sequence.map((k) => `${k.port}/${k.proto}`)[0]);
      }

      const dot = knockc(['explain', '--format', 'dot', seed]);
      expect(dot.status, dot.stderr).toBe(0);
      expect(dot.stdout).toMatch(/^digraph /);
      expect(dot.stdout.trimEnd().endsWith('}')).toBe(true);
      expect(dot.stdout.match(/subgraph "cluster_/g)?.length).toBe(data.doors.length);
      if (hasDot) {
        const svg = spawnSync('dot', ['-Tsvg'], { input: dot.stdout, encoding: 'utf8' });
        expect(svg.status, svg.stderr).toBe(0);
        expect(svg.stderr).toBe('');
        expect(svg.stdout).toContain('<svg');
      }
    });
  }

  it('reads standard input too', () => {
    const r = knockc(['explain', '-'], { input: CLEAN_TEXT });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('[openSSH]  (<stdin>:7)');
  });
});

// ------------------------------------------------------------------ help

describe('help', () => {
  const top = knockc(['--help']);
  const commands = [...(top.stdout.split(/^Commands:$/m)[1] ?? '').matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');

  it('knockc --help lists at least lint and explain, and exits 0', () => {
    expect(top.status).toBe(0);
    expect(top.stdout).toMatch(/^Usage: knockc /);
    expect(commands).toEqual(expect.arrayContaining(['lint', 'explain']));
  });

  it('knockc --version prints the package version', () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const r = knockc(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  for (const cmd of ['lint', 'explain', 'compile', 'simulate']) {
    it(`knockc ${cmd} --help and knockc help ${cmd}`, () => {
      if (!commands.includes(cmd)) return; // a command not (yet) in this build
      for (const args of [[cmd, '--help'], ['help', cmd]]) {
        const r = knockc(args);
        expect(r.status, args.join(' ')).toBe(0);
        expect(r.stdout).toMatch(new RegExp(`^Usage: knockc ${cmd} `));
        expect(r.stdout).toContain('Options:');
        noCrash(r, args.join(' '));
      }
    });
  }

  it('every listed command has help', () => {
    for (const cmd of commands) {
      const r = knockc([cmd, '--help']);
      expect(r.status, cmd).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: knockc ${cmd} `));
    }
  });
});
