// A one-time sequences file as the runtime keeps it: re-read from disk each
// time (the file is the state: a used line starts with '#'), and a line is
// retired by writing '#' over its first byte and fsync'ing BEFORE anything
// acts on the opening, so that a crash at any moment never lets a used
// sequence work twice.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import type { OneTimeEntry } from '../frontend/config.js';
import { MAX_CONFIG_BYTES, readBytes } from '../frontend/load.js';
import { readOneTimeEntries } from '../frontend/one-time.js';

export class OneTimeFileError extends Error {}

/** The file no longer holds the entry's line, exactly, at the entry's offset (it was edited since it was read). */
export class OneTimeChangedError extends OneTimeFileError {}

/** The valid, unused sequences of the file, in order: the first is the current one. */
export function unusedSequences(path: string): OneTimeEntry[] {
  const r = readBytes(path);
  if (!r.ok) throw new OneTimeFileError(r.message);
  return readOneTimeEntries(path, r.bytes);
}

/**
 * Throws OneTimeChangedError unless `bytes`, read the way the config reader reads them, still
 * hold this entry as an unused line: the same line number, at the same byte offset, with the
 * same text. Nothing else (a window search would find the text at another place after a line
 * was added above it, and retire the wrong byte).
 */
export function checkUnchanged(path: string, bytes: Uint8Array, entry: OneTimeEntry): void {
  const now = readOneTimeEntries(path, bytes).find((e) => e.offset === entry.offset);
  if (!now || now.line !== entry.line || now.text !== entry.text) {
    throw new OneTimeChangedError(`line ${entry.line} of ${path} changed on disk since it was read`);
  }
}

/** Writes '#' over the first byte of the entry's line, after checking it is still exactly there, and makes it durable. */
export function retire(path: string, entry: OneTimeEntry): void {
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r+');
    const size = fstatSync(fd).size;
    if (size > MAX_CONFIG_BYTES) throw new OneTimeFileError(`${path}: ${size} bytes is over the ${MAX_CONFIG_BYTES}-byte limit`);
    const bytes = Buffer.alloc(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, bytes, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    checkUnchanged(path, bytes.subarray(0, got), entry);
    writeSync(fd, '#', entry.offset);
    fsyncSync(fd);
  } catch (e) {
    if (e instanceof OneTimeFileError) throw e;
    throw new OneTimeFileError(`${path}: ${(e as Error).message}`);
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
