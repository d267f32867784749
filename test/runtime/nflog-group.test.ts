// knockc run --nflog-group: the rules it loads log completed sequences to the group the runtime
// reads (one CompileRequest carries the group to both, src/cli/run.ts); every target writes it.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { compileConfig, type CompileRequest } from '../../src/deploy/deploy.js';
import { loadConfigFile } from '../../src/frontend/load.js';
import { NOTIFY_GROUP } from '../../src/model/notify.js';
import { targetNamed } from '../../src/targets/registry.js';
import { nflogGroup } from '../../src/cli/run.js';
import { ensureBuilt, knockc, ROOT } from '../cli/built.js';

const FILE = join(ROOT, 'fixtures', 'seed-fr-course-ftp-webmin-reboot.conf'); // REBOOT needs the runtime

function compiled(target: string, options: Record<string, unknown>, notifyGroup?: number): string {
  const { config, diagnostics } = loadConfigFile(FILE);
  const t = targetNamed(target);
  const request: CompileRequest = { target: t, options: t.parseOptions({ target, ...options }, 'run', () => false), iface: null, log: false, version: 'test', source: FILE, notifyGroup };
  const r = compileConfig(config!, diagnostics, request);
  return r.compiled!.text;
}

describe('--nflog-group', () => {
  it.each([
    ['nft', {}, /log group (\d+) prefix/g],
    ['iptables', {}, /--nflog-group (\d+) /g],
    ['ir-json', {}, /"group": (\d+)/g],
  ] as const)('%s: the compiled rules use the given group, 4242 without it', (target, options, re) => {
    const groups = (text: string) => new Set([...text.matchAll(re)].map((m) => Number(m[1])));
    expect(groups(compiled(target, options))).toEqual(new Set([NOTIFY_GROUP]));
    expect(groups(compiled(target, options, 77))).toEqual(new Set([77]));
  });

  it('takes 0 to 65535 and nothing else', () => {
    expect(nflogGroup('0')).toBe(0);
    expect(nflogGroup('65535')).toBe(65535);
    for (const bad of ['65536', '-1', '1.5', 'x', '', '123456']) expect(() => nflogGroup(bad), bad).toThrow(/0 to 65535/);
  });

  it('the built CLI: in run --help; a bad group is a usage error before anything is loaded', () => {
    ensureBuilt();
    expect(knockc(['run', '--help']).stdout).toMatch(/--nflog-group <n>[\s\S]*default: 4242/);
    const r = knockc(['run', '--nflog-group', '70000', FILE]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--nflog-group.*0 to 65535/);
  });
});
