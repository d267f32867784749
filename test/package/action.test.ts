// action.yml (the GitHub composite action). GitHub itself cannot run here: this checks that the
// file parses as YAML (PyYAML, the parser of Debian's python3-yaml), that it uploads what its
// lint step writes with github/codeql-action/upload-sarif, and runs the lint step's own script
// (taken from action.yml, inputs at their defaults, as the runner passes them: env) with the
// installed knockc, in a workspace like a checkout. The report must be valid SARIF 2.1.0.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv-draft-04';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../cli/built.js';
import { installKnockc, pathWith, requireTool } from './installed.js';

const have = requireTool('/usr/bin/python3', 'python3-yaml', ['-c', 'import yaml']);

interface Step {
  name?: string;
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  shell?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
}
interface Action {
  name: string;
  description: string;
  inputs: Record<string, { description: string; default?: string }>;
  outputs: Record<string, { value: string }>;
  runs: { using: string; steps: Step[] };
}

const BAD = '[openSSH]\n    sequence      = 7000,80000,9000\n    start_command = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n';

describe.skipIf(!have)('action.yml', () => {
  let action: Action;
  let dir = '';
  let bin = '';
  beforeAll(() => {
    const json = execFileSync('/usr/bin/python3', ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)', join(ROOT, 'action.yml')], { encoding: 'utf8' });
    action = JSON.parse(json) as Action;
    dir = mkdtempSync(join(tmpdir(), 'knockc-action-'));
    bin = installKnockc(dir);
    return () => rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  const step = (id: string): Step => {
    const s = action.runs.steps.find((x) => x.id === id || x.name === id);
    if (!s) throw new Error(`action.yml has no step ${id}`);
    return s;
  };

  it('is a composite action whose run steps take inputs from env only', () => {
    expect(action.runs.using).toBe('composite');
    expect(action.name).toBeTruthy();
    expect(action.description).toBeTruthy();
    for (const s of action.runs.steps) {
      if (s.run === undefined) continue;
      expect(s.shell, s.name).toBe('bash');
      // An expression in a script is substituted as code by the runner: inputs go through env.
      expect(s.run, s.name).not.toContain('${{');
    }
  });

  it('uploads the report the lint step wrote, with codeql-action/upload-sarif', () => {
    const up = action.runs.steps.find((s) => s.uses?.startsWith('github/codeql-action/upload-sarif@'));
    expect(up).toBeDefined();
    expect(up!.with!['sarif_file']).toBe('${{ steps.lint.outputs.sarif-file }}');
    expect(up!.if).toContain('always()');
    expect(action.outputs['sarif-file']!.value).toBe('${{ steps.lint.outputs.sarif-file }}');
    const order = action.runs.steps.map((s) => s.id ?? s.uses ?? s.name);
    expect(order.indexOf('lint')).toBeLessThan(order.indexOf(up!.uses));
  });

  /** Runs the lint step in `workspace` with the inputs' defaults (and `inputs`), as the runner does. */
  const runLint = (workspace: string, inputs: Record<string, string> = {}) => {
    const s = step('lint');
    const env: Record<string, string> = { PATH: pathWith(bin), HOME: dir, GITHUB_OUTPUT: join(workspace, '.github_output') };
    writeFileSync(env['GITHUB_OUTPUT']!, '');
    for (const [k, v] of Object.entries(s.env ?? {})) {
      env[k] = v.replace(/\$\{\{\s*inputs\.([\w-]+)\s*\}\}/g, (_, name: string) => {
        const input = action.inputs[name];
        if (!input) throw new Error(`action.yml: step lint reads an undeclared input ${name}`);
        return inputs[name] ?? input.default ?? '';
      });
      expect(env[k], `env ${k} has an expression the test cannot evaluate`).not.toContain('${{');
    }
    const r = spawnSync('bash', ['-e', '-c', s.run!], { cwd: workspace, env, encoding: 'utf8' });
    const outputs = Object.fromEntries(readFileSync(env['GITHUB_OUTPUT']!, 'utf8').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    return { ...r, outputs };
  };

  const require = createRequire(import.meta.url);
  const schema = JSON.parse(readFileSync(require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'), 'utf8')) as object;
  const validate = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false, validateFormats: false, logger: false }).compile(schema);
  type Sarif = { runs: Array<{ results: Array<{ ruleId: string; level: string; locations: Array<{ physicalLocation: { artifactLocation: { uri: string } } }> }> }> };

  it('with the default inputs: lints every knockd.conf of the checkout into valid SARIF, and reports the failure', () => {
    const ws = join(dir, 'ws1');
    mkdirSync(join(ws, 'deploy/bad'), { recursive: true });
    copyFileSync(join(ROOT, 'fixtures/seed-fr-monitoring-opencloseSSH.conf'), join(ws, 'knockd.conf'));
    writeFileSync(join(ws, 'deploy/bad/knockd.conf'), BAD);
    writeFileSync(join(ws, 'deploy/other.conf'), BAD); // not a knockd.conf: not linted
    const r = runLint(ws);
    expect(r.status, r.stderr).toBe(0); // the lint step passes on; the last step fails the job
    expect(r.outputs).toEqual({ 'sarif-file': 'knockc.sarif', 'exit-code': '1' });
    const doc = JSON.parse(readFileSync(join(ws, 'knockc.sarif'), 'utf8')) as Sarif;
    expect(validate(doc), JSON.stringify(validate.errors?.slice(0, 5), null, 2)).toBe(true);
    const results = doc.runs[0]!.results;
    const where = (code: string) => results.filter((x) => x.ruleId === code).map((x) => x.locations[0]!.physicalLocation.artifactLocation.uri);
    expect(where('KC106')).toEqual(['deploy/bad/knockd.conf']);
    expect(where('KC211')).toEqual(['knockd.conf']);
    expect(results.some((x) => x.locations.some((l) => l.physicalLocation.artifactLocation.uri.includes('other.conf')))).toBe(false);
  });

  it('clean files: exit-code 0 (warnings do not fail unless strict is true)', () => {
    const ws = join(dir, 'ws2');
    mkdirSync(ws, { recursive: true });
    copyFileSync(join(ROOT, 'fixtures/seed-fr-monitoring-opencloseSSH.conf'), join(ws, 'knockd.conf'));
    expect(runLint(ws).outputs['exit-code']).toBe('0');
    const strict = runLint(ws, { strict: 'true', 'sarif-file': 'out/../strict.sarif' });
    expect(strict.outputs).toEqual({ 'sarif-file': 'out/../strict.sarif', 'exit-code': '1' });
    expect(validate(JSON.parse(readFileSync(join(ws, 'strict.sarif'), 'utf8')))).toBe(true);
  });

  it('no file to lint: the step fails with an annotation', () => {
    const ws = join(dir, 'ws3');
    mkdirSync(ws, { recursive: true });
    const r = runLint(ws);
    expect(r.status).toBe(2);
    expect(r.stdout).toContain('::error::knockc lint: no knockd.conf file to lint (input paths: **/knockd.conf)');
  });
});
