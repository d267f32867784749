// Awkward input: line endings, BOM, blanks, long lines, empty and binary
// files, NUL bytes, paths that are not readable config files, huge input,
// standard input. Each gives a clean parse or a clear error, never a throw.
import { spawnSync } from 'node:child_process';
import {
  accessSync, chmodSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../src/diagnostics/diagnostic.js';
import { DEFAULT_MAX_FINDINGS } from '../../src/diagnostics/limit.js';
import { MAX_DOORS, type BuildResult } from '../../src/frontend/build.js';
import type { KnockdConfig } from '../../src/frontend/config.js';
import { loadConfigFile, MAX_CONFIG_BYTES, parseConfigBytes, parseConfigText } from '../../src/frontend/load.js';
import { KNOCKD_LINE_BYTES } from '../../src/frontend/source.js';
import { lintParsed } from '../../src/lint/lint.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SEED = readFileSync(join(ROOT, 'fixtures/seed-fr-monitoring-opencloseSSH.conf'), 'utf8');
const CLEAN = readFileSync(join(ROOT, 'fixtures/lint/clean.conf'), 'utf8');

let tmp = '';
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'knockc-robust-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

interface Parsed {
  readonly r: BuildResult;
  readonly ds: Diagnostic[];
}

function parse(input: string | Uint8Array, file = 'knockd.conf'): Parsed {
  const r = typeof input === 'string' ? parseConfigText(input, { file }) : parseConfigBytes(input, { file });
  return { r, ds: lintParsed(r) };
}

const where = (ds: readonly Diagnostic[]): string[] => ds.map((d) => `${d.code}@${d.range.start.line}:${d.range.start.col}`);
const codes = (ds: readonly Diagnostic[]): string[] => ds.map((d) => d.code);

/** What knockd would run with, without source positions. */
function meaning(c: KnockdConfig | null): unknown {
  if (!c) return null;
  return {
    options: { log: c.options.logFile.value, pid: c.options.pidFile.value, iface: c.options.interface.value, syslog: c.options.useSyslog.value },
    doors: c.doors.map((d) => ({
      name: d.name,
      knocks: d.knocks.map((k) => `${k.port}:${k.proto}`),
      seq: d.seqTimeout.value,
      cmd: d.cmdTimeout.value,
      start: d.startCommand.value,
      start6: d.startCommand6.value,
      stop: d.stopCommand.value,
      stop6: d.stopCommand6.value,
      flags: d.tcpFlags.value,
      target: d.target.value,
    })),
  };
}

describe('line endings, BOM, blanks', () => {
  it('CRLF line endings read exactly like LF (values carry no \\r, positions unchanged)', () => {
    const lf = parse(SEED);
    const crlf = parse(SEED.replace(/\n/g, '\r\n'));
    expect(lf.r.config).not.toBeNull();
    expect(meaning(crlf.r.config)).toEqual(meaning(lf.r.config));
    expect(where(crlf.ds)).toEqual(where(lf.ds));
    expect(JSON.stringify(meaning(crlf.r.config))).not.toContain('\\r');
  });

  it('mixed LF / CRLF / a lone CR at a line end are all just blanks', () => {
    const lines = CLEAN.split('\n');
    const mixed = lines.map((l, i) => l + (i % 3 === 0 ? '\r' : i % 3 === 1 ? ' \r' : '')).join('\n');
    expect(meaning(parse(mixed).r.config)).toEqual(meaning(parse(CLEAN).r.config));
    expect(parse(mixed).ds).toEqual([]);
  });

  it('a UTF-8 BOM is rejected like knockd does (KC113 at 1:1), also with CRLF', () => {
    for (const text of [`\uFEFF${CLEAN}`, `\uFEFF${CLEAN.replace(/\n/g, '\r\n')}`]) {
      const { r, ds } = parse(text);
      expect(r.config).toBeNull();
      const bom = ds.filter((d) => d.code === 'KC113');
      expect(bom).toHaveLength(1);
      expect(bom[0]!.severity).toBe('error');
      expect(where(bom)).toEqual(['KC113@1:1']);
    }
  });

  it('a BOM is only special at the start of the file', () => {
    // Elsewhere it is just a byte sequence inside a value (here a command).
    const { r, ds } = parse(CLEAN.replace('-j ACCEPT\n', '-j ACCEPT \uFEFF\n'));
    expect(r.config).not.toBeNull();
    expect(codes(ds)).not.toContain('KC113');
  });

  it('tabs around sections, keys, "=" and values are blanks; columns count a tab as one', () => {
    const text = '\t[options]\t\n\tInterface\t=\teth0\t\n[door]\n\tsequence\t=\t7000,\t8000:udp\t,9000\t\n\tstart_command\t=\t/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\t\n';
    const { r, ds } = parse(text);
    expect(r.config).not.toBeNull();
    const d = r.config!.doors[0]!;
    expect(d.knocks.map((k) => `${k.port}:${k.proto}`)).toEqual(['7000:tcp', '8000:udp', '9000:tcp']);
    expect(d.startCommand.value).toBe('/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT');
    expect(r.config!.options.interface.value).toBe('eth0');
    // "\tsequence\t=\t" -> the value starts at column 13.
    expect(d.sequenceFrom.directive.range.start).toMatchObject({ line: 4, col: 13 });
    expect(codes(ds)).toEqual(['KC211']);
  });

  it('tabs inside TCPFlags are NOT trimmed (knockd compares each item as is)', () => {
    const { r, ds } = parse('[door]\nsequence = 1,2,3\ntcpflags = syn,\tack\n');
    expect(r.config).toBeNull();
    expect(where(ds.filter((d) => d.code === 'KC109'))).toEqual(['KC109@3:16']);
  });

  it('trailing blanks are trimmed from keys, values and section headers', () => {
    const text = '[options]   \nInterface = eth0 \t \n[door]  \t\nsequence = 7000,8000,9000   \nseq_timeout = 5   \nstart_command = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT    \n';
    const { r, ds } = parse(text);
    expect(r.config).not.toBeNull();
    const d = r.config!.doors[0]!;
    expect(d.name).toBe('door');
    expect(d.seqTimeout.value).toBe(5);
    expect(d.startCommand.value!.endsWith('ACCEPT')).toBe(true);
    // No "trailing junk" or "not a plain number" for blanks.
    expect(codes(ds)).toEqual(['KC211']);
  });

  it('form feeds and vertical tabs are C blanks too', () => {
    const { r } = parse('\f[door]\v\n\vsequence\f=\f7000,8000,9000\v\n');
    expect(r.config?.doors.map((d) => d.name)).toEqual(['door']);
    expect(r.config?.doors[0]!.knocks.map((k) => k.port)).toEqual([7000, 8000, 9000]);
  });

  it('non-ASCII blanks (NBSP, U+2028) are not C blanks and never crash', () => {
    const { r } = parse('[door]\nsequence = 7000,8000\u00a0\n# comment\u2028more\n[a\rb]\nsequence = 1,2,3\n');
    expect(r.config).not.toBeNull();
    // "8000\u00a0" reads as 8000 with junk; "[a\rb]" is a section (first and last characters).
    expect(r.config!.doors.map((d) => d.name)).toEqual(['door', 'a\rb']);
  });
});

describe('long lines (knockd reads with fgets into a 4096-byte buffer)', () => {
  const door = (line: string): string => `[door]\nsequence = 7000,8000,9000\n${line}\n`;
  const command = (bytes: number): string => {
    const head = 'start_command = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT #';
    return head + 'x'.repeat(bytes - head.length);
  };

  it(`a line of exactly ${KNOCKD_LINE_BYTES} bytes is read whole, without a warning`, () => {
    const { r, ds } = parse(door(command(KNOCKD_LINE_BYTES)));
    expect(r.config).not.toBeNull();
    expect(r.config!.doors[0]!.startCommand.value!.length).toBe(KNOCKD_LINE_BYTES - 'start_command = '.length);
    expect(codes(ds)).not.toContain('KC217');
  });

  it(`a line of ${KNOCKD_LINE_BYTES + 1} bytes is split: the last byte is a line of its own (and a syntax error)`, () => {
    const { r, ds } = parse(door(command(KNOCKD_LINE_BYTES + 1)));
    expect(r.config).toBeNull();
    expect(where(ds.filter((d) => d.code === 'KC217' || d.code === 'KC103'))).toEqual(['KC217@3:1', `KC103@3:${KNOCKD_LINE_BYTES + 1}`]);
  });

  it('the split counts bytes, not characters (multi-byte UTF-8)', () => {
    // 2 bytes per "é": 2100 of them are 4200 bytes but 2100 characters.
    const { ds } = parse(door(`start_command = /bin/echo ${'é'.repeat(2100)}`));
    expect(codes(ds)).toContain('KC217');
  });

  it('a 1 MiB line gives one KC217 per 4095-byte piece and finishes quickly', () => {
    const t0 = performance.now();
    const { r, ds } = parse(`[door]\nsequence = 7000,8000,9000\n# ${'y'.repeat(1 << 20)}\n`);
    expect(performance.now() - t0).toBeLessThan(5000);
    // The first piece is a comment; the following ones are lines without "=".
    expect(r.config).toBeNull();
    const pieces = Math.ceil(((1 << 20) + 2) / KNOCKD_LINE_BYTES);
    expect(ds.filter((d) => d.code === 'KC217')).toHaveLength(pieces - 1);
  });

  it('a long line whose rest holds "=" becomes a second directive (like knockd)', () => {
    const line = `${command(KNOCKD_LINE_BYTES)}seq_timeout=7`;
    const { r } = parse(door(line));
    expect(r.config?.doors[0]!.seqTimeout.value).toBe(7);
  });
});

describe('empty, binary and NUL-laden input', () => {
  it('an empty file is accepted with no doors and no findings', () => {
    const { r, ds } = parse('');
    expect(r.config).not.toBeNull();
    expect(r.config!.doors).toEqual([]);
    expect(ds).toEqual([]);
  });

  it('a file of blanks, newlines and comments is accepted with no doors', () => {
    const { r, ds } = parse('\n\n   \t\n# just a comment\r\n   # indented comment\n\n');
    expect(r.config?.doors).toEqual([]);
    expect(ds).toEqual([]);
  });

  it('an [options]-only file is accepted with no doors', () => {
    const { r, ds } = parse('[options]\nInterface = eth0\n');
    expect(r.config?.doors).toEqual([]);
    expect(ds).toEqual([]);
  });

  it('binary junk (deterministic pseudo-random bytes) gives findings, not a throw', () => {
    let x = 0x2545f491;
    for (let round = 0; round < 50; round++) {
      const bytes = new Uint8Array(4096 + round * 97);
      for (let i = 0; i < bytes.length; i++) {
        x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
        bytes[i] = x & 0xff;
      }
      const { r, ds } = parse(bytes);
      expect(codes(ds)).toContain('KC226');
      if (r.config === null) expect(ds.some((d) => d.severity === 'error')).toBe(true);
    }
  });

  it('an executable (node itself) is reported as binary and rejected', () => {
    const head = readFileSync(process.execPath).subarray(0, 64 * 1024);
    const { r, ds } = parse(head);
    // One finding: not a text file (issue 17 item 7), not one per line of its bytes.
    expect(codes(ds)).toEqual(['KC004']);
    expect(r.config).toBeNull();
  });

  it('UTF-16 text (a config saved in the wrong encoding) is rejected with a reason', () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(CLEAN, 'utf16le')]);
    const { r, ds } = parse(utf16);
    expect(r.config).toBeNull();
    expect(codes(ds)).toContain('KC226');
  });

  it('invalid UTF-8 inside values is kept (knockd works on bytes)', () => {
    const bytes = Buffer.concat([Buffer.from('[d\xff]\nsequence = 1,2,3\nstart_command = /bin/echo ', 'latin1'), Buffer.from([0xc3, 0x28, 0xa0, 0xa1]), Buffer.from('\n')]);
    const { r } = parse(bytes);
    expect(r.config?.doors).toHaveLength(1);
  });

  it('a NUL byte ends the line for knockd: the rest is ignored (KC218)', () => {
    const { r, ds } = parse('[door]\nsequence = 7000,8000\0,9000\nstart_command = /bin/true\n');
    expect(r.config?.doors[0]!.knocks.map((k) => k.port)).toEqual([7000, 8000]);
    expect(where(ds.filter((d) => d.code === 'KC218'))).toEqual(['KC218@2:1']);
  });

  it('a NUL byte at the start of a line hides the whole line', () => {
    const { r, ds } = parse('[door]\n\0sequence = 1\nsequence = 7000,8000,9000\n');
    expect(r.config?.doors[0]!.knocks.map((k) => k.port)).toEqual([7000, 8000, 9000]);
    expect(codes(ds)).toContain('KC218');
    expect(codes(ds)).not.toContain('KC216');
  });

  it('a file of NUL bytes only: no lines for knockd, reported as binary', () => {
    const { r, ds } = parse(new Uint8Array(1000));
    expect(r.config?.doors).toEqual([]);
    expect(codes(ds)).toEqual(expect.arrayContaining(['KC218', 'KC226']));
  });
});

