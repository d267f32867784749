// knockc status from recorded kernel listings: per door attempts, grants and counters.
import { describe, expect, it } from 'vitest';
import { parseElementsText, parseTableJson, withElements } from '../../../src/targets/nft/live.js';
import { deploymentStatus } from '../../../src/targets/nft/status.js';
import { formatStatus, statusJson, table, timeLeft } from '../../../src/targets/status.js';
import { doorLabel, grantWords, isSharedStateSet, setMeaning } from '../../../src/model/names.js';
import { hasNetAdmin, kernelVersion, versionAtLeast } from '../../../src/host/checks.js';
import { fixture } from '../live-helpers.js';

const live = withElements(parseTableJson(fixture('two-doors.standalone.json'), 'inet', 'knockc'), parseElementsText(fixture('two-doors.standalone.txt')));
const st = deploymentStatus({ family: 'inet', table: 'knockc', mode: 'standalone' }, live);

describe('status of the recorded table', () => {
  // Recorded after: 7000 8000/udp 9000 (opens), 6000/udp (web), 7000 8000/udp, ::1 7000 twice
  // (the second is a wrong knock), 7000 9000 (wrong knock; 9000 is then no first knock),
  // 7000 8000/udp, ::1 7000.
  it('lists the doors in config order, with their sequence length', () => {
    expect(st.doors.map((d) => [d.name, d.line, d.stages])).toEqual([
      ['openSSH', 3, 3],
      ['web', 13, 1],
    ]);
  });
  it('counts knocks, openings and resets per door from the rule counters', () => {
    expect(st.doors[0]!.counters).toEqual({ knocks: 11, openings: 1, resets: 2 });
    expect(st.doors[1]!.counters).toEqual({ knocks: 1, openings: 1, resets: 0 });
  });
  it('lists the sources mid-sequence with their stage and time left (both families)', () => {
    const a = st.doors[0]!.attempts;
    expect(a.map((x) => [x.source, x.stage])).toEqual([
      ['127.0.0.1', 2],
      ['::1', 1],
    ]);
    for (const x of a) expect(x.expiresMs).toBeGreaterThan(0);
    for (const x of a) expect(x.expiresMs).toBeLessThanOrEqual(5000);
  });
  it('lists active grants with the door that opens them', () => {
    expect(st.grants.map((g) => [g.source, g.grant, g.doors, g.timeoutMs])).toEqual([
      ['127.0.0.1', 'tcp/22', ['openSSH'], 30_000],
      ['127.0.0.1', 'tcp/2222', ['web'], 20_000],
    ]);
  });
  it('renders an aligned table without colour codes when asked', () => {
    const text = formatStatus([st], { color: false });
    expect(text).not.toMatch(/\x1b\[/);
    const lines = text.split('\n');
    const head = lines.find((l) => l.startsWith('DOOR'))!;
    const row = lines.find((l) => l.startsWith('openSSH'))!;
    // right-aligned numbers end under their headers
    expect(row.length).toBe(head.length);
    expect(text).toMatch(/127\.0\.0\.1 +tcp\/22 +openSSH +\d+\.\ds/);
    expect(formatStatus([st], { color: true })).toMatch(/\x1b\[1m/);
  });
  it('has a stable JSON shape', () => {
    const j = JSON.parse(statusJson([st])) as { version: number; deployments: Array<Record<string, unknown>> };
    expect(j.version).toBe(1);
    expect(Object.keys(j.deployments[0]!)).toEqual(['target', 'family', 'table', 'mode', 'doors', 'grants']);
    const door = (j.deployments[0]!['doors'] as Array<Record<string, unknown>>)[0]!;
    expect(Object.keys(door)).toEqual(['name', 'line', 'stages', 'counters', 'attempts']);
    const grant = (j.deployments[0]!['grants'] as Array<Record<string, unknown>>)[0]!;
    expect(Object.keys(grant)).toEqual(['source', 'grant', 'doors', 'expiresMs', 'timeoutMs']);
  });
});

describe('status of a table loaded before issue 20 (a set per door, role and stage)', () => {
  const v1 = withElements(parseTableJson(fixture('two-doors.standalone.v1-layout.json'), 'inet', 'knockc'), parseElementsText(fixture('two-doors.standalone.v1-layout.txt')));
  const old = deploymentStatus({ family: 'inet', table: 'knockc', mode: 'standalone' }, v1);
  it('reads the same doors, attempts and grants (recorded after the same knocks)', () => {
    expect(old.doors.map((d) => [d.name, d.line, d.stages, d.counters, d.attempts.map((a) => [a.source, a.stage])])).toEqual(
      st.doors.map((d) => [d.name, d.line, d.stages, d.counters, d.attempts.map((a) => [a.source, a.stage])]),
    );
    expect(old.grants.map((g) => [g.source, g.grant, g.doors])).toEqual(st.grants.map((g) => [g.source, g.grant, g.doors]));
  });
});

describe('labels and helpers', () => {
  it('reads knockc comments', () => {
    expect(doorLabel('[open SSH] line 12: 2 knock(s) made [0123456789ab]')).toEqual({ door: 'open SSH', line: 12, rest: '2 knock(s) made' });
    expect(doorLabel('[web] line 13: one-knock door')).toEqual({ door: 'web', line: 13, rest: 'one-knock door' });
    expect(doorLabel('grant hook=input')).toBeNull();
    expect(setMeaning('knockc_stage6_d3_2')).toEqual({ role: 'stage', knocks: 2 });
    expect(setMeaning('knockc_armed4_d0')).toEqual({ role: 'armed' });
    expect(setMeaning('knockc_armed6')).toEqual({ role: 'armed' });
    expect(setMeaning('knockc_stage4_2')).toEqual({ role: 'stage', knocks: 2 });
    expect(isSharedStateSet('knockc_stage4_2')).toBe(true);
    expect(isSharedStateSet('knockc_stage4_d0_2')).toBe(false);
    expect(isSharedStateSet('knockc_grant4_g0_p')).toBe(false);
    expect(setMeaning('knockc_grant4_g0_p')).toEqual({ role: 'grant' });
    expect(grantWords('grant hook=input proto=tcp dport=22,80-90 daddr=* iif=* syn=0 new=0 [abc123abc123]')).toBe('tcp/22,80-90');
    expect(grantWords('grant hook=forward proto=* dport=* daddr=10.0.0.2 iif=eth1 syn=0 new=0')).toBe('all traffic to 10.0.0.2 on eth1 (forward)');
  });
  it('formats time left', () => {
    expect(timeLeft(4321)).toBe('4.3s');
    expect(timeLeft(65_000)).toBe('1m05s');
    expect(timeLeft(7_260_000)).toBe('2h01m');
    expect(timeLeft(null)).toBe('no expiry');
  });
  it('pads columns by visible width', () => {
    const t = table(['A', 'NUM'], [['\x1b[36mxx\x1b[0m', '5']], [1], { head: (s) => s, door: (s) => s, dim: (s) => s, good: (s) => s });
    expect(t).toEqual(['A   NUM', '\x1b[36mxx\x1b[0m    5']);
  });
  it('preflight helpers', () => {
    expect(hasNetAdmin('Name:\tcat\nCapEff:\t000001ffffffffff\n')).toBe(true);
    expect(hasNetAdmin('CapEff:\t0000000000000000\n')).toBe(false);
    expect(hasNetAdmin('CapEff:\t0000000000001000\n')).toBe(true);
    expect(hasNetAdmin('nothing')).toBeNull();
    expect(kernelVersion('6.1.0-18-amd64')).toEqual([6, 1]);
    expect(versionAtLeast('1.0.6', [0, 9, 7])).toBe(true);
    expect(versionAtLeast('0.9.6', [0, 9, 7])).toBe(false);
    expect(versionAtLeast('0.9.7', [0, 9, 7])).toBe(true);
  });
});
