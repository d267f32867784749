// firewalld (nftables backend) decides in its own table inet firewalld, where an
// accept from any other table is not final. What firewalld itself honours for a
// mark (checked against the real firewalld 1.3.3, test/lab/attach-firewalld.test.ts):
// an ipset of type hash:ip,mark, used by a rich rule of a policy from ANY zone to
// HOST, which every zone's chain consults first. Saved in firewalld's permanent
// configuration: `firewall-cmd --reload` and a restart keep it.
//   ipset knockc4: 0.0.0.0/0,MARK (any IPv4 source with exactly MARK)
//   ipset knockc6: empty: firewalld refuses ::/0 in an entry, so knockc adds the
//                  element to firewalld's nft set at run time; a reload empties it
//                  (IPv6 grants are then closed) until knockc apply adds it again.
//   policy knockc: priority -100, rules "source ipset=knockc4 accept" (and knockc6)
// firewalld compares the WHOLE mark: a packet that another tool also marked does
// not match (closed, never open).
import { HostError, type Runner } from '../host/runner.js';
import type { Hook } from '../model/grant.js';
import { markHex, type Mark } from '../model/mark.js';
import type { HostPaths } from './paths.js';
import { readHostFile, removeHostFile, writeHostFile } from './host-files.js';

export const FW_POLICY = 'knockc';
export const FW_IPSET4 = 'knockc4';
export const FW_IPSET6 = 'knockc6';

const ipset4Xml = (m: Mark): string =>
  `<?xml version="1.0" encoding="utf-8"?>\n<ipset type="hash:ip,mark">\n  <short>knockc IPv4</short>\n  <description>Packets knockc's grants marked (knockc remove --purge takes this out).</description>\n  <entry>0.0.0.0/0,${markHex(m)}</entry>\n</ipset>\n`;
const ipset6Xml = `<?xml version="1.0" encoding="utf-8"?>\n<ipset type="hash:ip,mark">\n  <short>knockc IPv6</short>\n  <description>Packets knockc's grants marked; knockc adds ::/0 at run time (knockc remove --purge takes this out).</description>\n  <option name="family" value="inet6"/>\n</ipset>\n`;
const policyXml = `<?xml version="1.0" encoding="utf-8"?>\n<policy priority="-100" target="CONTINUE">\n  <short>knockc</short>\n  <description>Accepts the packets knockc's grants marked (knockc remove --purge takes this out).</description>\n  <rule family="ipv4">\n    <source ipset="${FW_IPSET4}"/>\n    <accept/>\n  </rule>\n  <rule family="ipv6">\n    <source ipset="${FW_IPSET6}"/>\n    <accept/>\n  </rule>\n  <ingress-zone name="ANY"/>\n  <egress-zone name="HOST"/>\n</policy>\n`;

async function fw(run: Runner, args: string[]): Promise<string> {
  const r = await run(['firewall-cmd', ...args]);
  if (r.code !== 0) throw new HostError(`\`firewall-cmd ${args.join(' ')}\` failed: ${(r.stderr.trim() || r.stdout.trim() || `exit ${r.code}`).split('\n')[0]}`, r);
  return r.stdout;
}

/** Is the permanent configuration there with this mark? */
async function permanentState(run: Runner, p: HostPaths, m: Mark): Promise<'absent' | 'ours' | 'other-mark'> {
  const pol = await readHostFile(run, `${p.firewalld}/policies/${FW_POLICY}.xml`);
  const set4 = await readHostFile(run, `${p.firewalld}/ipsets/${FW_IPSET4}.xml`);
  const set6 = await readHostFile(run, `${p.firewalld}/ipsets/${FW_IPSET6}.xml`);
  if (pol === null && set4 === null && set6 === null) return 'absent';
  if (pol !== null && set6 !== null && set4?.includes(`0.0.0.0/0,${markHex(m)}<`)) return 'ours';
  return 'other-mark';
}

/** Is firewalld's running ruleset using the policy, and does its IPv6 set hold ::/0 with the mark? */
async function runtimeState(run: Runner, m: Mark): Promise<{ policy: boolean; v6: boolean }> {
  const set4 = await run(['nft', 'list', 'set', 'inet', 'firewalld', FW_IPSET4]);
  const chain = await run(['nft', 'list', 'chain', 'inet', 'firewalld', `filter_IN_policy_${FW_POLICY}_allow`]);
  const set6 = await run(['nft', 'list', 'set', 'inet', 'firewalld', FW_IPSET6]);
  const h = markHex(m);
  return { policy: set4.code === 0 && set4.stdout.includes(`0.0.0.0/0 . ${h}`) && chain.code === 0, v6: set6.code === 0 && set6.stdout.includes(`::/0 . ${h}`) };
}

