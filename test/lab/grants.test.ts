/**
 * Issue 14 with real packets: command lines whose outcome depends on the shell's control
 * flow and on which commands fail for the knocker's family, run by the real knockd (which
 * runs the real iptables through /bin/sh) and compiled by every knockc target. Each knock
 * comes from an IPv4 and an IPv6 source; the protected ports must be open or closed for
 * each exactly as after knockd's commands.
 *
 * Every config also has a door, never knocked, granting both protected ports, so that the
 * standalone targets guard them (a port no door grants is left to the host firewall). The
 * sources knock one after the other: knockd forgets every attempt when one ends (listBug in
 * src/model/knockd-machine.ts).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeLab } from './lab.js';
import { KNOCKD, KNOCKC_TARGETS, mismatches, runOnLane, startLanePool, type LanePool } from './targets.js';
import { C0, C0V6, C1, C1V6, seq } from './doors.js';
import { describeRun, type ProbeResult, type Trace } from './trace.js';

const TARGETS = [KNOCKD, ...KNOCKC_TARGETS];

const ipt = (tool: 'iptables' | 'ip6tables', op: string, port: number, dport = '--dport '): string =>
  `/usr/sbin/${tool} ${op} INPUT -s %IP% -p tcp ${dport}${port} -j ACCEPT`;

/** A door with one start command line; `guarded` adds the never-knocked door granting 22 and 2222. */
function config(doors: ReadonlyArray<{ name: string; sequence: string; start: string }>): string {
  const all = [
    ...doors,
    {
      name: 'guard',
      sequence: '4001,4002,4003',
      start: `${ipt('iptables', '-A', 22)}; ${ipt('iptables', '-A', 2222)}; ${ipt('ip6tables', '-A', 22)}; ${ipt('ip6tables', '-A', 2222)}`,
    },
  ];
  return all.map((d) => `[${d.name}]\nsequence = ${d.sequence}\nseq_timeout = 5\nstart_command = ${d.start}\n`).join('');
}

/** Door 1 (1001-1003, port 22) from c0 then c0v6, door 2 (2001-2003, port 2222) from c1 then c1v6; probes: 22 c0, 22 c0v6, 2222 c1, 2222 c1v6. */
const TRACE: Trace = {
  packets: [...seq(0.3, C0, [1001, 1002, 1003]), ...seq(1.3, C0V6, [1001, 1002, 1003]), ...seq(2.3, C1, [2001, 2002, 2003]), ...seq(3.3, C1V6, [2001, 2002, 2003])],
  probes: [
    { t: 5.5, src: C0, port: 22 },
    { t: 5.5, src: C0V6, port: 22 },
    { t: 5.5, src: C1, port: 2222 },
    { t: 5.5, src: C1V6, port: 2222 },
  ],
};

describeLab('issue 14: what a command line opens, per family, on knockd and every knockc target', () => {
  let pool: LanePool;

  beforeAll(async () => {
    pool = await startLanePool(1, { targets: TARGETS, lanes: 2, clients: 2, name: 'grants' });
  });

  afterAll(async () => {
    await pool?.stop();
  });

  async function check(text: string, trace: Trace, expected: ProbeResult[]): Promise<void> {
    expect(expected).toHaveLength(trace.probes.length);
    await pool.withLane(async (lane, lab) => {
      const { run, results } = await runOnLane(lab, lane, text, trace);
      const problems = TARGETS.flatMap((t) => mismatches(trace, results, expected, t.name));
      if (problems.length) {
        const out = await lane.servers.get(KNOCKD.name)!.knockdOutput();
        throw new Error(`${problems.join('\n')}\n--- config\n${text}--- probes\n${describeRun(trace, run)}\n--- knockd output\n${out.trimEnd()}`);
      }
    });
  }

  test.concurrent('`iptables ... && ip6tables ...` opens for IPv4 only; `iptables ... || ip6tables ...` for both', async () => {
    await check(
      config([
        { name: 'and', sequence: '1001,1002,1003', start: `${ipt('iptables', '-I', 22)} && ${ipt('ip6tables', '-I', 22)}` },
        { name: 'or', sequence: '2001,2002,2003', start: `${ipt('iptables', '-A', 2222)} || ${ipt('ip6tables', '-A', 2222)}` },
      ]),
      TRACE,
      ['open', 'closed', 'open', 'open'],
    );
  }, 180_000);

  test.concurrent('an add then a delete of the same rule opens nothing; --dport=N is read like --dport N', async () => {
    await check(
      config([
        { name: 'addel', sequence: '1001,1002,1003', start: `${ipt('iptables', '-I', 22)}; ${ipt('iptables', '-D', 22)}; ${ipt('ip6tables', '-I', 22)}; ${ipt('ip6tables', '-D', 22)}` },
        { name: 'eq', sequence: '2001,2002,2003', start: `${ipt('iptables', '-A', 2222, '--dport=')}; ${ipt('ip6tables', '-A', 2222, '--dport=')}` },
      ]),
      TRACE,
      ['closed', 'closed', 'open', 'open'],
    );
  }, 180_000);
});
