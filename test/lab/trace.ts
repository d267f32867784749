/**
 * Timed packet traces with connection probes, played by the lab clients
 * against every server of a lane at once (lab-trace.pl does the timing inside
 * each client). The same packets, at the same times, reach knockd and every
 * knockc target; the probes then tell what each one opened.
 *
 * Offsets are seconds from the trace's time 0, which is always a whole second
 * of the wall clock: knockd reads whole seconds (pcap timestamps), so an offset
 * of k + 0.5 is second k for knockd and k.5 s for the kernel.
 */
import type { FlagName } from '../../src/frontend/config.js';
import type { Packet } from '../../src/model/packet.js';
import type { Family, Lab, LabServer } from './lab.js';

/** A packet source: a lab client and the address family it sends with. */
export interface Src {
  readonly client: number;
  readonly family: Family;
}

export const srcName = (s: Src): string => `c${s.client}v${s.family}`;

export interface TracePacket {
  /** Seconds from time 0. */
  readonly t: number;
  readonly src: Src;
  readonly proto: 'tcp' | 'udp';
  readonly port: number;
  /** TCP flags as letters (S, SA, A, F, R, P, U, '-' for none); default 'S'. */
  readonly flags?: string;
}

export interface TraceProbe {
  readonly t: number;
  readonly src: Src;
  readonly port: number;
  /** Connect timeout (default 700 ms: below TCP's 1 s SYN retransmission, so one SYN). */
  readonly timeoutMs?: number;
  /** Address to connect to instead of the server's own (given the server). */
  readonly host?: (server: LabServer) => string;
}

export interface Trace {
  readonly packets: readonly TracePacket[];
  readonly probes: readonly TraceProbe[];
}

export type ProbeResult = 'open' | 'closed' | 'refused';

export interface TraceRun {
  /** Server name (the key given) -> one result per probe, in trace.probes order. */
  readonly results: ReadonlyMap<string, ProbeResult[]>;
  /** The largest delay of any action behind its schedule (ms), and that action's offset. */
  readonly maxLateMs: number;
  readonly lateAt: number;
  /** Epoch ms of time 0. */
  readonly t0: number;
}

/** Actions later than this make a run unusable: the caller's 1.2 s margins assume less. */
export const MAX_LATE_MS = 250;

const LETTERS: Record<FlagName, string> = { fin: 'F', syn: 'S', rst: 'R', psh: 'P', ack: 'A', urg: 'U' };
const FLAG_OF: Record<string, FlagName> = { F: 'fin', S: 'syn', R: 'rst', P: 'psh', A: 'ack', U: 'urg' };

export const flagLetters = (fs: readonly FlagName[]): string => (fs.length ? fs.map((f) => LETTERS[f]).join('') : '-');
export const flagNames = (letters: string): FlagName[] =>
  letters === '-' ? [] : [...letters.toUpperCase()].flatMap((c) => (FLAG_OF[c] ? [FLAG_OF[c]!] : []));

const off = (t: number): string => t.toFixed(3);

/**
 * Plays `trace` from every client it uses, against every server in `servers`
 * (name -> server). Resolves when every client is done.
 */
