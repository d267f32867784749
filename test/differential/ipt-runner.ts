// Runs a batch of command lines the way knockd runs them (`/bin/sh -c LINE`, %IP% already
// replaced) in ONE throwaway network + mount namespace per iptables variant, one shell script
// per batch. In the namespace:
//   - /etc/alternatives is a private copy whose iptables, ip6tables, *-save, *-restore point at
//     the variant under test, so `iptables`, `/sbin/iptables`, `/usr/sbin/iptables` are that
//     variant whatever the host selected (checked at start: the script stops if not);
//   - /usr/bin, /usr/local/sbin, /usr/local/bin get iptables and ip6tables (overlays), so every
//     standard system directory holds the tools, as on a host where they are installed there
//     (with their -legacy and -nft names; Debian 12 has them only in /usr/sbin);
//   - the xtables lock is a private file (XTABLES_LOCKFILE), so the host's and the other
//     variant's legacy iptables never make a command wait or fail.
// Per execution: every nft table and the legacy filter and mangle tables of both families are
// emptied, the initial state is loaded with canonical commands, the line runs, its exit status
// is recorded, and iptables-save / ip6tables-save of BOTH backends are dumped.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Variant = 'nft' | 'legacy';
/** What the runner needs on the host (netns-env's netnsReady). */
export const DIFF_TOOLS = ['unshare', 'mount', 'nft', 'iptables-nft', 'ip6tables-nft', 'iptables-legacy', 'ip6tables-legacy', 'iptables-nft-save', 'iptables-legacy-save', 'iptables-legacy-restore'];
export const VARIANTS: readonly Variant[] = ['nft', 'legacy'];
export const STANDARD_DIRS_EMULATED = ['/usr/bin', '/usr/local/sbin', '/usr/local/bin'] as const;

export interface Execution {
  readonly id: number;
  /** The line as knockd runs it (%IP% replaced). */
  readonly line: string;
  /** Canonical commands loading the initial state (bare iptables / ip6tables: the variant). */
  readonly init: readonly string[];
}

export interface Dumps {
  readonly nft4: string;
  readonly nft6: string;
  readonly leg4: string;
  readonly leg6: string;
}

export interface ExecResult {
  readonly id: number;
  readonly rc: number;
  /** stdout and stderr of the line. */
  readonly out: string;
  /** Initial-state commands that failed (a harness error). */
  readonly initFailed: readonly string[];
  readonly dumps: Dumps;
}

export function shq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

function prelude(variant: Variant, dir: string): string {
  const d = shq(dir);
  const backend = variant === 'nft' ? 'nft' : 'legacy';
  const emptyTables = (fam: string): string =>
    `printf '*filter\\n:INPUT ACCEPT [0:0]\\n:FORWARD ACCEPT [0:0]\\n:OUTPUT ACCEPT [0:0]\\nCOMMIT\\n*mangle\\n:PREROUTING ACCEPT [0:0]\\n:INPUT ACCEPT [0:0]\\n:FORWARD ACCEPT [0:0]\\n:OUTPUT ACCEPT [0:0]\\n:POSTROUTING ACCEPT [0:0]\\nCOMMIT\\n' > $D/empty${fam}`;
  return `
D=${d}
set -u
fatal() { echo "@@fatal $*"; exit 3; }
mount -t tmpfs tmpfs "$D" || fatal "tmpfs on $D"
mkdir "$D/alt" || fatal mkdir
cp -a /etc/alternatives/. "$D/alt/" || fatal "copy of /etc/alternatives"
for t in iptables ip6tables; do
  ln -sfn /usr/sbin/$t-${backend} "$D/alt/$t" && ln -sfn /usr/sbin/$t-${backend}-save "$D/alt/$t-save" && ln -sfn /usr/sbin/$t-${backend}-restore "$D/alt/$t-restore" || fatal "alternative $t"
done
mount --bind "$D/alt" /etc/alternatives || fatal "bind /etc/alternatives"
n=0
for sd in ${STANDARD_DIRS_EMULATED.join(' ')}; do
  n=$((n+1)); mkdir -p "$D/up$n" "$D/work$n"
  for t in iptables ip6tables iptables-legacy ip6tables-legacy iptables-nft ip6tables-nft; do [ -e "$sd/$t" ] || ln -s /usr/sbin/$t "$D/up$n/$t"; done
  mount -t overlay overlay -o "lowerdir=$sd,upperdir=$D/up$n,workdir=$D/work$n" "$sd" || fatal "overlay on $sd"
done
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C XTABLES_LOCKFILE="$D/xtables.lock"
for p in iptables ip6tables /sbin/iptables /usr/sbin/ip6tables /usr/bin/iptables /usr/local/sbin/ip6tables /usr/local/bin/iptables iptables-save ip6tables-save; do
  v=$($p --version 2>&1) || fatal "$p --version: $v"
  case "$v" in *'(${variant === 'nft' ? 'nf_tables' : 'legacy'})'*) ;; *) fatal "$p is not the ${variant} variant: $v";; esac
done
${emptyTables('4')}
${emptyTables('6')}
reset() { nft flush ruleset; iptables-legacy-restore < "$D/empty4"; ip6tables-legacy-restore < "$D/empty6"; }
echo "@@ready"
`;
}

