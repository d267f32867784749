// Issue 17 item 7: messages a new user tripped over (the built CLI; nothing here touches a
// firewall: the commands that could are run without capabilities and refuse before loading).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, knockc } from './built.js';

const tmp = mkdtempSync(join(tmpdir(), 'knockc-messages-'));
const BAD = join(tmp, 'bad.conf');
writeFileSync(BAD, '[a]\n\tsequence = 99999\n\tcommand = /bin/true\n');
const GOOD = join(tmp, 'good.conf');
writeFileSync(GOOD, '[openSSH]\n\tsequence = 7000,8000,9000\n\tseq_timeout = 5\n\tcommand = /usr/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n\ttcpflags = syn\n');

beforeAll(() => ensureBuilt());

describe('apply: config errors are a refusal like the others', () => {
  it('ends with "nothing was changed" (an invalid config, a missing file)', () => {
    for (const target of ['nft', 'iptables']) {
      const r = knockc(['apply', '--target', target, BAD], { dropCaps: ['all'] });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('bad.conf:2:13: error: section a: port 99999 is invalid (over 65535) [KC106]');
      expect(r.stderr).toMatch(/\nknockc: nothing was changed\n$/);
      const m = knockc(['apply', '--target', target, join(tmp, 'missing.conf')], { dropCaps: ['all'] });
      expect(m.status).toBe(2);
      expect(m.stderr).toContain('[KC001]');
      expect(m.stderr).toMatch(/\nknockc: nothing was changed\n$/);
    }
  });
});

describe('explain --format json', () => {
  it('has a version field, like lint and status', () => {
    const r = knockc(['explain', '--format', 'json', GOOD]);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(j)[0]).toBe('version');
    expect(j['version']).toBe(1);
  });
});

describe('simulate: trace files that cannot be read or are not text', () => {
  const CONF = join(import.meta.dirname, '../../fixtures/seed-en-opencloseSSH.conf');
  const codeLines = (stderr: string): string[] => stderr.split('\n').filter((l) => / error: /.test(l));

  it('a missing trace, a directory, an unreadable file: KC502 at file:1:1, no Node error text', () => {
    const locked = join(tmp, 'locked.trace');
    writeFileSync(locked, '0 198.51.100.2 tcp/7000\n', { mode: 0o000 });
    const cases: Array<[string, string]> = [
      [join(tmp, 'missing.trace'), 'No such file or directory'],
      [tmp, 'Is a directory, not a trace file'],
      [locked, 'Permission denied'],
    ];
    for (const [path, what] of cases) {
      const r = knockc(['simulate', CONF, path], { dropCaps: ['dac_override', 'dac_read_search'] });
      expect(r.status).toBe(2);
      expect(codeLines(r.stderr)).toEqual([`${path}:1:1: error: ${path}: ${what} [KC502]`]);
      expect(r.stderr).not.toMatch(/ENOENT|EISDIR|EACCES|Error:|at .*\.js/);
    }
  });

  it('a binary trace: one KC503 at the first byte that is not text, no raw bytes echoed', () => {
    const r = knockc(['simulate', CONF, '/bin/true']);
    expect(r.status).toBe(2);
    expect(codeLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^\/bin\/true:1:\d+: error: \/bin\/true is not a text file \(byte 0x[0-9a-f]{2} at offset \d+\): a trace is lines of text \[KC503\]\n/);
    expect(r.stderr.split('\n').length).toBeLessThan(5);
    // eslint-disable-next-line no-control-regex
    expect(r.stderr).not.toMatch(/[\x00-\x08\x0e-\x1f\x7f]|\uFFFD/);
    const s = knockc(['simulate', CONF, '-'], { input: Buffer.from('0 198.51.100.2 tcp/7000\n1 198.51.100.2 \xff\n', 'latin1') });
    expect(codeLines(s.stderr)).toEqual(['<stdin>:2:16: error: <stdin> is not a text file (byte 0xff at offset 39): a trace is lines of text [KC503]']);
  });

  it('control characters in a bad line are escaped; a text file that is no trace shows its first 20 errors and a count', () => {
    const esc = join(tmp, 'esc.trace');
    writeFileSync(esc, '0 198.51.100.2 tcp/7000\n1 198.51.100.2 \x1b[31mx\n');
    const r = knockc(['simulate', CONF, esc]);
    expect(codeLines(r.stderr)).toEqual([`${esc}:2:16: error: expected PROTO/PORT like tcp/7000 or udp/8000, got "\\u001b[31mx" [KC501]`]);
    const prose = join(tmp, 'prose.trace');
    writeFileSync(prose, 'not a trace\n'.repeat(300));
    const p = knockc(['simulate', CONF, prose]);
    expect(p.status).toBe(2);
    expect(codeLines(p.stderr)).toHaveLength(20);
    expect(p.stderr).toMatch(/\nknockc: 280 more trace error\(s\) not shown \(300 in all\)\n$/);
  });
});

describe('lint, compile, apply of a binary file', () => {
  it('one coded error (KC004, not a text file), exit 2, not a finding per line', () => {
    const l = knockc(['lint', '/bin/true']);
    expect(l.status).toBe(2);
    expect(l.stdout + l.stderr).toBe(
      '/bin/true:1:1: error: /bin/true is not a text file (an ELF executable): a knockd.conf is text [KC004]\n' +
        '    hint: give the path of a knockd.conf (text), not of a program, an archive or a capture\n' +
        '1 file(s): 1 error(s), 0 warning(s), 0 note(s)\n',
    );
    const c = knockc(['compile', '/bin/true']);
    expect(c.status).toBe(2);
    expect(c.stderr.split('\n').filter((x) => x.includes('[KC')).length).toBe(1);
    const a = knockc(['apply', '/bin/true'], { dropCaps: ['all'] });
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/\[KC004\]\n.*\nknockc: nothing was changed\n$/);
    // A text config with junk appended is still read line by line (KC226), as knockd does.
    const junk = join(tmp, 'junk.conf');
    writeFileSync(junk, Buffer.concat([Buffer.from('[a]\n\tsequence = 7000\n\tcommand = /bin/true\n'), Buffer.from(Array.from({ length: 300 }, (_, i) => i % 9))]));
    const j = knockc(['lint', junk]);
    expect(j.stdout + j.stderr).toContain('[KC226]');
    expect(j.stdout + j.stderr).not.toContain('[KC004]');
  });
});