describe('paths that are not readable config files', () => {
  const only = (r: BuildResult): Diagnostic => {
    expect(r.config).toBeNull();
    expect(r.diagnostics).toHaveLength(1);
    return r.diagnostics[0]!;
  };

  it('missing file: KC001 at 1:1, "No such file or directory"', () => {
    const file = join(tmp, 'missing.conf');
    const d = only(loadConfigFile(file));
    expect(d).toMatchObject({ code: 'KC001', severity: 'error', range: { start: { file, line: 1, col: 1 } } });
    expect(d.message).toContain('No such file or directory');
  });

  it('a path through a file (ENOTDIR) and a symlink loop (ELOOP): KC001', () => {
    writeFileSync(join(tmp, 'plain'), '');
    expect(only(loadConfigFile(join(tmp, 'plain', 'knockd.conf'))).code).toBe('KC001');
    symlinkSync(join(tmp, 'loop-b'), join(tmp, 'loop-a'));
    symlinkSync(join(tmp, 'loop-a'), join(tmp, 'loop-b'));
    expect(only(loadConfigFile(join(tmp, 'loop-a'))).code).toBe('KC001');
  });

  it('a directory: KC002 "Is a directory"', () => {
    const dir = join(tmp, 'etc-knockd');
    mkdirSync(dir);
    const d = only(loadConfigFile(dir));
    expect(d).toMatchObject({ code: 'KC002', severity: 'error' });
    expect(d.message).toContain('Is a directory');
  });

  it('a FIFO and a device: KC002, without blocking', () => {
    const fifo = join(tmp, 'fifo.conf');
    const mk = spawnSync('mkfifo', [fifo]);
    if (mk.status === 0) expect(only(loadConfigFile(fifo)).code).toBe('KC002');
    expect(only(loadConfigFile('/dev/zero')).code).toBe('KC002');
  });

  it('a symlink to a good config is followed', () => {
    const link = join(tmp, 'link.conf');
    symlinkSync(join(ROOT, 'fixtures/lint/clean.conf'), link);
    expect(loadConfigFile(link).config?.doors).toHaveLength(1);
  });

  // Root reads a chmod 000 file anyway; a write-only sysctl refuses even root.
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const rootUnreadable = ['/proc/sys/vm/drop_caches', '/proc/sys/vm/compact_memory'].find((p) => {
    try {
      accessSync(p, constants.F_OK);
      return true;
    } catch {
      return false;
    }
  });
  it(`an unreadable file (${isRoot ? `as root: ${rootUnreadable}` : 'chmod 000'}): KC001 "Permission denied"`, () => {
    let file = rootUnreadable;
    if (!isRoot) {
      file = join(tmp, 'secret.conf');
      writeFileSync(file, CLEAN);
      chmodSync(file, 0o000);
    }
    expect(file, 'a file that root cannot read').toBeDefined();
    const d = only(loadConfigFile(file!));
    expect(d.code).toBe('KC001');
    expect(d.message).toContain('Permission denied');
  });

  it('a /proc file that fails to read (EIO): KC001, not a throw', () => {
    const d = only(loadConfigFile('/proc/self/mem'));
    expect(d.code).toBe('KC001');
  });
});

