// The scripts of apply and remove, the diff, and nft errors mapped back to the config.
import { describe, expect, it } from 'vitest';
import { parseElementsText, parseTableJson, withElements, type LiveTable } from '../../../src/targets/nft/live.js';
import { foreignObjects, foreignReferences, hookRules, intoRemovalLines, reloadScript, removalScript } from '../../../src/targets/nft/script.js';
import { diffReload, formatDiff } from '../../../src/targets/nft/diff.js';
import { formatMappedErrors, mapNftErrors, objectOfLine, parseNftErrors } from '../../../src/targets/nft/errors.js';
import { applyNft } from '../../../src/targets/nft/apply.js';
import { Refused } from '../../../src/targets/target.js';
import { planCarryOver } from '../../../src/targets/nft/carry.js';
import { compile, config, fakeRunner, fixture } from '../live-helpers.js';

const standalone: LiveTable = withElements(
  parseTableJson(fixture('two-doors.standalone.json'), 'inet', 'knockc'),
  parseElementsText(fixture('two-doors.standalone.txt')),
);
const into: LiveTable = parseTableJson(fixture('two-doors.into.json'), 'inet', 'filter');
const base = fixture('two-doors.conf');
const INTO = { mode: 'into', family: 'inet', table: 'filter', chain: 'input', forwardChain: null } as const;

