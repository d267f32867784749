// Pending stop commands: one scheduler for the whole life of `knockc run`,
// not one per loaded config. A reload (SIGHUP) builds a new Runtime for the
// new rules, but the stops already promised keep their timers: they run on
// time whatever happens to the rules (a reload that fails, a slow nft, a
// table deleted under us).
//
// Durability: a stop is written to the state file BEFORE its start command
// may run (add() returns false when it cannot be: the caller then runs no
// start command, fail closed). After a stop runs it is removed from the file;
// when that write fails the stop has still run, the file is written again
// later, and until then a restart would run it a second time (a stop command
// is an undo: running it twice is the safe side of losing it).
import type { PendingStop } from './pending.js';

export interface StopsHost {
  /** Starts `/bin/sh -c command`; resolves with its exit status when it ends. */
  exec(command: string): Promise<number | null>;
  now(): number;
  log(msg: string): void;
  loadPending(): PendingStop[];
  savePending(list: readonly PendingStop[]): void;
}

/** setTimeout cannot wait longer than this; longer waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How soon a state file that could not be written is tried again. */
export const STATE_RETRY_MS = 5000;

/** Logs and runs a command the way knockd does ("DOOR: running command: CMD"); a failure to start it is logged too. */
export function runCommand(host: Pick<StopsHost, 'exec' | 'log'>, door: string, command: string): void {
  host.log(`${door}: running command: ${command}`);
  let started: Promise<number | null>;
  try {
    started = host.exec(command);
  } catch (e) {
    host.log(`${door}: could not start the command (${(e as Error).message}): ${command}`);
    return;
  }
  void started.then(
    (status) => {
      if (status !== 0) host.log(`${door}: command exited with status ${status ?? 'unknown (killed, or it could not start)'}: ${command}`);
    },
    (e: Error) => host.log(`${door}: could not start the command (${e.message}): ${command}`),
  );
}

export class Stops {
  private list: PendingStop[] = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** The state file was read: writing it cannot lose stops we never saw. */
  private loaded = false;
  /** The file lags behind `list` (a write failed); retried by a timer. */
  private retry: NodeJS.Timeout | null = null;
  private seq = 0;
  private ended = false;

  constructor(private readonly host: StopsHost) {}

  /**
   * Reads the state file and arms its stops (overdue ones run at once). When the file cannot be
   * read, says so and returns false: no stop is added (writing the file would lose the ones in
   * it) until a later call (on SIGHUP) reads it.
   */
  resume(): boolean {
    if (this.loaded) return true;
    let saved: PendingStop[];
    try {
      saved = this.host.loadPending();
    } catch (e) {
      this.host.log(
        `${(e as Error).message}: its pending stop commands cannot run, and doors with a stop command run no start command until it can be read (fix or remove it, then send SIGHUP)`,
      );
      return false;
    }
    this.loaded = true;
    this.list = [...saved];
    for (const p of this.list) this.arm(p);
    return true;
  }

  pending(): readonly PendingStop[] {
    return this.list;
  }

  /**
   * A stop (`command`, %IP% already replaced) for an opening of `door` by `src`, due `seconds`
   * from now, made durable and armed. Null (and logged) when it could not be written: the caller
   * must not run the start command.
   */
  add(door: string, src: string, command: string, seconds: number): PendingStop | null {
    if (!this.loaded) {
      this.host.log(`${src}: ${door}: the state file could not be read, so the stop command cannot be kept`);
      return null;
    }
    const p: PendingStop = { id: `${this.host.now()}-${process.pid}-${++this.seq}`, door, src, command, due: this.host.now() + seconds * 1000 };
    const next = [...this.list, p];
    if (!this.write(next, `${src}: ${door}: cannot save the stop command`)) return null;
    this.list = next;
    this.arm(p);
    return p;
  }

  /** Forgets a stop whose opening did not happen after all. */
  cancel(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
    this.list = this.list.filter((x) => x.id !== id);
    if (!this.write(this.list, 'cannot update the state file')) this.later();
  }

  /** Shutdown: timers off; the file keeps what is still pending. */
  stop(): void {
    this.ended = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
  }

  private arm(p: PendingStop): void {
    if (this.ended) return;
    const wait = p.due - this.host.now();
    const t = setTimeout(() => {
      if (p.due - this.host.now() > 0) return this.arm(p); // a wait longer than one timer allows
      this.timers.delete(p.id);
      this.host.log(`${p.src}: ${p.door}: command timeout`);
      runCommand(this.host, p.door, p.command);
      this.list = this.list.filter((x) => x.id !== p.id);
      if (!this.write(this.list, `${p.src}: ${p.door}: the stop command ran, but the state file could not be updated (until it is, a restart would run it again)`)) this.later();
    }, Math.min(Math.max(0, wait), MAX_TIMER_MS));
    this.timers.set(p.id, t);
  }

  private write(list: readonly PendingStop[], what: string): boolean {
    try {
      this.host.savePending(list);
    } catch (e) {
      this.host.log(`${what}: ${(e as Error).message}`);
      return false;
    }
    if (this.retry) {
      clearTimeout(this.retry);
      this.retry = null;
      this.host.log('the state file is written again');
    }
    return true;
  }

  /** Tries the state file again in a while, quietly, until it can be written. */
  private later(): void {
    if (this.retry || this.ended) return;
    const tryAgain = (): void => {
      try {
        this.host.savePending(this.list);
        this.retry = null;
        this.host.log('the state file is written again');
      } catch {
        this.retry = setTimeout(tryAgain, STATE_RETRY_MS);
      }
    };
    this.retry = setTimeout(tryAgain, STATE_RETRY_MS);
  }
}
