// Builds the Debian package, offline, from the built CLI:
//   npm run package      # dist/knockc_VERSION_all.deb
// What goes in it and why: docs/install.md. The man pages and the bash, zsh and fish completions
// are generated here from the command tree itself (src/program.ts: the commander definitions
// --help prints), so they cannot drift from the CLI. Maintainer scripts never touch the firewall.
import type { Command, Help, Option } from 'commander';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { packageRoot, packageVersion } from '../package.js';
import { buildProgram } from '../program.js';

const root = packageRoot();
const VERSION = packageVersion();
const DESCRIPTION = 'compiles knockd.conf port-knocking doors into nftables/iptables rules';

/** The subcommands, in --help order. */
function commands(program: Command): Command[] {
  return program.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
}

const help = (cmd: Command): Help => cmd.createHelp();

/** An option's forms and value, e.g. ["-t", "--target"], "<target>". */
function forms(o: Option): string[] {
  return [o.short, o.long].filter((x): x is string => typeof x === 'string');
}

// ------------------------------------------------------------------ man pages

/** Text for roff: backslashes, minus signs, and a line that would start with a control character. */
function roff(s: string): string {
  return s
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

function manPage(program: Command, cmd: Command | null): string {
  const c = cmd ?? program;
  const h = help(c);
  const name = cmd ? `knockc-${cmd.name()}` : 'knockc';
  const out: string[] = [];
  out.push(`.TH ${name.toUpperCase()} 1 "" "knockc ${VERSION}" "knockc manual"`);
  out.push('.SH NAME', `${roff(name)} \\- ${roff(cmd ? h.commandDescription(c) : DESCRIPTION)}`);
  out.push('.SH SYNOPSIS', `.B ${roff(cmd ? `knockc ${cmd.name()}` : 'knockc')}`, roff(c.usage()));
  out.push('.SH DESCRIPTION', roff(h.commandDescription(c)) + '.');
  const args = h.visibleArguments(c);
  if (args.length) {
    out.push('.SH ARGUMENTS');
    for (const a of args) out.push('.TP', `.I ${roff(h.argumentTerm(a))}`, roff(h.argumentDescription(a)));
  }
  if (!cmd) {
    out.push('.SH COMMANDS');
    for (const s of commands(program)) out.push('.TP', `.BR knockc\\-${s.name()} (1)`, roff(h.subcommandDescription(s)));
  }
  const opts = h.visibleOptions(c);
  if (opts.length) {
    out.push('.SH OPTIONS');
    for (const o of opts) out.push('.TP', `.B ${roff(h.optionTerm(o))}`, roff(h.optionDescription(o)));
  }
  out.push(
    '.SH FILES',
    '.TP',
    '.I /etc/knockd.conf',
    'the config the systemd units load (knockc.service, knockc\\-run.service)',
    '.TP',
    '.I /etc/default/knockc',
    'options of the systemd units',
  );
  out.push('.SH SEE ALSO', cmd ? '.BR knockc (1)' : commands(program).map((s) => `.BR knockc\\-${s.name()} (1)`).join(',\n') + ',\n.BR knockd (1)');
  return out.join('\n') + '\n';
}

// ------------------------------------------------------------------ completions

const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function bashCompletion(program: Command): string {
  const subs = commands(program);
  const lines: string[] = [
    '# bash completion for knockc (generated from its command definitions by src/tools/package.ts)',
    '_knockc() {',
    '  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd="" w',
    '  for w in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do',
    '    case $w in -*) ;; *) cmd=$w; break ;; esac',
    '  done',
    '  local words="" choices=""',
    '  case $cmd in',
    `    "") words=${sq([...subs.map((s) => s.name()), ...help(program).visibleOptions(program).flatMap(forms)].join(' '))} ;;`,
  ];
  for (const s of subs) {
    const opts = help(s).visibleOptions(s);
    lines.push(`    ${s.name()})`, `      words=${sq(opts.flatMap(forms).join(' '))}`, '      case $prev in');
    for (const o of opts) if (o.argChoices) lines.push(`        ${forms(o).join('|')}) choices=${sq(o.argChoices.join(' '))} ;;`);
    lines.push('      esac ;;');
  }
  lines.push(
    '  esac',
    '  if [[ -n $choices ]]; then COMPREPLY=($(compgen -W "$choices" -- "$cur")); return; fi',
    '  if [[ -z $cmd || $cur == -* ]]; then COMPREPLY=($(compgen -W "$words" -- "$cur")); return; fi',
    '  COMPREPLY=($(compgen -f -- "$cur"))',
    '}',
    'complete -o filenames -o bashdefault -F _knockc knockc',
  );
  return lines.join('\n') + '\n';
}

/** zsh _arguments text: no unbalanced brackets or colons in a description. */
const zdesc = (s: string): string => s.replace(/[[\]]/g, '').replace(/:/g, ' -').replace(/'/g, `'\\''`);

function zshCompletion(program: Command): string {
  const subs = commands(program);
  const spec = (o: Option): string[] => {
    const value = o.required || o.optional ? `:${zdesc(o.flags.split(' ').pop()!.replace(/[<>[\]]/g, ''))}:${o.argChoices ? `(${o.argChoices.join(' ')})` : '_files'}` : '';
    return forms(o).map((f) => `'${f}[${zdesc(o.description)}]${value}'`);
  };
  const lines = [
    '#compdef knockc',
    '# zsh completion for knockc (generated from its command definitions by src/tools/package.ts)',
    '_knockc() {',
    '  local -a cmds',
    `  cmds=(${subs.map((s) => `'${s.name()}:${zdesc(help(s).commandDescription(s))}'`).join(' ')})`,
    '  if (( CURRENT == 2 )); then',
    "    _describe 'command' cmds",
    `    _arguments ${help(program).visibleOptions(program).flatMap(spec).join(' ')}`,
    '    return',
    '  fi',
    '  shift words; (( CURRENT-- ))',
    '  case $words[1] in',
  ];
  for (const s of subs) lines.push(`    ${s.name()}) _arguments ${help(s).visibleOptions(s).flatMap(spec).join(' ')} '*:file:_files' ;;`);
  lines.push('  esac', '}', '_knockc "$@"');
  return lines.join('\n') + '\n';
}

function fishCompletion(program: Command): string {
  const subs = commands(program);
  const names = subs.map((s) => s.name()).join(' ');
  const lines = ['# fish completion for knockc (generated from its command definitions by src/tools/package.ts)', 'complete -c knockc -f'];
  const opt = (cond: string, o: Option): string => {
    const parts = [`complete -c knockc -n ${sq(cond)}`];
    if (o.short) parts.push(`-s ${o.short.slice(1)}`);
    if (o.long) parts.push(`-l ${o.long.slice(2)}`);
    if (o.required || o.optional) parts.push(o.argChoices ? `-x -a ${sq(o.argChoices.join(' '))}` : '-r -F');
    parts.push(`-d ${sq(o.description)}`);
    return parts.join(' ');
  };
  for (const s of subs) lines.push(`complete -c knockc -n '__fish_use_subcommand' -a ${s.name()} -d ${sq(help(s).commandDescription(s))}`);
  for (const o of help(program).visibleOptions(program)) lines.push(opt('__fish_use_subcommand', o));
  for (const s of subs) {
    const cond = `__fish_seen_subcommand_from ${s.name()}`;
    lines.push(`complete -c knockc -n ${sq(cond)} -F`);
    for (const o of help(s).visibleOptions(s)) lines.push(opt(cond, o));
  }
  void names;
  return lines.join('\n') + '\n';
}

// ------------------------------------------------------------------ the package

const DEFAULTS = `# Options of knockc's systemd units (like KNOCKD_OPTS in Debian's knockd package).
# After a change: systemctl restart knockc (or knockc-run). See knockc(1), docs/install.md.

# systemd splits these values at spaces: an option value with a space
# (--into "inet filter") goes in \`systemctl edit knockc\` (an ExecStart= override) instead.

# knockc.service: options of \`knockc apply\` (start, reload), e.g. KNOCKC_OPTS="--interface eth0 --log"
KNOCKC_OPTS=""

# knockc.service: options of \`knockc remove\` (stop); with --into, the same --into.
KNOCKC_REMOVE_OPTS=""

# knockc-run.service: options of \`knockc run\`, e.g. KNOCKC_RUN_OPTS="--nflog-group 4242"
KNOCKC_RUN_OPTS=""

# knockc-metrics.service (started by knockc-metrics.timer): options of knockc status,
# e.g. KNOCKC_METRICS_OPTS="--target iptables"
KNOCKC_METRICS_OPTS=""
`;

/** A unit of templates/systemd as installed: /usr/bin/knockc, options from /etc/default/knockc. */
function unit(name: string): string {
  let text = readFileSync(join(root, 'templates', 'systemd', name), 'utf8');
  const sub = (from: RegExp, to: string): void => {
    if (!from.test(text)) throw new Error(`templates/systemd/${name}: ${from} not found: update src/tools/package.ts`);
    text = text.replace(from, to);
  };
  // The comment block says how to copy the file by hand; the package has done that.
  text = text.replace(/^(#[^\n]*\n)+/, `# Installed by the knockc package. Options: /etc/default/knockc. Enable with\n#   systemctl enable --now ${name}\n`);
  sub(/^Documentation=.*$/m, name.startsWith('knockc-metrics.') ? 'Documentation=man:knockc-status(1) man:knockc(1)' : `Documentation=man:knockc(1) man:knockd(1)`);
  // The timer and the guard unit (nft alone) take no knockc options.
  if (name.endsWith('.timer') || name === 'knockc-guard.service') return text;
  sub(/^\[Service\]$/m, '[Service]\nEnvironmentFile=-/etc/default/knockc');
  sub(/\/usr\/bin\/env knockc /g, '/usr/bin/knockc ');
  if (name === 'knockc.service') {
    sub(/^(Exec(?:Start|Reload)=\/usr\/bin\/knockc apply) /gm, '$1 $KNOCKC_OPTS ');
    sub(/^(ExecStop=\/usr\/bin\/knockc remove)$/m, '$1 $KNOCKC_REMOVE_OPTS');
  } else if (name === 'knockc-metrics.service') {
    sub(/^(ExecStart=\/usr\/bin\/knockc status) /m, '$1 $KNOCKC_METRICS_OPTS ');
  } else {
    sub(/^(ExecStart=\/usr\/bin\/knockc run) /m, '$1 $KNOCKC_RUN_OPTS ');
  }
  return text;
}

