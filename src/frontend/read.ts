// Reading the user's input files (configs, one-time sequence files, simulate traces): bounded
// in size whatever the file is, and failures in words rather than Node's error text.
import { readSync } from 'node:fs';

/** What went wrong opening or reading a file, in words (the errno code only when it is unusual). */
export function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ENOENT': return 'No such file or directory';
    case 'EACCES': case 'EPERM': return 'Permission denied';
    case 'EISDIR': return 'Is a directory';
    case 'ENOTDIR': return 'Not a directory (a part of the path is a file)';
    case 'ELOOP': return 'Too many levels of symbolic links';
    case 'EIO': return 'Input/output error';
    default: return err.code ? `cannot be read (${err.code})` : 'cannot be read';
  }
}

/**
 * Reads an open file descriptor to its end, but never more than `max` bytes: pipes, /proc
 * files and standard input do not announce their size. Null when the input is over `max`.
 */
export function readBounded(fd: number, max: number): Buffer | null {
  const chunks: Buffer[] = [];
  let total = 0;
  const buf = Buffer.allocUnsafe(1 << 16);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A non-blocking standard input with nothing to read yet: wait a little.
      if (code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        continue;
      }
      if (code === 'EOF') return Buffer.concat(chunks, total);
      throw e;
    }
    if (n === 0) return Buffer.concat(chunks, total);
    total += n;
    if (total > max) return null;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
}
