/**
 * knockd 0.8's sniff() as the C code really runs it, including a list bug the
 * model in src/model/knockd-machine.ts leaves out (on purpose: knockc does not
 * copy it). Used by the lab to tell which random scenarios the bug affects.
 *
 * The bug (src/knockd.c, sniff(), clean-up loop, v0.8 and upstream master):
 *
 *     if(lp->prev) lp->prev->next = lp->next;
 *     if(lp->next) lp->next->prev = lp->prev;
 *     // If lp is the only element of the list then empty the list
 *     if(lp == attempts) attempts = NULL;
 *
 * When the FIRST attempt of the list (the oldest) is removed - completed,
 * invalidated or timed out - `attempts` becomes NULL although other attempts
 * follow it: every other attempt in progress, of every source, is forgotten.
 * So with knockd, a client's half-done sequence fails when another client's
 * older attempt ends (at the next visible packet after it ended).
 */
import type { Door, KnockdConfig } from '../../src/frontend/config.js';
import { flagsMatch, type KnockdEvent } from '../../src/model/knockd-machine.js';
import type { Packet } from '../../src/model/packet.js';

interface Attempt {
  readonly src: string;
  readonly door: Door;
  stage: number;
  readonly start: number;
}

const acceptsDst = (d: Door, p: Packet): boolean => (d.target.value !== null ? p.dst === d.target.value : p.dstLocal);

export class Knockd08 {
  private attempts: Attempt[] = [];

  constructor(
    private readonly config: KnockdConfig,
    private readonly opts: { iface: string; listBug: boolean },
  ) {}

  private visible(p: Packet): boolean {
    if (p.iif !== this.opts.iface || p.proto === 'icmp') return false;
    return this.config.doors.some(
      (d) => acceptsDst(d, p) && d.knocks.some((k) => k.proto === p.proto && k.port === p.port) && (p.proto === 'udp' || flagsMatch(d, p)),
    );
  }

  step(p: Packet): KnockdEvent[] {
    if (!this.visible(p)) return [];
    const now = Math.floor(p.time);
    const events: KnockdEvent[] = [];
    const kept: Attempt[] = [];
    let headRemoved = false;
    this.attempts.forEach((a, i) => {
      const nix = a.stage >= a.door.knocks.length || a.stage < 0 || now - a.start >= a.door.seqTimeout.value;
      if (nix) {
        if (i === 0) headRemoved = true;
      } else kept.push(a);
    });
    this.attempts = this.opts.listBug && headRemoved ? [] : kept;

    const found = this.attempts.filter((a) => a.src === p.src && acceptsDst(a.door, p));
    if (found.length > 0) {
      for (const a of found) {
        const fm = flagsMatch(a.door, p);
        const next = a.door.knocks[a.stage]!;
        if (fm && p.proto === next.proto && p.port === next.port) this.advance(a, p, events);
        else if (fm) a.stage = -1;
      }
      return events;
    }
    for (const d of this.config.doors) {
      const first = d.knocks[0]!;
      if (!flagsMatch(d, p) || p.proto !== first.proto || p.port !== first.port || !acceptsDst(d, p)) continue;
      const a: Attempt = { src: p.src, door: d, stage: 0, start: now };
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

export function runKnockd08(config: KnockdConfig, packets: readonly Packet[], opts: { iface: string; listBug: boolean }): KnockdEvent[] {
  const m = new Knockd08(config, opts);
  return packets.flatMap((p) => m.step(p));
}
