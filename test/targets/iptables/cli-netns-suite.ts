// The built CLI's apply / status / remove --target iptables against the real
// kernel, once with iptables-nft and once with iptables-legacy, each in a
// scratch pair of network namespaces (server + client joined by a veth;
// nothing outside them is touched): the real `knock` client opens the door
// from the client, a python3 probe sees tcp/22 open, status shows the grant,
// a re-apply of a changed config keeps it, apply is idempotent, and remove
// leaves the user's own rules byte-identical (and is idempotent).
// Needs root, ip, iptables (both variants), knock and python3; skipped otherwise (failed under CI=true).
// One test file per variant (cli-iptables-{nft,legacy}-netns.test.ts) so that they run in parallel.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ensureBuilt } from '../../cli/built.js';
import { fixture } from '../live-helpers.js';

const CI = process.env.CI === 'true';
const which = (names: string[]): string | undefined => names.find((p) => existsSync(p));
const IP = which(['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip']);
const KNOCK = which(['/usr/bin/knock', '/usr/local/bin/knock']);
const PY = spawnSync('python3', ['-c', 'print(1)'], { encoding: 'utf8' }).status === 0 ? 'python3' : undefined;
const tools = ['iptables-nft-restore', 'iptables-legacy-restore'].every((t) => spawnSync('sh', ['-c', `command -v ${t} || test -x /usr/sbin/${t}`]).status === 0);
const ready = process.getuid?.() === 0 && IP !== undefined && KNOCK !== undefined && PY !== undefined && tools;
if (!ready && CI) throw new Error('iptables netns tests need root, ip, iptables, knock and python3 under CI');

const tmp = mkdtempSync(join(tmpdir(), 'knockc-ipt-'));
const CONF = join(tmp, 'two-doors.conf');
writeFileSync(CONF, fixture('two-doors.conf'));
// The same doors, web's grant longer, and one more door: openSSH's lists keep their names.
const CHANGED = join(tmp, 'changed.conf');
writeFileSync(CHANGED, fixture('two-doors.conf').replace('cmd_timeout   = 20', 'cmd_timeout   = 25') + '\n[extra]\n\tsequence = 5000\n\tstart_command = /usr/sbin/iptables -A INPUT -s %IP% -p tcp --dport 2223 -j ACCEPT\n\tcmd_timeout = 10\n\tstop_command = /usr/sbin/iptables -D INPUT -s %IP% -p tcp --dport 2223 -j ACCEPT\n');

interface Out {
  status: number | null;
  stdout: string;
  stderr: string;
}

const LISTENER = `
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 22)); s.listen(16); print("ready", flush=True)
while True:
    c, _ = s.accept(); c.close()
`;
const PROBE = `
import socket, sys
try:
    socket.create_connection(("198.51.100.1", 22), timeout=0.6).close(); print("open")
except Exception as e:
    print("closed")
`;

