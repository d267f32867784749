// knockc run's part of `knockc status` (issue 17 item 7): from its PID file and pending.json.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatRuntimeStatus, readRuntimeStatus, runtimeShown } from '../../src/runtime/status.js';

const tmp = mkdtempSync(join(tmpdir(), 'knockc-rtstatus-'));
const NOW = 1_800_000_000_000;

function host(files: Record<string, string>) {
  return { read: (p: string) => files[p] ?? (p.startsWith(tmp) ? readOr(p) : null), now: () => NOW };
}
function readOr(p: string): string | null {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}

describe('runtime status', () => {
  const state = join(tmp, 'pending.json');
  writeFileSync(
    state,
    JSON.stringify({
      version: 1,
      pending: [
        { id: 'b', door: 'web', src: '2001:db8::7', command: 'ufw delete allow from 2001:db8::7', due: NOW + 125_000 },
        { id: 'a', door: 'ssh', src: '198.51.100.9', command: 'iptables -D INPUT -s 198.51.100.9 -j ACCEPT', due: NOW + 27_100 },
        { id: 'c', door: 'ssh', src: '198.51.100.10', command: 'iptables -D INPUT -s 198.51.100.10 -j ACCEPT', due: NOW - 3000 },
      ],
    }),
  );

  it('a running runtime and its stops, soonest first, per door', () => {
    const r = readRuntimeStatus(state, '/run/knockc.pid', host({ '/run/knockc.pid': '4321\n', '/proc/4321/cmdline': 'node\0/usr/lib/knockc/cli.js\0run\0/etc/knockd.conf\0' }));
    expect(r.pid).toBe(4321);
    expect(r.pending.map((p) => [p.door, p.source, p.dueMs])).toEqual([
      ['ssh', '198.51.100.10', -3000],
      ['ssh', '198.51.100.9', 27_100],
      ['web', '2001:db8::7', 125_000],
    ]);
    expect(formatRuntimeStatus(r)).toBe(
      [
        'knockc run: running (pid 4321); 3 pending stop commands',
        '',
        'DOOR  SOURCE         STOP          COMMAND',
        'ssh   198.51.100.10  overdue 3.0s  iptables -D INPUT -s 198.51.100.10 -j ACCEPT',
        'ssh   198.51.100.9   in 27.1s      iptables -D INPUT -s 198.51.100.9 -j ACCEPT',
        'web   2001:db8::7    in 2m05s      ufw delete allow from 2001:db8::7',
        '',
        `open until their stop: [ssh] 2, [web] 1 (from ${state})`,
        '',
      ].join('\n'),
    );
  });

  it('a stale PID file is not a running runtime; no state and no process shows nothing', () => {
    const stale = readRuntimeStatus(state, '/run/knockc.pid', host({ '/run/knockc.pid': '4321\n', '/proc/4321/cmdline': 'bash\0' }));
    expect(stale.pid).toBeNull();
    expect(formatRuntimeStatus(stale)).toMatch(/^knockc run: not running \(no live process in \/run\/knockc\.pid\); 3 pending stop commands, run when it starts \(overdue ones at once\)\n/);
    const none = readRuntimeStatus(join(tmp, 'absent.json'), '/run/knockc.pid', host({}));
    expect(runtimeShown(none)).toBe(false);
  });

  it('a state file that is not knockc\'s is said, not thrown', () => {
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, 'not json');
    const r = readRuntimeStatus(bad, '/run/knockc.pid', host({}));
    expect(runtimeShown(r)).toBe(true);
    expect(formatRuntimeStatus(r)).toBe(`knockc run: not running (no live process in /run/knockc.pid)\nknockc run: cannot read its stops: ${bad}: not a knockc state file (not JSON)\n`);
  });
});
