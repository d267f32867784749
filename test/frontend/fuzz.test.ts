// Property tests: whatever bytes knockc is given, the front end and lint
// return either a usable config (and no error) or no config (and at least
// one error), never an exception, and every finding is well-formed.
//
// Failures print fast-check's seed and path; replay one with
//   KNOCKC_SEED=<seed> npx vitest run test/frontend/fuzz.test.ts
// (KNOCKC_FUZZ_RUNS=<n> changes the number of runs per property).
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CODES } from '../../src/diagnostics/codes.js';
import { formatJson, formatSarif, formatText } from '../../src/diagnostics/format.js';
import { explainData, explainDot, explainText } from '../../src/explain/explain.js';
import { parseConfigBytes } from '../../src/frontend/load.js';
import { lintParsed } from '../../src/lint/lint.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SEED = process.env.KNOCKC_SEED !== undefined && process.env.KNOCKC_SEED !== '' ? Number(process.env.KNOCKC_SEED) : undefined;
const RUNS = Number(process.env.KNOCKC_FUZZ_RUNS ?? '') || 300;

function params<T>(runs = RUNS): fc.Parameters<T> {
  return { numRuns: runs, ...(SEED !== undefined && Number.isFinite(SEED) ? { seed: SEED } : {}) };
}

/** The whole property: no throw, parse XOR errors, well-formed findings, printable results. */
function checkBytes(bytes: Uint8Array): void {
  // One-time sequence paths are resolved against the repository (like the seeds expect).
  const parsed = parseConfigBytes(bytes, { file: 'fuzz.conf', cwd: ROOT });
  const ds = lintParsed(parsed);
  const errors = ds.filter((d) => d.severity === 'error');
  if (parsed.config !== null) {
    expect(errors.map((d) => `${d.code} ${d.message}`)).toEqual([]);
  } else {
    expect(errors.length).toBeGreaterThanOrEqual(1);
  }
  // Physical lines: count of LF + 1 (the last one may be empty).
  let physLines = 1;
  for (const b of bytes) if (b === 0x0a) physLines++;
  for (const d of ds) {
    const info = CODES.get(d.code);
    expect(info, `unknown code ${d.code}`).toBeDefined();
    expect(d.severity).toBe(info!.severity);
    expect(d.message.length).toBeGreaterThan(0);
    expect(d.hint).toBe(info!.hint);
    const { start, end } = d.range;
    // Findings in a one-time sequences file point into that file; their lines are not ours.
    expect(Number.isInteger(start.line) && start.line >= 1).toBe(true);
    expect(Number.isInteger(start.col) && start.col >= 1).toBe(true);
    expect(end.line > start.line || (end.line === start.line && end.col >= start.col)).toBe(true);
    if (start.file === 'fuzz.conf') expect(start.line).toBeLessThanOrEqual(physLines);
  }
  // What the CLI prints from a result must not throw either.
  formatText(ds);
  JSON.parse(formatJson(ds));
  JSON.parse(formatSarif(ds, '0.0.0'));
  if (parsed.config) {
    explainText(parsed.config);
    explainDot(parsed.config);
    JSON.stringify(explainData(parsed.config));
  }
}

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');

// ------------------------------------------------------------ generators

