// npm run package: the .deb's contents, control fields, maintainer scripts, man pages and
// completions (generated from the same commander definitions as --help), and lintian.
// Under CI=true lintian must be installed (.ci/run installs it): this file never skips there.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, knockc, ROOT } from '../cli/built.js';

const SUBCOMMANDS = ['compile', 'lint', 'explain', 'simulate', 'apply', 'remove', 'status', 'run'];
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

let deb = '';
let x = '';
beforeAll(() => {
  ensureBuilt();
  const out = mkdtempSync(join(tmpdir(), 'knockc-deb-out-'));
  deb = execFileSync(process.execPath, [join(ROOT, 'dist/tools/package.js'), out], { cwd: ROOT, encoding: 'utf8' }).trim();
  x = mkdtempSync(join(tmpdir(), 'knockc-deb-'));
  execFileSync('dpkg-deb', ['-R', deb, x]);
  return () => {
    rmSync(x, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  };
});

const field = (name: string): string => execFileSync('dpkg-deb', ['-f', deb, name], { encoding: 'utf8' }).trim();
const man = (name: string): string => gunzipSync(readFileSync(join(x, 'usr/share/man/man1', `${name}.1.gz`))).toString('utf8');

describe('knockc_VERSION_all.deb', () => {
  it('is named and described as the issue asks', () => {
    expect(basename(deb)).toBe(`knockc_${version}_all.deb`);
    expect(field('Package')).toBe('knockc');
    expect(field('Version')).toBe(version);
    expect(field('Architecture')).toBe('all');
    // procps: /bin/kill, knockc-run.service's ExecReload (minbase lacks it; systemd-analyze verify says so).
    expect(field('Depends')).toBe('nodejs (>= 18.19), nftables | iptables, procps');
    expect(field('Recommends')).toBe('tcpdump');
  });

  it('holds the program, units, defaults, man pages and completions, and nothing else', () => {
    const files = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l && !l.startsWith('d'))
      .map((l) => l.split(/\s+/).slice(5).join(' ').replace(/^\./, ''))
      .sort();
    expect(files).toEqual(
      [
        '/etc/default/knockc',
        '/lib/systemd/system/knockc-guard.service',
        '/lib/systemd/system/knockc-metrics.service',
        '/lib/systemd/system/knockc-metrics.timer',
        '/lib/systemd/system/knockc-run.service',
        '/lib/systemd/system/knockc.service',
        '/usr/bin/knockc -> ../lib/knockc/knockc.mjs',
        '/usr/lib/knockc/knockc.mjs',
        '/usr/share/bash-completion/completions/knockc',
        '/usr/share/doc/knockc/changelog.gz',
        '/usr/share/doc/knockc/copyright',
        '/usr/share/fish/vendor_completions.d/knockc.fish',
        '/usr/share/man/man1/knockc.1.gz',
        ...SUBCOMMANDS.map((s) => `/usr/share/man/man1/knockc-${s}.1.gz`),
        '/usr/share/zsh/vendor-completions/_knockc',
      ].sort(),
    );
    expect(readFileSync(join(x, 'usr/lib/knockc/knockc.mjs'))).toEqual(readFileSync(join(ROOT, 'dist/cli.js')));
    expect(readlinkSync(join(x, 'usr/bin/knockc'))).toBe('../lib/knockc/knockc.mjs');
    expect(readFileSync(join(x, 'DEBIAN/conffiles'), 'utf8')).toBe('/etc/default/knockc\n');
  });

  it('/usr/bin/knockc runs alone, through its link', () => {
    const r = spawnSync(process.execPath, [join(x, 'usr/bin/knockc'), '--version'], { encoding: 'utf8', cwd: x });
    expect(r.stdout.trim()).toBe(version);
  });

  it('the units run /usr/bin/knockc with the options of /etc/default/knockc', () => {
    const unit = (n: string): string => readFileSync(join(x, 'lib/systemd/system', n), 'utf8');
    for (const n of ['knockc.service', 'knockc-run.service', 'knockc-metrics.service']) {
      expect(unit(n)).toContain('EnvironmentFile=-/etc/default/knockc');
      expect(unit(n)).not.toContain('/usr/bin/env');
    }
    expect(unit('knockc.service')).toMatch(/^ExecStart=\/usr\/bin\/knockc apply \$KNOCKC_OPTS \/etc\/knockd\.conf$/m);
    expect(unit('knockc.service')).toMatch(/^ExecStop=\/usr\/bin\/knockc remove \$KNOCKC_REMOVE_OPTS$/m);
    expect(unit('knockc-run.service')).toMatch(/^ExecStart=\/usr\/bin\/knockc run \$KNOCKC_RUN_OPTS /m);
    // node_exporter's textfile directory on Debian (prometheus-node-exporter), written atomically by --output.
    expect(unit('knockc-metrics.service')).toMatch(/^ExecStart=\/usr\/bin\/knockc status \$KNOCKC_METRICS_OPTS --format prometheus --output \/var\/lib\/prometheus\/node-exporter\/knockc\.prom$/m);
    expect(unit('knockc-metrics.timer')).toMatch(/^OnUnitActiveSec=15s$/m);
    expect(unit('knockc-metrics.timer')).not.toContain('/usr/bin/env');
    // The guard of a host without a firewall: nft alone, no knockc options, before the network.
    expect(unit('knockc-guard.service')).toMatch(/^ExecStart=\/usr\/sbin\/nft -f \/etc\/knockc\/guard\.nft$/m);
    expect(unit('knockc-guard.service')).toMatch(/^Before=network-pre\.target /m);
    expect(unit('knockc.service')).toMatch(/^Wants=.*knockc-guard\.service/m);
    const defaults = readFileSync(join(x, 'etc/default/knockc'), 'utf8');
    for (const v of ['KNOCKC_OPTS', 'KNOCKC_REMOVE_OPTS', 'KNOCKC_RUN_OPTS', 'KNOCKC_METRICS_OPTS']) expect(defaults).toMatch(new RegExp(`^${v}=""$`, 'm'));
  });

  it('maintainer scripts never touch the firewall or a unit; purge removes only what knockc wrote', () => {
    const scripts = ['postinst', 'postrm'].map((s) => readFileSync(join(x, 'DEBIAN', s), 'utf8'));
    for (const s of ['preinst', 'prerm']) expect(existsSync(join(x, 'DEBIAN', s))).toBe(false);
    for (const text of scripts) {
      const code = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
      expect(code).not.toMatch(/(^|[\s;&|])(nft|iptables|ip6tables|knockc|deb-systemd-invoke|deb-systemd-helper|invoke-rc\.d)\b/);
      // systemctl only to read the unit files again
      for (const m of code.matchAll(/\bsystemctl\b[^\n]*/g)) expect(m[0]).toBe('systemctl --system daemon-reload >/dev/null || true');
    }
    const rms = [...scripts[1]!.matchAll(/\brm(?:dir)?\b[^\n]*/g)].map((m) => m[0]);
    expect(rms).toEqual([
      'rm -f /var/lib/knockc/pending.json /var/lib/knockc/pending.json.tmp-* /var/lib/knockc/commands.json /var/lib/knockc/commands.json.tmp-*',
      'rm -f /var/lib/prometheus/node-exporter/knockc.prom /var/lib/prometheus/node-exporter/knockc.prom.tmp-*',
      'rmdir /var/lib/knockc 2>/dev/null || true',
    ]);
  });

  it('one man page per command, with every option --help shows', () => {
    for (const cmd of [null, ...SUBCOMMANDS]) {
      const page = man(cmd ? `knockc-${cmd}` : 'knockc');
      const helpText = knockc(cmd ? [cmd, '--help'] : ['--help']).stdout;
      const flags = [...helpText.matchAll(/^ {2}((?:-\w, )?--[\w-]+)/gm)].map((m) => m[1]!);
      expect(flags.length, cmd ?? 'knockc').toBeGreaterThan(0);
      for (const f of flags) expect(page, `${cmd}: ${f}`).toContain(`.B ${f.replace(/-/g, '\\-')}`);
      if (cmd === null) for (const s of SUBCOMMANDS) expect(page).toContain(`.BR knockc\\-${s} (1)`);
      const r = spawnSync('man', ['--warnings', '-E', 'UTF-8', '-l', '-Tutf8', '-Z', '-'], { input: page, encoding: 'utf8' });
      if (r.error === undefined) expect(r.stderr, `man --warnings knockc-${cmd}`).toBe('');
    }
  });

  it('bash completes commands, options and option values', () => {
    const complete = (words: string[]): string[] => {
      const script = `source ${join(x, 'usr/share/bash-completion/completions/knockc')}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _knockc; printf '%s\\n' "\${COMPREPLY[@]}"`;
      return execFileSync('bash', ['-c', script], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
    };
    expect(complete(['knockc', 'li'])).toEqual(['lint']);
    expect(complete(['knockc', 'run', '--nflog'])).toEqual(['--nflog-group']);
    expect(complete(['knockc', 'compile', '-t', ''])).toEqual(['iptables', 'ir-json', 'nft']);
  });

  it('zsh and fish completions parse', () => {
    for (const [shell, file] of [
      ['zsh', 'usr/share/zsh/vendor-completions/_knockc'],
      ['fish', 'usr/share/fish/vendor_completions.d/knockc.fish'],
    ] as const) {
      const r = spawnSync(shell, ['-n', join(x, file)], { encoding: 'utf8' });
      if (r.error) continue; // the shell is not installed here
      expect(r.status, `${shell}: ${r.stderr}`).toBe(0);
    }
  });

  it('lintian finds no error and no warning', { timeout: 120_000 }, () => {
    const has = spawnSync('lintian', ['--version']).status === 0;
    if (!has && process.env['CI']) throw new Error('lintian is not installed (apt-get install lintian; .ci/run does)');
    if (!has) return;
    const r = spawnSync('lintian', ['--allow-root', '--tag-display-limit', '0', deb], { encoding: 'utf8' });
    expect(r.stdout.split('\n').filter((l) => /^[EW]:/.test(l))).toEqual([]);
  });
});