const CONTROL = (size: number): string => `Package: knockc
Version: ${VERSION}
Architecture: all
Maintainer: knockc maintainers <knockc@example.org>
Installed-Size: ${size}
Depends: nodejs (>= 18.19), nftables | iptables, procps
Recommends: tcpdump
Suggests: knockd
Section: net
Priority: optional
Homepage: https://example.org/knockc
Description: ${DESCRIPTION}
 knockc reads an existing knockd.conf and compiles every door into an
 equivalent kernel-only ruleset: nftables sets with timeouts (or iptables
 recent lists), with seq_timeout and cmd_timeout enforced by the kernel. No
 daemon sniffs packets. It lints configs, explains and simulates them, loads
 and removes the rules atomically, and runs a small runtime (knockc run) only
 for what the kernel cannot do.
`;

const COPYRIGHT = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: knockc
Comment: /usr/lib/knockc/knockc.mjs also holds commander (MIT, TJ Holowaychuk),
 chevrotain (Apache-2.0, SAP SE and contributors; it bundles lodash-es, MIT)
 and Handlebars (MIT, Yehuda Katz).

Files: *
Copyright: 2026 knockc authors
License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files (the "Software"), to deal
 in the Software without restriction, including without limitation the rights
 to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in
 all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
 SOFTWARE.
