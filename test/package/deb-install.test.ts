// The .deb on bare Debian 12 (bookworm, nodejs 18) and Debian 13 (trixie, nodejs 20) images built
// offline by debootstrap (test/lab/build-image.sh --variant bare / bare-trixie), as docs/install.md
// and the README's "Install on a server" say to use it:
//   apt-get install ./knockc_*.deb   pulls only Debian packages (every download from the mirror);
//   knockc --version, man knockc, systemd-analyze verify of the installed units;
//   knockc apply of a seed config, then real knocks from a second container (the lab image's
//   `knock` client, on an --internal network of documentation addresses): tcp/22 is dropped
//   before the knock and opens after it; knockc status --format openmetrics counts it;
//   knockc-metrics.service's command writes the textfile Debian's node_exporter then exports;
//   knockc remove, apt-get purge: no file of the package and no knockc rule is left.
// Docker is required under CI=true (the test fails, never skips).
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from '../cli/built.js';

const CI = Boolean(process.env['CI']) && process.env['CI'] !== 'false';
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const docker = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0 && process.getuid?.() === 0;
if (!docker && CI) throw new Error('Docker engine (as root) unavailable under CI=true: the .deb install test must run');

const RELEASES = [
  { name: 'Debian 12 (bookworm)', variant: 'bare', env: 'KNOCKC_BARE_IMAGE', node: /^v18\.\d+\.\d+$/, suite: 'bookworm' },
  { name: 'Debian 13 (trixie)', variant: 'bare-trixie', env: 'KNOCKC_BARE_TRIXIE_IMAGE', node: /^v20\.\d+\.\d+$/, suite: 'trixie' },
] as const;

