// Random knockd.conf doors and packet traces for the equivalence properties.
import fc from 'fast-check';
import type { FlagName } from '../../src/frontend/config.js';
import type { Packet } from '../../src/model/packet.js';

export const PORTS = [1001, 1002, 1003, 1004];
export const GRANT_PORTS = [22, 2222];
export const SOURCES = ['198.51.100.2', '198.51.100.3', '2001:db8::2'];
export const LOCAL4 = '198.51.100.1';
export const LOCAL6 = '2001:db8::1';
export const TARGET = '198.51.100.9';

export interface RandomDoor {
  knocks: Array<{ port: number; proto: 'tcp' | 'udp' }>;
  flags: string | null;
  seqTimeout: number;
  grantPort: number;
  timed: boolean;
  cmdTimeout: number;
  target: boolean;
}

const FLAG_CHOICES = [null, null, 'syn', 'syn,!ack', 'ack', '!syn', 'fin,!syn'];

export const doorArb: fc.Arbitrary<RandomDoor> = fc.record({
  knocks: fc.array(fc.record({ port: fc.constantFrom(...PORTS), proto: fc.constantFrom('tcp' as const, 'tcp' as const, 'udp' as const) }), { minLength: 1, maxLength: 4 }),
  flags: fc.constantFrom(...FLAG_CHOICES),
  seqTimeout: fc.integer({ min: 1, max: 8 }),
  grantPort: fc.constantFrom(...GRANT_PORTS),
  timed: fc.boolean(),
  cmdTimeout: fc.integer({ min: 1, max: 10 }),
  target: fc.constantFrom(false, false, false, true),
});

export function configText(doors: readonly RandomDoor[]): string {
  return doors
    .map((d, i) => {
      const lines = [`[door${i}]`, `sequence = ${d.knocks.map((k) => `${k.port}:${k.proto}`).join(',')}`, `seq_timeout = ${d.seqTimeout}`];
      if (d.flags) lines.push(`tcpflags = ${d.flags}`);
      if (d.target) lines.push(`target = ${TARGET}`);
      const rule = `-s %IP% -p tcp --dport ${d.grantPort} -j ACCEPT`;
      lines.push(`start_command = iptables -A INPUT ${rule}`, `start_command_6 = ip6tables -A INPUT ${rule}`);
      if (d.timed) {
        lines.push(`cmd_timeout = ${d.cmdTimeout}`, `stop_command = iptables -D INPUT ${rule}`, `stop_command_6 = ip6tables -D INPUT ${rule}`);
      }
      return lines.join('\n');
    })
    .join('\n\n') + '\n';
}

interface Step {
  gap: number;
  src: number;
  kind: 'door' | 'prefix' | 'suffix' | 'noise';
  cut: number;
  /** Extra seconds before each knock of a multi-knock step. */
  spread: number[];
  door: number;
  port: number;
  proto: 'tcp' | 'udp';
  flags: FlagName[];
  toTarget: boolean;
  offInterface: boolean;
}

const flagSet = fc.subarray(['fin', 'syn', 'rst', 'psh', 'ack', 'urg'] as FlagName[]);

const stepArb: fc.Arbitrary<Step> = fc.record({
  gap: fc.constantFrom(0, 0, 0, 1, 1, 2, 3, 6),
  src: fc.integer({ min: 0, max: SOURCES.length - 1 }),
  kind: fc.constantFrom('door' as const, 'door' as const, 'prefix' as const, 'suffix' as const, 'noise' as const, 'noise' as const),
  cut: fc.integer({ min: 1, max: 3 }),
  spread: fc.array(fc.constantFrom(0, 0, 0, 1, 2), { minLength: 4, maxLength: 4 }),
  door: fc.nat(),
  port: fc.constantFrom(...PORTS, 80, 1005),
  proto: fc.constantFrom('tcp' as const, 'udp' as const),
  flags: fc.oneof(fc.constant(['syn'] as FlagName[]), flagSet),
  toTarget: fc.constantFrom(false, false, false, true),
  offInterface: fc.constantFrom(false, false, false, false, false, true),
});

/**
 * Packet traces. Times are whole seconds plus one half: knockd counts whole
 * seconds and the kernel milliseconds, and at half-seconds both see the same
 * elapsed time (the lab keeps real traces 1.2 s away from every boundary).
 * "door" steps replay a whole correct sequence of a door (with SYN), so that
 * doors really open; "prefix"/"suffix" steps send part of one (attempts left
 * to time out, then resumed); "noise" steps send one arbitrary packet.
 */
export function traceArb(doors: readonly RandomDoor[]): fc.Arbitrary<Packet[]> {
  return fc.array(stepArb, { minLength: 1, maxLength: 25 }).map((steps) => {
    const out: Packet[] = [];
    let t = 0;
    for (const s of steps) {
      t += s.gap;
      const src = SOURCES[s.src]!;
      const family = src.includes(':') ? ('ip6' as const) : ('ip' as const);
      const local = family === 'ip6' ? LOCAL6 : LOCAL4;
      const mk = (port: number, proto: 'tcp' | 'udp', flags: FlagName[], toTarget: boolean, off: boolean): Packet => ({
        time: t + 0.5,
        family,
        src,
        dst: toTarget && family === 'ip' ? TARGET : local,
        dstLocal: !(toTarget && family === 'ip'),
        iif: off ? 'eth1' : 'eth0',
        proto,
        port,
        flags: proto === 'tcp' ? flags : [],
        ctNew: true,
      });
      if (s.kind !== 'noise' && doors.length > 0) {
        const d = doors[s.door % doors.length]!;
        // A whole sequence, its first knocks only, or its last ones (to resume an old attempt).
        const ks = s.kind === 'door' ? d.knocks : s.kind === 'prefix' ? d.knocks.slice(0, s.cut) : d.knocks.slice(s.cut);
        ks.forEach((k, i) => {
          t += s.spread[i] ?? 0;
          out.push(mk(k.port, k.proto, ['syn'], d.target, false));
        });
      } else {
        out.push(mk(s.port, s.proto, s.flags, s.toTarget, s.offInterface));
      }
    }
    return out;
  });
}

export const scenarioArb = fc
  .array(doorArb, { minLength: 1, maxLength: 4 })
  .chain((doors) => traceArb(doors).map((trace) => ({ doors, trace })));