`;

// Never start, stop or enable a unit: starting knockc.service loads rules, stopping it removes them.
const POSTINST = `#!/bin/sh
# knockc: never touches the firewall; the units are enabled by the admin (systemctl enable).
set -e
if [ "$1" = "configure" ] && [ -d /run/systemd/system ]; then
\tsystemctl --system daemon-reload >/dev/null || true
fi
`;

const POSTRM = `#!/bin/sh
# knockc: purge removes what knockc itself wrote (the runtime's pending stop commands and command
# counts, the metrics file), nothing else; rules still loaded stay loaded (knockc remove takes
# them out). Never touches the firewall.
set -e
if [ "$1" = "purge" ]; then
\trm -f /var/lib/knockc/pending.json /var/lib/knockc/pending.json.tmp-* /var/lib/knockc/commands.json /var/lib/knockc/commands.json.tmp-*
\trm -f /var/lib/prometheus/node-exporter/knockc.prom /var/lib/prometheus/node-exporter/knockc.prom.tmp-*
\trmdir /var/lib/knockc 2>/dev/null || true
fi
if [ -d /run/systemd/system ]; then
\tsystemctl --system daemon-reload >/dev/null || true
fi
`;

function write(path: string, text: string | Buffer, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
}

const gz = (text: string): Buffer => gzipSync(Buffer.from(text), { level: 9 }); // no name, no time: reproducible

export function buildDeb(outDir = join(root, 'dist')): string {
  const program = buildProgram();
  const stage = join(outDir, 'deb');
  rmSync(stage, { recursive: true, force: true });
  const r = (p: string): string => join(stage, p);

  mkdirSync(r('usr/lib/knockc'), { recursive: true });
  copyFileSync(join(root, 'dist', 'cli.js'), r('usr/lib/knockc/knockc.mjs'));
  chmodSync(r('usr/lib/knockc/knockc.mjs'), 0o755);
  mkdirSync(r('usr/bin'), { recursive: true });
  // An ES module is one to Node by its .mjs name: the link keeps it (docs/install.md).
  symlinkSync('../lib/knockc/knockc.mjs', r('usr/bin/knockc'));

  write(r('etc/default/knockc'), DEFAULTS);
  for (const u of ['knockc.service', 'knockc-run.service', 'knockc-guard.service', 'knockc-metrics.service', 'knockc-metrics.timer']) write(r(`lib/systemd/system/${u}`), unit(u));

  write(r('usr/share/man/man1/knockc.1.gz'), gz(manPage(program, null)));
  for (const s of commands(program)) write(r(`usr/share/man/man1/knockc-${s.name()}.1.gz`), gz(manPage(program, s)));

  write(r('usr/share/bash-completion/completions/knockc'), bashCompletion(program));
  write(r('usr/share/zsh/vendor-completions/_knockc'), zshCompletion(program));
  write(r('usr/share/fish/vendor_completions.d/knockc.fish'), fishCompletion(program));

  write(r('usr/share/doc/knockc/copyright'), COPYRIGHT);
  const date = execFileSync('git', ['log', '-1', '--format=%aD'], { cwd: root, encoding: 'utf8' }).trim() || new Date().toUTCString();
  write(r('usr/share/doc/knockc/changelog.gz'), gz(`knockc (${VERSION}) unstable; urgency=medium\n\n  * Release ${VERSION}.\n\n -- knockc maintainers <knockc@example.org>  ${date}\n`));

  const size = Math.ceil(Number(execFileSync('du', ['-sk', '--apparent-size', stage], { encoding: 'utf8' }).split('\t')[0]));
  write(r('DEBIAN/control'), CONTROL(size));
  write(r('DEBIAN/conffiles'), '/etc/default/knockc\n');
  write(r('DEBIAN/postinst'), POSTINST, 0o755);
  write(r('DEBIAN/postrm'), POSTRM, 0o755);
  const files = execFileSync('find', ['.', '-type', 'f', '!', '-path', './DEBIAN/*', '!', '-path', './etc/*'], { cwd: stage, encoding: 'utf8' }).split('\n').filter(Boolean).sort();
  const md5 = execFileSync('md5sum', files, { cwd: stage, encoding: 'utf8' }).replace(/ {2}\.\//g, '  ');
  write(r('DEBIAN/md5sums'), md5);

  const deb = join(outDir, `knockc_${VERSION}_all.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, deb], { stdio: ['ignore', 'ignore', 'inherit'] });
  rmSync(stage, { recursive: true, force: true });
  return deb;
}

// node dist/tools/package.js [OUTDIR]   (default dist/; the tests build into directories of their own)
if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(`${buildDeb(process.argv[2] ? resolve(process.argv[2]) : undefined)}\n`);
