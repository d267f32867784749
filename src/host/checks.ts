// Host checks every target shares (privileges, kernel version, the interface knocks are
// counted on), and how checks are printed. Each check gives a clear message; errors stop
// apply/remove, warnings do not. A target's own checks live in its folder.
import type { Runner } from './runner.js';

export interface Check {
  readonly level: 'ok' | 'warning' | 'error';
  readonly what: string;
  readonly message: string;
}

const CAP_NET_ADMIN = 12;

/** CapEff of `cat /proc/self/status` (the capabilities knockc's children run with). */
export function hasNetAdmin(procStatus: string): boolean | null {
  const m = /^CapEff:\s*([0-9a-f]+)$/im.exec(procStatus);
  if (!m) return null;
  return (BigInt(`0x${m[1]}`) >> BigInt(CAP_NET_ADMIN)) % 2n === 1n;
}

/** "6.1.0-18-amd64" -> [6, 1]. */
export function kernelVersion(release: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)/.exec(release.trim());
  return m ? [Number(m[1]), Number(m[2])] : null;
}

export function versionAtLeast(v: string, min: readonly number[]): boolean {
  const parts = v.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < min.length; i++) {
    const a = parts[i] ?? 0;
    if (a !== min[i]) return a > min[i]!;
  }
  return true;
}

/** What a command does with the firewall: load (apply, run), remove, or only read (status). */
export type Purpose = 'load' | 'remove' | 'read';

const NEEDS_ROOT: Record<Purpose, string> = {
  load: 'loading firewall rules needs root (CAP_NET_ADMIN): run knockc with sudo',
  remove: 'removing firewall rules needs root (CAP_NET_ADMIN): run knockc with sudo',
  read: 'status only reads, but the kernel lists its rules, sets and counters only to root (CAP_NET_ADMIN): run knockc status with sudo',
};

export async function checkPrivileges(run: Runner, purpose: Purpose = 'load'): Promise<Check> {
  const r = await run(['cat', '/proc/self/status']);
  const cap = r.code === 0 ? hasNetAdmin(r.stdout) : null;
  if (cap === false) {
    return { level: 'error', what: 'privileges', message: NEEDS_ROOT[purpose] };
  }
  return { level: 'ok', what: 'privileges', message: cap === null ? 'capabilities unknown' : 'CAP_NET_ADMIN' };
}

export async function checkKernel(run: Runner, min: { version: readonly [number, number]; why: string }): Promise<Check> {
  const r = await run(['uname', '-r']);
  const v = r.code === 0 ? kernelVersion(r.stdout) : null;
  if (!v) return { level: 'warning', what: 'kernel', message: 'cannot read the kernel version (uname -r)' };
  const [maj, min_] = v;
  const ok = maj > min.version[0] || (maj === min.version[0] && min_ >= min.version[1]);
  return ok
    ? { level: 'ok', what: 'kernel', message: `Linux ${r.stdout.trim()}` }
    : { level: 'error', what: 'kernel', message: `Linux ${r.stdout.trim()} is too old: ${min.why}` };
}

/** The interface names in /proc/net/dev (every interface of the network namespace, up or down). */
export function procNetDevNames(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    // The two header lines have no ':'; interface names never hold one.
    if (colon > 0) out.push(line.slice(0, colon).trim());
  }
  return out;
}

/**
 * Does the interface knocks are counted on exist here? knockd would refuse to start without it;
 * knockc's rules load anyway (an interface may come later, e.g. a VPN or a hot-plugged NIC).
 * null: it exists, or this host cannot tell.
 */
export async function checkInterface(run: Runner, name: string, dryRun = false): Promise<Check | null> {
  const r = await run(['cat', '/proc/net/dev']);
  if (r.code !== 0) return null;
  const names = procNetDevNames(r.stdout);
  if (names.length === 0 || names.includes(name)) return null;
  return {
    level: 'warning',
    what: 'interface',
    message:
      `${name} does not exist on this host (knockd would not start on it); the rules ${dryRun ? 'would be' : 'are'} loaded anyway, ` +
      `but no knock counts until ${name} appears (interfaces here: ${names.join(', ')})`,
  };
}

/** The host is not ready: what HostNotReady says, per purpose. */
export function notReadyMessage(purpose: Purpose): string {
  return purpose === 'read' ? 'cannot read the firewall here; nothing was changed' : 'the host is not ready; nothing was changed';
}

export const failed = (checks: readonly Check[]): Check[] => checks.filter((c) => c.level === 'error');

export function formatChecks(checks: readonly Check[], shown: 'problems' | 'all' = 'problems'): string {
  return checks
    .filter((c) => shown === 'all' || c.level !== 'ok')
    .map((c) => `knockc: ${c.level === 'ok' ? 'ok' : c.level}: ${c.what}: ${c.message}\n`)
    .join('');
}
