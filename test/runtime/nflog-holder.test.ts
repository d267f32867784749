// Which process holds an NFLOG group (issue 17 item 7: a second `knockc run` says who, instead of
// blaming tcpdump), from recorded /proc files.
import { describe, expect, it } from 'vitest';
import { holderMessage, netlinkInode, nflogHolder, parseNfnetlinkLog, type ProcFs } from '../../src/runtime/nflog-holder.js';

const NFNETLINK_LOG = '    5  31887     0 2 65531    100  1\n 4242  -4123     0 2 65531    100  1\n';
const NETLINK = [
  'sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode',
  '000000005f7f1f9f 12  0          00000000 0        0        0     2        0        6075809 ',
  '00000000047e4e57 12  31887      00000000 0        0        0     2        0        6193135 ',
  '00000000047e4e58 0   -4123      00000000 0        0        0     2        0        7000000 ',
  '00000000047e4e59 12  -4123      00000000 0        0        0     2        0        7000001 ',
].join('\n');

function fakeFs(files: Record<string, string>, links: Record<string, string>): ProcFs {
  return {
    read: (p) => files[p] ?? null,
    list: (p) => {
      const prefix = p.endsWith('/') ? p : `${p}/`;
      const names = [...Object.keys(files), ...Object.keys(links)].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length).split('/')[0]!);
      return [...new Set(names)];
    },
    link: (p) => links[p] ?? null,
  };
}

describe('nflogHolder', () => {
  it('parses the kernel tables', () => {
    expect(parseNfnetlinkLog(NFNETLINK_LOG)).toEqual(new Map([[5, 31887], [4242, -4123]]));
    expect(netlinkInode(NETLINK, 31887)).toBe(6193135);
    expect(netlinkInode(NETLINK, -4123)).toBe(7000001); // protocol 12 only
    expect(netlinkInode(NETLINK, 1)).toBeNull();
  });

  it('finds the process by the socket inode, and its parent', () => {
    const fs = fakeFs(
      {
        '/proc/net/netfilter/nfnetlink_log': NFNETLINK_LOG,
        '/proc/net/netlink': NETLINK,
        '/proc/900/cmdline': 'tcpdump\0-Z\0root\0-i\0nflog:4242\0',
        '/proc/900/status': 'Name:\ttcpdump\nPPid:\t800\n',
        '/proc/800/cmdline': 'node\0/usr/lib/knockc/cli.js\0run\0/etc/knockd.conf\0',
        '/proc/800/status': 'PPid:\t1\n',
      },
      { '/proc/900/fd/3': 'socket:[7000001]', '/proc/800/fd/1': 'pipe:[1]' },
    );
    const h = nflogHolder(4242, fs);
    expect(h).toEqual({ portid: -4123, pid: 900, command: 'tcpdump -Z root -i nflog:4242', parent: { pid: 800, command: 'node /usr/lib/knockc/cli.js run /etc/knockd.conf' } });
    expect(holderMessage(4242, h!)).toBe(
      'NFLOG group 4242 is already taken by process 900 (tcpdump -Z root -i nflog:4242), started by process 800 (node /usr/lib/knockc/cli.js run /etc/knockd.conf): ' +
        'one reader per group; stop it (another knockc run?), or give this one another group with --nflog-group N',
    );
    expect(nflogHolder(7, fs)).toBeNull();
  });

  it('a holder whose process is not visible is named by its port', () => {
    const fs = fakeFs({ '/proc/net/netfilter/nfnetlink_log': NFNETLINK_LOG, '/proc/net/netlink': NETLINK }, {});
    const h = nflogHolder(4242, fs)!;
    expect(h.pid).toBeNull();
    expect(holderMessage(4242, h)).toContain('netlink port -4123 (its process is not visible here)');
    expect(nflogHolder(4242, fakeFs({}, {}))).toBeNull();
  });
});
