// A local file's text, or null when it cannot be read (gone, no permission): /proc entries of
// processes that may exit at any moment, state files that may not exist yet.
import { readFileSync } from 'node:fs';

export function readTextOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}
