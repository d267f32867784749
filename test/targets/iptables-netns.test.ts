// The iptables target in a real kernel: a server and a client network
// namespace joined by a veth pair (documentation addresses only), the seed
// door loaded with iptables-nft and with iptables-legacy as the compiled
// file's header says, and knocked with the real `knock` client. The door
// opens tcp/22 (refused by "the user's" DROP rule until then) for the
// knocking source only, not after a wrong sequence, and stays open across a
// reload. Needs root, iproute2, python3 and knock; under CI=true their
// absence fails the test instead of skipping it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/frontend/load.js';
import { compileIptables, IPTABLES_DEFAULTS } from '../../src/targets/iptables/generate.js';

const CI = process.env.CI === 'true';
const PATHS = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
const which = (tool: string): string | undefined => PATHS.map((d) => join(d, tool)).find((p) => p && existsSync(p));
/** The interpreter itself, not a version manager's shim (pyenv's costs ~0.3 s a run). */
function python(): string | undefined {
  const shim = which('python3');
  if (!shim) return undefined;
  const r = spawnSync(shim, ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : shim;
}
const tools = { ip: which('ip'), knock: which('knock'), python3: python() };
const ready = process.getuid?.() === 0 && Object.values(tools).every((t) => t !== undefined);

// The seed door (7000/udp, 8000/tcp, 9000/udp, SYN; tcp/22 for 30 s), with the ip6tables commands
// knockd needs to open it for IPv6 knockers too.
const SEED = 'fixtures/seed-fr-monitoring-opencloseSSH.conf';
const SEED_6 = [
  '        start_command_6 = /sbin/ip6tables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
  '        stop_command_6 = /sbin/ip6tables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
].join('\n');
const SRV = { '4': '198.51.100.1', '6': '2001:db8::1' } as const;
const CLI = { '4': ['198.51.100.2', '198.51.100.3'], '6': ['2001:db8::2', '2001:db8::3'] } as const;
type Fam = '4' | '6';

interface Lab {
  readonly srv: string;
  readonly cli: string;
  listener?: ChildProcess;
}

const LISTENER = `
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(('::', 22))
s.listen(64)
print('ready', flush=True)
while True:
    c, _ = s.accept()
    c.close()
`;

const PROBE = `
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(float(sys.argv[3]))
s.bind((sys.argv[2], 0))
try:
    s.connect((sys.argv[1], 22))
    print('open')
except OSError:
    print('closed')
`;

function sh(ns: string, cmd: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(tools.ip!, ['netns', 'exec', ns, ...cmd], { input, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function must(ns: string | null, cmd: string[]): void {
  const r = ns ? sh(ns, cmd) : spawnSync(tools.ip!, cmd, { encoding: 'utf8' });
  expect(r.status, `${ns ?? 'host'}: ${cmd.join(' ')}: ${r.stderr}`).toBe(0);
}

async function makeLab(name: string): Promise<Lab> {
  const lab: Lab = { srv: `knockc-ipt-${process.pid}-${name}-s`, cli: `knockc-ipt-${process.pid}-${name}-c` };
  for (const ns of [lab.srv, lab.cli]) {
    spawnSync(tools.ip!, ['netns', 'del', ns]);
    must(null, ['netns', 'add', ns]);
    must(ns, ['ip', 'link', 'set', 'lo', 'up']);
  }
  must(null, ['link', 'add', 'kc0', 'netns', lab.srv, 'type', 'veth', 'peer', 'name', 'kc1', 'netns', lab.cli]);
  must(lab.srv, ['ip', 'addr', 'add', `${SRV['4']}/24`, 'dev', 'kc0']);
  must(lab.srv, ['ip', 'addr', 'add', `${SRV['6']}/64`, 'dev', 'kc0', 'nodad']);
  for (const a of CLI['4']) must(lab.cli, ['ip', 'addr', 'add', `${a}/24`, 'dev', 'kc1']);
  // The second address is deprecated so that `knock` sends from the first one, like IPv4's secondary address.
  CLI['6'].forEach((a, i) => must(lab.cli, ['ip', 'addr', 'add', `${a}/64`, 'dev', 'kc1', 'nodad', ...(i > 0 ? ['preferred_lft', '0'] : [])]));
  must(lab.srv, ['ip', 'link', 'set', 'kc0', 'up']);
  must(lab.cli, ['ip', 'link', 'set', 'kc1', 'up']);
  const l = spawn(tools.ip!, ['netns', 'exec', lab.srv, tools.python3!, '-c', LISTENER], { stdio: ['ignore', 'pipe', 'inherit'] });
  lab.listener = l;
  await new Promise<void>((resolve, reject) => {
    l.stdout!.once('data', () => resolve());
    l.once('exit', (code) => reject(new Error(`listener exited with ${code}`)));
  });
  return lab;
}

function dropLab(lab: Lab | undefined): void {
  if (!lab) return;
  lab.listener?.kill('SIGKILL');
  for (const ns of [lab.srv, lab.cli]) spawnSync(tools.ip!, ['netns', 'del', ns]);
}

function compileSeed(fam: Fam, guard: boolean): string {
  const r = parseConfigText(`${readFileSync(SEED, 'utf8').trimEnd()}\n${SEED_6}\n`, { file: SEED });
  expect(r.config, JSON.stringify(r.diagnostics)).toBeDefined();
  return compileIptables(r.config!, { ...IPTABLES_DEFAULTS, family: fam === '4' ? 'ip' : 'ip6', guard, version: 'TEST', source: SEED }).text;
}

const tool = (fam: Fam, impl: string): string => `${fam === '4' ? 'iptables' : 'ip6tables'}-${impl}`;

/** Exactly the loading steps the file's header gives. */
function load(lab: Lab, fam: Fam, impl: string, text: string): void {
  const t = tool(fam, impl);
  const r = sh(lab.srv, [`${t}-restore`, '--noflush'], text);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  for (const m of text.matchAll(/^# {3}\S+ -C (INPUT|FORWARD) -j (knockc_\w+) /gm)) {
    if (sh(lab.srv, [t, '-C', m[1]!, '-j', m[2]!]).status !== 0) must(lab.srv, [t, '-I', m[1]!, '1', '-j', m[2]!]);
  }
}

/** 'open' or 'closed'; an open port answers within a millisecond here, so `closed` waits only a little. */
const probe = (lab: Lab, fam: Fam, from: string, expect: 'open' | 'closed'): string =>
  sh(lab.cli, [tools.python3!, '-c', PROBE, SRV[fam], from, expect === 'open' ? '3' : '0.25']).stdout.trim();
const knock = (lab: Lab, fam: Fam, seq: string[]): void => must(lab.cli, [tools.knock!, ...(fam === '6' ? ['-6'] : []), SRV[fam], ...seq]);
const RIGHT = ['7000:udp', '8000:tcp', '9000:udp'];
const WRONG = ['7000:udp', '9000:udp', '8000:tcp'];

describe.skipIf(!ready && !CI)('iptables target in a real kernel', () => {
  const labs: Lab[] = [];
  beforeAll(() => {
    expect(ready, `needs root and ${Object.entries(tools).filter(([, v]) => !v).map(([k]) => k).join(', ') || 'nothing else'}`).toBe(true);
  });
  afterAll(() => labs.forEach(dropLab));

  for (const impl of ['nft', 'legacy'] as const) {
    it(`the seed door opens with the real knock (iptables-${impl}, IPv4 and IPv6)`, async () => {
      const lab = await makeLab(impl);
      labs.push(lab);
      for (const fam of ['4', '6'] as const) {
        // The user's firewall refuses ssh; knockd's command would -A/-I an ACCEPT before it.
        must(lab.srv, [tool(fam, impl), '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'DROP']);
        const text = compileSeed(fam, false);
        load(lab, fam, impl, text);
        const [me, other] = CLI[fam];
        expect(probe(lab, fam, me, 'closed'), `IPv${fam} before knocking`).toBe('closed');
        knock(lab, fam, WRONG);
        expect(probe(lab, fam, me, 'closed'), `IPv${fam} after a wrong sequence`).toBe('closed');
        knock(lab, fam, RIGHT);
        expect(probe(lab, fam, me, 'open'), `IPv${fam} after the knock`).toBe('open');
        expect(probe(lab, fam, other, 'closed'), `IPv${fam} another source`).toBe('closed');
        // Reloading keeps the grant (xt_recent lists outlive their rules' replacement) and the single hook.
        load(lab, fam, impl, text);
        load(lab, fam, impl, text);
        expect(probe(lab, fam, me, 'open'), `IPv${fam} after reloading`).toBe('open');
        const hooks = sh(lab.srv, [tool(fam, impl), '-S', 'INPUT']).stdout.split('\n').filter((l) => l.includes('knockc'));
        expect(hooks).toEqual(['-A INPUT -j knockc_input']);
      }
    }, 20_000);
  }

  it('--guard closes the port the user\'s firewall leaves open, until the knock', async () => {
    const lab = await makeLab('guard');
    labs.push(lab);
    const fam = '4';
    load(lab, fam, 'nft', compileSeed(fam, true));
    const [me, other] = CLI[fam];
    expect(probe(lab, fam, me, 'closed')).toBe('closed');
    knock(lab, fam, RIGHT);
    expect(probe(lab, fam, me, 'open')).toBe('open');
    expect(probe(lab, fam, other, 'closed')).toBe('closed');
  }, 20_000);
});
