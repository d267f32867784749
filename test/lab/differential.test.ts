/**
 * Differential testing against the REAL knockd 0.8: the same knockd.conf, the
 * same timed packets (sent at once to every server of a lane), the same
 * connection probes; knockd runs its iptables commands behind a default-drop
 * firewall, every knockc target runs its compiled rules. Every probe must give
 * the same result everywhere, and the result the knockd model predicts.
 *
 *   CI=true npx vitest run test/lab/differential.test.ts      # 30 random scenarios, fresh seed
 *   KNOCKC_SEED=123 npx vitest run test/lab/differential.test.ts   # the same scenarios again
 *   KNOCKC_SEED=123 KNOCKC_SCENARIO=7 npx vitest run test/lab/differential.test.ts   # just one
 *   npm run test:differential -- --count 200 [--seed S] [--labs 3]
 *
 * Environment: KNOCKC_DIFF_COUNT (default 30), KNOCKC_DIFF_LABS (labs of 2 lanes
 * each, default 2), KNOCKC_SEED, KNOCKC_SCENARIO.
 * Scenario generation, and what is kept out of it on purpose, is in scenarios.ts;
 * the known differences have their own tests in differences.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { describeLab, type Lab } from './lab.js';
import { describeScenario, generateScenario, newSeed, SCENARIO_MAX_LATE_MS, type Scenario } from './scenarios.js';
import { KNOCKD, KNOCKC_TARGETS, mismatches, runOnLane, startLanePool, type Lane, type LanePool } from './targets.js';
import { C0, C0V6, C1, C1V6, door, iptRule, seq } from './doors.js';
import { describeRun, type Trace } from './trace.js';

const seed = process.env['KNOCKC_SEED'] ? Number(process.env['KNOCKC_SEED']) >>> 0 : newSeed();
const count = Number(process.env['KNOCKC_DIFF_COUNT'] ?? 30);
const only = process.env['KNOCKC_SCENARIO'];
const nLabs = Number(process.env['KNOCKC_DIFF_LABS'] ?? 2);
const indices = only !== undefined && only !== '' ? only.split(',').map(Number) : Array.from({ length: count }, (_, i) => i);

console.info(
  `[differential] seed ${seed}: ${indices.length} random scenario(s) on knockd + ${KNOCKC_TARGETS.map((t) => t.name).join(', ')}` +
    ` (re-run with KNOCKC_SEED=${seed})`,
);

const TARGETS = [KNOCKD, ...KNOCKC_TARGETS];
/** Summary printed at the end: what the random scenarios covered. */
const stats = { scenarios: 0, packets: 0, openings: 0, probes: 0, openProbes: 0, candidates: 0, rejected: {} as Record<string, number> };

/** Runs a scenario and checks every target against knockd (and knockd against `expected`). */
async function differential(
  lab: Lab,
  lane: Lane,
  name: string,
  config: string,
  trace: Trace,
  expected: readonly string[] | null,
  context: string,
  maxLateMs?: number,
): Promise<void> {
  const { run, results } = await runOnLane(lab, lane, config, trace, maxLateMs ? { maxLateMs } : {});
  const oracle = results.get(KNOCKD.name)!;
  const problems: string[] = [];
  for (const t of KNOCKC_TARGETS) {
    const m = mismatches(trace, results, oracle, t.name);
    if (m.length) problems.push(`${t.name} disagrees with knockd:\n    ${m.join('\n    ')}`);
  }
  if (expected) {
    const m = mismatches(trace, results, expected as typeof oracle, KNOCKD.name);
    if (m.length) problems.push(`knockd disagrees with the knockd model:\n    ${m.join('\n    ')}`);
  }
  if (problems.length) {
    const knockdOut = await lane.servers.get(KNOCKD.name)!.knockdOutput();
    throw new Error(
      `${name}: ${problems.join('\n')}\n\n${context}\n--- probes (max lateness ${run.maxLateMs} ms)\n${describeRun(trace, run)}\n` +
        `--- knockd output\n${knockdOut.trimEnd()}`,
    );
  }
  expect(problems).toEqual([]);
}

