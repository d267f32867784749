// The target registry: one folder and one line in src/targets/registry.ts make a target.
// ir-json (the IR as JSON, compile only) is the small extra target that shows it.
import { describe, expect, it } from 'vitest';
import { TARGETS, TARGET_NAMES } from '../../src/targets/registry.js';
import { ensureBuilt, knockc } from '../cli/built.js';

const CONF = 'fixtures/lint/clean.conf';

describe('target registry', () => {
  it('names each target once; every option belongs to commands that exist', () => {
    expect(new Set(TARGET_NAMES).size).toBe(TARGETS.length);
    expect(TARGET_NAMES).toEqual(['nft', 'iptables', 'ir-json']);
    for (const t of TARGETS) for (const o of t.options) expect(o.commands.every((c) => ['compile', 'lint', 'apply', 'run', 'remove', 'status'].includes(c)), o.flags).toBe(true);
  });

  it('compile --help and lint --help list every registered target', () => {
    ensureBuilt();
    for (const cmd of ['compile', 'lint', 'apply']) {
      const help = knockc([cmd, '--help']).stdout.replace(/\s+/g, ' ');
      expect(help, cmd).toContain('choices: "nft", "iptables", "ir-json"');
    }
  });

  it('compile --target ir-json prints the IR the generators receive', () => {
    ensureBuilt();
    const r = knockc(['compile', '--target', 'ir-json', CONF]);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as { program: { sets: unknown[]; chains: Array<{ name: string }> } };
    expect(doc.program.sets.length).toBeGreaterThan(0);
    expect(doc.program.chains.some((c) => c.name.startsWith('knockc_'))).toBe(true);
  });

  it('a target without a host side: apply refuses it (exit 2), an option of another target is a usage error', () => {
    ensureBuilt();
    const a = knockc(['apply', '--target', 'ir-json', '--dry-run', CONF]);
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/^knockc: --target ir-json only compiles/);
    const b = knockc(['compile', '--target', 'ir-json', '--guard', CONF]);
    expect(b.status).toBe(2);
    expect(b.stderr).toBe('knockc: --guard is for --target iptables; it does not apply to --target ir-json\n');
  });
});
