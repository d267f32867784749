// Who holds an NFLOG group: the kernel lets one netlink socket bind a group, and a second
// reader (another `knockc run`, knockd's ulogd, a tcpdump -i nflog:N) is refused with a bare
// "Operation not permitted". /proc/net/netfilter/nfnetlink_log names the binding socket's
// netlink port id, /proc/net/netlink that socket's inode, and /proc/PID/fd the process holding it.
import { readTextOrNull } from '../host/read-text.js';
import { readdirSync, readlinkSync } from 'node:fs';

export interface NflogHolder {
  /** The netlink port id bound to the group (usually the PID of the process that opened it). */
  readonly portid: number;
  /** The process holding the socket, when it can be found (another user's needs root to see). */
  readonly pid: number | null;
  readonly command: string | null;
  /** Its parent (knockc run starts tcpdump to read the group: the parent is the runtime). */
  readonly parent?: { readonly pid: number; readonly command: string | null } | undefined;
}

/** `group_num peer_portid queue_total copy_mode copy_range flush_timeout use` lines: group -> port id. */
export function parseNfnetlinkLog(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 2 && /^\d+$/.test(f[0]!) && /^-?\d+$/.test(f[1]!)) out.set(Number(f[0]), Number(f[1]));
  }
  return out;
}

/** The inode of the NETLINK_NETFILTER (12) socket with this port id, from /proc/net/netlink. */
export function netlinkInode(procNetNetlink: string, portid: number): number | null {
  for (const line of procNetNetlink.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
    if (f.length >= 10 && f[1] === '12' && Number(f[2]) === portid) return Number(f[9]);
  }
  return null;
}

export interface ProcFs {
  read(path: string): string | null;
  list(path: string): string[];
  link(path: string): string | null;
}

const realFs: ProcFs = {
  read: readTextOrNull,
  list: (p) => {
    try {
      return readdirSync(p);
    } catch {
      return [];
    }
  },
  link: (p) => {
    try {
      return readlinkSync(p);
    } catch {
      return null;
    }
  },
};

function commandOf(fs: ProcFs, pid: number): string | null {
  const cmdline = fs.read(`/proc/${pid}/cmdline`);
  const text = cmdline ? cmdline.split('\0').filter(Boolean).join(' ') : (fs.read(`/proc/${pid}/comm`) ?? '').trim();
  if (!text) return null;
  // Printable, and short enough for one line.
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 120 ? `${clean.slice(0, 117)}...` : clean;
}

function withParent(fs: ProcFs, portid: number, pid: number): NflogHolder {
  const ppid = Number(/^PPid:\s*(\d+)$/m.exec(fs.read(`/proc/${pid}/status`) ?? '')?.[1] ?? 0);
  return { portid, pid, command: commandOf(fs, pid), parent: ppid > 1 ? { pid: ppid, command: commandOf(fs, ppid) } : undefined };
}

/** Who holds the group in this network namespace; null when nobody does (or the kernel does not say). */
export function nflogHolder(group: number, fs: ProcFs = realFs): NflogHolder | null {
  const table = fs.read('/proc/net/netfilter/nfnetlink_log');
  if (table === null) return null;
  const portid = parseNfnetlinkLog(table).get(group);
  if (portid === undefined) return null;
  const inode = netlinkInode(fs.read('/proc/net/netlink') ?? '', portid);
  if (inode !== null) {
    const wanted = `socket:[${inode}]`;
    for (const p of fs.list('/proc')) {
      if (!/^\d+$/.test(p)) continue;
      for (const fd of fs.list(`/proc/${p}/fd`)) {
        if (fs.link(`/proc/${p}/fd/${fd}`) === wanted) return withParent(fs, portid, Number(p));
      }
    }
  }
  // The first netlink socket of a process gets its PID as port id.
  if (portid > 0 && fs.read(`/proc/${portid}/comm`) !== null) return withParent(fs, portid, portid);
  return { portid, pid: null, command: null };
}

/** One line for the user: who holds the group, and what to do. */
export function holderMessage(group: number, h: NflogHolder): string {
  const proc = (pid: number, command: string | null): string => `process ${pid}${command ? ` (${command})` : ''}`;
  const who =
    h.pid === null ? `netlink port ${h.portid} (its process is not visible here)`
    : proc(h.pid, h.command) + (h.parent ? `, started by ${proc(h.parent.pid, h.parent.command)}` : '');
  return (
    `NFLOG group ${group} is already taken by ${who}: one reader per group; ` +
    `stop it (another knockc run?), or give this one another group with --nflog-group N`
  );
}
