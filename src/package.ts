// The installed package: its root (templates/ and package.json live there) and version.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root, found from this file both in src/ (tests) and dist/ (installed). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      readFileSync(join(dir, 'package.json'));
      return dir;
    } catch {
      const up = dirname(dir);
      if (up === dir) throw new Error('internal: package.json not found');
      dir = up;
    }
  }
}

/** Set by the bundle (src/tools/bundle.ts): the version it was built as. */
declare const KNOCKC_BUNDLED_VERSION: string | undefined;

export function packageVersion(): string {
  if (typeof KNOCKC_BUNDLED_VERSION === 'string') return KNOCKC_BUNDLED_VERSION;
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
