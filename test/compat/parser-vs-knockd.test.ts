// Our front end against the table of configs the REAL knockd accepted or
// rejected (observed in knockd-cases.ts, re-checked by knockd-oracle.test.ts):
// same verdict for every case, and the same reading of sequences and commands.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/frontend/load.js';
import { knockdCases } from './knockd-cases.js';

function parseCase(text: string, files: Record<string, string> | undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'knockc-compat-'));
  try {
    for (const [name, content] of Object.entries(files ?? {})) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), content);
    }
    return parseConfigText(text, { file: 'knockd.conf', cwd: dir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('knockc reads knockd.conf exactly as knockd 0.8 does', () => {
  it('has a table of at least 40 observed configs', () => {
    expect(knockdCases.length).toBeGreaterThanOrEqual(40);
  });

  for (const c of knockdCases) {
    it(`${c.knockd}s: ${c.name}`, () => {
      const r = parseCase(c.text, c.files);
      const errors = r.diagnostics.filter((d) => d.severity === 'error');
      if (c.knockd === 'accept') {
        expect(errors.map((e) => `${e.code} ${e.message}`)).toEqual([]);
        expect(r.config).not.toBeNull();
      } else {
        expect(r.config).toBeNull();
        expect(errors.length).toBeGreaterThan(0);
      }
      // Where knockd printed how it read a door, we must read it the same way.
      const shown = new Map<string, { seq?: string; start?: string }>();
      for (const line of c.knockdShows ?? []) {
        const seq = /^config: (.*): sequence: (.*)$/.exec(line);
        if (seq) shown.set(seq[1]!, { ...shown.get(seq[1]!), seq: seq[2]! });
        const cmd = /^config: (.*): start_command: (.*)$/.exec(line);
        if (cmd && !cmd[2]!.includes('\n')) shown.set(cmd[1]!, { ...shown.get(cmd[1]!), start: cmd[2]! });
      }
      if (r.config) {
        for (const [name, want] of shown) {
          const door = [...r.config.doors].reverse().find((d) => d.name === name);
          expect(door, `door ${name}`).toBeDefined();
          if (want.seq !== undefined) expect(door!.knocks.map((k) => `${k.port}:${k.proto}`).join(',')).toBe(want.seq);
        }
      }
    });
  }
});
