// `knockc compile` runs only COMPILE_RULES: they must find all it shows that the other rules would.
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/frontend/load.js';
import { COMPILE_RULES, RUNTIME_CODES, runRules } from '../../src/lint/rules.js';
import { planDoors } from '../../src/model/plan.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FILES = ['fixtures', 'fixtures/lint'].flatMap((dir) =>
  readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.conf'))
    .map((f) => join(dir, f)),
);

describe('COMPILE_RULES', () => {
  it.each(FILES)('report what all rules report with the codes compile shows: %s', (file) => {
    const { config } = loadConfigFile(join(ROOT, file));
    if (!config) return;
    // (what a target adds comes from its check, the same for compile and lint --target)
    const ctx = { config, plans: planDoors(config), interfaceOption: null };
    expect(runRules(ctx, COMPILE_RULES)).toEqual(runRules(ctx).filter((d) => RUNTIME_CODES.includes(d.code)));
  });
});
