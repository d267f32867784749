// knockc renders its Handlebars templates with a small renderer of its own
// (src/targets/templates.ts, for speed); it must give exactly Handlebars'
// text. Checked on snippets of every construct the renderer knows (and its
// refusal of the others), and on whole rulesets: every fixture and random
// configs compiled with both renderers, every target and flavour.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { parseConfigText } from '../../src/frontend/load.js';
import type { KnockdConfig } from '../../src/frontend/config.js';
import { referenceFromText, templateFromText } from '../../src/targets/templates.js';
import { configText, scenarioArb } from '../model/random-scenarios.js';

const seed = process.env.KNOCKC_SEED ? Number(process.env.KNOCKC_SEED) : Date.now() % 2 ** 31;

function same(text: string, data: unknown, partials: Record<string, string> = {}): string {
  const p = new Map(Object.entries(partials));
  const want = referenceFromText(text, p)(data);
  expect(templateFromText(text, p)(data), JSON.stringify(text)).toBe(want);
  return want;
}

describe('template renderer: the same text as Handlebars', () => {
  it('values and paths', () => {
    const data = { a: 'x', b: { c: 'y', d: { e: 3 } }, n: 0, z: null, t: true, f: false, arr: [1, 2], s: 'str', nested: [[1], [2, 3]] };
    same('{{a}} {{b.c}} {{b.d.e}} {{missing}} {{missing.deeper}} {{n}} {{z}} {{t}} {{f}} {{arr}} {{s.length}} {{arr.length}} {{{a}}} {{this.a}} {{./a}}', data);
    same('{{#each nested}}{{this}};{{length}};{{/each}}', data);
  });

  it('if, unless, else if, on every kind of value', () => {
    for (const x of ['', 'a', 0, 1, -1, [], [0], {}, null, undefined, false, true]) {
      same('{{#if x}}Y{{else}}N{{/if}}|{{#unless x}}U{{else}}u{{/unless}}|{{#if x}}only{{/if}}', { x });
      same('{{#if a}}A{{else if x}}B{{else}}C{{/if}}', { a: false, x });
    }
  });

  it('each: @index, @first, @last, @key, @root, else, ../ through blocks and levels', () => {
    const tpl =
      '{{#each xs}}[{{@index}}/{{@key}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}}:{{this}}:{{../name}}:{{@root.name}}]{{else}}none{{/each}}';
    for (const xs of [['p', 'q', 'r'], [], null, undefined, ['only'], [0, '', false]]) same(tpl, { name: 'root', xs });
    same('{{#each a}}{{#each b}}{{../n}}-{{../../top}}-{{n}}-{{@index}};{{/each}}|{{/each}}', { top: 'T', a: [{ n: 'a0', b: [{ n: 'b0' }, { n: 'b1' }] }, { n: 'a1', b: [] }] });
    same('{{#each xs}}{{#if this}}{{../name}}{{#if ../flag}}!{{/if}}{{/if}},{{/each}}', { name: 'N', flag: 1, xs: [1, 0, 'x'] });
    // An item equal to the context adds no `../` level (Handlebars compares loosely).
    const o: Record<string, unknown> = { name: 'o' };
    o['xs'] = [o, { name: 'i' }];
    same('{{#each xs}}<{{name}}|{{../name}}>{{/each}}', o);
    same('{{#each xs}}<{{this}}|{{../this}}>{{/each}}', 'abc');
    // Data frames nest: an inner @index, the outer one still there for the inner partial's caller.
    same('{{#each a}}{{#each b}}{{@index}}{{/each}}.{{@index}} {{/each}}', { a: [{ b: [1, 2] }, { b: [3] }] });
  });

  it('helpers and subexpressions', () => {
    const data = { a: 1, b: '1', xs: ['p', 'q'], n: 2, k: 'proto', set: ['syn', 'ack'] };
    same('{{eq a b}} {{ne a b}} {{eq a 1}} {{gt n 1}} {{gt n 3}} {{join xs "|"}} {{join xs}} {{join a}} {{concat "m-" k}} {{concat "a" n "b"}}', data);
    same('{{#if (eq k "proto")}}P{{else}}Q{{/if}}{{#if (gt set.length 1)}}({{join set "|"}}){{/if}}', data);
    // A helper's name alone calls it (with only the options argument).
    same('{{eq}} {{concat}}', data);
  });

  it('partials: static, dynamic names, a context argument, @data of the caller, standalone indentation', () => {
    const partials = {
      'm-proto': 'meta l4proto {{proto}}',
      'm-dport': 'th dport {{port}}{{#if ../x}}never{{/if}}',
      't-goto': 'goto {{chain}}',
      idx: '#{{@index}}',
      block: 'line one {{name}}\n{{#if more}}\nline two\n{{/if}}\nlast\n',
      plain: 'P{{name}}',
    };
    const data = {
      name: 'n',
      more: true,
      match: [{ k: 'proto', proto: 'tcp' }, { k: 'dport', port: 22, x: 1 }],
      target: { k: 'goto', chain: 'c' },
      xs: ['a', 'b'],
    };
    same('{{#each match}}{{> (concat "m-" k) }} {{/each}}{{> (concat "t-" target.k) target }}', data, partials);
    same('{{#each xs}}{{> idx}}{{/each}}', data, partials);
    same('x {{> plain}} y\n\t{{> block}}\n  {{> block}}\nend {{> block}}\n', data, partials);
    same('{{#each xs}}\n\t\t{{> block}}\n{{/each}}\n', { ...data, more: false }, partials);
  });

  it('whitespace control, standalone lines and comments', () => {
    const data = { a: 'A', xs: [1, 2], yes: true };
    same('x  {{~a~}}  y\n{{#each xs}}\n  item {{this}}\n{{/each}}\n{{#if yes}}\nyes\n{{else}}\nno\n{{/if}}\n{{!-- a comment --}}\n{{! short }}\nend\n', data);
    same('{{#if yes~}}  \n  t  {{~/if}}|{{~#each xs}} {{this}} {{~/each}}', data);
  });

  it('refuses what it does not know, at load or when the data needs it', () => {
    const refuse = (text: string, partials: Record<string, string> = {}): void => {
      expect(() => templateFromText(text, new Map(Object.entries(partials)))({ a: { b: 1 }, xs: [] }), text).toThrow(/not supported|could not be found/);
    };
    refuse('{{#with a}}{{b}}{{/with}}');
    refuse('{{lookup a "b"}}');
    refuse('{{log a}}');
    refuse('{{nope 1}}');
    refuse('{{#each xs as |x|}}{{x}}{{/each}}');
    refuse('{{#if a includeZero=true}}y{{/if}}');
    refuse('{{> p x=1}}', { p: 'p' });
    refuse('{{> missing}}');
    refuse('{{#each a}}{{this}}{{/each}}');
    refuse('{{#*inline "x"}}y{{/inline}}');
    refuse('{{#> p}}default{{/p}}', { p: 'p' });
    refuse('{{@../index}}');
    expect(() => templateFromText('{{f}}')({ f: () => 'x' })).toThrow(/function/);
  });
});

