// How many commands `knockc run` started and how many failed, kept in its state directory
// (commands.json) for `knockc status --format openmetrics|prometheus`. Written whole to a
// temporary file then renamed over the old one, so a reader never sees half a file. The
// counts go on across restarts (a counter that resets would read as a drop to Prometheus'
// rate()); a file that cannot be read starts them again from zero.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface CommandCounts {
  readonly run: number;
  readonly failed: number;
}

export const COMMAND_COUNTS_FILE = 'commands.json';

/** The counts in `file`; null when there is none or it is not one of ours. */
export function readCommandCounts(file: string): CommandCounts | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  try {
    const j = JSON.parse(text) as { version?: unknown; run?: unknown; failed?: unknown };
    const ok = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
    return j.version === 1 && ok(j.run) && ok(j.failed) ? { run: j.run, failed: j.failed } : null;
  } catch {
    return null;
  }
}

/** Counts the outcome of each command and writes the file; a write that fails is reported through `onError` and retried at the next count. */
export class CommandCounter {
  private counts: { run: number; failed: number };

  constructor(
    private readonly file: string,
    private readonly onError: (msg: string) => void,
  ) {
    const c = readCommandCounts(file);
    this.counts = { run: c?.run ?? 0, failed: c?.failed ?? 0 };
  }

  /** A command ended with `status` (null: killed, or it could not start). */
  ended(status: number | null): void {
    this.counts.run += 1;
    if (status !== 0) this.counts.failed += 1;
    const tmp = `${this.file}.tmp-${process.pid}`;
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      writeFileSync(tmp, `${JSON.stringify({ version: 1, ...this.counts })}\n`);
      renameSync(tmp, this.file);
    } catch (e) {
      this.onError(`cannot write the command counts ${this.file}: ${(e as Error).message}`);
    }
  }

  get value(): CommandCounts {
    return { ...this.counts };
  }
}
