// Shared by the apply/status unit tests: the two-door config, compiled, and
// the kernel's listings of it recorded with nft 1.0.6 (test/targets/live-fixtures/),
// in a scratch network namespace with knockc 844506b (one input chain dispatches
// knock and granted ports): test/targets/live-fixtures/record.sh. The *.v0-layout.*
// listings were recorded the same way with the knockc before it (knocks tracked in
// prerouting), and the *.v1-layout.* ones with the knockc before issue 20 (a set per door, role
// and stage, not the shared sets keyed by door tag), as what an upgrade starts from.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KnockdConfig } from '../../src/frontend/config.js';
import { parseConfigText } from '../../src/frontend/load.js';
import { compileNft, NFT_DEFAULTS, type NftOptions } from '../../src/targets/nft/generate.js';
import type { Runner, RunResult } from '../../src/host/runner.js';

export const FIX = join(import.meta.dirname, 'live-fixtures');
export const fixture = (name: string): string => readFileSync(join(FIX, name), 'utf8');

export function config(text = fixture('two-doors.conf'), file = 'two-doors.conf'): KnockdConfig {
  const r = parseConfigText(text, { file });
  if (!r.config) throw new Error(`fixture does not parse: ${JSON.stringify(r.diagnostics)}`);
  return r.config;
}

export function compile(c: KnockdConfig, o: Partial<NftOptions> = {}) {
  return compileNft(c, { ...NFT_DEFAULTS, ...o, version: 'TEST', source: c.file });
}

/** A runner that answers from a table of canned results and records every call. */
export function fakeRunner(answer: (cmd: readonly string[], stdin?: string) => Partial<RunResult> | undefined): Runner & { calls: Array<{ cmd: string[]; stdin?: string }> } {
  const calls: Array<{ cmd: string[]; stdin?: string }> = [];
  const run = (async (cmd: readonly string[], stdin?: string) => {
    calls.push({ cmd: [...cmd], ...(stdin !== undefined ? { stdin } : {}) });
    const a = answer(cmd, stdin);
    return { code: a?.code ?? (a ? 0 : 1), stdout: a?.stdout ?? '', stderr: a?.stderr ?? (a ? '' : `unexpected command ${cmd.join(' ')}`) };
  }) as Runner & { calls: typeof calls };
  run.calls = calls;
  return run;
}