// The generators with the reference renderer swapped in (a second copy of their modules).
async function generators(reference: boolean) {
  vi.resetModules();
  if (reference) {
    vi.doMock('../../src/targets/templates.js', async (orig) => {
      const m = await orig<typeof import('../../src/targets/templates.js')>();
      return { ...m, loadTemplate: m.loadReferenceTemplate };
    });
  } else vi.doUnmock('../../src/targets/templates.js');
  const nft = await import('../../src/targets/nft/generate.js');
  const ipt = await import('../../src/targets/iptables/generate.js');
  return {
    outputs(config: KnockdConfig): string[] {
      const base = { version: 'T', source: 'x.conf' };
      return [
        nft.compileNft(config, { ...nft.NFT_DEFAULTS, ...base }).text,
        nft.compileNft(config, { ...nft.NFT_DEFAULTS, ...base, log: true, iface: 'eth0', maxSources: 100 }).text,
        nft.compileNft(config, { ...nft.NFT_DEFAULTS, ...base, into: { family: 'inet', table: 'filter', chain: 'input', forwardChain: 'forward' } }).text,
        nft.compileNft(config, { ...nft.NFT_DEFAULTS, ...base, into: { family: 'ip6', table: 't', chain: 'in', forwardChain: null } }).text,
        ...(['ip', 'ip6'] as const).flatMap((family) =>
          [false, true].map((guard) => {
            try {
              return ipt.compileIptables(config, { ...ipt.IPTABLES_DEFAULTS, ...base, family, guard, log: guard, iface: guard ? 'eth0' : null }).text;
            } catch (e) {
              return `error: ${(e as Error).message}`;
            }
          }),
        ),
      ];
    },
  };
}

describe('template renderer on whole rulesets', () => {
  const parse = (text: string, file: string): KnockdConfig | null => parseConfigText(text, { file }).config;

  it('every fixture, every target and flavour', async () => {
    const fast = await generators(false);
    const ref = await generators(true);
    const files = readdirSync('fixtures').filter((f) => f.endsWith('.conf'));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const config = parse(readFileSync(join('fixtures', f), 'utf8'), f);
      if (!config) continue;
      const a = fast.outputs(config);
      const b = ref.outputs(config);
      a.forEach((text, i) => expect(text, `${f} #${i}`).toBe(b[i]));
    }
  }, 120_000);

  it('random configs', async () => {
    const fast = await generators(false);
    const ref = await generators(true);
    fc.assert(
      fc.property(scenarioArb, ({ doors }) => {
        const config = parse(configText(doors), 'random.conf');
        if (!config) return;
        const a = fast.outputs(config);
        const b = ref.outputs(config);
        a.forEach((text, i) => expect(text, `#${i}`).toBe(b[i]));
      }),
      { seed, numRuns: 100, endOnFailure: true },
    );
  }, 120_000);
});
