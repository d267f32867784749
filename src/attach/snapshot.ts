// Everything detection and the mark check read from the host, in ONE process
// (a shell script printing each tool's output between markers): `knockc run`
// attaches on every reload, and a dozen process starts there delayed its stop
// commands on a loaded machine.
import { HostError, type Runner } from '../host/runner.js';

/** Each tool's standard output, or null when it failed (not installed, no such table). */
export interface HostSnapshot {
  readonly firewalldTable: boolean;
  readonly nftJson: string | null;
  readonly nftText: string | null;
  /** `${cmd}-save` output by command: iptables-nft, ip6tables-nft, iptables-legacy, ip6tables-legacy. */
  readonly iptSave: Readonly<Record<string, string | null>>;
  readonly ipRules: readonly string[];
}

/** `nft list table` of each table, and its JSON (one line each): never knockc's own, whose rules are most of a big ruleset (a rule dump costs the kernel time quadratic in a table's rules). */
const tableDumps = (tables: readonly string[], json: boolean): string =>
  tables.length ? `{ ${tables.map((t) => `nft ${json ? '-j ' : ''}list table ${t}`).join(' && ')}; }` : 'true';

const PARTS = (tables: readonly string[]): ReadonlyArray<[string, string]> => [
  ['firewalld', 'nft list table inet firewalld'],
  ['nft-json', tableDumps(tables, true)],
  ['nft-text', tableDumps(tables, false)],
  ['iptables-nft', 'iptables-nft-save'],
  ['ip6tables-nft', 'ip6tables-nft-save'],
  ['iptables-legacy', 'iptables-legacy-save'],
  ['ip6tables-legacy', 'ip6tables-legacy-save'],
  ['rule4', 'ip -4 rule show'],
  ['rule6', 'ip -6 rule show'],
];

/** The tables of the ruleset that `own` does not claim, as "FAMILY NAME" (names are nft identifiers: no quoting needed). */
export async function foreignTables(run: Runner, own: (family: string, table: string) => boolean): Promise<string[]> {
  const r = await run(['nft', 'list', 'tables']);
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => /^table (\S+) ([A-Za-z0-9_.-]+)$/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null && !own(m[1]!, m[2]!))
    .map((m) => `${m[1]} ${m[2]}`);
}

export async function readHostSnapshot(run: Runner, own: (family: string, table: string) => boolean): Promise<HostSnapshot> {
  const nonce = `KNOCKC-${Math.random().toString(36).slice(2)}`;
  const tables = await foreignTables(run, own);
  const script = PARTS(tables).map(([k, cmd]) => `echo "${nonce} ${k}"; if out=$(${cmd} 2>/dev/null); then printf '%s\\n' "$out"; echo "${nonce} ok"; else echo "${nonce} failed"; fi`).join('\n');
  const r = await run(['sh', '-c', script]);
  if (r.code !== 0) throw new HostError(`cannot read the host's firewall: ${r.stderr.trim() || `exit ${r.code}`}`, r);
  const got = new Map<string, string | null>();
  let key: string | null = null;
  let lines: string[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith(`${nonce} `)) {
      if (key) lines.push(line);
      continue;
    }
    const word = line.slice(nonce.length + 1);
    if (word === 'ok' || word === 'failed') {
      if (key) got.set(key, word === 'ok' ? lines.join('\n') : null);
      key = null;
    } else {
      key = word;
      lines = [];
    }
  }
  const save = (k: string): string | null => got.get(k) ?? null;
  return {
    firewalldTable: got.get('firewalld') != null,
    nftJson: save('nft-json'),
    nftText: save('nft-text'),
    iptSave: Object.fromEntries(['iptables-nft', 'ip6tables-nft', 'iptables-legacy', 'ip6tables-legacy'].map((k) => [k, save(k)])),
    ipRules: [save('rule4') ?? '', save('rule6') ?? ''].join('\n').split('\n').filter(Boolean),
  };
}
