// An executable model of knockd 0.8's sniff() (knockd-semantics.md section 3):
// the oracle the compiled rules are compared with, and the engine behind
// `knockc simulate`. Times are whole seconds, as knockd reads pcap headers.
import type { Door, KnockdConfig } from '../frontend/config.js';
import { FLAG_NAMES } from '../frontend/config.js';
import type { Opening, Packet } from './packet.js';

interface Attempt {
  readonly src: string;
  readonly door: Door;
  stage: number; // -1 = invalidated
  readonly start: number;
  readonly ipv6: boolean;
}

export type KnockdEvent =
  | { readonly kind: 'stage'; readonly time: number; readonly src: string; readonly door: string; readonly stage: number }
  | { readonly kind: 'open'; readonly opening: Opening }
  | { readonly kind: 'timeout'; readonly time: number; readonly src: string; readonly door: string; readonly stage: number }
  | { readonly kind: 'reset'; readonly time: number; readonly src: string; readonly door: string; readonly stage: number };

export interface KnockdModelOptions {
  /** The interface knockd listens on (knockd -i; default eth0). */
  readonly iface: string;
  /**
   * Reproduce knockd 0.8's list bug (sniff() clean-up: `if(lp == attempts) attempts = NULL;`):
   * when the oldest attempt is removed, every other attempt, of every source, is forgotten.
   * knockc does not copy it (a documented difference); the lab uses it to pick scenarios.
   */
  readonly listBug?: boolean;
}

export function flagsMatch(d: Door, p: Packet): boolean {
  if (p.proto !== 'tcp') return true;
  return FLAG_NAMES.every((f) => {
    const req = d.tcpFlags.value[f];
    const on = p.flags.includes(f);
    return req === 'any' || (req === 'set' ? on : !on);
  });
}

/** knockd's target_strcmp(): the Target text, or one of the interface's own addresses. */
function acceptsDst(d: Door, p: Packet): boolean {
  return d.target.value !== null ? p.dst === d.target.value : p.dstLocal;
}

/** knockd's pcap filter: on its interface, to a door's dst, a port the door lists with its flags. */
function visible(doors: readonly Door[], p: Packet, o: KnockdModelOptions): boolean {
  if (p.iif !== o.iface || p.proto === 'icmp') return false;
  return doors.some(
    (d) => acceptsDst(d, p) && d.knocks.some((k) => k.proto === p.proto && k.port === p.port) && (p.proto === 'udp' || flagsMatch(d, p)),
  );
}

export class KnockdMachine {
  private attempts: Attempt[] = [];
  private readonly doors: readonly Door[];

  constructor(config: KnockdConfig, private readonly opts: KnockdModelOptions) {
    this.doors = config.doors;
  }

  step(p: Packet): KnockdEvent[] {
    if (!visible(this.doors, p, this.opts)) return [];
    const now = Math.floor(p.time);
    const events: KnockdEvent[] = [];
    // 1. clean-up
    const kept = this.attempts.filter((a) => {
      if (a.stage >= a.door.knocks.length || a.stage < 0) return false;
      if (now - a.start >= a.door.seqTimeout.value) {
        events.push({ kind: 'timeout', time: p.time, src: a.src, door: a.door.name, stage: a.stage });
        return false;
      }
      return true;
    });
    const headRemoved = this.attempts.length > 0 && kept[0] !== this.attempts[0];
    this.attempts = this.opts.listBug && headRemoved ? [] : kept;
    // 2. this source's attempts on doors that accept this destination
    const found = this.attempts.filter((a) => a.src === p.src && acceptsDst(a.door, p));
    if (found.length > 0) {
      for (const a of found) {
        const fm = flagsMatch(a.door, p);
        const next = a.door.knocks[a.stage]!;
        if (fm && p.proto === next.proto && p.port === next.port) this.advance(a, p, events);
        else if (fm) {
          events.push({ kind: 'reset', time: p.time, src: a.src, door: a.door.name, stage: a.stage });
          a.stage = -1;
        }
      }
      return events;
    }
    // 4. no attempt: every door whose first knock this is starts
    for (const d of this.doors) {
      const first = d.knocks[0]!;
      if (!flagsMatch(d, p) || p.proto !== first.proto || p.port !== first.port || !acceptsDst(d, p)) continue;
      const a: Attempt = { src: p.src, door: d, stage: 0, start: now, ipv6: p.family === 'ip6' };
      this.attempts.push(a);
      this.advance(a, p, events);
    }
    return events;
  }

  private advance(a: Attempt, p: Packet, events: KnockdEvent[]): void {
    a.stage++;
    events.push({ kind: 'stage', time: p.time, src: a.src, door: a.door.name, stage: a.stage });
    if (a.stage >= a.door.knocks.length) {
      events.push({ kind: 'open', opening: { time: p.time, door: a.door.name, doorIndex: a.door.index, src: a.src, family: p.family } });
    }
  }
}

export function runKnockd(config: KnockdConfig, packets: readonly Packet[], opts: KnockdModelOptions): KnockdEvent[] {
  const m = new KnockdMachine(config, opts);
  return packets.flatMap((p) => m.step(p));
}