const image = (variant: string, env: string): string =>
  process.env[env] || execFileSync(join(ROOT, 'test/lab/build-image.sh'), variant === 'lab' ? [] : ['--variant', variant], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();

/** docker ARGS, without blocking the test worker (a blocked worker misses vitest's 60 s RPC deadline). */
function dockerRun(args: string[], timeout = 240_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('docker', args, { encoding: 'utf8', timeout, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? ((err as unknown as { code: number }).code) : null) : 0;
      resolve({ status: code, stdout, stderr });
    });
  });
}
async function must(args: string[], timeout?: number): Promise<string> {
  const r = await dockerRun(args, timeout);
  if (r.status !== 0) throw new Error(`docker ${args.slice(0, 3).join(' ')} ...: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** An --internal network on a free /28 of the documentation ranges (the lab's other tests use them too). */
async function internalNetwork(name: string): Promise<{ name: string; base: string }> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const ids = (await must(['network', 'ls', '-q'])).split('\n').filter(Boolean);
    const used = new Set(ids.length ? (await must(['network', 'inspect', '--format', '{{range .IPAM.Config}}{{.Subnet}} {{end}}', ...ids])).split(/\s+/) : []);
    // Clear of every network's subnet (the lab's are /27s).
    const span = (cidr: string): [number, number] | null => {
      const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
      if (!m) return null;
      const a = Number(m[1]) * 2 ** 24 + Number(m[2]) * 2 ** 16 + Number(m[3]) * 256 + Number(m[4]);
      return [a, a + 2 ** (32 - Number(m[5])) - 1];
    };
    const taken = [...used].map(span).filter((x): x is [number, number] => x !== null);
    const free = ['198.51.100', '203.0.113']
      .flatMap((b) => Array.from({ length: 16 }, (_, i) => `${b}.${i * 16}`))
      .filter((s) => {
        const [lo, hi] = span(`${s}/28`)!;
        return !taken.some(([x, y]) => x <= hi && lo <= y);
      });
    const pick = free[Math.floor(Math.random() * Math.min(free.length, 8))];
    if (!pick) throw new Error('no free /28 left in 198.51.100.0/24 and 203.0.113.0/24 (stale lab networks? docker network ls)');
    const o = pick.split('.').map(Number);
    const r = await dockerRun(['network', 'create', '--internal', '--subnet', `${pick}/28`, '--gateway', `${o[0]}.${o[1]}.${o[2]}.${o[3]! + 1}`, name]);
    if (r.status === 0) return { name, base: `${o[0]}.${o[1]}.${o[2]}.${o[3]!}` };
    if (!/overlap|already|in use/i.test(r.stderr)) throw new Error(`docker network create: ${r.stderr}`);
  }
  throw new Error('could not create an internal network');
}
const plus = (base: string, n: number): string => base.replace(/\d+$/, (x) => String(Number(x) + n));

describe.skipIf(!docker)('the .deb on bare Debian, installed with apt-get', () => {
  let deb = '';
  let out = '';
  let lab = '';
  beforeAll(async () => {
    ensureBuilt();
    out = mkdtempSync(join(tmpdir(), 'knockc-deb-out-'));
    deb = execFileSync(process.execPath, [join(ROOT, 'dist/tools/package.js'), out], { cwd: ROOT, encoding: 'utf8' }).trim();
    lab = image('lab', 'KNOCKC_LAB_IMAGE');
  }, 300_000);
  afterAll(async () => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  for (const rel of RELEASES) {
    describe(rel.name, () => {
      const tag = `knockc-deb-${rel.variant}-${process.pid}`;
      const server = `${tag}-server`;
      const client = `${tag}-client`;
      let net = { name: '', base: '' };
      let dir = '';
      const exec = (script: string, timeout?: number) => dockerRun(['exec', server, 'sh', '-c', script], timeout);
      const sh = async (script: string, timeout?: number): Promise<string> => {
        const r = await exec(script, timeout);
        if (r.status !== 0) throw new Error(`${script}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
        return r.stdout;
      };
      const fromClient = (...argv: string[]) => dockerRun(['exec', client, ...argv], 60_000);
      const serverIp = (): string => plus(net.base, 2);
      /** Whether a TCP connection from the client to the server's port 22 opens within 3 s. */
      const connects = async (): Promise<boolean> => (await fromClient('nc', '-z', '-w', '3', serverIp(), '22')).status === 0;

      beforeAll(async () => {
        const img = image(rel.variant, rel.env);
        dir = mkdtempSync(join(tmpdir(), 'knockc-deb-install-'));
        copyFileSync(deb, join(dir, `knockc_${version}_all.deb`));
        // 7000/udp, 8000/tcp (SYN), 9000/udp within 5 s open tcp/22 for 30 s.
        copyFileSync(join(ROOT, 'fixtures/seed-fr-monitoring-opencloseSSH.conf'), join(dir, 'knockd.conf'));
        for (const c of [server, client]) await dockerRun(['rm', '-f', c]);
        await dockerRun(['network', 'rm', `${tag}-net`]);
        // The server starts on the default bridge (apt-get reaches the mirror), then joins the
        // internal network the knocks come over; the client is on the internal network only.
        await must(['run', '-d', '--name', server, '--cap-add', 'NET_ADMIN', '--cap-add', 'NET_RAW', '-v', `${dir}:/mnt:ro`, img, 'sleep', 'infinity']);
        net = await internalNetwork(`${tag}-net`);
        await must(['network', 'connect', '--ip', serverIp(), net.name, server]);
        await must(['run', '-d', '--name', client, '--network', net.name, '--ip', plus(net.base, 3), '--cap-add', 'NET_ADMIN', '--cap-add', 'NET_RAW', lab, 'sleep', 'infinity']);
      }, 300_000);
      afterAll(async () => {
        for (const c of [server, client]) await dockerRun(['rm', '-f', c]);
        if (net.name) await dockerRun(['network', 'rm', net.name]);
        if (dir) rmSync(dir, { recursive: true, force: true });
      });

      it('apt-get install ./knockc_*.deb takes every dependency from Debian\'s mirror; knockc runs on Debian\'s nodejs', { timeout: 300_000 }, async () => {
        const mirror = (await sh(`sed -n 's/^deb \\(\\S*\\) ${rel.suite} .*/\\1/p' /etc/apt/sources.list`)).trim();
        expect(mirror).toMatch(/^https?:\/\//);
        const log = await sh('export DEBIAN_FRONTEND=noninteractive; apt-get update -q >/dev/null && cd /mnt && apt-get install -y -q ./knockc_*_all.deb 2>&1', 280_000);
        // "Get:1 /mnt/knockc_V_all.deb knockc all V [..]" and "Get:2 MIRROR SUITE/main amd64 PACKAGE amd64 V [..]".
        const gets = [...log.matchAll(/^Get:\d+ (.*)$/gm)].map((m) => m[1]!.split(' '));
        expect(gets.length).toBeGreaterThan(5);
        const pkgs: string[] = [];
        for (const g of gets) {
          if (g[0]!.startsWith('/mnt/')) {
            expect(g[1]).toBe('knockc');
            pkgs.push(g[1]!);
          } else {
            expect(g[0], g.join(' ')).toBe(mirror);
            expect(g[1], g.join(' ')).toMatch(new RegExp(`^${rel.suite}(-updates|-security)?/main$`));
            pkgs.push(g[3]!);
          }
        }
        expect(pkgs).toContain('nodejs');
        expect(pkgs.filter((p) => p === 'knockc')).toHaveLength(1);
        expect((await sh('node --version')).trim()).toMatch(rel.node);
        expect((await sh('knockc --version')).trim()).toBe(version);
      });

      it('man knockc shows the manual (man-db from Debian; nothing excludes man pages)', { timeout: 300_000 }, async () => {
        // debootstrap's minbase writes no dpkg path-exclude (Docker's official images do): the pages are installed.
        expect((await exec('grep -rqs "path-exclude.*man" /etc/dpkg/dpkg.cfg.d/')).status).not.toBe(0);
        expect((await sh('test -s /usr/share/man/man1/knockc.1.gz && echo ok')).trim()).toBe('ok');
        // (and what the later steps use: systemd-analyze, nc, Debian's node_exporter)
        await sh('export DEBIAN_FRONTEND=noninteractive; apt-get install -y -q --no-install-recommends man-db systemd netcat-openbsd prometheus-node-exporter >/tmp/tools.log 2>&1 || { tail -20 /tmp/tools.log; exit 1; }', 280_000);
        const page = await sh('MANWIDTH=100 man -P cat knockc');
        expect(page).toMatch(/^NAME\n\s+knockc - compiles knockd\.conf port-knocking doors into nftables\/iptables rules$/m);
        expect(page).toMatch(/^COMMANDS$/m);
        expect(await sh('MANWIDTH=100 man -P cat knockc-status')).toMatch(/--format <format>/);
      });

      it('systemd-analyze verify accepts the installed units', { timeout: 120_000 }, async () => {
        const units = (await sh('ls /lib/systemd/system/ | grep ^knockc')).split('\n').filter(Boolean).sort();
        expect(units).toEqual(['knockc-guard.service', 'knockc-metrics.service', 'knockc-metrics.timer', 'knockc-run.service', 'knockc.service']);
        const r = await exec(`systemd-analyze verify --man=no ${units.map((u) => `/lib/systemd/system/${u}`).join(' ')} 2>&1`);
        expect(r.stdout + r.stderr).toBe('');
        expect(r.status).toBe(0);
      });

      it('knockc apply: tcp/22 is dropped until a real knock, then opens; the metrics count it', { timeout: 120_000 }, async () => {
        await sh('cp /mnt/knockd.conf /etc/knockd.conf && (nc -lk 22 >/dev/null 2>&1 &)');
        expect(await connects()).toBe(true); // the listener answers while no rule is loaded
        const a = await exec('knockc apply /etc/knockd.conf');
        expect(a.status, a.stderr).toBe(0);
        expect(a.stdout).toMatch(/^knockc: loaded 1 door into table inet knockc/m);
        expect(await connects()).toBe(false);
        const k = await fromClient('knock', '-d', '200', serverIp(), '7000:udp', '8000:tcp', '9000:udp');
        expect(k.status, k.stderr).toBe(0);
        expect(await connects()).toBe(true);
        const m = await sh('knockc status --format openmetrics');
        expect(m).toMatch(/^knockc_sequences_completed_total\{target="nft",family="inet",table="knockc",door="opencloseSSH",line="\d+"\} 1$/m);
        expect(m).toMatch(/^knockc_grants_active\{[^}]*door="opencloseSSH"[^}]*\} 1$/m);
        expect(m.endsWith('# EOF\n')).toBe(true);
      });

      it('knockc-metrics.service\'s command feeds Debian\'s node_exporter (textfile collector)', { timeout: 120_000 }, async () => {
        // The installed unit's ExecStart with /etc/default/knockc's options, as systemd would run it
        // (no systemd runs in the container); the package made the directory.
        await sh('test -d /var/lib/prometheus/node-exporter');
        await sh('set -a; . /etc/default/knockc; set +a; cmd=$(sed -n "s/^ExecStart=//p" /lib/systemd/system/knockc-metrics.service); eval "$cmd"');
        expect((await sh('ls /var/lib/prometheus/node-exporter')).split('\n').filter(Boolean)).toEqual(['knockc.prom']);
        // Debian's node_exporter, on a port of its own (the package may have started one on 9100).
        await sh('(prometheus-node-exporter --web.listen-address=127.0.0.1:9199 --collector.textfile.directory=/var/lib/prometheus/node-exporter >/tmp/ne.log 2>&1 &)');
        const scrape = await sh(
          `for i in $(seq 1 50); do node -e "fetch('http://127.0.0.1:9199/metrics').then(r => r.text()).then(t => process.stdout.write(t), () => process.exit(1))" && exit 0; sleep 0.2; done; cat /tmp/ne.log; exit 1`,
        );
        expect(scrape).toMatch(/^node_textfile_scrape_error 0$/m);
        expect(scrape).toMatch(/^knockc_sequences_completed_total\{[^}]*door="opencloseSSH"[^}]*\} 1$/m);
        expect(scrape).toMatch(/^knockc_rules_loaded 1$/m);
        expect(scrape).toMatch(/^node_textfile_mtime_seconds\{file="[^"]*knockc\.prom"\} /m);
      });

      it('knockc remove, then apt-get purge: no file of the package, no knockc rule', { timeout: 300_000 }, async () => {
        // What knockc run and the metrics timer write, so that purge must remove them too.
        await sh('mkdir -p /var/lib/knockc && echo "[]" >/var/lib/knockc/pending.json && test -f /var/lib/prometheus/node-exporter/knockc.prom');
        await sh('dpkg -L knockc | while read -r f; do [ -d "$f" ] || echo "$f"; done >/tmp/files');
        const files = (await sh('cat /tmp/files')).split('\n').filter(Boolean);
        expect(files).toContain('/usr/bin/knockc');
        expect(files).toContain('/lib/systemd/system/knockc-metrics.timer');
        // The documented way out: stop the unit (ExecStop: knockc remove), take out what knockc
        // attached to the host firewall (here, with none, its guard table), then purge.
        expect(await sh('nft list table inet knockc_guard')).toContain('tcp dport 22');
        const r = await exec('knockc remove --purge');
        expect(r.status, r.stderr).toBe(0);
        await sh('export DEBIAN_FRONTEND=noninteractive; apt-get purge -y -q knockc >/tmp/purge.log 2>&1 || { cat /tmp/purge.log; exit 1; }', 280_000);
        const left = await sh('while read -r f; do if [ -e "$f" ] || [ -L "$f" ]; then echo "$f"; fi; done </tmp/files; for f in /var/lib/knockc /var/lib/prometheus/node-exporter/knockc.prom /etc/default/knockc /etc/knockc; do [ -e "$f" ] && echo "$f"; done; true');
        expect(left).toBe('');
        expect(await sh('nft list ruleset')).not.toMatch(/knockc/);
        // iptables is not installed by the .deb when nftables is (Depends: nftables | iptables): check whichever is there.
        expect(await sh('if command -v iptables-save >/dev/null; then iptables-save; ip6tables-save; fi')).not.toMatch(/knockc/);
        expect((await exec('command -v knockc')).status).not.toBe(0);
      });
    });
  }
});
