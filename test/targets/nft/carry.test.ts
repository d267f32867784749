// Carry-over of live state into a reload script: which elements go where,
// with which time left.
import { describe, expect, it } from 'vitest';
import { grantSets, parseElementsText, parseTableJson, withElements, type LiveTable } from '../../../src/targets/nft/live.js';
import { isRegistry, names } from '../../../src/model/names.js';
import { planCarryOver } from '../../../src/targets/nft/carry.js';
import { compile, config, fixture } from '../live-helpers.js';

const live: LiveTable = withElements(
  parseTableJson(fixture('two-doors.standalone.json'), 'inet', 'knockc'),
  parseElementsText(fixture('two-doors.standalone.txt')),
);
const opts = { family: 'inet', table: 'knockc', elapsedMs: 0, maxSources: null };
const base = fixture('two-doors.conf');
const elementsOf = (name: string) => live.sets.find((s) => s.name === name)!.elements;
/** A door set's tag in the shared set that stores it. */
const tagOf = (sets: ReturnType<typeof compile>['program']['sets'], name: string): number => sets.find((s) => s.name === name)!.store!.tag;
const sets0 = compile(config(base)).program.sets;
/** A program grant set's live grant (one tag of the shared grant set), found by key. */
const liveGrant = (name: string) => grantSets(live).find((s) => s.key === sets0.find((d) => d.name === name)!.key)!;
/** A table loaded before issue 20: a set per door and grant (the upgrade's starting point). */
const v1: LiveTable = withElements(parseTableJson(fixture('two-doors.standalone.v1-layout.json'), 'inet', 'knockc'), parseElementsText(fixture('two-doors.standalone.v1-layout.txt')));

