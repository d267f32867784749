// Stop commands that are due later, kept in a state file so that a restart
// of the runtime still runs them on time (knockd forgets them: a rule it
// opened stays open for good). Written atomically: a temporary file, fsync,
// rename over the old one, fsync of the directory.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface PendingStop {
  readonly id: string;
  readonly door: string;
  readonly src: string;
  /** The stop command with %IP% already replaced. */
  readonly command: string;
  /** Epoch milliseconds. */
  readonly due: number;
}

export const PENDING_VERSION = 1;

export class PendingStore {
  constructor(readonly path: string) {}

  /** The saved stops; throws StateFileError (with the path and the reason) when the file cannot be read or is not knockc's. */
  load(): PendingStop[] {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new StateFileError(`cannot read ${this.path}: ${fsReason(e)}`);
    }
    let data: { version?: number; pending?: unknown };
    try {
      data = JSON.parse(text) as { version?: number; pending?: unknown };
    } catch {
      throw new StateFileError(`${this.path}: not a knockc state file (not JSON)`);
    }
    if (data?.version !== PENDING_VERSION || !Array.isArray(data.pending)) throw new StateFileError(`${this.path}: not a knockc state file (version ${String(data?.version)})`);
    return data.pending.filter(isPending);
  }

  /** Replaces the file atomically; throws StateFileError (the old file is then untouched and no temporary file is left). */
  save(list: readonly PendingStop[]): void {
    const tmp = `${this.path}.tmp-${process.pid}`;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, `${JSON.stringify({ version: PENDING_VERSION, pending: list }, null, 1)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
      const dfd = openSync(dirname(this.path), 'r');
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
    } catch (e) {
      try {
        rmSync(tmp, { force: true });
      } catch {
        /* the reason below is what matters */
      }
      throw new StateFileError(`cannot write ${this.path}: ${fsReason(e)}`);
    }
  }
}

export class StateFileError extends Error {}

/** "no space left on device (ENOSPC)" from a Node fs error, without Node's "ENOSPC: ..., write" framing. */
export function fsReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code === 'string') {
    const m = /^[A-Z0-9]+: ([^,]*)/.exec(err.message);
    return `${m ? m[1] : err.message} (${err.code})`;
  }
  return String((e as Error)?.message ?? e);
}

function isPending(x: unknown): x is PendingStop {
  const p = x as Record<string, unknown>;
  return !!p && typeof p.id === 'string' && typeof p.door === 'string' && typeof p.src === 'string' && typeof p.command === 'string' && typeof p.due === 'number';
}
