// The runtime's files: one-time sequence files (retire = '#' over the first
// byte of the line, as knockd does) and the pending-stop state file.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OneTimeFileError, retire, unusedSequences } from '../../src/runtime/one-time-file.js';
import { PendingStore } from '../../src/runtime/pending.js';

const dir = mkdtempSync(join(tmpdir(), 'knockc-files-'));

describe('one-time sequences file', () => {
  it('lists the valid unused lines in order, with their byte offsets, and retires one in place', () => {
    const f = join(dir, 'a.seq');
    // CRLF, a comment, a bad line, a multi-byte character before the last line, and no final newline.
    writeFileSync(f, '# used\r\n 1000,2000:udp\r\nnot a port:xyz\n\n é\n3000,4000');
    const seqs = unusedSequences(f);
    expect(seqs.map((s) => [s.line, s.offset, s.knocks.map((k) => `${k.port}/${k.proto}`).join(',')])).toEqual([
      [2, 8, '1000/tcp,2000/udp'],
      [5, 40, '0/tcp'],
      [6, 44, '3000/tcp,4000/tcp'],
    ]);
    retire(f, seqs[0]!);
    retire(f, seqs[2]!);
    expect(readFileSync(f, 'utf8')).toBe('# used\r\n#1000,2000:udp\r\nnot a port:xyz\n\n é\n#000,4000');
    expect(unusedSequences(f).map((s) => s.line)).toEqual([5]);
  });

  it('refuses to retire a line that changed on disk since it was read', () => {
    const f = join(dir, 'b.seq');
    writeFileSync(f, ' 1,2,3\n 4,5,6\n');
    const [first] = unusedSequences(f);
    writeFileSync(f, ' 9,9,9\n 4,5,6\n');
    expect(() => retire(f, first!)).toThrow(OneTimeFileError);
    expect(readFileSync(f, 'utf8')).toBe(' 9,9,9\n 4,5,6\n');
  });

  it('a missing file is a clear error', () => {
    expect(() => unusedSequences(join(dir, 'missing.seq'))).toThrow(/missing\.seq: .*(no such file|No such file)/i);
  });
});

describe('pending stop commands', () => {
  it('round-trips, replaces the file atomically and leaves no temporary file behind', () => {
    const store = new PendingStore(join(dir, 'state', 'pending.json'));
    expect(store.load()).toEqual([]);
    const p = { id: '1', door: 'cmd', src: '198.51.100.7', command: 'echo stop', due: 123 };
    store.save([p]);
    expect(store.load()).toEqual([p]);
    store.save([]);
    expect(store.load()).toEqual([]);
    expect(readdirSync(join(dir, 'state'))).toEqual(['pending.json']);
  });

  it('a file that is not knockc state is refused with its path, not misread', () => {
    const f = join(dir, 'bad.json');
    writeFileSync(f, '{"pending": []}');
    expect(() => new PendingStore(f).load()).toThrow(/bad\.json: not a knockc state file/);
  });
});
