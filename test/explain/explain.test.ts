// `knockc explain`: the Graphviz picture of a seed example is shipped in
// fixtures/explain/ (DOT source and rendered SVG); the DOT golden must equal
// what explain prints today. Refresh with
//   KNOCKC_UPDATE_GOLDEN=1 npx vitest run test/explain
// (which also re-renders the SVG when Graphviz `dot` is installed).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { explainData, explainDot, explainText } from '../../src/explain/explain.js';
import type { KnockdConfig } from '../../src/frontend/config.js';
import { parseConfigBytes, parseConfigText } from '../../src/frontend/load.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SEED = 'fixtures/seed-fr-course-openSSH-closeSSH.conf';
const GOLDEN_DOT = join(ROOT, 'fixtures/explain/seed-fr-course-openSSH-closeSSH.dot');
const GOLDEN_SVG = join(ROOT, 'fixtures/explain/seed-fr-course-openSSH-closeSSH.svg');
const UPDATE = process.env.KNOCKC_UPDATE_GOLDEN === '1';
const hasDot = spawnSync('dot', ['-V']).status === 0;

function load(file: string): KnockdConfig {
  // Named as on the command line from the repository root, like the golden was made.
  const r = parseConfigBytes(readFileSync(join(ROOT, file)), { file, cwd: ROOT });
  if (!r.config) throw new Error(`${file}: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  return r.config;
}

function text(conf: string): KnockdConfig {
  const r = parseConfigText(conf, { file: 'test.conf' });
  if (!r.config) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
  return r.config;
}

function renders(dot: string): { ok: boolean; stderr: string } {
  const r = spawnSync('dot', ['-Tsvg'], { input: dot, encoding: 'utf8' });
  return { ok: r.status === 0, stderr: r.stderr };
}

describe('explain --format dot: the shipped picture', () => {
  it(`fixtures/explain/*.dot equals today's output for ${SEED}`, () => {
    const dot = explainDot(load(SEED));
    if (UPDATE) {
      writeFileSync(GOLDEN_DOT, dot);
      if (hasDot) {
        const svg = spawnSync('dot', ['-Tsvg', GOLDEN_DOT], { encoding: 'utf8' });
        expect(svg.status, svg.stderr).toBe(0);
        writeFileSync(GOLDEN_SVG, svg.stdout);
      }
    }
    expect(dot, 'explain --format dot changed: refresh with KNOCKC_UPDATE_GOLDEN=1 npx vitest run test/explain').toBe(readFileSync(GOLDEN_DOT, 'utf8'));
  });

  it('the shipped SVG is a rendering of that picture', () => {
    const svg = readFileSync(GOLDEN_SVG, 'utf8');
    expect(svg).toContain('<svg');
    for (const s of ['[openSSH]', '[closeSSH]', 'OPEN', '7000/tcp [syn]', '9000/tcp [syn]', 'opens tcp port 22', 'closes tcp port 22', 'wrong knock or']) {
      expect(svg, s).toContain(s);
    }
  });

  it.runIf(hasDot)('renders with Graphviz without warnings', () => {
    const r = renders(readFileSync(GOLDEN_DOT, 'utf8'));
    expect(r.ok).toBe(true);
    expect(r.stderr).toBe('');
  });
});

describe('explain --format dot: the state machine of each door', () => {
  const seed = load(SEED);
  const dot = explainDot(seed);

  it('one cluster per door, in file order from the top (emitted last to first)', () => {
    const clusters = [...dot.matchAll(/subgraph "cluster_(\d+)"/g)].map((m) => Number(m[1]));
    expect(clusters).toEqual([1, 0]);
  });

  it('idle -> stage 1 -> stage 2 -> OPEN, labelled with each knock and its TCP flags', () => {
    for (const [n, door] of seed.doors.entries()) {
      const ports = door.knocks.map((k) => `${k.port}/${k.proto} [syn]`);
      expect(dot).toContain(`"d${n}_idle" -> "d${n}_s1" [label="${ports[0]}"`);
      expect(dot).toContain(`"d${n}_s1" -> "d${n}_s2" [label="${ports[1]}"`);
      expect(dot).toContain(`"d${n}_s2" -> "d${n}_open" [label="${ports[2]}"`);
      // A wrong knock or the timeout drops the attempt from every stage (not from idle).
      expect(dot.match(new RegExp(`"d${n}_s\\d" -> "d${n}_idle" \\[label="wrong knock or\\\\n5 s elapsed"`, 'g'))).toHaveLength(2);
      expect(dot).not.toContain(`"d${n}_idle" -> "d${n}_idle"`);
      expect(dot).toContain(`"d${n}_open" -> "d${n}_action"`);
    }
  });

  it('says what the opening does, per address family', () => {
    expect(dot).toContain('IPv4: opens tcp port 22 until a closing door\\l');
    expect(dot).toContain('IPv4: closes tcp port 22\\l');
  });

  it('a one-knock door goes from idle straight to OPEN', () => {
    const d = explainDot(text('[one]\nsequence = 7000:udp\nstart_command = /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n'));
    expect(d).toContain('"d0_idle" -> "d0_open" [label="7000/udp"');
    expect(d).not.toContain('"d0_s1"');
    expect(d).not.toContain('wrong knock or\\n');
  });

  it('a door that needs the runtime, a timed grant, a target and one-time sequences are all said', () => {
    const runtime = explainDot(load('fixtures/seed-fr-course-one-time.conf'));
    expect(runtime).toContain('one-time: the sequence changes after each use');
    expect(runtime).toContain('needs the runtime (knockc run)');
    expect(runtime).not.toContain('`');
    const timed = explainDot(load('fixtures/seed-fr-monitoring-opencloseSSH.conf'));
    expect(timed).toContain('opens tcp port 22 for 30 s after the last');
    const target = explainDot(text('[t]\nsequence = 1,2\ntarget = 198.51.100.7\n'));
    expect(target).toContain('2 knocks, sent to 198.51.100.7, all within 25 s of the first');
  });

  it('quotes, backslashes and odd characters in names and commands stay inside their labels', () => {
    const odd = text('[a "quoted" \\door\\ {x} <y>]\nsequence = 1,2\nstart_command = /bin/echo "%IP%" \\ done\n');
    const d = explainDot(odd);
    expect(d).toContain('[a \\"quoted\\" \\\\door\\\\ {x} <y>]');
    if (hasDot) {
      const r = renders(d);
      expect(r.ok, r.stderr).toBe(true);
    }
  });

  it.runIf(hasDot)('every seed example renders with Graphviz', async () => {
    const { readdirSync } = await import('node:fs');
    for (const f of readdirSync(join(ROOT, 'fixtures')).filter((n) => /^seed-.*\.conf$/.test(n))) {
      const r = renders(explainDot(load(`fixtures/${f}`)));
      expect(r.ok, `${f}: ${r.stderr}`).toBe(true);
      expect(r.stderr, f).toBe('');
    }
  });

  it('an empty config is an empty graph', () => {
    const d = explainDot(text(''));
    expect(d).toMatch(/^digraph knockc \{/);
    expect(d).not.toContain('subgraph');
  });
});

describe('explain text and json', () => {
  const seed = load(SEED);

  it('text: one block per door with knocks, timeout, actions and the runtime verdict', () => {
    const t = explainText(seed);
    expect(t).toContain(`[openSSH]  (${SEED}:6)`);
    expect(t).toContain('  knock     7000/tcp [syn] -> 8000/tcp [syn] -> 9000/tcp [syn]');
    expect(t).toContain('  within    5 s of the first knock');
    expect(t).toContain('  IPv4      opens tcp port 22 until a closing door revokes it');
    expect(t).toContain('  runtime   not needed: the kernel does everything');
    expect(t).toContain(`[closeSSH]  (${SEED}:12)`);
    expect(explainText(text(''))).toContain('(no doors)');
  });

  it('json: the same as data', () => {
    const j = explainData(seed);
    // Versioned like lint's and status's JSON (issue 17 item 7), the first key.
    expect(Object.keys(j)[0]).toBe('version');
    expect(j.version).toBe(1);
    expect(j.file).toBe(SEED);
    expect(j.doors.map((d) => d.name)).toEqual(['openSSH', 'closeSSH']);
    expect(j.doors[0]).toMatchObject({
      line: 6,
      sequence: [{ port: 7000, proto: 'tcp' }, { port: 8000, proto: 'tcp' }, { port: 9000, proto: 'tcp' }],
      tcpFlags: 'syn',
      seqTimeout: 5,
      cmdTimeout: 10,
      oneTimeSequences: null,
      target: null,
      needsRuntime: false,
    });
    expect(j.doors[0]!.actions.ipv4!.kind).toBe('kernel');
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
  });
});
