/**
 * Where knockc deliberately differs from knockd 0.8, shown with real packets:
 * each test runs the same trace on the real knockd and on every knockc target
 * and asserts BOTH outcomes (so a test fails if either side stops behaving as
 * documented). The random differential scenarios (differential.test.ts) leave
 * these situations out; this file is where they are checked.
 *
 *  1. knockd forgets every attempt in progress when the oldest attempt ends
 *     (completed, invalidated or timed out): a bug in its list code
 *     (`listBug` in src/model/knockd-machine.ts). knockc keeps every source's attempt.
 *  2. seq_timeout: knockd compares whole seconds (pcap timestamps), knockc
 *     milliseconds: knockd may time a sequence out up to 1 s early, never late.
 *  3. Grants are set membership in knockc, one iptables rule copy per opening
 *     in knockd: opening twice and closing once leaves knockd's port open,
 *     knockc's closed.
 *  4. A timed opening's stop command (`sleep cmd_timeout; iptables -D ...`)
 *     deletes whatever identical rule is there then, even a later opening's:
 *     after close + re-open, knockd closes at the FIRST opening's timeout,
 *     knockc cmd_timeout after the last opening.
 *  5. knockd needs ~10-100 ms after the last knock to run its command (a SYN
 *     sent at once is dropped, and TCP retries only after 1 s); knockc's
 *     grant exists when the knock has passed the kernel.
 *  6. Standalone deployments (nft, iptables --guard) guard the granted ports
 *     themselves: closed before any knock even on a server without another
 *     firewall, where knockd's ACCEPT commands leave them open to everyone.
 *     Ports and families no door grants are not guarded (IPv6 port 22 for an
 *     IPv4-only door stays as open as the rest of the server, as with knockd).
 *  7. knockd counts every packet it captures on the interface, before any
 *     firewall; knockc counts a knock where the kernel delivers it, at the top
 *     of input (forward for a Target): a knock that another table drops in
 *     prerouting counts for knockd, not for knockc.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeLab } from './lab.js';
import { KNOCKD, KNOCKD_OPEN_SERVER, KNOCKC_TARGETS, runOnLane, startLanePool, type LanePool, type Target } from './targets.js';
import { C0, C0V6, C1, C1V6, door, seq, tcp } from './doors.js';
import { describeRun, type ProbeResult, type Trace } from './trace.js';

const TARGETS = [KNOCKD, ...KNOCKC_TARGETS];

describeLab('deliberate differences between knockd 0.8 and knockc, real packets', () => {
  let pool: LanePool;

  beforeAll(async () => {
    pool = await startLanePool(1, { targets: TARGETS, lanes: 2, clients: 2, name: 'differences' });
  });

  afterAll(async () => {
    await pool?.stop();
  });

  /** Runs the trace everywhere; knockd must give `knockd`, every knockc target its expectation. */
  async function contrast(
    config: string,
    trace: Trace,
    want: { knockd: ProbeResult[]; knockc: ProbeResult[] | ((t: Target) => ProbeResult[]) },
    opts: { deployers?: Record<string, Target> } = {},
  ): Promise<void> {
    await pool.withLane(async (lane, lab) => {
      const { run, results } = await runOnLane(lab, lane, config, trace, opts);
      const got = Object.fromEntries(TARGETS.map((t) => [t.name, results.get(t.name)]));
      const expected = Object.fromEntries(
        TARGETS.map((t) => [t.name, t.kind === 'knockd' ? want.knockd : typeof want.knockc === 'function' ? want.knockc(t) : want.knockc]),
      );
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        const out = await lane.servers.get(KNOCKD.name)!.knockdOutput();
        expect(got, `--- probes\n${describeRun(trace, run)}\n--- knockd output\n${out.trimEnd()}`).toEqual(expected);
      }
    });
  }

  test.concurrent('1: knockd forgets every attempt in progress when the oldest attempt ends; knockc does not', async () => {
    await contrast(
      door('d', '1001,1002,1003', 22, { seqTimeout: 3 }),
      {
        packets: [
          // a) client1 is mid-sequence when client0's older attempt completes
          tcp(0.3, C0, 1001),
          tcp(0.5, C1, 1001),
          tcp(0.7, C0, 1002),
          tcp(0.9, C0, 1003), // client0 opens; its attempt is the oldest
          tcp(1.3, C1, 1002), // knockd: clean-up drops client0's attempt and, with it, client1's
          tcp(1.5, C1, 1003),
          // b) the same when the oldest attempt times out (seq_timeout 3)
          tcp(3.3, C0V6, 1001), // never finished
          tcp(5.3, C1V6, 1001),
          tcp(6.5, C1V6, 1002), // knockd: client0's IPv6 attempt timed out (6 - 3 >= 3): all attempts dropped
          tcp(6.7, C1V6, 1003),
        ],
        probes: [
          { t: 3.0, src: C0, port: 22 },
          { t: 3.0, src: C1, port: 22 },
          { t: 8.5, src: C1V6, port: 22 },
        ],
      },
      { knockd: ['open', 'closed', 'closed'], knockc: ['open', 'open', 'open'] },
    );
  }, 120_000);

  test.concurrent('2: knockd counts seq_timeout in whole seconds (up to 1 s early), knockc in milliseconds', async () => {
    // 1.4 s between the knocks, but 2 - 0 = 2 whole seconds for knockd: seq_timeout 2 has passed.
    await contrast(
      door('d', '1001,1002', 22, { seqTimeout: 2 }),
      { packets: [tcp(0.8, C0, 1001), tcp(2.2, C0, 1002)], probes: [{ t: 4.0, src: C0, port: 22 }] },
      { knockd: ['closed'], knockc: ['open'] },
    );
  }, 120_000);

  test.concurrent('3: opened twice, closed once: knockd keeps a rule copy (open), knockc a set membership (closed)', async () => {
    await contrast(
      door('open', '1001,1002', 22) + door('close', '1003,1004', 22, { op: '-D' }),
      {
        packets: [...seq(0.3, C0, [1001, 1002]), ...seq(1.3, C0, [1001, 1002]), ...seq(2.3, C0, [1003, 1004])],
        probes: [
          { t: 2.1, src: C0, port: 22 },
          { t: 4.2, src: C0, port: 22 },
        ],
      },
      { knockd: ['open', 'open'], knockc: ['open', 'closed'] },
    );
  }, 120_000);

  test.concurrent("4: close, then re-open a timed door: knockd's first stop command deletes the new rule early", async () => {
    // Timed door (cmd_timeout 6) opened at 0.4 and 3.4, closed by the other door at 1.4:
    // knockd's first child runs `iptables -D` at ~6.4 and removes the rule of the second
    // opening; knockc keeps the grant until 3.4 + 6 = 9.4.
    await contrast(
      door('timed', '1001,1002', 22, { cmdTimeout: 6 }) + door('close', '1003,1004', 22, { op: '-D' }),
      {
        packets: [...seq(0.3, C0, [1001, 1002]), ...seq(1.3, C0, [1003, 1004]), ...seq(3.3, C0, [1001, 1002])],
        probes: [
          { t: 3.0, src: C0, port: 22 },
          { t: 5.0, src: C0, port: 22 },
          { t: 7.9, src: C0, port: 22 },
          { t: 10.8, src: C0, port: 22 },
        ],
      },
      { knockd: ['closed', 'open', 'closed', 'closed'], knockc: ['closed', 'open', 'open', 'closed'] },
    );
  }, 120_000);

  test.concurrent('5: a SYN sent right after the last knock: dropped with knockd (its command runs later), let in by knockc', async () => {
    // The probe goes out in the same instant as the last knock (lab-trace keeps the order).
    await contrast(
      door('d', '1001,1002,1003', 22),
      {
        packets: seq(0.3, C0, [1001, 1002, 1003], 0.05),
        probes: [
          { t: 0.4, src: C0, port: 22, timeoutMs: 700 },
          { t: 2.5, src: C0, port: 22 },
        ],
      },
      { knockd: ['closed', 'open'], knockc: ['open', 'open'] },
    );
  }, 120_000);

  test.concurrent('6: standalone deployments close the granted port themselves; knockd on an open server does not', async () => {
    // knockd runs on a server without any other firewall here (its ACCEPT rules then change nothing).
    // The door's commands are IPv4-only: knockc's nft guard (a host without a firewall, issue 16)
    // keeps IPv6 port 22 closed too; iptables --guard guards only the family it is loaded for.
    await contrast(
      door('d', '1001,1002', 22, { v4only: true }),
      {
        packets: seq(0.3, C0, [1001, 1002]),
        probes: [
          { t: 0.1, src: C0, port: 22 },
          { t: 0.1, src: C1V6, port: 22 },
          { t: 2.5, src: C0, port: 22 },
          { t: 2.5, src: C1, port: 22 },
          { t: 2.5, src: C0V6, port: 22 },
        ],
      },
      {
        knockd: ['open', 'open', 'open', 'open', 'open'],
        // Default-drop deployments (nft-into, iptables) close IPv6 port 22 themselves (their base firewall).
        knockc: (t) => (t.name === 'iptables-guard' ? ['closed', 'open', 'open', 'closed', 'open'] : ['closed', 'closed', 'open', 'closed', 'closed']),
      },
      { deployers: { [KNOCKD.name]: KNOCKD_OPEN_SERVER } },
    );
  }, 120_000);

  test.concurrent('7: a knock dropped in prerouting by another table counts for knockd (it captures before any firewall), not for knockc (it counts in input)', async () => {
    // Someone else's table drops tcp/1002 before anything else sees it (priority raw).
    const DROP = ['table inet labdrop {', '  chain pre {', '    type filter hook prerouting priority raw; policy accept;', '    tcp dport 1002 drop', '  }', '}', ''].join('\n');
    const dropFirst = (t: Target): Target => ({
      ...t,
      async deploy(server, config, opts) {
        await t.deploy(server, config, opts);
        await server.loadNft(DROP);
      },
    });
    await contrast(
      door('d', '1001,1002', 22),
      {
        packets: seq(0.3, C0, [1001, 1002]),
        probes: [
          { t: 0.1, src: C0, port: 22 },
          { t: 2.5, src: C0, port: 22 },
        ],
      },
      { knockd: ['closed', 'open'], knockc: ['closed', 'closed'] },
      { deployers: Object.fromEntries(TARGETS.map((t) => [t.name, dropFirst(t)])) },
    );
  }, 120_000);
});