describe('carry-over', () => {
  it('keeps every element of an unchanged config, with the time it had left', () => {
    const p = planCarryOver(live, compile(config(base)).program.sets, opts);
    expect(p.dropped).toEqual([]);
    const total = live.sets.filter((s) => !isRegistry(s.name)).reduce((n, s) => n + s.elements.length, 0);
    expect(p.carried.reduce((n, c) => n + c.count, 0)).toBe(total);
    const grant = liveGrant('knockc_grant4_g0_t30').elements[0]!;
    const tag = tagOf(sets0, 'knockc_grant4_g0_t30');
    const line = p.lines.find((l) => l.includes(`127.0.0.1 . ${tag} `))!;
    expect(line).toMatch(new RegExp(`^add element inet knockc knockc_grant4 \\{ .*127\\.0\\.0\\.1 \\. ${tag} timeout 30s expires \\d+s\\d*m?s?[,}]`));
    expect(line).toContain(`expires ${Math.floor(grant.expiresMs! / 1000)}s`);
    expect(p.lines).toContainEqual(expect.stringMatching(/^add element inet knockc knockc_stage6_1 \{ ::1 \. \d+ timeout 5s expires \d+s\d*m?s? \}$/));
    expect(p.lines.some((l) => l.includes(`::1 . ${tagOf(compile(config(base)).program.sets, 'knockc_stage6_d0_1')} `))).toBe(true);
  });

  it('subtracts the time between reading and loading', () => {
    const p = planCarryOver(live, compile(config(base)).program.sets, { ...opts, elapsedMs: 1000 });
    const grant = liveGrant('knockc_grant4_g0_t30').elements[0]!;
    const tag = tagOf(sets0, 'knockc_grant4_g0_t30');
    const m = new RegExp(`127\\.0\\.0\\.1 \\. ${tag} timeout \\S+ expires ([0-9a-z]+)`).exec(p.lines.find((l) => l.includes(`127.0.0.1 . ${tag} `))!)!;
    expect(m[1]).toBe(`${Math.floor((grant.expiresMs! - 1000) / 1000)}s${(grant.expiresMs! - 1000) % 1000 ? `${(grant.expiresMs! - 1000) % 1000}ms` : ''}`);
  });

  it('follows a door by its tag when doors are reordered (tags and keys do not depend on order)', () => {
    const [head, web] = base.split('[web]');
    const reordered = `[web]${web}\n${head}`;
    const next = compile(config(reordered)).program.sets;
    expect(next.find((s) => s.name === 'knockc_armed4_d1')).toBeDefined();
    const tag = tagOf(next, 'knockc_armed4_d1');
    expect(tag).toBe(tagOf(compile(config(base)).program.sets, 'knockc_armed4_d0'));
    const p = planCarryOver(live, next, opts);
    expect(p.dropped).toEqual([]);
    expect(p.carried).toContainEqual(expect.objectContaining({ from: 'knockc_armed4', to: 'knockc_armed4_d1' }));
    expect(p.lines.some((l) => l.startsWith(`add element inet knockc knockc_armed4 { 127.0.0.1 . ${tag} timeout 5s expires `))).toBe(true);
  });

  it('moves the elements of a deployment with a set per door (before issue 20) into the shared sets, by key', () => {
    const sets = compile(config(base)).program.sets;
    const p = planCarryOver(v1, sets, opts);
    expect(p.dropped).toEqual([]);
    expect(p.carried.reduce((n, c) => n + c.count, 0)).toBe(v1.sets.reduce((n, s) => n + s.elements.length, 0));
    expect(p.carried).toContainEqual(expect.objectContaining({ from: 'knockc_armed6_d0', to: 'knockc_armed6_d0', count: 1 }));
    expect(p.lines).toContainEqual(expect.stringMatching(new RegExp(`^add element inet knockc knockc_armed6 \\{ ::1 \\. ${tagOf(sets, 'knockc_armed6_d0')} timeout 5s expires `)));
  });

  it('drops the attempts of a door whose sequence changed, and keeps its grant', () => {
    const changed = base.replace('sequence      = 7000,8000:udp,9000', 'sequence      = 7000,8001:udp,9000');
    const p = planCarryOver(live, compile(config(changed)).program.sets, opts);
    const dropped = p.dropped.map((d) => d.name).sort();
    expect(dropped).toEqual(['knockc_armed4', 'knockc_armed6', 'knockc_stage4_1', 'knockc_stage4_2', 'knockc_stage6_1'].filter((n) => elementsOf(n).length > 0).sort());
    expect(p.dropped.reduce((n, d) => n + d.count, 0)).toBe(['knockc_armed4', 'knockc_armed6', 'knockc_stage4_1', 'knockc_stage4_2', 'knockc_stage6_1'].reduce((n, x) => n + elementsOf(x).length, 0));
    expect(p.carried.map((c) => c.to).sort()).toEqual(['knockc_grant4_g0_t30', 'knockc_grant4_g1_t20']);
  });

  it('drops a grant whose lifetime changed (cmd_timeout), keeps the other door\'s state', () => {
    const changed = base.replace('cmd_timeout   = 20', 'cmd_timeout   = 25');
    const p = planCarryOver(live, compile(config(changed)).program.sets, opts);
    expect(p.dropped.map((d) => d.name)).toEqual([names.grantView('ip', tagOf(sets0, 'knockc_grant4_g1_t20'))]);
    expect(p.carried.some((c) => c.to === 'knockc_armed4_d0')).toBe(true);
  });

  it('drops everything of a removed door', () => {
    const only = base.split('[web]')[0]!;
    const p = planCarryOver(live, compile(config(only)).program.sets, opts);
    expect(p.dropped.map((d) => d.name)).toEqual([names.grantView('ip', tagOf(sets0, 'knockc_grant4_g1_t20'))]);
  });

  it('keeps the longest-lived entries when a smaller --max-sources cannot hold them all', () => {
    const sets = compile(config(base)).program.sets;
    const grant = sets.find((s) => s.name === 'knockc_grant4_g0_t30')!;
    const many: LiveTable = {
      ...v1,
      sets: [{ ...v1.sets.find((s) => s.name === grant.name)!, elements: [1, 2, 3].map((i) => ({ addr: `198.51.100.${i}`, tag: null, timeoutMs: null, expiresMs: i * 1000 })) }],
    };
    const p = planCarryOver(many, sets, { ...opts, maxSources: 2 });
    expect(p.carried).toEqual([expect.objectContaining({ to: grant.name, count: 2, overflow: 1 })]);
    expect(p.lines[0]).toContain('198.51.100.3');
    expect(p.lines[0]).toContain('198.51.100.2');
    expect(p.lines[0]).not.toContain('198.51.100.1 ');
  });

  it('skips elements that expire during the reload and anything that is not an address', () => {
    const sets = compile(config(base)).program.sets;
    const t: LiveTable = {
      ...v1,
      sets: [
        {
          ...v1.sets.find((s) => s.name === 'knockc_grant4_g0_t30')!,
          elements: [
            { addr: '198.51.100.1', tag: null, timeoutMs: null, expiresMs: 5 },
            { addr: '198.51.100.2 } ; flush ruleset ; add element x y { 1', tag: null, timeoutMs: null, expiresMs: 5000 },
            { addr: '198.51.100.3', tag: null, timeoutMs: null, expiresMs: 5000 },
          ],
        },
      ],
    };
    const p = planCarryOver(t, sets, opts);
    expect(p.lines).toEqual([`add element inet knockc knockc_grant4 { 198.51.100.3 . ${tagOf(sets, 'knockc_grant4_g0_t30')} timeout 30s expires 5s }`]);
  });

  it('carries elements of sets without timeout as bare addresses', () => {
    const permanent = base.replace(/\tcmd_timeout   = 20\n\tstop_command .*\n/, '');
    const sets = compile(config(permanent)).program.sets;
    const perm = sets.find((s) => s.role === 'grant' && s.timeout === null)!;
    const t: LiveTable = { ...live, sets: [{ name: 'knockc_old', handle: 1, type: 'ipv4_addr', comment: `x [${perm.key}]`, key: perm.key, timeoutMs: null, size: null, elements: [{ addr: '198.51.100.7', tag: null, timeoutMs: null, expiresMs: null }] }] };
    expect(planCarryOver(t, sets, opts).lines).toEqual([`add element inet knockc knockc_grant4 { 198.51.100.7 . ${perm.store!.tag} }`]);
  });

  it('does nothing when nothing was loaded', () => {
    expect(planCarryOver(null, compile(config(base)).program.sets, opts)).toEqual({ lines: [], carried: [], dropped: [] });
  });
});
