// The runtime's logic, free of processes and files (runtime host below):
// what to do when the kernel reports that a door opened for a source.
//  - command doors: run start_command with %IP% (through /bin/sh -c, as
//    knockd does), and stop_command cmd_timeout seconds later (never when
//    cmd_timeout is negative: knockd's sleep of a negative int lasts ~136
//    years); the stop is written to the state file first (stops.ts), so a
//    restart still runs it on time, and when it cannot be written the start
//    command does not run (fail closed);
//  - one-time doors: retire the used line ('#', fsync), then act, then swap
//    the door's sequence in the kernel (one atomic load); a used-up file
//    closes that door only.
// Events name doors by identity, not by place (model/notify.ts): an event of
// a door this config does not have is logged and dropped.
import type { Door, KnockdConfig, OneTimeEntry } from '../frontend/config.js';
import { doorId, looksLikeNotify, parseNotifyPrefix, sequenceId, type NotifyTag } from '../model/notify.js';
import { familyCommands, planDoors, runtimeActs, type DoorPlan } from '../model/plan.js';
import type { NflogEvent } from './pcap-nflog.js';
import { OneTimeChangedError } from './one-time-file.js';
import { runCommand, type Stops } from './stops.js';

export interface RuntimeHost {
  /** Loads the compiled rules for this config in one atomic step; throws with a message on failure. */
  deploy(config: KnockdConfig): Promise<void>;
  /** Starts `/bin/sh -c command`; resolves with its exit status when it ends. */
  exec(command: string): Promise<number | null>;
  now(): number;
  log(msg: string): void;
  /** One-time files: the unused sequences, and retiring one (durably; OneTimeChangedError when the line is no longer exactly there). */
  unusedSequences(path: string): OneTimeEntry[];
  retire(path: string, entry: OneTimeEntry): void;
}

/** knockd's parse_cmd: every %IP% becomes the source address. */
export function substitute(command: string, ip: string): string {
  return command.split('%IP%').join(ip);
}

/** How soon a one-time swap the kernel refused is tried again. */
export const SWAP_RETRY_MS = 5000;

interface OneTimeState {
  /** The file's unused sequences as last read: the first is the current one; none = the door is closed. */
  unused: readonly OneTimeEntry[];
  readonly path: string;
}

export class Runtime {
  private readonly plans: Map<number, DoorPlan>;
  /** Door identity (as in the kernel's events) -> plan. */
  private readonly byId = new Map<string, DoorPlan>();
  private readonly oneTime = new Map<number, OneTimeState>();
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;
  /** A swap the kernel refused, tried again until it loads (or a reload replaces this runtime). */
  private retry: NodeJS.Timeout | null = null;

  constructor(
    readonly config: KnockdConfig,
    private readonly host: RuntimeHost,
    /** Pending stops: shared by every Runtime of one process, they outlive reloads. */
    private readonly stops: Stops,
  ) {
    this.plans = new Map(planDoors(config).map((p) => [p.door.index, p]));
    for (const p of this.plans.values()) {
      const id = doorId(p.door);
      // Doors identical in every field are interchangeable: the first one answers for all.
      if (!this.byId.has(id)) this.byId.set(id, p);
    }
    for (const d of config.doors) {
      const ot = d.sequenceFrom.kind === 'one-time' ? d.sequenceFrom.oneTime : undefined;
      if (ot) this.oneTime.set(d.index, { path: ot.path, unused: [] });
    }
  }

  /** Doors the runtime acts for (one-time or commands), for the start-up message. */
  runtimeDoors(): DoorPlan[] {
    return [...this.plans.values()].filter((p) => p.needsRuntime);
  }

  /** Reads the one-time files (resuming at the first unused line) and loads the rules. Pending stops are not its business (Stops). */
  async start(): Promise<void> {
    for (const [index, st] of this.oneTime) {
      st.unused = this.host.unusedSequences(st.path);
      if (!st.unused.length) this.logClosed(this.doorName(index), st.path);
    }
    await this.host.deploy(this.liveConfig());
  }

