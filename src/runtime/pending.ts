// Stop commands that are due later, kept in a state file so that a restart
// of the runtime still runs them on time (knockd forgets them: a rule it
// opened stays open for good). Written atomically: a temporary file, fsync,
// rename over the old one, fsync of the directory.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
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

  load(): PendingStop[] {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const data = JSON.parse(text) as { version?: number; pending?: unknown };
    if (data.version !== PENDING_VERSION || !Array.isArray(data.pending)) throw new Error(`${this.path}: not a knockc state file (version ${String(data.version)})`);
    return data.pending.filter(isPending);
  }

  save(list: readonly PendingStop[]): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp-${process.pid}`;
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
  }
}

function isPending(x: unknown): x is PendingStop {
  const p = x as Record<string, unknown>;
  return !!p && typeof p.id === 'string' && typeof p.door === 'string' && typeof p.src === 'string' && typeof p.command === 'string' && typeof p.due === 'number';
}
