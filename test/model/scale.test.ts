// Traffic that is not a knock costs the same whatever the number of doors:
// one (proto, port) lookup on the knock path, one on the grant path.
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/frontend/load.js';
import { IrMachine } from '../../src/model/ir-interpreter.js';
import { lower, DEFAULT_LOWER } from '../../src/model/lower.js';
import type { Packet } from '../../src/model/packet.js';

export function manyDoors(n: number): string {
  const doors: string[] = [];
  for (let i = 0; i < n; i++) {
    const base = 10000 + i * 3;
    doors.push(
      `[door${i}]\nsequence = ${base}:tcp,${base + 1}:udp,${base + 2}:tcp\nseq_timeout = 10\ntcpflags = syn\n` +
        `start_command = iptables -A INPUT -s %IP% -p tcp --dport ${22 + (i % 3)} -j ACCEPT\ncmd_timeout = 30\n` +
        `stop_command = iptables -D INPUT -s %IP% -p tcp --dport ${22 + (i % 3)} -j ACCEPT\n`,
    );
  }
  return doors.join('\n');
}

const packet = (proto: 'tcp' | 'udp', port: number): Packet => ({
  time: 1, family: 'ip', src: '198.51.100.2', dst: '198.51.100.1', dstLocal: true, iif: 'eth0',
  proto, port, flags: proto === 'tcp' ? ['syn'] : [], ctNew: true,
});

function cost(doors: number, p: Packet): number {
  const r = parseConfigText(manyDoors(doors), { file: `scale-${doors}.conf` });
  if (!r.config) throw new Error('scale config rejected');
  const m = new IrMachine(lower(r.config, DEFAULT_LOWER));
  m.pass(p);
  return m.evaluated;
}

describe('per-packet cost of non-knock traffic', () => {
  for (const p of [packet('tcp', 80), packet('udp', 53), packet('tcp', 9999)]) {
    it(`${p.proto}/${p.port}: the same rule count for 1, 10, 100 and 1000 doors`, () => {
      const counts = [1, 10, 100, 1000].map((n) => cost(n, p));
      expect(counts[0]).toBeLessThanOrEqual(3);
      expect(new Set(counts).size).toBe(1);
    });
  }
});
