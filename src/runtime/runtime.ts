// The runtime's logic, free of processes and files (runtime host below):
// what to do when the kernel reports that a door opened for a source.
//  - command doors: run start_command with %IP% (through /bin/sh -c, as
//    knockd does), and stop_command cmd_timeout seconds later; the stop is
//    written to the state file first, so a restart still runs it on time;
//  - one-time doors: retire the used line ('#', fsync), then act, then swap
//    the door's sequence in the kernel (one atomic load); a used-up file
//    closes that door only.
import type { Door, KnockdConfig, OneTimeEntry } from '../frontend/config.js';
import { parseNotifyPrefix } from '../model/notify.js';
import { familyCommands, planDoors, runtimeActs, type DoorPlan } from '../model/plan.js';
import type { NflogEvent } from './pcap-nflog.js';
import type { PendingStop } from './pending.js';

export interface RuntimeHost {
  /** Loads the compiled rules for this config in one atomic step; throws with a message on failure. */
  deploy(config: KnockdConfig): Promise<void>;
  /** Starts `/bin/sh -c command`; resolves with its exit status when it ends. */
  exec(command: string): Promise<number | null>;
  now(): number;
  log(msg: string): void;
  loadPending(): PendingStop[];
  savePending(list: readonly PendingStop[]): void;
  /** One-time files: the unused sequences, and retiring one (durably). */
  unusedSequences(path: string): OneTimeEntry[];
  retire(path: string, entry: OneTimeEntry): void;
}

/** setTimeout cannot wait longer than this; longer waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** knockd's parse_cmd: every %IP% becomes the source address. */
export function substitute(command: string, ip: string): string {
  return command.split('%IP%').join(ip);
}

interface OneTimeState {
  /** The file's unused sequences as last read: the first is the current one; none = the door is closed. */
  unused: readonly OneTimeEntry[];
  readonly path: string;
}

export class Runtime {
  private readonly plans: Map<number, DoorPlan>;
  private readonly oneTime = new Map<number, OneTimeState>();
  private pending: PendingStop[] = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private queue: Promise<void> = Promise.resolve();
  private seq = 0;
  private stopped = false;

  constructor(
    readonly config: KnockdConfig,
    private readonly host: RuntimeHost,
  ) {
    this.plans = new Map(planDoors(config).map((p) => [p.door.index, p]));
    for (const d of config.doors) {
      const ot = d.sequenceFrom.kind === 'one-time' ? d.sequenceFrom.oneTime : undefined;
      if (ot) this.oneTime.set(d.index, { path: ot.path, unused: [] });
    }
  }

  /** Doors the runtime acts for (one-time or commands), for the start-up message. */
  runtimeDoors(): DoorPlan[] {
    return [...this.plans.values()].filter((p) => p.needsRuntime);
  }

  /** Reads the one-time files (resuming at the first unused line), loads the rules, re-arms saved stops. */
  async start(): Promise<void> {
    for (const [index, st] of this.oneTime) {
      st.unused = this.host.unusedSequences(st.path);
      if (!st.unused.length) this.logClosed(this.doorName(index), st.path);
    }
    await this.host.deploy(this.liveConfig());
    this.pending = this.host.loadPending();
    for (const p of this.pending) this.arm(p);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Settles after every event handled so far (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  pendingStops(): readonly PendingStop[] {
    return this.pending;
  }

  /** The config as loaded into the kernel: one-time doors at their current line, used-up ones left out. */
  liveConfig(): KnockdConfig {
    const doors: Door[] = [];
    for (const d of this.config.doors) {
      const st = this.oneTime.get(d.index);
      if (!st) {
        doors.push(d);
        continue;
      }
      const cur = st.unused[0];
      if (!cur) continue;
      doors.push({ ...d, knocks: cur.knocks, sequenceFrom: { ...d.sequenceFrom, oneTime: { path: st.path, sequences: st.unused } } });
    }
    return { ...this.config, doors };
  }

  handle(e: NflogEvent): void {
    if (this.stopped) return;
    const tag = parseNotifyPrefix(e.prefix);
    if (!tag) return; // another NFLOG user's packet on our group: not ours to judge
    const plan = this.plans.get(tag.door);
    if (!plan) {
      this.host.log(`${e.src}: event for unknown door d${tag.door} (rules of another config loaded?): ignored`);
      return;
    }
    if (!runtimeActs(plan, e.family)) return;
    if (this.oneTime.has(tag.door)) {
      // One at a time: a swap must finish before the next completion is judged.
      this.queue = this.queue.then(() => this.oneTimeOpened(plan, tag.line, e)).catch((err: Error) => this.host.log(`${plan.door.name}: ${err.message}`));
      return;
    }
    this.opened(plan.door, e);
  }

  private logClosed(door: string, path: string): void {
    this.host.log(`${door}: no more sequences left in the one time sequences file ${path}: door closed (the other doors keep working)`);
  }

  private doorName(index: number): string {
    return this.plans.get(index)?.door.name ?? `d${index}`;
  }

  private async oneTimeOpened(plan: DoorPlan, line: number | null, e: NflogEvent): Promise<void> {
    if (this.stopped) return;
    const st = this.oneTime.get(plan.door.index)!;
    const name = plan.door.name;
    const used = st.unused[0];
    if (!used || line !== used.line) {
      this.host.log(`${e.src}: ${name}: sequence of line ${line ?? '?'} was already used: ignored`);
      return;
    }
    // Durable first: from here on this sequence never opens again, whatever happens next.
    this.host.retire(st.path, used);
    this.opened(plan.door, e);
    st.unused = this.host.unusedSequences(st.path).filter((x) => x.line > used.line);
    if (!st.unused.length) this.logClosed(name, st.path);
    try {
      await this.host.deploy(this.liveConfig());
    } catch (err) {
      this.host.log(`${name}: could not load the next sequence (${(err as Error).message}); this door stays shut until knockc run restarts`);
    }
  }

  private opened(d: Door, e: NflogEvent): void {
    const { start, stop } = familyCommands(d, e.family);
    this.host.log(`${e.src}: ${d.name}: OPEN SESAME`);
    // knockd runs nothing, not even the stop command, without a start command.
    if (!start?.text) return;
    if (stop?.text) {
      const p: PendingStop = {
        id: `${this.host.now()}-${process.pid}-${++this.seq}`,
        door: d.name,
        src: e.src,
        command: substitute(stop.text, e.src),
        due: this.host.now() + Math.max(0, d.cmdTimeout.value) * 1000,
      };
      // Saved before the start command runs: a crash in between leaves a stop with nothing to undo, never the reverse.
      this.pending = [...this.pending, p];
      this.host.savePending(this.pending);
      this.arm(p);
    }
    this.run(d.name, substitute(start.text, e.src));
  }

  private run(door: string, command: string): void {
    this.host.log(`${door}: running command: ${command}`);
    void this.host.exec(command).then((status) => {
      if (status !== 0) this.host.log(`${door}: command exited with status ${status ?? 'unknown (killed)'}: ${command}`);
    });
  }

  private arm(p: PendingStop): void {
    const wait = p.due - this.host.now();
    const t = setTimeout(() => {
      if (p.due - this.host.now() > 0) return this.arm(p); // a wait longer than one timer allows
      this.timers.delete(p.id);
      this.host.log(`${p.src}: ${p.door}: command timeout`);
      this.run(p.door, p.command);
      this.pending = this.pending.filter((x) => x.id !== p.id);
      this.host.savePending(this.pending);
    }, Math.min(Math.max(0, wait), MAX_TIMER_MS));
    this.timers.set(p.id, t);
  }
}
