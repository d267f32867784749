/**
 * Random differential scenarios: a knockd.conf of a few doors whose commands
 * are iptables/ip6tables rules on ports 22/2222, a timed packet trace mixing
 * correct sequences, partial ones, wrong ports, protocols and flags, pauses,
 * and connection probes. Adapted from test/model/random-scenarios.ts to what a
 * real network and a real knockd allow.
 *
 * A scenario is kept only when its outcome does not hang on things the lab
 * cannot hold still or that are known, documented differences:
 *
 *  - timing: knockd counts whole seconds, the kernel milliseconds, and real
 *    packets are late by a few ms (up to SCENARIO_MAX_LATE_MS). Packets are sent at
 *    k + [0.1, 0.55] s (and packets of different clients >= 0.45 s apart), and the
 *    trace must give the same stages and openings in the knockd model
 *    (src/model/knockd-machine.ts) with whole seconds, and with milliseconds and
 *    every seq_timeout T replaced by T - 1.2 s and by T + 1.2 s: then no time
 *    difference that matters lies within 1.2 s of its timeout.
 *  - knockd's attempt-list bug (`listBug` in src/model/knockd-machine.ts): the trace must give the same
 *    events with and without it (differences.test.ts shows the bug itself).
 *  - grants: knockd keeps one iptables rule copy per opening, knockc a set
 *    membership; where the two disagree (a closing door after two openings,
 *    or a timed opening's stop command deleting a later opening's rule) the
 *    scenario is dropped (differences.test.ts shows both).
 *  - knockd's commands: no two (starts, timed stops) within 0.5 s of each other:
 *    knockd runs iptables without -w, and two at once race for the xtables lock
 *    (the loser fails; seen as a rule copy left behind by two stops at the same time).
 *  - probes: never within 1.5 s after an opening of the probed source and port
 *    (knockd runs its command ~10-100 ms after the knock, and the lab wants no
 *    SYN race), never within 1.2 s of a grant's expiry.
 *
 * Deterministic from (seed, index): KNOCKC_SEED=S re-runs the same scenarios.
 */
import type { KnockdConfig } from '../../src/frontend/config.js';
import { runKnockd, type KnockdEvent } from '../../src/model/knockd-machine.js';
import type { Packet } from '../../src/model/packet.js';
import { Rng } from '../rng.js';
import { parseOrThrow } from './targets.js';
import { modelPackets, srcName, type ProbeResult, type Src, type Trace, type TracePacket, type TraceProbe } from './trace.js';

/** knockd's commands (starts, timed stops) at least this far apart: closer ones race for the xtables lock. */
const COMMANDS_APART_S = 0.5;

/** How late (ms) a packet of a random scenario may be sent: the trace layout allows 400. */
export const SCENARIO_MAX_LATE_MS = 380;

export const KNOCK_PORTS = [1001, 1002, 1003, 1004];
export const NOISE_PORTS = [80, 1005];
export const GRANT_PORTS = [22, 2222];
export const SOURCES: readonly Src[] = [
  { client: 0, family: 4 },
  { client: 1, family: 4 },
  { client: 0, family: 6 },
  { client: 1, family: 6 },
];

const FLAG_CHOICES: Array<string | null> = [null, null, 'syn', 'syn', 'syn,!ack', 'ack', '!syn', 'fin,!syn'];
const NOISE_FLAGS = ['S', 'S', 'SA', 'A', 'F', 'FA', 'R', 'PA', '-', 'SF', 'U'];

export interface RandomDoor {
  knocks: Array<{ port: number; proto: 'tcp' | 'udp' }>;
  flags: string | null;
  seqTimeout: number;
  grantPort: number;
  /** open: adds the rule (timed when `timed`); close: deletes it (knockd's closeSSH pattern). */
  kind: 'open' | 'close';
  timed: boolean;
  cmdTimeout: number;
}

