// xt_recent's side of the kernel: the sources of each list in /proc/net/xt_recent, and the
// kernel clock (HZ, jiffies) their timestamps count in.
export interface RecentEntry {
  readonly source: string;
  /** Jiffies of the newest stamp. */
  readonly lastSeen: number;
}

/** `src=198.51.100.9 ttl: 64 last_seen: 4295885749 oldest_pkt: 1 4295885749` lines. */
export function parseRecent(text: string): RecentEntry[] {
  const out: RecentEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^src=(\S+) ttl: \d+ last_seen: (\d+)/.exec(line.trim());
    if (m) out.push({ source: compactAddr(m[1]!), lastSeen: Number(m[2]) });
  }
  return out;
}

/** `grep -H '' /proc/net/xt_recent/A /proc/net/xt_recent/B` output, per list. */
export function parseRecentFiles(text: string): Map<string, RecentEntry[]> {
  const byList = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^\/proc\/net\/xt_recent\/([^:]+):(.*)$/.exec(line);
    if (!m) continue;
    const l = byList.get(m[1]!) ?? [];
    l.push(m[2]!);
    byList.set(m[1]!, l);
  }
  return new Map([...byList].map(([k, v]) => [k, parseRecent(v.join('\n'))]));
}

/** xt_recent prints IPv6 sources in full (2001:0db8:0000:...): the usual short form. */
export function compactAddr(a: string): string {
  if (!a.includes(':')) return a;
  try {
    return new URL(`http://[${a}]/`).hostname.slice(1, -1);
  } catch {
    return a;
  }
}

export interface KernelClock {
  /** The kernel's tick rate (CONFIG_HZ), which xt_recent's jiffies count in. */
  readonly hz: number;
  /** Jiffies when the clock was read. */
  readonly jiffies: number;
}

export const HZ_VALUES = [100, 250, 300, 1000] as const;
const sample = (timerList: string): { jiffies: number; ns: number } | null => {
  const j = /^jiffies: (\d+)$/m.exec(timerList);
  const n = /^now at (\d+) nsecs$/m.exec(timerList);
  return j && n ? { jiffies: Number(j[1]), ns: Number(n[1]) } : null;
};

/**
 * HZ from one read of /proc/timer_list: the kernel starts jiffies at INITIAL_JIFFIES
 * (2^32 - 300 HZ, so that the 32-bit wrap happens 5 minutes after boot), and it ticks HZ times
 * a second of CLOCK_MONOTONIC ("now at ... nsecs"), so exactly one of the HZ values Linux
 * offers predicts the printed jiffies. Null when none predicts it within 2 s (then see hzFromSamples).
 */
export function clockFromTimerList(timerList: string): KernelClock | null {
  const s = sample(timerList);
  if (!s) return null;
  let best: { hz: number; err: number } | null = null;
  for (const hz of HZ_VALUES) {
    const predicted = 2 ** 32 - 300 * hz + (hz * s.ns) / 1e9;
    const err = Math.abs(s.jiffies - predicted) / hz;
    if (!best || err < best.err) best = { hz, err };
  }
  return best && best.err < 2 ? { hz: best.hz, jiffies: s.jiffies } : null;
}

/** HZ from two reads of /proc/timer_list some time apart (jiffies elapsed / seconds elapsed). */
export function hzFromSamples(a: string, b: string): KernelClock | null {
  const x = sample(a);
  const y = sample(b);
  if (!x || !y || y.ns - x.ns < 50e6) return null;
  const rate = ((y.jiffies - x.jiffies) * 1e9) / (y.ns - x.ns);
  const hz = HZ_VALUES.reduce((p, c) => (Math.abs(c - rate) < Math.abs(p - rate) ? c : p));
  return Math.abs(hz - rate) / hz < 0.1 ? { hz, jiffies: y.jiffies } : null;
}

/** Milliseconds an entry has left under `seconds` (<= 0: expired; null: no timeout or no clock). */
export function leftMs(e: RecentEntry, seconds: number | null, clock: KernelClock | null): number | null {
  if (seconds === null || clock === null) return null;
  return Math.round(seconds * 1000 - ((clock.jiffies - e.lastSeen) * 1000) / clock.hz);
}

/** Entries still alive under the list's timeout (all of them when there is no timeout or no clock). */
export function liveEntries(es: readonly RecentEntry[], seconds: number | null, clock: KernelClock | null): RecentEntry[] {
  return es.filter((e) => {
    const l = leftMs(e, seconds, clock);
    return l === null || l > 0;
  });
}
