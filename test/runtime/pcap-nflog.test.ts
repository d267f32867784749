// The NFLOG pcap stream reader, on hand-built records (both byte orders, cut
// into arbitrary chunks) and on what the real tcpdump writes for a packet a
// real nft rule logged (scratch network namespace; needs root, tcpdump, nft).
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipText } from '../../src/frontend/addr-text.js';
import { NflogPcapReader, PcapFormatError, type NflogEvent } from '../../src/runtime/pcap-nflog.js';
import { netnsReady, toolPath } from '../netns-env.js';

function tlv(type: number, value: Buffer, le: boolean): Buffer {
  const len = 4 + value.length;
  const b = Buffer.alloc((len + 3) & ~3);
  if (le) {
    b.writeUInt16LE(len, 0);
    b.writeUInt16LE(type, 2);
  } else {
    b.writeUInt16BE(len, 0);
    b.writeUInt16BE(type, 2);
  }
  value.copy(b, 4);
  return b;
}

function record(o: { af: number; prefix: string | null; payload: Buffer | null; le: boolean; sec: number; usec: number }): Buffer {
  const parts = [Buffer.from([o.af, 0, 0, 42])];
  parts.push(tlv(1, Buffer.from([0x08, 0x00, 3, 0]), o.le)); // packet header: not read
  if (o.prefix !== null) parts.push(tlv(10, Buffer.from(`${o.prefix}\0`, 'latin1'), o.le));
  if (o.payload) parts.push(tlv(9, o.payload, o.le));
  const data = Buffer.concat(parts);
  const h = Buffer.alloc(16);
  const w = (v: number, at: number) => (o.le ? h.writeUInt32LE(v, at) : h.writeUInt32BE(v, at));
  w(o.sec, 0);
  w(o.usec, 4);
  w(data.length, 8);
  w(data.length, 12);
  return Buffer.concat([h, data]);
}

function globalHeader(le: boolean, link = 239): Buffer {
  const b = Buffer.alloc(24);
  const w = (v: number, at: number) => (le ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));
  w(0xa1b2c3d4, 0);
  (le ? b.writeUInt16LE.bind(b) : b.writeUInt16BE.bind(b))(2, 4);
  (le ? b.writeUInt16LE.bind(b) : b.writeUInt16BE.bind(b))(4, 6);
  w(262144, 16);
  w(link, 20);
  return b;
}

const ip4 = (src: number[]) => Buffer.from([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, ...src, 198, 51, 100, 1, 0, 1, 0, 2]);
const ip6 = (src: number[]) => Buffer.concat([Buffer.from([0x60, 0, 0, 0, 0, 8, 17, 64]), Buffer.from(src), Buffer.alloc(16), Buffer.alloc(8)]);

describe('NFLOG pcap stream', () => {
  for (const le of [true, false]) {
    it(`reads prefix, family and source (${le ? 'little' : 'big'}-endian writer), whatever the chunking`, () => {
      const v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
      const stream = Buffer.concat([
        globalHeader(le),
        record({ af: 2, prefix: 'knockc d3 L7', payload: ip4([198, 51, 100, 9]), le, sec: 100, usec: 250_000 }),
        record({ af: 10, prefix: 'knockc d0', payload: ip6(v6), le, sec: 101, usec: 0 }),
        record({ af: 2, prefix: null, payload: ip4([198, 51, 100, 10]), le, sec: 102, usec: 0 }), // no prefix: not ours
        record({ af: 2, prefix: 'x', payload: Buffer.from([0x45, 0]), le, sec: 103, usec: 0 }), // cut payload
      ]);
      const want: NflogEvent[] = [
        { prefix: 'knockc d3 L7', family: 'ip', src: '198.51.100.9', at: 100_250 },
        { prefix: 'knockc d0', family: 'ip6', src: '2001:db8::7', at: 101_000 },
      ];
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 8 }), (cuts) => {
          const r = new NflogPcapReader();
          const points = [...new Set(cuts)].sort((a, b) => a - b);
          const got: NflogEvent[] = [];
          let last = 0;
          for (const p of [...points, stream.length]) {
            got.push(...r.push(stream.subarray(last, p)));
            last = p;
          }
          expect(got).toEqual(want);
        }),
        { numRuns: 200 },
      );
    });
  }

  it('refuses a stream that is not NFLOG pcap (clear error, not garbage events)', () => {
    expect(() => new NflogPcapReader().push(Buffer.alloc(24, 7))).toThrow(PcapFormatError);
    expect(() => new NflogPcapReader().push(globalHeader(true, 1))).toThrow(/link type 1, expected NFLOG/);
  });
});