describe('huge input', () => {
  it('a file over 16 MiB: KC003, without reading it (sparse file)', () => {
    const file = join(tmp, 'huge.conf');
    writeFileSync(file, '');
    truncateSync(file, MAX_CONFIG_BYTES + 1);
    const t0 = performance.now();
    const r = loadConfigFile(file);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(r.config).toBeNull();
    expect(r.diagnostics.map((d) => [d.code, d.severity, d.range.start.line, d.range.start.col])).toEqual([['KC003', 'error', 1, 1]]);
  });

  it('exactly 16 MiB is still read', () => {
    const file = join(tmp, 'big.conf');
    writeFileSync(file, '');
    truncateSync(file, MAX_CONFIG_BYTES);
    const r = loadConfigFile(file);
    expect(codes(r.diagnostics)).not.toContain('KC003');
  });

  it('70,000 doors: KC117 at door 10,001, where reading stops (knockd 0.8 cannot start with 4,000)', () => {
    let text = '';
    for (let i = 0; i < 70_000; i++) text += `[d${i}]\nsequence=${(i % 65_000) + 1}\n`;
    const r = parseConfigText(text, { file: 'many.conf' });
    expect(r.config).toBeNull();
    expect(r.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code}@${d.range.start.line}`)).toEqual([`KC117@${2 * MAX_DOORS + 1}`]);
  });

  it(`${MAX_DOORS} doors with the same sequences: each reported once (KC212 against the first, KC213 once with a count), not every pair`, () => {
    // More findings than a function call takes arguments (push(...) overflowed the stack), and
    // every pair would be 50 million findings.
    let text = '';
    for (let i = 0; i < MAX_DOORS; i++) text += `[d${i}]\nsequence=${i % 2 === 0 ? '1' : '1,2'}\nstart_command=true\n`;
    const { r, ds } = parse(text);
    expect(r.config?.doors).toHaveLength(MAX_DOORS);
    const same = ds.filter((d) => d.code === 'KC212');
    expect(same).toHaveLength(MAX_DOORS - 2);
    expect(same[0]!.message).toBe('[d2] has the same sequence as [d0] (1:tcp): both open together');
    expect(same.at(-1)!.message).toBe(`[d${MAX_DOORS - 1}] has the same sequence as [d1] (1:tcp,2:tcp): both open together`);
    const prefix = ds.filter((d) => d.code === 'KC213');
    expect(prefix).toHaveLength(MAX_DOORS / 2);
    expect(prefix[0]!.message).toBe(`the sequence of [d0] is a prefix of [d1]'s and of ${MAX_DOORS / 2 - 1} other doors': knocking any of them also opens [d0]`);
  });

  it('4 million "[a]" lines (16 MiB): KC117, and the first findings only; the rest are counted', () => {
    const r = parseConfigText('[a]\n'.repeat(MAX_CONFIG_BYTES / 4), { file: 'a.conf' });
    expect(r.config).toBeNull();
    expect(r.diagnostics).toHaveLength(DEFAULT_MAX_FINDINGS + 1);
    expect(r.diagnostics.at(-2)!.range.start.line).toBe(DEFAULT_MAX_FINDINGS);
    expect(r.diagnostics.at(-1)!.code).toBe('KC117');
    expect(r.notShown).toEqual({ error: MAX_DOORS - DEFAULT_MAX_FINDINGS, warning: 0, info: 0 });
  });

  it('4 million findings (16 MiB of "x=y" lines): the first ones kept, every one counted', () => {
    const r = parseConfigText('x=y\n'.repeat(MAX_CONFIG_BYTES / 4), { file: 'x.conf', maxFindings: 10 });
    expect(r.diagnostics.map((d) => `${d.code}@${d.range.start.line}`)).toEqual(Array.from({ length: 10 }, (_, i) => `KC102@${i + 1}`));
    expect(r.notShown).toEqual({ error: MAX_CONFIG_BYTES / 4 - 10, warning: 0, info: 0 });
  });

  it('bytes over 16 MiB given directly: KC003', () => {
    const r = parseConfigBytes(new Uint8Array(MAX_CONFIG_BYTES + 1), { file: 'big' });
    expect(r.config).toBeNull();
    expect(codes(r.diagnostics)).toEqual(['KC003']);
  });
});

describe('standard input ("-")', () => {
  const TSX = join(ROOT, 'node_modules/.bin/tsx');
  const child = join(ROOT, 'test/frontend/stdin-child.ts');
  const viaStdin = (input: string | Uint8Array) => {
    const r = spawnSync(TSX, [child], { cwd: ROOT, input, maxBuffer: 64 << 20 });
    expect(r.stderr.toString()).not.toMatch(/^\s+at /m);
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout.toString()) as { doors: Array<{ name: string; knocks: string[] }> | null; diagnostics: Array<{ code: string; file: string; line: number; col: number }> };
  };

  it('reads a config from standard input, named <stdin> in findings', () => {
    const out = viaStdin(SEED);
    expect(out.doors).toEqual([{ name: 'opencloseSSH', knocks: ['7000:udp', '8000:tcp', '9000:udp'] }]);
    const bad = viaStdin('[door]\nsequence = 70000\n');
    expect(bad.doors).toBeNull();
    expect(bad.diagnostics).toEqual([{ code: 'KC106', file: '<stdin>', line: 2, col: 12 }]);
  });

  it('empty standard input is an empty config', () => {
    expect(viaStdin('')).toEqual({ doors: [], diagnostics: [] });
  });

  it('more than 16 MiB on standard input: KC003 (reading stops at the limit)', () => {
    const out = viaStdin(new Uint8Array(MAX_CONFIG_BYTES + 4096).fill(0x20));
    expect(out.doors).toBeNull();
    expect(out.diagnostics.map((d) => d.code)).toEqual(['KC003']);
  });
});