export interface Scenario {
  readonly seed: number;
  readonly index: number;
  readonly doors: readonly RandomDoor[];
  readonly config: string;
  readonly trace: Trace;
  /** The knockd model's prediction for each probe. */
  readonly expected: readonly ProbeResult[];
  readonly openings: number;
  /** Candidates generated before this one was kept. */
  readonly attempts: number;
  /** Why rejected candidates were rejected (counts). */
  readonly rejected: Readonly<Record<string, number>>;
}

// ---------------------------------------------------------------------------
// Seeded random numbers (test/rng.ts): scenario i depends only on (seed, i).
export { newSeed, Rng } from '../rng.js';

// ---------------------------------------------------------------------------
// Doors and config

export function configText(doors: readonly RandomDoor[]): string {
  return (
    doors
      .map((d, i) => {
        const lines = [`[door${i}]`, `sequence = ${d.knocks.map((k) => `${k.port}:${k.proto}`).join(',')}`, `seq_timeout = ${d.seqTimeout}`];
        if (d.flags) lines.push(`tcpflags = ${d.flags}`);
        const rule = `-s %IP% -p tcp --dport ${d.grantPort} -j ACCEPT`;
        const op = d.kind === 'open' ? '-A' : '-D';
        lines.push(`start_command = /usr/sbin/iptables ${op} INPUT ${rule}`, `start_command_6 = /usr/sbin/ip6tables ${op} INPUT ${rule}`);
        if (d.kind === 'open' && d.timed) {
          lines.push(
            `cmd_timeout = ${d.cmdTimeout}`,
            `stop_command = /usr/sbin/iptables -D INPUT ${rule}`,
            `stop_command_6 = /usr/sbin/ip6tables -D INPUT ${rule}`,
          );
        }
        return lines.join('\n');
      })
      .join('\n\n') + '\n'
  );
}

function randomDoor(r: Rng, allowClose: boolean): RandomDoor {
  const n = r.pick([1, 2, 2, 3, 3, 3, 4]);
  return {
    knocks: Array.from({ length: n }, () => ({ port: r.pick(KNOCK_PORTS), proto: r.pick(['tcp', 'tcp', 'udp'] as const) })),
    flags: r.pick(FLAG_CHOICES),
    seqTimeout: r.int(2, 6),
    grantPort: r.pick(GRANT_PORTS),
    kind: allowClose && r.chance(0.25) ? 'close' : 'open',
    timed: r.chance(0.7),
    cmdTimeout: r.int(2, 6),
  };
}

/** TCP flag letters that satisfy a door's tcpflags (what a client of that door sends). */
export function lettersFor(flags: string | null): string {
  const want = new Set<string>(['S']);
  for (const item of (flags ?? '').split(',').filter(Boolean)) {
    const neg = item.startsWith('!');
    const letter = { fin: 'F', syn: 'S', rst: 'R', psh: 'P', ack: 'A', urg: 'U' }[item.replace('!', '')]!;
    if (neg) want.delete(letter);
    else want.add(letter);
  }
  return want.size ? [...want].join('') : '-';
}

// ---------------------------------------------------------------------------
// Traces