/** Deletes the policy first, then the ipsets (a policy naming a missing ipset fails firewalld's reload, which leaves the host open). */
async function deletePermanent(run: Runner, p: HostPaths): Promise<void> {
  const files = [`${p.firewalld}/policies/${FW_POLICY}.xml`, `${p.firewalld}/ipsets/${FW_IPSET4}.xml`, `${p.firewalld}/ipsets/${FW_IPSET6}.xml`];
  // firewall-cmd keeps a deleted object's file as NAME.xml.old: remove those it makes, no other.
  const oldBefore = await Promise.all(files.map(async (f) => (await readHostFile(run, `${f}.old`)) !== null));
  if ((await readHostFile(run, files[0]!)) !== null) await fw(run, ['--permanent', `--delete-policy=${FW_POLICY}`]);
  for (const [i, name] of [FW_IPSET4, FW_IPSET6].entries()) if ((await readHostFile(run, files[i + 1]!)) !== null) await fw(run, ['--permanent', `--delete-ipset=${name}`]);
  for (const [i, f] of files.entries()) if (!oldBefore[i]) await removeHostFile(run, `${f}.old`);
}

async function createPermanent(run: Runner, p: HostPaths, m: Mark): Promise<void> {
  const files: Array<[string, string, string]> = [
    ['--new-ipset-from-file', FW_IPSET4, ipset4Xml(m)],
    ['--new-ipset-from-file', FW_IPSET6, ipset6Xml],
    ['--new-policy-from-file', FW_POLICY, policyXml],
  ];
  for (const [flag, name, xml] of files) {
    const path = `${p.knockc}/firewalld-${name}.xml`;
    await writeHostFile(run, path, xml, { mkdir: true });
    try {
      await fw(run, ['--permanent', `${flag}=${path}`, `--name=${name}`]);
    } finally {
      await removeHostFile(run, path);
    }
  }
  // A configuration firewalld cannot load would leave the host without its firewall at reload.
  const check = await run(['firewall-cmd', '--check-config']);
  if (check.code !== 0) {
    await deletePermanent(run, p);
    throw new HostError(`firewalld's configuration check failed after adding knockc's policy (taken out again): ${check.stderr.trim() || check.stdout.trim()}`, check);
  }
}

export async function ensureFirewalld(run: Runner, p: HostPaths, hooks: readonly Hook[], mark: Mark, dryRun: boolean): Promise<string[]> {
  const done: string[] = hooks.includes('forward') ? ['note: firewalld: grants on FORWARD are not attached (their doors stay closed); only input is'] : [];
  const perm = await permanentState(run, p, mark);
  let rt = await runtimeState(run, mark);
  if (perm !== 'ours' || !rt.policy) {
    if (dryRun) {
      done.push(`would ${perm === 'absent' ? 'add' : 'replace'} firewalld's permanent policy ${FW_POLICY} (ipsets ${FW_IPSET4}, ${FW_IPSET6}: mark ${markHex(mark)}) and reload firewalld (which drops its runtime-only changes)`);
      return done;
    }
    if (perm !== 'ours') {
      if (perm === 'other-mark') await deletePermanent(run, p);
      await createPermanent(run, p, mark);
    }
    await fw(run, ['--reload']);
    done.push(`${perm === 'ours' ? 'loaded' : 'added'} firewalld's permanent policy ${FW_POLICY} (ipsets ${FW_IPSET4}, ${FW_IPSET6}; mark ${markHex(mark)}) and reloaded firewalld`);
    rt = await runtimeState(run, mark);
  }
  if (!rt.v6) {
    if (dryRun) done.push(`would add ::/0 . ${markHex(mark)} to firewalld's set ${FW_IPSET6} (IPv6; a firewalld reload empties it)`);
    else {
      const r = await run(['nft', 'add', 'element', 'inet', 'firewalld', FW_IPSET6, `{ ::/0 . ${markHex(mark)} }`]);
      if (r.code !== 0) throw new HostError(`cannot add the IPv6 element to firewalld's set ${FW_IPSET6}: ${r.stderr.trim()}`, r);
      done.push(`added ::/0 . ${markHex(mark)} to firewalld's set ${FW_IPSET6} (IPv6; a firewalld reload empties it until knockc apply adds it again)`);
    }
  }
  return done;
}

export async function purgeFirewalld(run: Runner, p: HostPaths, dryRun: boolean): Promise<string[]> {
  if ((await permanentState(run, p, { bits: 1 })) === 'absent') return [];
  if (dryRun) return [`would delete firewalld's policy ${FW_POLICY} and ipsets ${FW_IPSET4}, ${FW_IPSET6}, and reload firewalld`];
  await deletePermanent(run, p);
  const running = (await run(['firewall-cmd', '--state'])).code === 0;
  if (running) await fw(run, ['--reload']);
  return [`deleted firewalld's policy ${FW_POLICY} and ipsets ${FW_IPSET4}, ${FW_IPSET6}${running ? ' and reloaded firewalld' : ''}`];
}
