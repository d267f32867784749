// Files of the host firewall's persistent configuration (nftables.conf, ufw's
// before.rules, netfilter-persistent's rules.v4), read and written through the
// Runner like every other host operation, so that the lab's containers are the host.
import { HostError, type Runner } from '../host/runner.js';

/** The file's text, or null when it does not exist. */
export async function readHostFile(run: Runner, path: string): Promise<string | null> {
  const r = await run(['sh', '-c', 'if [ -e "$1" ]; then cat -- "$1"; else exit 3; fi', 'sh', path]);
  if (r.code === 3) return null;
  if (r.code !== 0) throw new HostError(`cannot read ${path}: ${r.stderr.trim() || `exit ${r.code}`}`, r);
  return r.stdout;
}

/**
 * Replaces the file in one rename (a reader sees the old or the new text, never a part), with
 * the old file's mode and owner; creates its directory when `mkdir`.
 */
export async function writeHostFile(run: Runner, path: string, text: string, opts: { mkdir?: boolean } = {}): Promise<void> {
  const script = [
    'set -e',
    opts.mkdir ? 'mkdir -p -- "$(dirname -- "$1")"' : ':',
    't=$(mktemp -- "$1.knockc.XXXXXX")',
    'trap \'rm -f -- "$t"\' EXIT',
    'cat > "$t"',
    'if [ -e "$1" ]; then chmod --reference="$1" -- "$t"; chown --reference="$1" -- "$t"; else chmod 644 -- "$t"; fi',
    'mv -f -- "$t" "$1"',
    'trap - EXIT',
  ].join('\n');
  const r = await run(['sh', '-c', script, 'sh', path], text);
  if (r.code !== 0) throw new HostError(`cannot write ${path}: ${r.stderr.trim() || `exit ${r.code}`}`, r);
}

export async function removeHostFile(run: Runner, path: string): Promise<void> {
  const r = await run(['rm', '-f', '--', path]);
  if (r.code !== 0) throw new HostError(`cannot remove ${path}: ${r.stderr.trim() || `exit ${r.code}`}`, r);
}
