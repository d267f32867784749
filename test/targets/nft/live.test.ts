// Reading knockc's objects back from recorded `nft -j list ...` and text listings.
import { describe, expect, it } from 'vitest';
import {
  findDeployments,
  formatNftTime,
  grantSets,
  parseElementsText,
  parseNftTime,
  parseTableJson,
  readTable,
  readTableForApply,
  withElements,
} from '../../../src/targets/nft/live.js';
import { keyOfComment } from '../../../src/model/names.js';
import { compile, config, fakeRunner, fixture } from '../live-helpers.js';

describe('nft time text', () => {
  it('parses every unit', () => {
    expect(parseNftTime('30s')).toBe(30_000);
    expect(parseNftTime('4s976ms')).toBe(4976);
    expect(parseNftTime('1d2h3m4s5ms')).toBe(86_400_000 + 7_200_000 + 180_000 + 4000 + 5);
    expect(parseNftTime('12m')).toBe(720_000);
    expect(parseNftTime('soon')).toBeNull();
    expect(parseNftTime('')).toBeNull();
  });
  it('formats milliseconds the way nft reads them back', () => {
    for (const ms of [1, 999, 1000, 4976, 30_000, 61_001, 90_061_001]) expect(parseNftTime(formatNftTime(ms))).toBe(ms);
    expect(formatNftTime(21_200)).toBe('21s200ms');
    expect(formatNftTime(0)).toBe('1ms');
  });
});

describe('set keys', () => {
  it('are the bracketed hex at the end of a comment', () => {
    expect(keyOfComment('[openSSH] line 3: attempt started [7c040f5eef09]')).toBe('7c040f5eef09');
    expect(keyOfComment('grant hook=input proto=tcp [c82f3af2e42b]')).toBe('c82f3af2e42b');
    expect(keyOfComment('[openSSH] line 3')).toBeNull();
    expect(keyOfComment(null)).toBeNull();
  });
});