export function iptablesNetnsSuite(backend: 'nft' | 'legacy'): void {
  describe.skipIf(!ready)(`knockc apply / status / remove --target iptables (iptables-${backend}, scratch network namespaces)`, () => {
    const S = `knockc-ipts-${backend}-${process.pid}`;
    const C = `knockc-iptc-${backend}-${process.pid}`;
    let listener: ChildProcess | null = null;
    const inNs = (ns: string, argv: string[]): Out => {
      const r = spawnSync(IP!, ['netns', 'exec', ns, ...argv], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const sh = (ns: string, cmd: string): string => {
      const r = inNs(ns, ['sh', '-c', cmd]);
      if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
      return r.stdout;
    };
    const knockc = (...args: string[]): Out => inNs(S, [process.execPath, CLI, ...args, ...(args[0] === 'apply' || args[0] === 'status' || args[0] === 'remove' ? ['--target', 'iptables'] : [])]);
    /** Both families' filter tables, without iptables-save's dated header lines and the built-in chains' traffic counters. */
    const saved = (): string =>
      ['iptables', 'ip6tables'].map((t) => sh(S, `${t}-${backend}-save -t filter`).replace(/^#.*\n/gm, '').replace(/^(:[A-Z]+ [A-Z]+) \[\d+:\d+\]$/gm, '$1 [0:0]')).join('');
    const probe = (): string => inNs(C, [PY!, '-c', PROBE]).stdout.trim();

    beforeAll(async () => {
      ensureBuilt();
      for (const ns of [S, C]) spawnSync(IP!, ['netns', 'del', ns]);
      for (const ns of [S, C]) {
        const r = spawnSync(IP!, ['netns', 'add', ns], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`ip netns add: ${r.stderr}`);
      }
      sh(S, `ip link add veth0 type veth peer name veth1 && ip link set veth1 netns ${C} && ip addr add 198.51.100.1/24 dev veth0 && ip link set veth0 up && ip link set lo up`);
      sh(C, 'ip addr add 198.51.100.2/24 dev veth1 && ip link set veth1 up && ip link set lo up');
      // The user's own firewall: SSH dropped, a friend let in; and one IPv6 rule.
      const ipt = `iptables-${backend}`;
      sh(S, `${ipt} -A INPUT -s 192.0.2.1/32 -j ACCEPT && ${ipt} -A INPUT -p tcp --dport 22 -j DROP && ip6tables-${backend} -A INPUT -s 2001:db8::1/128 -j ACCEPT`);
      listener = spawn(IP!, ['netns', 'exec', S, PY!, '-c', LISTENER], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => listener!.stdout!.once('data', () => resolve()));
    });
    afterAll(() => {
      listener?.kill();
      for (const ns of [S, C]) spawnSync(IP!, ['netns', 'del', ns]);
    });

    it('apply picks the host\'s iptables, a real knock opens tcp/22, status shows the grant; a changed config keeps it; apply is idempotent; remove restores the user\'s rules exactly', () => {
      const pristine = saved();
      expect(probe()).toBe('closed');

      const dry = knockc('apply', '--dry-run', CONF);
      expect(dry.status).toBe(0);
      expect(dry.stdout).toContain(`iptables-${backend} IPv4 (table filter): would change:`);
      expect(dry.stdout).toContain('+ jump INPUT -j knockc_input (inserted at the top of INPUT)');
      expect(dry.stdout).toMatch(/dry run: iptables-restore --test accepts these rules/);
      expect(saved()).toBe(pristine);

      const r = knockc('apply', CONF);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^knockc: loaded 2 doors into iptables-${backend} \\(IPv4 and IPv6 table filter, one iptables-restore per family, \\d+ ms\\)\\n$`));
      expect(r.stderr).not.toMatch(/error|both iptables/);
      expect(sh(S, `iptables-${backend} -S INPUT`)).toMatch(/^-P INPUT ACCEPT\n-A INPUT -j knockc_input\n/);

      const k = inNs(C, [KNOCK!, '-d', '100', '198.51.100.1', '7000', '8000:udp', '9000']);
      expect(k.status).toBe(0);
      expect(probe()).toBe('open');

      const st = knockc('status', '--json');
      expect(st.status).toBe(0);
      const j = JSON.parse(st.stdout) as { deployments: Array<{ target: string; backend: string; family: string; doors: Array<{ name: string; counters: { knocks: number; openings: number } | null }>; grants: Array<{ source: string; grant: string; doors: string[]; expiresMs: number }> }> };
      const v4 = j.deployments.find((d) => d.family === 'ip')!;
      expect(v4).toMatchObject({ target: 'iptables', backend });
      expect(v4.grants).toEqual([{ source: '198.51.100.2', grant: 'tcp/22', doors: ['openSSH'], expiresMs: expect.any(Number), timeoutMs: 30_000 }]);
      expect(v4.grants[0]!.expiresMs).toBeGreaterThan(25_000);
      expect(v4.grants[0]!.expiresMs).toBeLessThanOrEqual(30_000);
      expect(v4.doors.find((d) => d.name === 'openSSH')!.counters).toEqual({ knocks: 3, openings: 1, resets: 0 });
      const text = knockc('status');
      expect(text.stdout).toContain(`knockc in iptables-${backend}, IPv4 (table filter)`);
      expect(text.stdout).toMatch(/^198\.51\.100\.2 +tcp\/22 +openSSH +\d+\.\ds$/m);

      // A changed config: openSSH unchanged, web's grant and a new door differ. The grant survives.
      const dry2 = knockc('apply', '--dry-run', CHANGED);
      expect(dry2.stdout).toMatch(/= knockc_grant4_c82f3af2e42b \(grant\): kept, with 1 source/);
      expect(dry2.stdout).toContain('+ [extra] line 19');
      const re = knockc('apply', CHANGED);
      expect(re.status).toBe(0);
      expect(re.stdout).toContain('knockc: loaded 3 doors');
      expect(re.stdout).toContain('live state: 1 source in kept lists');
      const after = JSON.parse(knockc('status', '--json').stdout) as typeof j;
      expect(after.deployments.find((d) => d.family === 'ip')!.grants.map((g) => g.source)).toEqual(['198.51.100.2']);
      expect(probe()).toBe('open');

      // Back to the first config: the extra door's chains go; twice == once.
      expect(knockc('apply', CONF).status).toBe(0);
      const once = saved();
      expect(once).not.toMatch(/knockc_\w*_x|5000/);
      expect(knockc('apply', CONF).status).toBe(0);
      expect(saved()).toBe(once);
      expect(once.match(/-A INPUT -j knockc_input/g)).toHaveLength(2);

      const rm = knockc('remove');
      expect(rm.status).toBe(0);
      expect(rm.stdout).toBe(
        `knockc: removed from iptables-${backend} (IPv4, table filter): 16 knockc chain(s), 1 jump(s)\nknockc: removed from ip6tables-${backend} (IPv6, table filter): 15 knockc chain(s), 1 jump(s)\n`,
      );
      expect(saved()).toBe(pristine);
      const again = knockc('remove');
      expect(again.status).toBe(0);
      expect(again.stdout).toBe(`knockc: nothing to remove (no knockc rules are loaded in iptables-${backend})\n`);
      expect(saved()).toBe(pristine);
      expect(probe()).toBe('closed');
      const none = knockc('status');
      expect(none.status).toBe(1);
    });
  });
}