describe('addresses as knockd prints them (inet_ntop)', () => {
  const v6 = (s: string): Uint8Array => {
    const b = Buffer.alloc(16);
    const [head, tail] = s.includes('::') ? s.split('::') : [s, null];
    const hw = head ? head.split(':') : [];
    const tw = tail ? tail.split(':') : [];
    const words = tail === null ? hw : [...hw, ...Array(8 - hw.length - tw.length).fill('0'), ...tw];
    words.forEach((w, i) => b.writeUInt16BE(parseInt(w, 16), 2 * i));
    return b;
  };
  it.each([
    ['2001:db8:0:0:0:0:0:7', '2001:db8::7'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6'],
    ['2001:0:0:1:0:0:0:0', '2001:0:0:1::'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['0:0:0:0:0:ffff:c633:6407', '::ffff:198.51.100.7'],
    ['0:0:0:0:0:0:c633:6407', '::198.51.100.7'],
    ['fe80:0:0:0:abcd:0:0:1', 'fe80::abcd:0:0:1'],
    ['2001:db8:0:1:0:1:0:1', '2001:db8:0:1:0:1:0:1'],
  ])('%s -> %s', (full, text) => {
    expect(ipText(v6(full))).toBe(text);
  });
  it('IPv4 is dotted quad', () => expect(ipText(new Uint8Array([198, 51, 100, 255]))).toBe('198.51.100.255'));
});

const ready = netnsReady('the NFLOG source tests', ['ip', 'nft', 'tcpdump', 'setpriv']);
const IP = toolPath('ip');
const NS = `knockc-nflog-${process.pid}`;

describe.skipIf(!ready)('NFLOG source: real kernel, real tcpdump (scratch network namespace)', () => {
  const ns = (...argv: string[]) => spawnSync(IP!, ['netns', 'exec', NS, ...argv], { encoding: 'utf8' });
  beforeAll(() => {
    spawnSync(IP!, ['netns', 'del', NS]);
    expect(spawnSync(IP!, ['netns', 'add', NS]).status).toBe(0);
    ns('ip', 'link', 'set', 'lo', 'up');
    const rules = [
      'table inet t {',
      '  chain c {',
      '    type filter hook prerouting priority 0;',
      '    udp dport 5555 log group 4242 prefix "knockc d1 L3" queue-threshold 1',
      '    udp dport 5556 log group 4242 prefix "knockc d2" queue-threshold 1',
      '  }',
      '}',
      '',
    ].join('\n');
    const r = spawnSync(IP!, ['netns', 'exec', NS, 'nft', '-f', '-'], { input: rules, encoding: 'utf8' });
    expect(r.stderr).toBe('');
  });
  afterAll(() => {
    spawnSync(IP!, ['netns', 'del', NS]);
  });

  it('a logged packet arrives as an event within milliseconds; a second listener on the group is refused', async () => {
    // The source must run inside the namespace: run this test's node there through a tiny script.
    const script = `
      import { startNflogSource } from ${JSON.stringify(new URL('../../src/runtime/nflog-source.ts', import.meta.url).pathname)};
      const events = [];
      const s = startNflogSource({ group: 4242, onEvent: (e) => { events.push({ ...e, lag: Date.now() - e.at }); } });
      await s.ready;
      const second = startNflogSource({ group: 4242, onEvent: () => {} });
      const busy = await second.ready.then(() => 'listening', (e) => e.message);
      const { execFileSync } = await import('node:child_process');
      const t0 = Date.now();
      execFileSync('bash', ['-c', 'echo x > /dev/udp/127.0.0.1/5555; echo y > /dev/udp/::1/5556']);
      while (events.length < 2 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 100));
      s.stop();
      console.log(JSON.stringify({ events, busy, ms: Date.now() - t0 }));
    `;
    const r = spawnSync(IP!, ['netns', 'exec', NS, process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: new URL('../..', import.meta.url).pathname });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { events: Array<NflogEvent & { lag: number }>; busy: string };
    expect(out.events.map(({ prefix, family, src }) => ({ prefix, family, src }))).toEqual([
      { prefix: 'knockc d1 L3', family: 'ip', src: '127.0.0.1' },
      { prefix: 'knockc d2', family: 'ip6', src: '::1' },
    ]);
    // queue-threshold 1: delivered at once (without it the kernel batches for up to 1 s).
    expect(out.events[0]!.lag).toBeLessThan(200);
    expect(out.busy).toMatch(/tcpdump \(NFLOG group 4242\) ended/);
  });
});
