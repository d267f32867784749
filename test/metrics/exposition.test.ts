// The metrics text of `knockc status --format openmetrics|prometheus`, from status values with
// adversarial door names (quotes, backslashes, newlines, braces, non-ASCII: names come from
// kernel comments, which anyone with CAP_NET_ADMIN can write), checked by the real parsers:
// each must read back every label exactly, and promtool must find nothing to lint.
import { describe, expect, it } from 'vitest';
import { exposition, labelValue } from '../../src/metrics/exposition.js';
import { statusFamilies, type MetricsInput } from '../../src/metrics/status-metrics.js';
import type { DeploymentStatus } from '../../src/targets/status.js';
import { oraclesReady, parseOpenMetrics, promtool, sampleValue } from './oracles.js';

const NAMES = ['plain', 'we"ird', 'back\\slash', 'two\nlines', 'trail\\', '\\"', 'a} b{=",', 'ünï €', '', ' ', '\\n literal', '#EOF', '\n# EOF\n'];

const deployment = (names: readonly string[]): DeploymentStatus => ({
  target: 'nft',
  family: 'inet',
  table: 'knockc',
  mode: 'standalone',
  doors: names.map((name, i) => ({
    name,
    line: 10 + i,
    stages: 3,
    counters: { knocks: 7 + i, openings: i, resets: 2 },
    attempts: [{ source: '198.51.100.7', stage: 2, expiresMs: 1000 }],
  })),
  grants: [{ source: '198.51.100.9', grant: 'tcp/22', doors: [names[1]!], expiresMs: 5000, timeoutMs: 30000 }],
});

const input = (names: readonly string[]): MetricsInput => ({
  deployments: [deployment(names)],
  stages: names.map((door, i) => ({ where: { target: 'nft', family: 'inet', table: 'knockc' }, door, line: 10 + i, stage: 1, knocks: 5 + i })),
  sets: [{ where: { target: 'nft', family: 'inet', table: 'knockc' }, set: 'knockc_grant4_g0_t30', role: 'grant', door: null, entries: 1, limit: 65535 }],
  runtime: { pidFile: '/run/knockc.pid', pid: null, stateFile: '/var/lib/knockc/pending.json', stateError: null, pending: [] },
  commands: { run: 4, failed: 1 },
});

describe('label values', () => {
  it('escape backslash, double quote and newline, and nothing else', () => {
    expect(labelValue('a\\b"c\nd')).toBe('"a\\\\b\\"c\\nd"');
    expect(labelValue('ü }{,=')).toBe('"ü }{,="');
  });
});

describe.skipIf(!oraclesReady())('status metrics, read back by the real parsers', () => {
  it('OpenMetrics: the official parser reads every door name and value back exactly; # EOF ends it', () => {
    const text = exposition(statusFamilies(input(NAMES)), 'openmetrics');
    expect(text.endsWith('\n# EOF\n')).toBe(true);
    expect(text.split('\n').filter((l) => l === '# EOF')).toHaveLength(1);
    const fams = parseOpenMetrics(text);
    NAMES.forEach((door, i) => {
      const l = { door, line: String(10 + i) };
      expect(sampleValue(fams, 'knockc_sequences_completed_total', l), JSON.stringify(door)).toBe(i);
      expect(sampleValue(fams, 'knockc_wrong_knocks_total', l)).toBe(2);
      expect(sampleValue(fams, 'knockc_knocks_total', { ...l, stage: '1' })).toBe(5 + i);
      expect(sampleValue(fams, 'knockc_sources_mid_sequence', { ...l, stage: '2' })).toBe(1);
      expect(sampleValue(fams, 'knockc_sources_mid_sequence', { ...l, stage: '1' })).toBe(0);
      expect(sampleValue(fams, 'knockc_grants_active', l)).toBe(i === 1 ? 1 : 0);
    });
    expect(sampleValue(fams, 'knockc_runtime_commands_total')).toBe(4);
    expect(sampleValue(fams, 'knockc_runtime_commands_failed_total')).toBe(1);
    expect(sampleValue(fams, 'knockc_set_limit', { set: 'knockc_grant4_g0_t30' })).toBe(65535);
    for (const f of fams) {
      expect(f.name).toMatch(/^knockc_[a-z_]+$/);
      expect(f.help.length).toBeGreaterThan(10);
      expect(['counter', 'gauge']).toContain(f.type);
    }
  });

  it('Prometheus text 0.0.4: promtool check metrics finds no problem', () => {
    const text = exposition(statusFamilies(input(NAMES)), 'prometheus');
    const r = promtool(text);
    expect(r.said).toBe('');
    expect(r.status).toBe(0);
    expect(text.split('\n')).not.toContain('# EOF');
  });

  it('the parsers are strict: an unescaped newline or quote in a label is refused (the check can fail)', () => {
    const text = exposition(statusFamilies(input(['x'])), 'openmetrics');
    const broken = text.replace('door="x"', 'door="x\ny"');
    expect(() => parseOpenMetrics(broken)).toThrow(/refused/);
    expect(promtool(exposition(statusFamilies(input(['x'])), 'prometheus').replace('door="x"', 'door="x"y"')).status).not.toBe(0);
    // And an OpenMetrics counter as promtool reads it: the family and its _total sample differ.
    expect(promtool(text).status).not.toBe(0);
  });

  it('nothing loaded: knockc_rules_loaded 0, still valid', () => {
    const empty: MetricsInput = { ...input([]), deployments: [], stages: [], sets: [], commands: null };
    const text = exposition(statusFamilies(empty), 'openmetrics');
    expect(sampleValue(parseOpenMetrics(text), 'knockc_rules_loaded')).toBe(0);
    expect(text).not.toContain('knockc_runtime_commands');
    expect(promtool(exposition(statusFamilies(empty), 'prometheus')).said).toBe('');
  });
});
