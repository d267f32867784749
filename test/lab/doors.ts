/**
 * What the hand-written lab tests (semantics, differences, differential) write
 * their configs and traces with: the lab's sources, iptables grant commands,
 * a door built from them, and trace packets.
 */
import type { Src, TracePacket } from './trace.js';

export const C0: Src = { client: 0, family: 4 };
export const C1: Src = { client: 1, family: 4 };
export const C0V6: Src = { client: 0, family: 6 };
export const C1V6: Src = { client: 1, family: 6 };

/** knockd's classic command: add (-A) or delete (-D) an ACCEPT of tcp/PORT for %IP%. */
export const iptRule = (op: '-A' | '-D', port: number, v6 = false): string =>
  `/usr/sbin/${v6 ? 'ip6tables' : 'iptables'} ${op} INPUT -s %IP% -p tcp --dport ${port} -j ACCEPT`;

export interface DoorOptions {
  /** What start_command does to the port (default -A: open it). */
  readonly op?: '-A' | '-D';
  readonly flags?: string;
  /** Default 5. */
  readonly seqTimeout?: number;
  /** With it, stop_command(_6) delete the rule again after that many seconds. */
  readonly cmdTimeout?: number;
  /** No *_6 commands: IPv6 knockers run the IPv4 command (and it fails). */
  readonly v4only?: boolean;
}

/** A door whose commands are iptRule on `port`, for both families unless v4only. */
export function door(name: string, sequence: string, port: number, o: DoorOptions = {}): string {
  const op = o.op ?? '-A';
  const lines = [`[${name}]`, `sequence = ${sequence}`, `seq_timeout = ${o.seqTimeout ?? 5}`];
  if (o.flags) lines.push(`tcpflags = ${o.flags}`);
  lines.push(`start_command = ${iptRule(op, port)}`);
  if (!o.v4only) lines.push(`start_command_6 = ${iptRule(op, port, true)}`);
  if (o.cmdTimeout !== undefined) {
    lines.push(`cmd_timeout = ${o.cmdTimeout}`, `stop_command = ${iptRule('-D', port)}`);
    if (!o.v4only) lines.push(`stop_command_6 = ${iptRule('-D', port, true)}`);
  }
  return `${lines.join('\n')}\n`;
}

export const tcp = (t: number, src: Src, port: number, flags = 'S'): TracePacket => ({ t, src, proto: 'tcp', port, flags });
export const udp = (t: number, src: Src, port: number): TracePacket => ({ t, src, proto: 'udp', port });
/** A knock sequence from one source, `step` seconds apart. */
export const seq = (t: number, src: Src, ports: number[], step = 0.1): TracePacket[] => ports.map((p, i) => tcp(t + i * step, src, p));