function randomTrace(r: Rng, doors: readonly RandomDoor[]): TracePacket[] {
  const out: TracePacket[] = [];
  let second = 0;
  let lastT = -1;
  let lastClient = -1;
  // Packets go out at a fraction in [0.1, 0.55] of a second: one up to SCENARIO_MAX_LATE_MS
  // late is still in the same whole second for knockd. At least 0.1 s after the previous
  // packet, or 0.45 s when that came from the other client (packets of one client keep their
  // order; packets of two clients could swap if one ran late, and their order can matter).
  const place = (want: number, client: number): number => {
    let t = Math.max(want, lastT + (client === lastClient ? 0.1 : 0.45));
    const frac = t - Math.floor(t);
    if (frac < 0.1) t = Math.floor(t) + 0.1;
    else if (frac > 0.55) t = Math.floor(t) + 1.1;
    t = Math.round(t * 1000) / 1000;
    second = Math.floor(t);
    lastT = t;
    lastClient = client;
    return t;
  };
  /** `advance` whole seconds on, at a random fraction. */
  const at = (advance: number, client: number): number => place(second + advance + 0.1 + Math.round(r.next() * 45) / 100, client);
  const steps = r.int(2, 9);
  let src = r.pick(SOURCES);
  for (let s = 0; s < steps; s++) {
    const gap = r.pick([0, 0, 0, 1, 1, 2, 3, 5]);
    // Half the time the same source goes on (its stories: prefix then suffix, open then
    // close, re-knocks); otherwise any source.
    if (r.chance(0.5)) src = r.pick(SOURCES);
    const kind = r.pick(['door', 'door', 'door', 'slow', 'slow', 'prefix', 'suffix', 'noise', 'noise'] as const);
    if (kind === 'noise') {
      const proto = r.pick(['tcp', 'tcp', 'udp'] as const);
      const port = r.pick([...KNOCK_PORTS, ...NOISE_PORTS]);
      out.push({ t: at(gap, src.client), src, proto, port, ...(proto === 'tcp' ? { flags: r.pick(NOISE_FLAGS) } : {}) });
      continue;
    }
    const d = r.pick(doors);
    const cut = r.int(1, Math.max(1, d.knocks.length - 1));
    const ks = kind === 'prefix' ? d.knocks.slice(0, cut) : kind === 'suffix' ? d.knocks.slice(cut) : d.knocks;
    const letters = lettersFor(d.flags);
    // Sometimes one knock goes out with other flags (a client that does not match the door's
    // tcpflags, like `knock` against `tcpflags = syn,ack`).
    const odd = r.chance(0.3) ? r.int(0, ks.length - 1) : -1;
    // 'slow': a whole sequence that lasts a little less, or a little (1.4-3 s) more, than
    // seq_timeout: sequence timeouts near (but never within 1.2 s of) the limit.
    const total = Math.max(0.3, d.seqTimeout + r.pick([-1.6, -1.3, 1.4, 1.8, 2.5, 3]));
    let first = 0;
    ks.forEach((k, i) => {
      const t =
        kind === 'slow' && i > 0
          ? place(first + (total * i) / (ks.length - 1), src.client)
          : at(i === 0 ? gap : r.pick([0, 0, 0, 1, 1, 2]), src.client);
      if (i === 0) first = t;
      const flags = i === odd ? r.pick(NOISE_FLAGS) : letters;
      out.push({ t, src, proto: k.proto, port: k.port, ...(k.proto === 'tcp' ? { flags } : {}) });
    });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Model checks

const eventKey = (e: KnockdEvent, scale: number): string =>
  e.kind === 'stage'
    ? `stage ${Math.round(e.time / scale * 1000)} ${e.src} ${e.door} ${e.stage}`
    : e.kind === 'open'
      ? `open ${Math.round(e.opening.time / scale * 1000)} ${e.opening.src} ${e.opening.door}`
      : '';

function eventsOf(events: KnockdEvent[], scale = 1): string[] {
  return events.filter((e) => e.kind !== 'timeout').map((e) => eventKey(e, scale));
}

/** The knockd model with milliseconds and every seq_timeout shifted by `shift` seconds. */
function shiftedEvents(config: KnockdConfig, packets: Packet[], shift: number): string[] {
  const doors = config.doors.map((d) => ({ ...d, seqTimeout: { ...d.seqTimeout, value: (d.seqTimeout.value + shift) * 1000 } }));
  const ms = packets.map((p) => ({ ...p, time: Math.round(p.time * 1000) }));
  return eventsOf(runKnockd({ ...config, doors }, ms, { iface: 'eth0' }), 1000);
}

export interface Opening {
  readonly t: number;
  readonly src: string;
  readonly door: number;
}

/** Grant intervals per (source, port) under knockd's rule copies and under knockc's sets. */
export function grantState(doors: readonly RandomDoor[], openings: readonly Opening[], src: string, port: number, t: number): { knockd: boolean; knockc: boolean } {
  // knockd: a multiset of identical rules; an open door adds one now (and, timed, deletes
  // one at t + C); a close door deletes one. Deletions of an absent rule fail (no-op).
  type Ev = { t: number; op: 'add' | 'del'; order: number };
  const evs: Ev[] = [];
  let order = 0;
  // knockc: a permanent set and one timed set per cmd_timeout; closing clears them all.
  let permanent = false;
  const timedUntil = new Map<number, number>();
  for (const o of [...openings].sort((a, b) => a.t - b.t)) {
    const d = doors[o.door]!;
    if (o.src !== src || d.grantPort !== port || o.t > t) continue;
    if (d.kind === 'close') {
      evs.push({ t: o.t, op: 'del', order: order++ });
      permanent = false;
      timedUntil.clear();
    } else if (d.timed) {
      evs.push({ t: o.t, op: 'add', order: order++ });
      evs.push({ t: o.t + d.cmdTimeout, op: 'del', order: order++ });
      timedUntil.set(d.cmdTimeout, o.t + d.cmdTimeout);
    } else {
      evs.push({ t: o.t, op: 'add', order: order++ });
      permanent = true;
    }
  }
  let copies = 0;
  for (const e of evs.filter((e) => e.t <= t).sort((a, b) => a.t - b.t || a.order - b.order)) {
    copies = e.op === 'add' ? copies + 1 : Math.max(0, copies - 1);
  }
  const knockc = permanent || [...timedUntil.values()].some((until) => t < until);
  return { knockd: copies > 0, knockc };
}

/** Times near which a probe of (src, port) is not allowed, and why. */
function probeAllowed(doors: readonly RandomDoor[], openings: readonly Opening[], src: string, port: number, p: number): boolean {
  for (const o of openings) {
    const d = doors[o.door]!;
    if (o.src !== src || d.grantPort !== port) continue;
    if (p < o.t) {
      if (o.t - p < 0.5) return false;
      continue;
    }
    if (p - o.t < 1.5) return false;
    if (d.kind === 'open' && d.timed && Math.abs(p - (o.t + d.cmdTimeout)) < 1.2) return false;
  }
  return true;
}

export interface GenerateOptions {
  /** Longest scenario (last probe), seconds. */
  maxDuration?: number;
  allowClose?: boolean;
}

function reject(counts: Record<string, number>, why: string): null {
  counts[why] = (counts[why] ?? 0) + 1;
  return null;
}

/** One candidate; null (and the reason counted) when it is not kept. */
function candidate(r: Rng, counts: Record<string, number>, o: Required<GenerateOptions>): Omit<Scenario, 'seed' | 'index' | 'attempts' | 'rejected'> | null {
  const doors = Array.from({ length: r.pick([1, 1, 2, 2, 3]) }, () => randomDoor(r, o.allowClose));
  if (!doors.some((d) => d.kind === 'open')) return reject(counts, 'no opening door');
  const config = configText(doors);
  const parsed = parseOrThrow(config, 'random.conf');
  const packets = randomTrace(r, doors);
  const trace0: Trace = { packets, probes: [] };
  const model = modelPackets(trace0);

  const knockd = runKnockd(parsed, model, { iface: 'eth0' });
  const base = eventsOf(knockd);
  if (JSON.stringify(shiftedEvents(parsed, model, -1.2)) !== JSON.stringify(base)) return reject(counts, 'seq_timeout boundary (-1.2 s)');
  if (JSON.stringify(shiftedEvents(parsed, model, +1.2)) !== JSON.stringify(base)) return reject(counts, 'seq_timeout boundary (+1.2 s)');
  if (JSON.stringify(eventsOf(runKnockd(parsed, model, { iface: 'eth0', listBug: true }))) !== JSON.stringify(base)) {
    return reject(counts, "knockd's attempt-list bug");
  }

  const openings: Opening[] = knockd.flatMap((e) =>
    e.kind === 'open' ? [{ t: e.opening.time, src: e.opening.src, door: e.opening.doorIndex }] : [],
  );
  // Keep a quarter of the scenarios where nothing opens: the rest of the time, something should.
  if (openings.length === 0 && r.chance(0.75)) return reject(counts, 'nothing opens (thinned out)');
  // knockd runs each command in a child of its own: two iptables commands at the same moment
  // race for the xtables lock, and the loser fails ("Another app is currently holding the
  // xtables lock"), leaving a rule copy the model does not have.
  const commandTimes = openings
    .flatMap((op) => {
      const d = doors[op.door]!;
      return d.kind === 'open' && d.timed ? [op.t, op.t + d.cmdTimeout] : [op.t];
    })
    .sort((a, b) => a - b);
  if (commandTimes.some((t, i) => i > 0 && t - commandTimes[i - 1]! < COMMANDS_APART_S)) return reject(counts, 'knockd commands at the same moment');
  const lastPacket = packets[packets.length - 1]?.t ?? 0;
  const expiries = openings.flatMap((op) => {
    const d = doors[op.door]!;
    return d.kind === 'open' && d.timed ? [op.t + d.cmdTimeout] : [];
  });
  const lastEvent = Math.max(lastPacket, ...openings.map((op) => op.t), ...expiries);
  const end = lastEvent + 1.8;
  if (end > o.maxDuration) return reject(counts, 'too long');

  // Probe times: soon after each opening and after each expiry, about every 3 s besides,
  // and once after everything; at least 0.8 s apart.
  // Ports some door opens (a port only ever closed is no door's business in knockc's
  // standalone deployments: nothing guards it there).
  const ports = [...new Set(doors.filter((d) => d.kind === 'open').map((d) => d.grantPort))];
  const wanted: number[] = [end];
  for (const op of openings) wanted.push(op.t + 1.6 + r.int(0, 3) / 10);
  for (const x of expiries) wanted.push(x + 1.3 + r.int(0, 3) / 10);
  for (let t = 0.9 + r.int(0, 1); t < end - 0.5; t += r.pick([2.5, 3, 3.5])) wanted.push(t);
  const times: number[] = [];
  for (const t of wanted.map((x) => Math.round(x * 10) / 10).sort((a, b) => a - b)) {
    if (t <= end && (times.length === 0 || t - times[times.length - 1]! >= 0.8)) times.push(t);
  }
  const probes: TraceProbe[] = [];
  const expected: ProbeResult[] = [];
  for (const t of times) {
    for (const src of SOURCES) {
      for (const port of ports) {
        const name = srcName(src);
        if (!probeAllowed(doors, openings, name, port, t)) continue;
        const g = grantState(doors, openings, name, port, t);
        if (g.knockd !== g.knockc) return reject(counts, 'rule copies vs set membership');
        probes.push({ t, src, port });
        expected.push(g.knockd ? 'open' : 'closed');
      }
    }
  }
  if (probes.length === 0) return reject(counts, 'no probe possible');
  return { doors, config, trace: { packets, probes }, expected, openings: openings.length };
}

/** Scenario `index` of `seed` (rejection sampling; deterministic). */
export function generateScenario(seed: number, index: number, opts: GenerateOptions = {}): Scenario {
  const o: Required<GenerateOptions> = { maxDuration: opts.maxDuration ?? 18, allowClose: opts.allowClose ?? true };
  const r = new Rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const counts: Record<string, number> = {};
  for (let attempt = 1; attempt <= 10_000; attempt++) {
    const c = candidate(r, counts, o);
    if (c) return { ...c, seed, index, attempts: attempt, rejected: counts };
  }
  throw new Error(`no scenario kept after 10000 candidates (seed ${seed}, index ${index}): ${JSON.stringify(counts)}`);
}

export function describeScenario(s: Scenario): string {
  return [
    `scenario ${s.index} of seed ${s.seed} (re-run: KNOCKC_SEED=${s.seed} KNOCKC_SCENARIO=${s.index})`,
    '--- knockd.conf',
    s.config.trimEnd(),
    '--- packets (t = seconds after a whole second; flags as letters)',
    ...[...s.trace.packets].sort((a, b) => a.t - b.t).map((p) => `  t=${p.t.toFixed(3)} ${srcName(p.src)} ${p.proto}/${p.port}${p.proto === 'tcp' ? ` ${p.flags ?? 'S'}` : ''}`),
  ].join('\n');
}