  /** No more events are handled (reload, shutdown); one-time work under way finishes (idle()). */
  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
  }

  /** Settles after every event handled so far (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue;
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
    if (!tag) {
      // Another NFLOG user's packet on our group is not ours to judge; a knockc tag we cannot read is worth a line.
      if (looksLikeNotify(e.prefix)) this.host.log(`${e.src}: event with a knockc tag this version does not write ("${e.prefix}": rules of another knockc version loaded?): dropped`);
      return;
    }
    const plan = this.byId.get(tag.door);
    if (!plan) {
      this.host.log(`${e.src}: event of a door that is not in the loaded config ("${e.prefix}": deleted or changed by a reload, or rules of another config): dropped`);
      return;
    }
    if (!runtimeActs(plan, e.family)) return;
    if (this.oneTime.has(plan.door.index)) {
      // One at a time: a swap must finish before the next completion is judged.
      this.queue = this.queue.then(() => this.oneTimeOpened(plan, tag, e)).catch((err: Error) => this.host.log(`${plan.door.name}: ${err.message}`));
      return;
    }
    this.open(plan.door, e, null);
  }

  private logClosed(door: string, path: string): void {
    this.host.log(`${door}: no more sequences left in the one time sequences file ${path}: door closed (the other doors keep working)`);
  }

  private doorName(index: number): string {
    return this.plans.get(index)?.door.name ?? `d${index}`;
  }

  private async oneTimeOpened(plan: DoorPlan, tag: NotifyTag, e: NflogEvent): Promise<void> {
    if (this.stopped) return;
    const st = this.oneTime.get(plan.door.index)!;
    const name = plan.door.name;
    const used = st.unused[0];
    if (!used || tag.line !== used.line || tag.seq !== sequenceId(used.knocks)) {
      this.host.log(`${e.src}: ${name}: sequence of line ${tag.line ?? '?'} is not the door's current one (already used, or the file changed): ignored`);
      return;
    }
    let changed = false;
    // Durable first: from here on this sequence never opens again, whatever happens next.
    const retire = (): void => {
      try {
        this.host.retire(st.path, used);
        return;
      } catch (err) {
        if (!(err instanceof OneTimeChangedError)) throw err;
      }
      // Edited since it was read: read it again. The sequence opens only if it is still the
      // file's current one (a line added above it, say), and then its line there is retired.
      changed = true;
      const now = this.host.unusedSequences(st.path);
      const cur = now[0];
      if (!cur || cur.text !== used.text) {
        throw new Error(`${st.path} changed on disk and "${used.text}" is no longer its current sequence: not opened`);
      }
      this.host.retire(st.path, cur);
    };
    const opened = this.open(plan.door, e, retire);
    if (!opened && !changed) return;
    try {
      st.unused = this.host.unusedSequences(st.path);
    } catch (err) {
      // The kernel must not keep the used sequence: without a readable file there is no next one.
      this.host.log(`${name}: cannot read the one time sequences file again (${(err as Error).message}): door closed until the next reload (SIGHUP)`);
      st.unused = [];
    }
    if (!st.unused.length) this.logClosed(name, st.path);
    await this.swap(name);
  }

  /**
   * Loads the current sequences. When the kernel refuses, the door stays shut (its used
   * sequence opens nothing: the runtime checks every completion) and the load is tried again
   * every SWAP_RETRY_MS, quietly, until it works: a transient failure must not leave the door
   * shut, nor (iptables: IPv4 and IPv6 load separately) the two families on different rules.
   */
  private async swap(name: string): Promise<void> {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    try {
      await this.host.deploy(this.liveConfig());
      return;
    } catch (err) {
      this.host.log(`${name}: could not load the next sequence (${(err as Error).message}); this door stays shut until it loads (tried again every ${SWAP_RETRY_MS / 1000} s) or the next reload (SIGHUP)`);
    }
    const again = (): void => {
      this.retry = null;
      this.queue = this.queue.then(async () => {
        if (this.stopped || this.retry) return;
        try {
          await this.host.deploy(this.liveConfig());
          this.host.log(`${name}: the next sequence is loaded`);
        } catch {
          if (!this.stopped) this.retry = setTimeout(again, SWAP_RETRY_MS);
        }
      });
    };
    this.retry = setTimeout(again, SWAP_RETRY_MS);
  }

  /**
   * The door opened for e.src: OPEN SESAME, then what must be durable before anything acts (the
   * stop in the state file, then `commit`: a one-time line retired), then the start command.
   * False when a durable step failed: then nothing runs.
   */
  private open(d: Door, e: NflogEvent, commit: (() => void) | null): boolean {
    const { start, stop } = familyCommands(d, e.family);
    this.host.log(`${e.src}: ${d.name}: OPEN SESAME`);
    // knockd runs nothing, not even the stop command, without a start command.
    const startText = start?.text ? substitute(start.text, e.src) : null;
    let stopId: string | null = null;
    if (startText !== null && stop?.text) {
      const secs = d.cmdTimeout.value;
      if (secs < 0) {
        // knockd's child sleeps a negative int as unsigned (~136 years): the stop never runs (KC205).
        this.host.log(`${d.name}: cmd_timeout ${secs} is negative: the stop command never runs (as with knockd)`);
      } else {
        const p = this.stops.add(d.name, e.src, substitute(stop.text, e.src), secs);
        if (!p) {
          this.host.log(`${e.src}: ${d.name}: start command not run: its stop command could not be saved (fail closed)`);
          return false;
        }
        stopId = p.id;
      }
    }
    if (commit) {
      try {
        commit();
      } catch (err) {
        if (stopId !== null) this.stops.cancel(stopId);
        this.host.log(`${e.src}: ${d.name}: not opened: ${(err as Error).message}`);
        return false;
      }
    }
    if (startText !== null) runCommand(this.host, d.name, startText);
    return true;
  }
}
