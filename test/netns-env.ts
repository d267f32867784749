// Where the scratch-network-namespace tests find their tools, and whether they may run: they
// need root and every tool. Outside CI a missing piece skips them; under CI=true it is an error
// (a skipped test proves nothing).
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const DIRS = [...(process.env['PATH'] ?? '').split(':').filter(Boolean), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];

/** The tool's path, looked up in PATH and the sbin directories a non-root PATH may lack. */
export function toolPath(name: string): string | undefined {
  return DIRS.map((d) => join(d, name)).find((p) => existsSync(p));
}

/** True when `what` can run here (root, every tool found); under CI=true, not being able to is an error. */
export function netnsReady(what: string, tools: readonly string[]): boolean {
  const missing = tools.filter((t) => toolPath(t) === undefined);
  if (process.getuid?.() !== 0) missing.unshift('root');
  if (missing.length > 0 && process.env['CI'] === 'true') {
    throw new Error(`${what} need root and ${tools.join(', ')} under CI; missing: ${missing.join(', ')}`);
  }
  return missing.length === 0;
}
