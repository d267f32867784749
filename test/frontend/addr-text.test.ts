// %IP% for IPv6 is what glibc's inet_ntop() writes, as knockd substitutes it.
// The oracle is glibc itself: Python's socket.inet_ntop calls it. One python
// process reads every generated address (hex, one a line) and prints its text;
// the generator leans on zero runs and the ::ffff:a.b.c.d / ::a.b.c.d forms.
//
// A failure prints the seed; replay with
//   KNOCKC_SEED=<seed> npx vitest run test/frontend/addr-text.test.ts
// (KNOCKC_ADDR_RUNS=<n> changes the number of addresses, default 5000).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readTarget } from '../../src/frontend/address.js';
import { ipText, ipv6Bytes } from '../../src/frontend/addr-text.js';
import { toolPath } from '../netns-env.js';

const SEED = process.env.KNOCKC_SEED ? Number(process.env.KNOCKC_SEED) : Math.floor(Math.random() * 0x7fffffff);
const RUNS = Number(process.env.KNOCKC_ADDR_RUNS ?? '') || 5000;

/** The system's python3 (its socket module uses the system's glibc); CI machines have /usr/bin/python3. */
const PYTHON = ['/usr/bin/python3', toolPath('python3')].find((p): p is string => p !== undefined && existsSync(p));
if (PYTHON === undefined && process.env.CI === 'true') throw new Error('the inet_ntop oracle needs python3 under CI (apt-get install python3)');

const ORACLE = `
import socket, sys
out = []
for line in sys.stdin:
    line = line.strip()
    if line:
        out.append(socket.inet_ntop(socket.AF_INET6, bytes.fromhex(line)))
sys.stdout.write("\\n".join(out) + "\\n")
`;

/** glibc's text for each address, from one python process. */
function glibcTexts(addrs: readonly Uint8Array[]): string[] {
  const input = addrs.map((a) => Buffer.from(a).toString('hex')).join('\n') + '\n';
  const r = spawnSync(PYTHON!, ['-c', ORACLE], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`python3 inet_ntop oracle failed: ${r.stderr}`);
  const lines = r.stdout.split('\n').slice(0, -1);
  expect(lines.length).toBe(addrs.length);
  return lines;
}

const bytesOf = (words: readonly number[]): Uint8Array => {
  const b = new Uint8Array(16);
  words.forEach((w, i) => {
    b[2 * i] = w >> 8;
    b[2 * i + 1] = w & 0xff;
  });
  return b;
};

/** Mostly zero words: runs of every length and place, ties, single zeros. */
const word = fc.oneof(
  { weight: 6, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.constant(0xffff) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 0xff }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
);
const tail = fc.tuple(word, word);
const address: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: fc.array(word, { minLength: 8, maxLength: 8 }) },
  // ::ffff:a.b.c.d and its neighbours (ffff elsewhere, a zero less or more in front).
  { weight: 2, arbitrary: tail.map(([a, b]) => [0, 0, 0, 0, 0, 0xffff, a, b]) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 4 }), fc.constantFrom(0xffff, 0xfffe, 1), tail).map(([z, w5, [a, b]]) => [...Array<number>(z).fill(0), ...Array<number>(5 - z).fill(1), w5, a, b]) },
  // ::a.b.c.d (IPv4-compatible), ::2, ::100, ::1:0 ...
  { weight: 2, arbitrary: tail.map(([a, b]) => [0, 0, 0, 0, 0, 0, a, b]) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff })).map(([a, b]) => [0, 0, 0, 0, 0, 0, a, b]) },
  // One zero run placed anywhere, the rest anything.
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }))
      .map(([at, len, ws]) => ws.map((w, i) => (i >= at && i < at + len ? 0 : w))),
  },
).map((ws) => bytesOf(ws));

describe('ipText: IPv6 %IP% as glibc inet_ntop writes it', () => {
  const named: ReadonlyArray<[string, string]> = [
    ['0:0:0:0:0:0:0:2', '::2'],
    ['0:0:0:0:0:0:0:100', '::100'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:ffff:c633:6407', '::ffff:198.51.100.7'],
    ['0:0:0:0:0:0:c633:6407', '::198.51.100.7'],
    ['2001:db8:0:0:0:0:0:2', '2001:db8::2'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['0:0:0:0:0:0:1:0', '::0.1.0.0'],
    ['0:0:0:0:0:0:0:ffff', '::ffff'],
    ['0:0:0:0:1:ffff:c633:6407', '::1:ffff:c633:6407'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0:1:0:1:0:1:0', '2001:0:1:0:1:0:1:0'],
    ['2001:db8:0:0:0:0:0:0', '2001:db8::'],
  ];
  const full = (s: string): Uint8Array => bytesOf(s.split(':').map((x) => Number.parseInt(x, 16)));

  for (const [addr, text] of named) {
    it(`${addr} -> ${text}`, () => {
      expect(ipText(full(addr))).toBe(text);
    });
  }

  it.skipIf(PYTHON === undefined)('the named cases are what glibc writes (python3 socket.inet_ntop)', () => {
    expect(glibcTexts(named.map(([a]) => full(a)))).toEqual(named.map(([, t]) => t));
  });

  it.skipIf(PYTHON === undefined)(`${RUNS} generated addresses: the same text as glibc (seed ${SEED})`, () => {
    const addrs = fc.sample(address, { numRuns: RUNS, seed: SEED });
    const want = glibcTexts(addrs);
    const bad = addrs
      .map((a, i) => ({ hex: Buffer.from(a).toString('hex'), got: ipText(a), want: want[i]! }))
      .filter((x) => x.got !== x.want);
    expect(bad.slice(0, 10), `seed ${SEED}: replay with KNOCKC_SEED=${SEED}; ${bad.length} of ${RUNS} differ`).toEqual([]);
    // The generator did reach the forms that matter.
    expect(want.filter((t) => t.startsWith('::ffff:') && t.includes('.')).length).toBeGreaterThan(RUNS / 50);
    expect(want.filter((t) => /^::\d+\.\d+\.\d+\.\d+$/.test(t)).length).toBeGreaterThan(RUNS / 50);
    expect(want.filter((t) => /^::[0-9a-f]{1,4}$/.test(t)).length).toBeGreaterThan(RUNS / 100);
  });

  it('ipv6Bytes reads every form back (round trip through ipText)', () => {
    fc.assert(
      fc.property(address, (a) => {
        expect(ipv6Bytes(ipText(a))).toEqual(a);
      }),
      { numRuns: 500, seed: SEED },
    );
    expect(ipv6Bytes('2001:db8::1%eth0')).toBeNull();
    expect(ipv6Bytes('198.51.100.7')).toBeNull();
  });

  it('a Target is canonical exactly when written as inet_ntop writes it', () => {
    expect(readTarget('::ffff:198.51.100.7')).toMatchObject({ family: 'ip6', isCanonical: true });
    expect(readTarget('::198.51.100.7')).toMatchObject({ family: 'ip6', isCanonical: true });
    expect(readTarget('::ffff:c633:6407')).toMatchObject({ isCanonical: false, canonical: '::ffff:198.51.100.7' });
    expect(readTarget('::0.0.0.2')).toMatchObject({ isCanonical: false, canonical: '::2' });
    expect(readTarget('2001:db8::2')).toMatchObject({ isCanonical: true });
    expect(readTarget('2001:DB8::2')).toMatchObject({ isCanonical: false, canonical: '2001:db8::2' });
  });
});