export async function playTrace(lab: Lab, servers: ReadonlyMap<string, LabServer>, trace: Trace, opts: { leadMs?: number } = {}): Promise<TraceRun> {
  const names = [...servers.keys()];
  const lines = new Map<number, Array<{ t: number; seq: number; line: string }>>();
  let seq = 0;
  const push = (client: number, t: number, line: string): void => {
    if (!lab.clients[client]) throw new Error(`trace uses client ${client}, the lab has ${lab.clients.length}`);
    const l = lines.get(client) ?? [];
    l.push({ t, seq: seq++, line });
    lines.set(client, l);
  };
  for (const p of trace.packets) {
    for (const name of names) {
      const dst = servers.get(name)!.ip(p.src.family);
      push(p.src.client, p.t, p.proto === 'tcp' ? `at ${off(p.t)} tcp ${dst} ${p.port} ${p.flags ?? 'S'}` : `at ${off(p.t)} udp ${dst} ${p.port}`);
    }
  }
  trace.probes.forEach((p, i) => {
    names.forEach((name, j) => {
      const server = servers.get(name)!;
      const dst = p.host ? p.host(server) : server.ip(p.src.family);
      push(p.src.client, p.t, `at ${off(p.t)} probe ${i}.${j} ${dst} ${p.port} ${p.timeoutMs ?? 700}`);
    });
  });
  // Time 0: a whole second, late enough for every `docker exec` to have started (on a busy
  // Docker engine that can take a second).
  const t0 = Math.ceil((Date.now() + (opts.leadMs ?? 2000)) / 1000) * 1000;
  const outputs = await Promise.all(
    [...lines.entries()].map(async ([client, ls]) => {
      ls.sort((a, b) => a.t - b.t || a.seq - b.seq);
      return lab.clients[client]!.playTrace([`start ${(t0 / 1000).toFixed(3)}`, ...ls.map((l) => l.line)]);
    }),
  );
  const results = new Map<string, ProbeResult[]>(names.map((n) => [n, new Array<ProbeResult>(trace.probes.length)]));
  let maxLateMs = 0;
  let lateAt = 0;
  for (const out of outputs) {
    for (const line of out) {
      const w = line.split(' ');
      if (w[0] === 'late' && Number(w[2]) > maxLateMs) {
        maxLateMs = Number(w[2]);
        lateAt = Number(w[1]);
      }
      else if (w[0] === 'probe') {
        const [i, j] = w[1]!.split('.').map(Number) as [number, number];
        const state = w[2] === 'open' ? 'open' : w[2] === 'refused' ? 'refused' : 'closed';
        results.get(names[j]!)![i] = state;
      }
    }
  }
  for (const [name, rs] of results) {
    for (let i = 0; i < trace.probes.length; i++) {
      if (rs[i] === undefined) throw new Error(`no result for probe ${i} on ${name}: ${JSON.stringify(outputs)}`);
    }
  }
  return { results, maxLateMs, lateAt, t0 };
}

/** Throws when the clients could not keep to the schedule (an overloaded machine). */
export function assertOnTime(run: TraceRun, limitMs: number = MAX_LATE_MS): void {
  if (run.maxLateMs > limitMs) {
    throw new Error(
      `trace timing: the action at t=${run.lateAt} ran ${run.maxLateMs} ms late (limit ${limitMs} ms); the machine is overloaded, results unusable`,
    );
  }
}

/** The trace's packets as the executable models see them (destination: the server). */
export function modelPackets(trace: Trace, iface = 'eth0'): Packet[] {
  return [...trace.packets]
    .sort((a, b) => a.t - b.t)
    .map((p) => ({
      time: p.t,
      family: p.src.family === 6 ? ('ip6' as const) : ('ip' as const),
      src: srcName(p.src),
      dst: p.src.family === 6 ? 'server6' : 'server4',
      dstLocal: true,
      iif: iface,
      proto: p.proto,
      port: p.port,
      flags: p.proto === 'tcp' ? flagNames(p.flags ?? 'S') : [],
      ctNew: true,
    }));
}

/** One line per probe: time, source, port, and the result of each server. */
export function describeRun(trace: Trace, run: TraceRun): string {
  const names = [...run.results.keys()];
  const rows = trace.probes.map((p, i) => `  t=${p.t.toFixed(2)} ${srcName(p.src)} :${p.port}  ${names.map((n) => `${n}=${run.results.get(n)![i]}`).join(' ')}`);
  return rows.join('\n');
}

export function describeTrace(trace: Trace): string {
  return [...trace.packets]
    .sort((a, b) => a.t - b.t)
    .map((p) => `  t=${p.t.toFixed(2)} ${srcName(p.src)} ${p.proto}/${p.port}${p.proto === 'tcp' ? ` ${p.flags ?? 'S'}` : ''}`)
    .join('\n');
}