describe('a recorded standalone table', () => {
  const json = parseTableJson(fixture('two-doors.standalone.json'), 'inet', 'knockc');
  const text = parseElementsText(fixture('two-doors.standalone.txt'));
  const t = withElements(json, text);

  it('has the sets, chains and rules of the program', () => {
    // Door state and grants: shared sets (no key of their own: their elements carry the door's or grant's tag);
    // each grant's key is in the grant registry.
    expect(t.sets.map((s) => s.name)).toEqual(expect.arrayContaining(['knockc_grant4', 'knockc_armed4', 'knockc_stage4_1', 'knockc_stage4_2', 'knockc_grant6', 'knockc_armed6', 'knockc_stage6_1', 'knockc_grantkey4', 'knockc_grantkey6']));
    expect(t.sets.every((s) => s.key === null)).toBe(true);
    const program = compile(config()).program;
    expect(grantSets(t).map((g) => g.key).sort()).toEqual(program.sets.filter((s) => s.role === 'grant').map((s) => s.key).sort());
    expect(t.chains.find((c) => c.name === 'input')?.hook).toBe('input');
    const adv = t.rules.find((r) => r.chain === 'knockc_door4_d0' && r.comment === 'stage 2 -> 3')!;
    expect(adv.counter?.packets).toBe(1);
    const tag = compile(config()).program.sets.find((s) => s.name === 'knockc_armed4_d0')!.store!.tag;
    expect(adv.setOps).toContainEqual({ op: 'update', set: 'knockc_grant4', tag: program.sets.find((s) => s.name === 'knockc_grant4_g0_t30')!.store!.tag });
    expect(adv.setOps).toContainEqual({ op: 'delete', set: 'knockc_armed4', tag });
    // the IPv4 dispatch of the input chain: knock ports (jump) and granted ports (goto) in one map
    const knock = t.rules.find((r) => r.chain === 'input' && r.comment === 'knock ports and granted ports')!;
    // verdict map targets count as targets
    expect(knock.targets.length).toBeGreaterThan(1);
    expect(knock.targets).toEqual(expect.arrayContaining(['knockc_vis4_t7000', 'knockc_gp4_in_t22']));
  });

  it('reads elements to the millisecond from the text listing (the JSON has whole seconds)', () => {
    const key = compile(config()).program.sets.find((s) => s.name === 'knockc_grant4_g0_t30')!.key;
    const grant = grantSets(t).find((s) => s.key === key)!;
    expect(grant.comment).toMatch(/^grant hook=input proto=tcp dport=22 /);
    expect(grant.elements).toHaveLength(1);
    expect(grant.elements[0]!.addr).toBe('127.0.0.1');
    expect(grant.elements[0]!.timeoutMs).toBe(30_000);
    expect(grant.elements[0]!.expiresMs! % 1000).not.toBe(0);
    const jsonGrant = grantSets(json).find((s) => s.key === key)!;
    expect(jsonGrant.elements[0]!.expiresMs! % 1000).toBe(0);
    expect(Math.abs(jsonGrant.elements[0]!.expiresMs! - grant.elements[0]!.expiresMs!)).toBeLessThan(1000);
    // Shared state sets: `ADDR . TAG`, the door's tag, from the text listing and the JSON alike.
    const tag6 = compile(config()).program.sets.find((s) => s.name === 'knockc_stage6_d0_1')!.store!.tag;
    const stage6 = t.sets.find((s) => s.name === 'knockc_stage6_1')!;
    expect(stage6.elements.map((e) => [e.addr, e.tag, e.timeoutMs])).toEqual([['::1', tag6, 5000]]);
    expect(json.sets.find((s) => s.name === 'knockc_stage6_1')!.elements.map((e) => [e.addr, e.tag])).toEqual([['::1', tag6]]);
  });

  it('parses wrapped element lists and per-element timeouts', () => {
    const listing = [
      'table inet knockc {',
      '\tset knockc_grant4_g0_t30 {',
      '\t\ttype ipv4_addr',
      '\t\tflags dynamic,timeout',
      '\t\ttimeout 30s',
      '\t\telements = { 198.51.100.1 expires 1s, 198.51.100.2 timeout 1m expires 59s999ms,',
      '\t\t\t     198.51.100.3 expires 2s }',
      '\t}',
      '\tset other {',
      '\t\ttype ipv4_addr',
      '\t\telements = { 10.0.0.1 }',
      '\t}',
      '}',
    ].join('\n');
    const m = parseElementsText(listing);
    expect(m.get('knockc_grant4_g0_t30')).toEqual([
      { addr: '198.51.100.1', tag: null, timeoutMs: null, expiresMs: 1000 },
      { addr: '198.51.100.2', tag: null, timeoutMs: 60_000, expiresMs: 59_999 },
      { addr: '198.51.100.3', tag: null, timeoutMs: null, expiresMs: 2000 },
    ]);
    expect(m.has('other')).toBe(false);
  });
});

describe('finding deployments', () => {
  it('tells knockc\'s own table from objects in a user\'s table', () => {
    const ds = findDeployments(fixture('chains.json'));
    expect(ds).toEqual([
      { family: 'inet', table: 'filter', mode: 'into' },
      { family: 'inet', table: 'knockc', mode: 'standalone' },
    ]);
  });
  it('ignores tables without knockc_* chains', () => {
    const json = JSON.stringify({ nftables: [{ chain: { family: 'ip', table: 'nat', name: 'POSTROUTING' } }] });
    expect(findDeployments(json)).toEqual([]);
  });
});