function execScript(e: Execution): string {
  const init = e.init.map((c) => `${c} >/dev/null 2>&1 || echo ${shq(`@@initfail ${c}`)}`).join('\n');
  return `reset
echo "@@case ${e.id}"
${init}
echo "@@out"
/bin/sh -c ${shq(e.line)} </dev/null 2>&1
rc=$?
echo
echo "@@rc $rc"
echo "@@nft4"; iptables-nft-save 2>&1
echo "@@nft6"; ip6tables-nft-save 2>&1
echo "@@leg4"; iptables-legacy-save 2>&1
echo "@@leg6"; ip6tables-legacy-save 2>&1
echo "@@end"
`;
}

/** The shell script for a batch (exported for inspection). */
export function batchScript(variant: Variant, dir: string, execs: readonly Execution[]): string {
  return `${prelude(variant, dir)}${execs.map(execScript).join('')}echo "@@done"\n`;
}

export function parseBatch(stdout: string): ExecResult[] {
  const fatal = /^@@fatal (.*)$/m.exec(stdout);
  if (fatal !== null) throw new Error(`the namespace set-up failed: ${fatal[1]}`);
  if (!stdout.includes('@@ready')) throw new Error(`the namespace set-up did not finish:\n${stdout.slice(0, 2000)}`);
  const results: ExecResult[] = [];
  for (const chunk of stdout.split('\n@@case ').slice(1)) {
    const id = Number(chunk.slice(0, chunk.indexOf('\n')));
    const sec = (name: string, next: string): string => {
      const a = chunk.indexOf(`\n@@${name}\n`);
      const b = chunk.indexOf(`\n@@${next}`, a + 1);
      if (a < 0 || b < 0) throw new Error(`case ${id}: no section ${name} in:\n${chunk.slice(0, 3000)}`);
      return chunk.slice(a + name.length + 4, b + 1);
    };
    const rcm = /\n@@rc (\d+)\n/.exec(chunk);
    if (rcm === null || !chunk.includes('\n@@end')) throw new Error(`case ${id} incomplete:\n${chunk.slice(0, 3000)}`);
    const head = chunk.slice(0, chunk.indexOf('\n@@out\n'));
    const initFailed = [...head.matchAll(/^@@initfail (.*)$/gm)].map((m) => m[1] as string);
    const outRaw = sec('out', 'rc ');
    results.push({
      id,
      rc: Number(rcm[1]),
      out: outRaw.replace(/\n\n$/, '\n').trimEnd(),
      initFailed,
      dumps: { nft4: sec('nft4', 'nft6'), nft6: sec('nft6', 'leg4'), leg4: sec('leg4', 'leg6'), leg6: sec('leg6', 'end') },
    });
  }
  return results;
}

/** Runs the batch for one variant in a fresh `unshare -m -n` (one process tree for the batch). */
export async function runBatch(variant: Variant, execs: readonly Execution[], timeoutMs = 900_000): Promise<ExecResult[]> {
  const dir = mkdtempSync(join(tmpdir(), `knockc-diff-${variant}-`));
  const ns = join(dir, 'ns');
  try {
    writeFileSync(join(dir, 'batch.sh'), batchScript(variant, ns, execs));
    mkdirSync(ns);
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = spawn('unshare', ['-m', '-n', '/bin/sh', join(dir, 'batch.sh')], { stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${variant} batch of ${execs.length} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        const text = Buffer.concat(out).toString('utf8');
        if (code !== 0 && !text.includes('@@fatal')) {
          reject(new Error(`${variant} batch exited ${code}: ${Buffer.concat(err).toString('utf8').slice(0, 2000)}`));
        } else resolve(text);
      });
    });
    const results = parseBatch(stdout);
    if (!stdout.includes('\n@@done') || results.length !== execs.length) {
      throw new Error(`${variant} batch: ${results.length} of ${execs.length} cases reported`);
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
