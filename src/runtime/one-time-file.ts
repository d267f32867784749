// A one-time sequences file as the runtime keeps it: re-read from disk each
// time (the file is the state: a used line starts with '#'), and a line is
// retired by writing '#' over its first byte and fsync'ing BEFORE anything
// acts on the opening, so that a crash at any moment never lets a used
// sequence work twice.
import { closeSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import type { OneTimeEntry } from '../frontend/config.js';
import { readBytes } from '../frontend/load.js';
import { readOneTimeEntries } from '../frontend/one-time.js';

export class OneTimeFileError extends Error {}

/** The valid, unused sequences of the file, in order: the first is the door's current one. */
export function unusedSequences(path: string): OneTimeEntry[] {
  const r = readBytes(path);
  if (!r.ok) throw new OneTimeFileError(r.message);
  return readOneTimeEntries(path, r.bytes);
}

/** Writes '#' over the first byte of the entry's line and makes it durable. */
export function retire(path: string, entry: OneTimeEntry): void {
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r+');
    // The line must still be the one we read (the file may have been edited since).
    const want = Buffer.from(entry.text, 'utf8');
    const got = Buffer.alloc(want.length + 4096);
    const n = readSync(fd, got, 0, got.length, entry.offset);
    if (got.subarray(0, n).indexOf(want) < 0) throw new OneTimeFileError(`line ${entry.line} of ${path} changed on disk`);
    writeSync(fd, '#', entry.offset);
    fsyncSync(fd);
  } catch (e) {
    if (e instanceof OneTimeFileError) throw e;
    throw new OneTimeFileError(`${path}: ${(e as Error).message}`);
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