describe('readTable', () => {
  it('returns null for a missing table', async () => {
    const run = fakeRunner(() => ({ code: 1, stderr: 'Error: No such file or directory\nlist table inet knockc\n' }));
    expect(await readTable(run, 'inet', 'knockc')).toBeNull();
  });
  it('reads the elements of its own table from the sets listing (read with the JSON), only when knockc sets hold elements', async () => {
    const empty = JSON.stringify({ nftables: [{ set: { family: 'inet', table: 'knockc', name: 'knockc_armed4_d0', type: 'ipv4_addr', handle: 1 } }] });
    const run = fakeRunner((cmd) => (cmd.includes('-j') ? { stdout: empty } : { code: 1, stderr: 'not asked for' }));
    const t = await readTable(run, 'inet', 'knockc');
    expect(t?.sets).toHaveLength(1);
    // Another table's knockc_* sets in the same listing are not this table's.
    const other = fixture('two-doors.standalone.txt').replace('table inet knockc {', 'table inet other {').replace(/127\.0\.0\.1/g, '192.0.2.99');
    const run2 = fakeRunner((cmd) => ({ stdout: cmd.includes('-j') ? fixture('two-doors.standalone.json') : `${other}${fixture('two-doors.standalone.txt')}` }));
    const t2 = (await readTable(run2, 'inet', 'knockc'))!;
    expect(run2.calls.map((c) => c.cmd.join(' '))).toEqual(['nft -j list table inet knockc', 'nft list sets inet']);
    const addrs = t2.sets.flatMap((s) => s.elements.map((e) => e.addr));
    expect(addrs).toContain('127.0.0.1');
    expect(addrs).not.toContain('192.0.2.99');
    expect(t2.sets.find((s) => s.name === 'knockc_armed4')!.elements[0]!.expiresMs! % 1000).not.toBe(0);
  });
  it('for apply: reads the chains and sets, and the rules of the chains that are not knockc\'s only (not every rule back)', async () => {
    const full = JSON.parse(fixture('two-doors.standalone.json')) as { nftables: Array<Record<string, Record<string, unknown>>> };
    const json = (xs: unknown[]) => ({ stdout: JSON.stringify({ nftables: xs }) });
    const run = fakeRunner((cmd) => {
      const s = cmd.join(' ');
      if (s === 'nft -j list chains inet') return json(full.nftables.filter((i) => i['chain']));
      if (s === 'nft -j list sets inet') return json(full.nftables.filter((i) => i['set']));
      if (s === 'nft list sets inet') return { stdout: fixture('two-doors.standalone.txt') };
      if (s === 'nft -j list chain inet knockc input') return json(full.nftables.filter((i) => i['rule']?.['chain'] === 'input'));
      return { code: 1, stderr: `not expected: ${s}` };
    });
    const t = (await readTableForApply(run, 'inet', 'knockc'))!;
    expect(run.calls.map((c) => c.cmd.join(' ')).sort()).toEqual(['nft -j list chain inet knockc input', 'nft -j list chains inet', 'nft -j list sets inet', 'nft list sets inet']);
    expect(t.rules.length).toBeGreaterThan(0);
    expect(t.rules.every((r) => r.chain === 'input')).toBe(true);
    const whole = withElements(parseTableJson(fixture('two-doors.standalone.json'), 'inet', 'knockc'), parseElementsText(fixture('two-doors.standalone.txt')));
    expect(t.sets).toEqual(whole.sets);
    expect(t.chains).toEqual(whole.chains);
    // No chain and no set of the table: nothing to keep.
    const none = fakeRunner(() => ({ stdout: '{"nftables": []}' }));
    expect(await readTableForApply(none, 'inet', 'knockc')).toBeNull();
  });
  it('for apply: a user table of many chains (--into) is read whole, not one nft per chain', async () => {
    const chains = Array.from({ length: 9 }, (_, i) => ({ chain: { family: 'inet', table: 'filter', name: `user${i}`, handle: i + 1 } }));
    const whole = { nftables: [...chains, { rule: { family: 'inet', table: 'filter', chain: 'user0', handle: 20, comment: 'knockc', expr: [{ jump: { target: 'knockc_input' } }] } }] };
    const run = fakeRunner((cmd) => {
      const s = cmd.join(' ');
      if (s === 'nft -j list chains inet') return { stdout: JSON.stringify({ nftables: chains }) };
      if (s === 'nft -j list sets inet' || s === 'nft list sets inet') return { stdout: '{"nftables": []}' };
      if (s === 'nft -j list table inet filter') return { stdout: JSON.stringify(whole) };
      return { code: 1, stderr: `not expected: ${s}` };
    });
    const t = (await readTableForApply(run, 'inet', 'filter'))!;
    expect(run.calls.some((c) => c.cmd.join(' ').startsWith('nft -j list chain '))).toBe(false);
    expect(t.chains).toHaveLength(9);
    expect(t.rules.map((r) => [r.chain, r.comment, r.targets])).toEqual([['user0', 'knockc', ['knockc_input']]]);
  });
  it('reports other failures with nft\'s message', async () => {
    const run = fakeRunner(() => ({ code: 1, stderr: 'Error: Operation not permitted' }));
    await expect(readTable(run, 'inet', 'knockc')).rejects.toThrow(/Operation not permitted/);
  });
});