/** Pieces knockd.conf lines are made of, plus the characters that trip parsers. */
const piece = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(
    '[options]', '[Options]', '[door]', '[', ']', '[]', '=', ' = ', ',', ':', ':tcp', ':udp', ':icmp', '!', '#', ' ', '\t', '\r', '\n', '\r\n',
    '\0', '\uFEFF', '\u2028', '\u00a0', '%IP%', 'sequence', 'Sequence', 'SEQUENCE', 'one_time_sequences', 'seq_timeout', 'timeout',
    'cmd_timeout', 'start_command', 'command', 'start_command_6', 'command_6', 'stop_command', 'stop_command_6', 'tcpflags', 'target',
    'logfile', 'pidfile', 'interface', 'UseSyslog', 'syn', '!syn', 'ack', 'fin,rst', '7000', '8000', '9000', '0', '-1', '65535', '65536',
    '70O0', '99999999999999999999', '5s', 'abc', '198.51.100.7', '2001:db8::1', 'eth0', '/var/log/knockd.log',
    'fixtures/one-time/sequences.seq', '/nonexistent.seq',
    'iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT', 'iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
    'ip6tables -I INPUT 1 -s %IP% -p tcp --dport 22 -j ACCEPT', 'ufw allow from %IP% to any port 22 proto tcp',
    "firewall-cmd --add-rich-rule='rule family=\"ipv4\" source address=\"%IP%\" accept'", 'nft add element inet f s { %IP% }',
    '"', "'", '\\', ';', '&&', '|', '$(', '`', '{', '}',
  ) },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
  { weight: 1, arbitrary: fc.nat({ max: 100000 }).map(String) },
);
const configish = fc.array(piece, { maxLength: 80 }).map((ps) => ps.join(''));

/** A line-structured config: sections with directives, in random order and spelling. */
const directive = fc.tuple(
  fc.constantFrom(' ', '', '\t'),
  fc.constantFrom('sequence', 'SeQuEnCe', 'seq_timeout', 'timeout', 'cmd_timeout', 'command', 'start_command', 'start_command_6',
    'stop_command', 'stop_command_6', 'tcpflags', 'target', 'one_time_sequences', 'logfile', 'pidfile', 'interface', 'usesyslog', 'bogus'),
  fc.constantFrom(' = ', '=', ' =', ''),
  fc.oneof(
    fc.array(fc.tuple(fc.integer({ min: -70000, max: 70000 }), fc.constantFrom('', ':tcp', ':udp', ':UDP', ':x', '::')), { minLength: 0, maxLength: 35 })
      .map((ks) => ks.map(([p, s]) => `${p}${s}`).join(',')),
    fc.constantFrom('syn', 'syn,ack', 'syn, ack', '!ack,syn,!syn', 'fin,psh,urg,rst', '5', '0', '-5', '5s', '', 'x # c'),
    piece,
  ),
  fc.constantFrom('', ' ', '\r', '\t\r'),
).map((parts) => parts.join(''));
const section = fc.tuple(
  fc.constantFrom('[options]', '[door]', '[openSSH]', '[Options]', '[]', ' [closeSSH] ', '[a]b'),
  fc.array(directive, { maxLength: 8 }),
).map(([h, ds]) => [h, ...ds].join('\n'));
const structured = fc
  .tuple(fc.boolean(), fc.array(section, { maxLength: 5 }), fc.constantFrom('\n', '\r\n'))
  .map(([bom, ss, eol]) => (bom ? '\uFEFF' : '') + ss.join('\n').replace(/\n/g, eol));

// ------------------------------------------------------------ mutations

function loadSeeds(): Array<{ name: string; text: string }> {
  const out: Array<{ name: string; text: string }> = [];
  for (const dir of ['fixtures', 'fixtures/lint']) {
    let names: string[] = [];
    try {
      names = readdirSync(join(ROOT, dir)).filter((n) => n.endsWith('.conf'));
    } catch {
      continue;
    }
    for (const n of names.sort()) out.push({ name: `${dir}/${n}`, text: readFileSync(join(ROOT, dir, n), 'latin1') });
  }
  return out;
}
const SEEDS = loadSeeds();

type Mutation =
  | { op: 'insert'; at: number; text: string }
  | { op: 'delete'; at: number; len: number }
  | { op: 'replace'; at: number; ch: string }
  | { op: 'case'; at: number; len: number }
  | { op: 'dupLine'; line: number }
  | { op: 'dropLine'; line: number }
  | { op: 'swapLines'; a: number; b: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(piece, fc.string({ unit: 'binary', maxLength: 3 })) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ op: fc.constant('replace' as const), at: fc.nat(), ch: fc.oneof(fc.constantFrom('=', ',', ':', '[', ']', '#', ' ', '\n', '\0', 'O', '-', '!'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })) }),
  fc.record({ op: fc.constant('case' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ op: fc.constant('dupLine' as const), line: fc.nat() }),
  fc.record({ op: fc.constant('dropLine' as const), line: fc.nat() }),
  fc.record({ op: fc.constant('swapLines' as const), a: fc.nat(), b: fc.nat() }),
);