describeLab('differential: knockd 0.8 vs every knockc target, real packets', () => {
  let pool: LanePool;

  beforeAll(async () => {
    pool = await startLanePool(nLabs, { targets: TARGETS, lanes: 2, clients: 2, name: 'diff' });
  });

  afterAll(async () => {
    await pool?.stop();
    if (stats.scenarios) {
      console.info(
        `[differential] seed ${seed}: ${stats.scenarios} random scenario(s) passed: ${stats.packets} packets, ${stats.openings} openings, ` +
          `${stats.probes} probes x ${TARGETS.length} servers (${stats.openProbes} expected open); ${stats.candidates} candidates generated, ` +
          `rejected: ${JSON.stringify(stats.rejected)}`,
      );
    }
  });

  describe('hand-written scenarios', () => {
    test.concurrent('openSSH/closeSSH doors, two clients, both families', async () => {
      const config = [
        '[openSSH]',
        'sequence = 1001,1002,1003',
        'seq_timeout = 5',
        'tcpflags = syn',
        `command = ${iptRule('-A', 22)}`,
        `command_6 = ${iptRule('-A', 22, true)}`,
        '[closeSSH]',
        'sequence = 1003,1002,1001',
        'seq_timeout = 5',
        'tcpflags = syn',
        `command = ${iptRule('-D', 22)}`,
        `command_6 = ${iptRule('-D', 22, true)}`,
        '',
      ].join('\n');
      const trace: Trace = {
        packets: [...seq(0.3, C0, [1001, 1002, 1003], 0.2), ...seq(1.3, C1V6, [1001, 1002, 1003], 0.2), ...seq(4.3, C0, [1003, 1002, 1001], 0.2)],
        probes: [
          { t: 0.1, src: C0, port: 22 },
          { t: 3.0, src: C0, port: 22 },
          { t: 3.5, src: C1V6, port: 22 },
          { t: 3.5, src: C1, port: 22 },
          { t: 3.5, src: C0V6, port: 22 },
          { t: 6.5, src: C0, port: 22 },
          { t: 6.5, src: C1V6, port: 22 },
        ],
      };
      const expected = ['closed', 'open', 'open', 'closed', 'closed', 'closed', 'open'];
      await pool.withLane((lane, lab) => differential(lab, lane, 'openSSH/closeSSH', config, trace, expected, config));
    }, 120_000);

    test.concurrent('timed door re-knocked, udp knock, a wrong knock and a flag mismatch in between', async () => {
      const config = door('timed', '1001:udp,1002,1003', 2222, { seqTimeout: 4, flags: 'syn,!ack', cmdTimeout: 4 });
      const trace: Trace = {
        packets: [
          // c0: opens at 0.7, re-opens at 3.7 (grant until 7.7)
          { t: 0.3, src: C0, proto: 'udp', port: 1001 },
          { t: 0.5, src: C0, proto: 'tcp', port: 1002, flags: 'SA' }, // flags mismatch: ignored
          { t: 0.6, src: C0, proto: 'tcp', port: 1002 },
          { t: 0.7, src: C0, proto: 'tcp', port: 1003 },
          { t: 3.3, src: C0, proto: 'udp', port: 1001 },
          { t: 3.5, src: C0, proto: 'tcp', port: 1002 },
          { t: 3.7, src: C0, proto: 'tcp', port: 1003 },
          // c1: a wrong knock (udp 1001 again) ruins its attempt
          { t: 0.4, src: C1, proto: 'udp', port: 1001 },
          { t: 0.55, src: C1, proto: 'udp', port: 1001 },
          { t: 0.65, src: C1, proto: 'tcp', port: 1002 },
          { t: 0.75, src: C1, proto: 'tcp', port: 1003 },
        ],
        probes: [
          { t: 2.5, src: C0, port: 2222 },
          { t: 2.5, src: C1, port: 2222 },
          { t: 6.0, src: C0, port: 2222 },
          { t: 9.2, src: C0, port: 2222 },
        ],
      };
      const expected = ['open', 'closed', 'open', 'closed'];
      await pool.withLane((lane, lab) => differential(lab, lane, 'timed re-knock', config, trace, expected, config));
    }, 120_000);

    test.concurrent('two doors sharing a first knock, two grant ports, interleaved sources', async () => {
      const config = door('a', '1001,1002', 22) + door('b', '1001,1003:udp', 2222, { cmdTimeout: 3 });
      // knockd forgets every attempt when the OLDEST attempt ends (differences.test.ts):
      // here every source's attempt ends before the next source's next knock.
      const trace: Trace = {
        packets: [
          { t: 0.3, src: C0, proto: 'tcp', port: 1001 },
          { t: 0.4, src: C0, proto: 'tcp', port: 1002 },
          { t: 0.7, src: C1, proto: 'tcp', port: 1001 },
          { t: 0.8, src: C1, proto: 'udp', port: 1003 },
          { t: 1.1, src: C1V6, proto: 'tcp', port: 1001 },
          { t: 1.2, src: C1V6, proto: 'tcp', port: 1004 }, // in no sequence: invisible
          { t: 1.4, src: C1V6, proto: 'tcp', port: 1002 },
        ],
        probes: [
          { t: 3.0, src: C0, port: 22 },
          { t: 3.0, src: C0, port: 2222 },
          { t: 3.0, src: C1, port: 22 },
          { t: 3.0, src: C1V6, port: 22 },
          { t: 3.0, src: C1V6, port: 2222 },
          { t: 2.4, src: C1, port: 2222 },
          { t: 5.1, src: C1, port: 2222 },
        ],
      };
      const expected = ['open', 'closed', 'closed', 'open', 'closed', 'open', 'closed'];
      await pool.withLane((lane, lab) => differential(lab, lane, 'shared first knock', config, trace, expected, config));
    }, 120_000);
  });

  describe(`random scenarios (seed ${seed}, KNOCKC_SEED=${seed} re-runs them)`, () => {
    for (const i of indices) {
      test.concurrent(`random #${i} (KNOCKC_SEED=${seed} KNOCKC_SCENARIO=${i})`, async () => {
        const s: Scenario = generateScenario(seed, i);
        await pool.withLane((lane, lab) =>
          differential(lab, lane, `random #${i}`, s.config, s.trace, s.expected, describeScenario(s), SCENARIO_MAX_LATE_MS),
        );
        stats.scenarios++;
        stats.packets += s.trace.packets.length;
        stats.openings += s.openings;
        stats.probes += s.trace.probes.length;
        stats.openProbes += s.expected.filter((e) => e === 'open').length;
        stats.candidates += s.attempts;
        for (const [k, v] of Object.entries(s.rejected)) stats.rejected[k] = (stats.rejected[k] ?? 0) + v;
      }, 180_000);
    }
  });
});