describe('--into: knockc\'s objects in a user\'s table', () => {
  it('finds the hook by its comment and handle, and nothing of the user\'s', () => {
    const hooks = hookRules(into);
    expect(hooks).toHaveLength(1);
    expect(hooks[0]).toMatchObject({ chain: 'input', comment: 'knockc', targets: ['knockc_input'] });
    expect(foreignReferences(into)).toEqual([]);
  });

  it('removal: flush knockc chains, delete the hook by handle, then the chains and sets; never a user object', () => {
    const lines = intoRemovalLines(into);
    const hook = hookRules(into)[0]!;
    const firstDelete = lines.findIndex((l) => l.startsWith('delete'));
    expect(lines.slice(0, firstDelete).every((l) => /^flush chain inet filter knockc_\S+$/.test(l))).toBe(true);
    expect(lines[firstDelete]).toBe(`delete rule inet filter input handle ${hook.handle}`);
    expect(lines.slice(firstDelete + 1).every((l) => /^delete (chain|set) inet filter knockc_\S+$/.test(l))).toBe(true);
    expect(lines.filter((l) => l.startsWith('delete chain'))).toHaveLength(into.chains.filter((c) => c.name.startsWith('knockc_')).length);
    expect(lines.filter((l) => !/ knockc_\S+$/.test(l))).toEqual([`delete rule inet filter input handle ${hook.handle}`]);
  });

  it('a reload puts the removal before the compiled rules, in one script', () => {
    const c = compile(config(base), { into: INTO });
    const s = reloadScript(INTO, into, c.text, ['add element inet filter knockc_grant4_g0_t30 { 198.51.100.1 }']);
    const lines = s.text.split('\n');
    expect(lines[0]).toMatch(/^# knockc apply/);
    expect(lines.slice(1, s.preludeLines)).toEqual(intoRemovalLines(into));
    expect(lines[s.preludeLines]).toBe(c.text.split('\n')[0]);
    expect(lines.at(-2)).toBe('add element inet filter knockc_grant4_g0_t30 { 198.51.100.1 }');
  });

  it('rules of the user that jump to knockc chains without the comment are foreign', () => {
    const t: LiveTable = { ...into, rules: [...into.rules, { chain: 'input', handle: 999, comment: null, counter: null, targets: ['knockc_input'], setOps: [] }] };
    expect(foreignReferences(t).map((r) => r.handle)).toEqual([999]);
  });
});

describe('standalone', () => {
  it('knockc\'s own table holds nothing foreign; a user table does', () => {
    expect(foreignObjects(standalone)).toEqual([]);
    expect(foreignObjects(into)).toContain('rule 2 in chain input');
  });
  it('removal deletes the table; nothing loaded, nothing to do', () => {
    expect(removalScript({ mode: 'standalone' }, standalone)).toBe('delete table inet knockc\n');
    expect(removalScript({ mode: 'standalone' }, null)).toBe('');
    expect(removalScript({ mode: 'into' }, { ...into, sets: [], chains: into.chains.filter((c) => c.name === 'input'), rules: [] })).toBe('');
  });
  it('a reload is the compiled text plus the carried elements', () => {
    const c = compile(config(base));
    const s = reloadScript({ mode: 'standalone', family: 'inet', table: 'knockc' }, standalone, c.text, []);
    expect(s.text).toBe(c.text);
    expect(s.preludeLines).toBe(0);
  });
});

describe('diff', () => {
  it('an unchanged config keeps every door, grant and set', () => {
    const c = compile(config(base));
    const d = diffReload(standalone, c.program, config(base));
    expect(d.doors).toEqual([
      { door: 'openSSH', line: 3, change: 'kept', attempts: 2 },
      { door: 'web', line: 13, change: 'reloaded', attempts: 0 },
    ]);
    expect(d.grants.map((g) => g.change)).toEqual(['kept', 'kept', 'kept']);
    expect(d.objects).toEqual([]);
    const text = formatDiff(d, 'table inet knockc');
    expect(text).toContain('= [openSSH] line 3: unchanged, 2 attempts in progress kept');
    expect(text).toContain('tcp/22 (IPv4, 30 s): kept, 1 source keeps it');
  });

  it('names changed, new and removed doors and grants', () => {
    const next = base.replace('7000,8000:udp,9000', '7000,8000:udp,9001').replace('[web]', '[www]');
    const d = diffReload(standalone, compile(config(next)).program, config(next));
    expect(d.doors).toEqual([
      { door: 'openSSH', line: 3, change: 'restarted', attempts: 2 },
      { door: 'www', line: 13, change: 'new', attempts: 0 },
      { door: 'web', line: 13, change: 'removed', attempts: 0 },
    ]);
    const text = formatDiff(d, 'table inet knockc');
    expect(text).toContain('~ [openSSH] line 3: changed: 2 attempts in progress restart');
    expect(text).toContain('+ [www] line 13: new');
    expect(text).toContain('- [web] line 13: removed');
    // The shared sets stay; what changes is the door's tag in them (the attempts restart).
    expect(d.objects.filter((o) => o.kind === 'set')).toEqual([]);
  });

  it('nothing loaded: everything is new', () => {
    const d = diffReload(null, compile(config(base)).program, config(base));
    expect(d.fresh).toBe(true);
    expect(d.doors.every((x) => x.change === 'new')).toBe(true);
    expect(formatDiff(d, 'table inet knockc')).toMatch(/^table inet knockc: nothing loaded yet/);
  });
});

describe('upgrade from a deployment of the previous layout (knocks tracked in prerouting)', () => {
  // Recorded like two-doors.standalone.* / two-doors.into.json, with the knockc before 844506b:
  // prerouting -> knockc_knock4/6, input -> knockc_grant4_in/6_in; --into: knockc_prerouting.
  const old: LiveTable = withElements(
    parseTableJson(fixture('two-doors.standalone.v0-layout.json'), 'inet', 'knockc'),
    parseElementsText(fixture('two-doors.standalone.v0-layout.txt')),
  );
  const oldInto: LiveTable = parseTableJson(fixture('two-doors.into.v0-layout.json'), 'inet', 'filter');

  it('re-applying the same config keeps every door, grant and set with their sources; only the layout\'s chains change', () => {
    const c = compile(config(base));
    const d = diffReload(old, c.program, config(base));
    expect(d.doors).toEqual([
      { door: 'openSSH', line: 3, change: 'kept', attempts: 2 },
      { door: 'web', line: 13, change: 'reloaded', attempts: 0 },
    ]);
    expect(d.grants.map((g) => [g.change, g.sources])).toEqual([['kept', 1], ['kept', 1], ['kept', 0]]);
    // The door sets of before issue 20 go into the shared sets (their elements follow their keys).
    const shared = ['knockc_grant4', 'knockc_armed4', 'knockc_stage4_1', 'knockc_stage4_2', 'knockc_grant6', 'knockc_armed6', 'knockc_stage6_1', 'knockc_stage6_2'];
    expect(d.objects).toEqual([
      ...shared.map((name) => ({ kind: 'set', name, change: '+', note: name.startsWith('knockc_grant') ? 'grants shared by every grant' : 'door state shared by every door' })),
      ...['knockc_knock4', 'knockc_grant4_in', 'knockc_knock6', 'knockc_grant6_in'].map((name) => ({ kind: 'chain', name, change: '-', note: '' })),
    ]);
    expect(d.unchanged).toEqual({ sets: 0, chains: 21 });
    expect(formatDiff(d, 'table inet knockc')).toContain('  objects: sets +8 -0 ~0 >0 =0, chains +0 -4 =21 (every rule is reloaded)\n');
    // Every element goes into the set of the same meaning (the table is replaced as a whole).
    const p = planCarryOver(old, c.program.sets, { family: 'inet', table: 'knockc', elapsedMs: 0, maxSources: null });
    expect(p.dropped).toEqual([]);
    expect(p.carried.every((x) => x.from === x.to)).toBe(true);
    expect(p.carried.reduce((n, x) => n + x.count, 0)).toBe(old.sets.reduce((n, x) => n + x.elements.length, 0));
    // --into: the old chains, knockc_prerouting (a base chain) among them, are removed before the new rules load.
    const ci = compile(config(base), { into: INTO });
    const s = reloadScript(INTO, oldInto, ci.text, []);
    const lines = s.text.split('\n');
    const prelude = lines.slice(1, s.preludeLines);
    for (const gone of ['knockc_prerouting', 'knockc_knock4', 'knockc_grant4_in', 'knockc_knock6', 'knockc_grant6_in']) {
      expect(prelude).toContain(`delete chain inet filter ${gone}`);
      expect(lines.slice(s.preludeLines).join('\n')).not.toContain(gone);
    }
    expect(prelude).toContain(`delete rule inet filter input handle ${hookRules(oldInto)[0]!.handle}`);
  });
});

describe('nft errors back to the config', () => {
  const big = base.replace('cmd_timeout   = 30', 'cmd_timeout   = 2147483647').replace('seq_timeout   = 5', 'seq_timeout   = 2000000000');
  const cfg = config(big);
  const c = compile(cfg);
  const lines = c.text.split('\n');
  const at = (re: RegExp): number => lines.findIndex((l) => re.test(l)) + 1;

  it('parses nft\'s locations and drops repeated messages', () => {
    const stderr = [
      '/dev/stdin:19:11-21: Error: value too large',
      '\t\ttimeout 2147483647s',
      '\t\t        ^^^^^^^^^^^',
      '/dev/stdin:19:11-21: Error: value too large',
      'netlink: Error: Could not process rule: No such file or directory',
    ].join('\n');
    expect(parseNftErrors(stderr)).toEqual([
      { scriptLine: 19, message: 'value too large' },
      { scriptLine: null, message: 'Could not process rule: No such file or directory' },
    ]);
  });

  it('finds the object of a script line in both script shapes', () => {
    const armed = at(/set knockc_armed4 \{/);
    expect(objectOfLine(lines, armed - 1)).toEqual({ kind: 'set', name: 'knockc_armed4' });
    expect(objectOfLine(lines, armed + 2)).toEqual({ kind: 'set', name: 'knockc_armed4' });
    expect(objectOfLine(['add rule inet filter knockc_door4_d0 ip saddr @x'], 0)).toEqual({ kind: 'rule', name: 'knockc_door4_d0' });
  });

  it('a timeout nft cannot hold points at the door setting that gave it', () => {
    const seq = at(/timeout 2000000000s/);
    const cmd = at(/timeout 2147483647s/);
    const stderr = `/dev/stdin:${cmd}:11-21: Error: value too large\n/dev/stdin:${seq}:11-21: Error: value too large\n`;
    const errs = mapNftErrors(stderr, { text: c.text, preludeLines: 0, compiledLines: lines.length - 1 }, c.program, cfg);
    expect(errs.map((e) => [e.door, e.where?.start.line, e.part])).toEqual([
      ['openSSH', 9, 'rules'],
      ['openSSH', 5, 'rules'],
    ]);
    const text = formatMappedErrors(errs, 'two-doors.conf');
    expect(text).toContain('two-doors.conf:9:');
    expect(text).toContain('[openSSH] nft rejects the rules: value too large');
    expect(text).toMatch(new RegExp(`nft: script line ${cmd}: .*timeout 2147483647s`));
  });

  it('a rule line names its door through its comment or its chain', () => {
    const stage1 = at(/comment "\[openSSH\] line 3: stage 1"/);
    const door = at(/comment "stage 1 -> 2"/);
    const errs = mapNftErrors(`x:${stage1}:1-2: Error: boom\nx:${door}:1-2: Error: bang\n`, { text: c.text, preludeLines: 0, compiledLines: lines.length - 1 }, c.program, cfg);
    expect(errs.map((e) => [e.door, e.where?.start.line])).toEqual([
      ['openSSH', 3],
      ['openSSH', 3],
    ]);
  });

  it('prelude and carried state are told apart from the rules', () => {
    const errs = mapNftErrors('x:1:1-2: Error: a\nx:50:1-2: Error: b\n', { text: 'p\n'.repeat(60), preludeLines: 2, compiledLines: 40 }, c.program, cfg);
    expect(errs.map((e) => e.part)).toEqual(['prelude', 'state']);
  });
});

describe('applyNft with a recorded kernel', () => {
  // The recorded kernel (knockc's table and a user's with --into), answering the listings apply makes.
  type Item = { [k: string]: { [k: string]: unknown } };
  const kernel: Item[] = ['two-doors.standalone.json', 'two-doors.into.json'].flatMap((f) => (JSON.parse(fixture(f)) as { nftables: Item[] }).nftables);
  const json = (xs: Item[]) => ({ stdout: JSON.stringify({ nftables: xs }) });
  const listing = (cmd: readonly string[]) => {
    const s = cmd.join(' ');
    if (s === 'nft -j list chains inet') return json(kernel.filter((i) => i['chain']));
    if (s === 'nft -j list sets inet') return json(kernel.filter((i) => i['set']));
    if (s === 'nft list sets inet') return { stdout: fixture('two-doors.standalone.txt') };
    const chain = /^nft -j list chain inet (\S+) (\S+)$/.exec(s);
    if (chain) return json(kernel.filter((i) => (i['chain']?.['table'] === chain[1] && i['chain']?.['name'] === chain[2]) || (i['rule']?.['table'] === chain[1] && i['rule']?.['chain'] === chain[2])));
    if (s === 'nft -j list table inet knockc') return { stdout: fixture('two-doors.standalone.json') };
    if (s === 'nft list sets inet') return { stdout: fixture('two-doors.standalone.txt') };
    if (s === 'nft -j list table inet filter') return { stdout: fixture('two-doors.into.json') };
    if (s === 'nft -f -' || s === 'nft -c -f -') return { stdout: '' };
    return undefined;
  };

  it('sends one script: the compiled rules and the carried state; dry run uses nft -c', async () => {
    for (const dryRun of [false, true]) {
      const run = fakeRunner(listing);
      const cfg = config(base);
      const compiled = compile(cfg);
      const r = await applyNft({ run, config: cfg, compiled, location: { mode: 'standalone', family: 'inet', table: 'knockc' }, maxSources: null, dryRun });
      expect(r.ok).toBe(true);
      const loads = run.calls.filter((x) => x.cmd.includes('-f'));
      expect(loads).toHaveLength(1);
      expect(loads[0]!.cmd).toEqual(dryRun ? ['nft', '-c', '-f', '-'] : ['nft', '-f', '-']);
      expect(loads[0]!.stdin!.startsWith(compiled.text)).toBe(true);
      const tag = compile(config(base)).program.sets.find((x) => x.name === 'knockc_grant4_g0_t30')!.store!.tag;
      expect(loads[0]!.stdin).toContain(`add element inet knockc knockc_grant4 { 127.0.0.1 . ${tag} timeout 30s expires `);
    }
  });

  it('--into: removal of the old objects, the rules and the hook in one script', async () => {
    const run = fakeRunner(listing);
    const cfg = config(base);
    const r = await applyNft({ run, config: cfg, compiled: compile(cfg, { into: INTO }), location: INTO, maxSources: null, dryRun: false });
    expect(r.ok).toBe(true);
    const script = run.calls.find((x) => x.cmd.includes('-f'))!.stdin!;
    expect(script).toContain(`delete rule inet filter input handle ${hookRules(into)[0]!.handle}`);
    expect(script).toMatch(/\ninsert rule inet filter input jump knockc_input comment "knockc"\n/);
    expect(script.indexOf('delete chain inet filter knockc_input')).toBeLessThan(script.indexOf('add chain inet filter knockc_input'));
  });

  it('refuses a standalone table that is not knockc\'s, a missing --into table or chain', async () => {
    const cfg = config(base);
    const run = fakeRunner(listing);
    await expect(applyNft({ run, config: cfg, compiled: compile(cfg), location: { mode: 'standalone', family: 'inet', table: 'filter' }, maxSources: null, dryRun: false })).rejects.toThrow(Refused);
    // (no such table: the family's chains and sets have none of it)
    const none = fakeRunner((cmd) => (cmd.includes('list') ? { stdout: '{"nftables": []}' } : listing(cmd)));
    await expect(applyNft({ run: none, config: cfg, compiled: compile(cfg, { into: INTO }), location: INTO, maxSources: null, dryRun: false })).rejects.toThrow(/does not exist/);
    const loc = { ...INTO, chain: 'nope' };
    await expect(applyNft({ run, config: cfg, compiled: compile(cfg, { into: loc }), location: loc, maxSources: null, dryRun: false })).rejects.toThrow(/has no chain "nope"/);
    for (const r of [run, none]) expect(r.calls.some((x) => x.cmd.includes('-f'))).toBe(false);
  });

  it('a rejected script is reported with the door, and nothing else is tried', async () => {
    const cfg = config(base);
    const compiled = compile(cfg);
    const line = compiled.text.split('\n').findIndex((l) => l.includes('"[openSSH] line 3: stage 1"')) + 1;
    const run = fakeRunner((cmd) => (cmd.includes('-f') ? { code: 1, stderr: `/dev/stdin:${line}:2-5: Error: Could not process rule: No buffer space available\n` } : listing(cmd)));
    const r = await applyNft({ run, config: cfg, compiled, location: { mode: 'standalone', family: 'inet', table: 'knockc' }, maxSources: null, dryRun: false });
    expect(r.ok).toBe(false);
    expect(r.errors).toEqual([expect.objectContaining({ door: 'openSSH', part: 'rules', scriptLine: line })]);
  });
});