export function mutate(text: string, m: Mutation): string {
  const n = Math.max(1, text.length);
  switch (m.op) {
    case 'insert': {
      const i = m.at % (text.length + 1);
      return text.slice(0, i) + m.text + text.slice(i);
    }
    case 'delete': {
      const i = m.at % n;
      return text.slice(0, i) + text.slice(i + m.len);
    }
    case 'replace': {
      const i = m.at % n;
      return text.slice(0, i) + m.ch + text.slice(i + 1);
    }
    case 'case': {
      const i = m.at % n;
      const flip = (c: string): string => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase());
      return text.slice(0, i) + [...text.slice(i, i + m.len)].map(flip).join('') + text.slice(i + m.len);
    }
    default: {
      const lines = text.split('\n');
      const k = lines.length;
      if (m.op === 'dupLine') {
        const i = m.line % k;
        lines.splice(i, 0, lines[i]!);
      } else if (m.op === 'dropLine') {
        lines.splice(m.line % k, 1);
      } else {
        const a = m.a % k;
        const b = m.b % k;
        [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      }
      return lines.join('\n');
    }
  }
}

// ------------------------------------------------------------ properties

describe('fuzz: the front end and lint never crash', () => {
  it('has seed configs to mutate', () => {
    expect(SEEDS.length).toBeGreaterThanOrEqual(10);
  });

  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (b) => checkBytes(b)), params());
  });

  it('random unicode strings (UTF-8 encoded)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 512 }), (s) => checkBytes(utf8(s))), params());
  });

  it('config-shaped token soup', () => {
    fc.assert(fc.property(configish, (s) => checkBytes(utf8(s))), params());
  });

  it('structured configs (sections and directives, random spellings)', () => {
    fc.assert(fc.property(structured, (s) => checkBytes(utf8(s))), params());
  });

  it('mutated fixtures (insert, delete, replace, case flip, duplicate/drop/swap lines)', () => {
    const seedIndex = fc.nat({ max: Math.max(0, SEEDS.length - 1) });
    fc.assert(
      fc.property(seedIndex, fc.array(mutation, { minLength: 1, maxLength: 8 }), (i, ms) => {
        const text = ms.reduce(mutate, SEEDS[i]!.text);
        checkBytes(Buffer.from(text, 'latin1'));
      }),
      params(RUNS * 2),
    );
  });

  it('mutated fixtures at the byte level (bit flips)', () => {
    const seedIndex = fc.nat({ max: Math.max(0, SEEDS.length - 1) });
    fc.assert(
      fc.property(seedIndex, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 7 })), { minLength: 1, maxLength: 16 }), (i, flips) => {
        const b = Buffer.from(SEEDS[i]!.text, 'latin1');
        for (const [at, bit] of flips) {
          if (b.length === 0) break;
          const j = at % b.length;
          b[j] = b[j]! ^ (1 << bit);
        }
        checkBytes(b);
      }),
      params(),
    );
  });

  it('long lines around knockd\'s 4095-byte buffer, with multi-byte characters', () => {
    const long = fc.tuple(
      fc.integer({ min: 4080, max: 4110 }),
      fc.constantFrom('a', 'é', '€', '😀', ',', '7', ' '),
      fc.constantFrom('[door]\nsequence = ', '[door]\nstart_command = ', '# ', '[', ''),
      fc.constantFrom('\n', '\r\n', ''),
    ).map(([n, ch, head, eol]) => head + ch.repeat(Math.ceil(n / Buffer.byteLength(ch))) + eol + 'sequence = 1,2,3\n');
    fc.assert(fc.property(long, (s) => checkBytes(utf8(s))), params(60));
  });
});
