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

const PARTS: ReadonlyArray<[string, string]> = [
  ['firewalld', 'nft list table inet firewalld'],
  ['nft-json', 'nft -j list ruleset'],
  ['nft-text', 'nft list ruleset'],
  ['iptables-nft', 'iptables-nft-save'],
  ['ip6tables-nft', 'ip6tables-nft-save'],
  ['iptables-legacy', 'iptables-legacy-save'],
  ['ip6tables-legacy', 'ip6tables-legacy-save'],
  ['rule4', 'ip -4 rule show'],
  ['rule6', 'ip -6 rule show'],
];

export async function readHostSnapshot(run: Runner): Promise<HostSnapshot> {
  const nonce = `KNOCKC-${Math.random().toString(36).slice(2)}`;
  const script = PARTS.map(([k, cmd]) => `echo "${nonce} ${k}"; if out=$(${cmd} 2>/dev/null); then printf '%s\\n' "$out"; echo "${nonce} ok"; else echo "${nonce} failed"; fi`).join('\n');
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
