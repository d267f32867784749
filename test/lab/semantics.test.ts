/**
 * knockd-semantics.md sections 2-4, one behaviour per test, with real packets.
 * Every test runs on the real knockd (the oracle: it shows the expectation is
 * knockd's behaviour, not only knockc's) and on every knockc target at once.
 *
 * Timing: offsets within a second stay in [0.2, 0.8] and time differences that
 * a timeout decides stay >= 1.2 s away from it; probes come >= 1.5 s after the
 * knock they test (knockd runs its command a little later) and >= 1.2 s away
 * from a grant's expiry. Sources that interleave are ordered so that knockd's
 * attempt-list bug (`listBug` in src/model/knockd-machine.ts; differences.test.ts) does not come into play.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { describeLab } from './lab.js';
import { forEachTarget, KNOCKD, KNOCKC_TARGETS, mismatches, PROTECTED_PORTS, runOnLane, startLanePool, type LanePool } from './targets.js';
import { C0, C0V6, C1, door, tcp, udp } from './doors.js';
import { describeRun, type ProbeResult, type Trace } from './trace.js';

const TARGETS = [KNOCKD, ...KNOCKC_TARGETS];

describeLab('knockd semantics (sections 2-4) on knockd and every knockc target', () => {
  let pool: LanePool;

  beforeAll(async () => {
    pool = await startLanePool(1, { targets: TARGETS, lanes: 2, clients: 2, name: 'sem' });
  });

  afterAll(async () => {
    await pool?.stop();
  });

  /** Plays the trace on knockd and every knockc target; each must give `expected`. */
  async function check(config: string, trace: Trace, expected: ProbeResult[]): Promise<void> {
    expect(expected).toHaveLength(trace.probes.length);
    await pool.withLane(async (lane, lab) => {
      const { run, results } = await runOnLane(lab, lane, config, trace);
      const problems = TARGETS.flatMap((t) => mismatches(trace, results, expected, t.name));
      if (problems.length) {
        const out = await lane.servers.get(KNOCKD.name)!.knockdOutput();
        throw new Error(`${problems.join('\n')}\n--- config\n${config}--- probes\n${describeRun(trace, run)}\n--- knockd output\n${out.trimEnd()}`);
      }
    });
  }

  test.concurrent('2: a packet to a port in no sequence (or a protocol no door lists there) never resets an attempt', async () => {
    await check(
      door('d', '1001,1002,1003', 22),
      {
        packets: [
          tcp(0.3, C0, 1001),
          tcp(0.4, C0, 1004), // port in no sequence
          udp(0.5, C0, 1005),
          tcp(0.6, C0, 80),
          tcp(0.7, C0, 1002),
          tcp(1.3, C1, 1001),
          udp(1.4, C1, 1002), // 1002 is listed as tcp only: udp 1002 is invisible
          udp(1.5, C1, 1003),
          tcp(1.6, C1, 1002),
          tcp(1.7, C1, 1003),
          tcp(2.3, C0, 1003),
        ],
        probes: [
          { t: 0.1, src: C0, port: 22 },
          { t: 4.0, src: C0, port: 22 },
          { t: 4.0, src: C1, port: 22 },
          { t: 4.0, src: C0V6, port: 22 },
        ],
      },
      ['closed', 'open', 'open', 'closed'],
    );
  }, 120_000);

  test.concurrent('3: a wrong knock invalidates the attempt, and the invalidating packet starts nothing', async () => {
    await check(
      door('d', '1001,1002,1003', 22),
      {
        packets: [
          // c0: 1001 again is wrong (stage 2 wants 1002); it is also the first knock, but starts nothing
          tcp(0.3, C0, 1001),
          tcp(0.4, C0, 1001),
          tcp(0.5, C0, 1002),
          tcp(0.6, C0, 1003),
          // c1: a wrong knock, then a fresh correct sequence: the next first knock starts afresh
          tcp(1.3, C1, 1001),
          tcp(1.4, C1, 1003),
          tcp(1.5, C1, 1001),
          tcp(1.6, C1, 1002),
          tcp(1.7, C1, 1003),
        ],
        probes: [
          { t: 3.5, src: C0, port: 22 },
          { t: 3.5, src: C1, port: 22 },
        ],
      },
      ['closed', 'open'],
    );
  }, 120_000);

  test.concurrent('3: seq_timeout bounds the whole sequence from the first knock, not the gap between knocks', async () => {
    await check(
      door('d', '1001,1002,1003', 22, { seqTimeout: 3 }),
      {
        packets: [
          // c0: gaps of 2.2 s (< 3) but 4.4 s in all (> 3): no opening
          tcp(0.3, C0, 1001),
          tcp(2.5, C0, 1002),
          tcp(4.7, C0, 1003),
          // c1 (after c0's attempt is gone): 1.6 s in all: opens
          tcp(5.3, C1, 1001),
          tcp(6.2, C1, 1002),
          tcp(6.7, C1, 1003),
        ],
        probes: [
          { t: 6.4, src: C0, port: 22 },
          { t: 8.4, src: C0, port: 22 },
          { t: 8.4, src: C1, port: 22 },
        ],
      },
      ['closed', 'closed', 'open'],
    );
  }, 120_000);

  test.concurrent('3: a TCP knock whose flags do not match is ignored, not a reset', async () => {
    // Door b lists 1002 without flag conditions, so an ACK to 1002 passes knockd's
    // filter; for door a (tcpflags = syn) it is a flag mismatch: ignored.
    await check(
      door('a', '1001,1002,1003', 22, { flags: 'syn' }) + door('b', '1004,1002', 2222),
      {
        packets: [
          tcp(0.3, C0, 1001),
          tcp(0.4, C0, 1002, 'A'), // flags mismatch for a: ignored
          tcp(0.5, C0, 1002, 'SA'), // SYN set: matches "syn" (ACK is don't-care): advances
          tcp(0.6, C0, 1003, 'FA'), // no SYN: ignored
          tcp(0.7, C0, 1003),
          // c1: the same, but the stray packet has SYN: a wrong knock, reset
          tcp(1.3, C1, 1001),
          tcp(1.4, C1, 1003),
          tcp(1.5, C1, 1002),
          tcp(1.6, C1, 1003),
        ],
        probes: [
          { t: 3.5, src: C0, port: 22 },
          { t: 3.5, src: C0, port: 2222 },
          { t: 3.5, src: C1, port: 22 },
        ],
      },
      ['open', 'closed', 'closed'],
    );
  }, 120_000);

  test.concurrent('3: sources are independent: two clients and two families interleave their knocks', async () => {
    await check(
      door('d', '1001,1002,1003', 22),
      {
        packets: [
          tcp(0.3, C0, 1001),
          tcp(0.45, C0V6, 1001),
          tcp(0.6, C1, 1001),
          tcp(0.75, C1, 1002),
          tcp(1.3, C0V6, 1002),
          tcp(1.45, C0, 1002),
          tcp(1.6, C1, 1003), // c1 opens
          tcp(1.75, C0V6, 1003), // c0 over IPv6 opens
          tcp(2.3, C0, 1003), // c0 over IPv4 opens (its attempt is the oldest: it ends last)
        ],
        probes: [
          { t: 4.0, src: C0, port: 22 },
          { t: 4.0, src: C1, port: 22 },
          { t: 4.0, src: C0V6, port: 22 },
          { t: 4.0, src: { client: 1, family: 6 }, port: 22 },
        ],
      },
      ['open', 'open', 'open', 'closed'],
    );
  }, 120_000);

  test.concurrent('3: doors sharing a first knock all start; the next knock decides which one goes on', async () => {
    await check(
      door('a', '1001,1002', 22) + door('b', '1001,1003', 2222),
      {
        packets: [tcp(0.3, C0, 1001), tcp(0.5, C0, 1002), tcp(1.3, C1, 1001), tcp(1.5, C1, 1003), tcp(2.3, C0V6, 1001), tcp(2.5, C0V6, 1003)],
        probes: [
          { t: 4.5, src: C0, port: 22 },
          { t: 4.5, src: C0, port: 2222 },
          { t: 4.5, src: C1, port: 22 },
          { t: 4.5, src: C1, port: 2222 },
          { t: 4.5, src: C0V6, port: 2222 },
        ],
      },
      ['open', 'closed', 'closed', 'open', 'open'],
    );
  }, 120_000);

  test.concurrent("3: while a source is mid-sequence on door A, door B's first knock starts nothing (and resets A only if A's flags match)", async () => {
    await check(
      door('a', '1001,1002,1003', 22, { flags: 'syn' }) + door('b', '1004,1005', 2222),
      {
        packets: [
          // c0: B's first knock resets A and does not start B; B's second knock then finds nothing
          tcp(0.3, C0, 1001),
          tcp(0.4, C0, 1004),
          tcp(0.5, C0, 1005),
          tcp(0.6, C0, 1002),
          tcp(0.7, C0, 1003),
          // c0 over IPv6: B's first knock without SYN does not match A's flags: A ignores it, B does not start
          tcp(1.3, C0V6, 1001),
          tcp(1.4, C0V6, 1004, 'A'),
          tcp(1.5, C0V6, 1002),
          tcp(1.6, C0V6, 1003),
          // c1: B alone opens
          tcp(2.3, C1, 1004),
          tcp(2.4, C1, 1005),
        ],
        probes: [
          { t: 4.5, src: C0, port: 22 },
          { t: 4.5, src: C0, port: 2222 },
          { t: 4.5, src: C0V6, port: 22 },
          { t: 4.5, src: C0V6, port: 2222 },
          { t: 4.5, src: C1, port: 2222 },
        ],
      },
      ['closed', 'closed', 'open', 'closed', 'open'],
    );
  }, 120_000);

  test.concurrent('4: knocking again while a timed grant is open extends it to cmd_timeout after the last opening', async () => {
    await check(
      door('d', '1001,1002', 22, { cmdTimeout: 5 }),
      {
        packets: [
          tcp(0.3, C0, 1001),
          tcp(0.5, C0, 1002), // c0 open until 5.5 ...
          tcp(1.3, C1, 1001),
          tcp(1.5, C1, 1002), // c1 open until 6.5
          tcp(3.3, C0, 1001),
          tcp(3.5, C0, 1002), // ... then until 8.5
        ],
        probes: [
          { t: 2.9, src: C0, port: 22 },
          { t: 3.1, src: C1, port: 22 },
          { t: 7.1, src: C0, port: 22 },
          { t: 7.9, src: C1, port: 22 },
          { t: 10.0, src: C0, port: 22 },
        ],
      },
      ['open', 'open', 'open', 'closed', 'closed'],
    );
  }, 120_000);

  test.concurrent('3/4: one-port doors open at once (tcp with flags, udp)', async () => {
    await check(
      door('tcp1', '1003', 22, { flags: 'syn,!ack', cmdTimeout: 4 }) + door('udp1', '1004:udp', 2222),
      {
        packets: [
          udp(0.3, C0, 1004),
          tcp(0.5, C1, 1003),
          tcp(0.7, C0V6, 1003, 'SA'), // ACK set: not this door's knock
        ],
        probes: [
          { t: 2.3, src: C0, port: 2222 },
          { t: 2.3, src: C0, port: 22 },
          { t: 2.3, src: C1, port: 22 },
          { t: 2.3, src: C1, port: 2222 },
          { t: 2.3, src: C0V6, port: 22 },
          { t: 6.0, src: C1, port: 22 },
          { t: 6.0, src: C0, port: 2222 },
        ],
      },
      ['open', 'closed', 'open', 'closed', 'closed', 'closed', 'open'],
    );
  }, 120_000);

  test.concurrent('4: a connection made while the grant lasts outlives it (only NEW connections are refused afterwards)', async () => {
    // An echo service on 2223 that the firewalls protect like 22; the door grants it for 2 s.
    const PORT = 2223;
    const ECHO = `socat -lf /dev/null TCP4-LISTEN:${PORT},fork,reuseaddr EXEC:cat >/dev/null 2>&1 &`;
    // Connects, echoes a line, waits past the grant's end, echoes again on the SAME connection,
    // then tries a new connection. perl-base only; prints "first=ok second=ok new=timeout".
    const CLIENT = [
      'use strict; use Socket;',
      'my ($host, $port, $wait) = @ARGV;',
      'sub conn { socket(my $s, PF_INET, SOCK_STREAM, 0) or die; local $SIG{ALRM} = sub { die "timeout\\n" };',
      '  my $ok = eval { alarm 2; my $r = connect($s, pack_sockaddr_in($port, inet_aton($host))); alarm 0; $r };',
      '  return $ok ? $s : undef }',
      'sub echo { my ($s, $w) = @_; syswrite($s, "$w\\n"); my $got = ""; local $SIG{ALRM} = sub { die "timeout\\n" };',
      '  eval { alarm 2; sysread($s, $got, 100); alarm 0 }; return $got =~ /^$w/ ? "ok" : "lost" }',
      'my $s = conn() or do { print "first=refused\\n"; exit 0 };',
      'my $first = echo($s, "one"); sleep $wait; my $second = echo($s, "two");',
      'my $n = conn(); print "first=$first second=$second new=", ($n ? "open" : "timeout"), "\\n";',
    ].join('\n');
    await pool.withLane(async (lane, lab) => {
      const client = lab.clients[0]!;
      await client.writeFile('/tmp/outlive.pl', `${CLIENT}\n`);
      const results = new Map<string, string>();
      await forEachTarget(lane, async (t, server) => {
        await t.deploy(server, door('d', '1001,1002', PORT, { cmdTimeout: 2, v4only: true }), { protectedPorts: [...PROTECTED_PORTS, PORT] });
        await server.script(`[ -e /tmp/echo-${PORT} ] || { touch /tmp/echo-${PORT}; ${ECHO} }`);
      });
      await Promise.all(
        [...lane.servers].map(async ([name, server]) => {
          await client.knock([1001, 1002], { host: server.ip4 });
          await new Promise((r) => setTimeout(r, 500)); // knockd runs its command a little later
          results.set(name, (await client.run(['perl', '/tmp/outlive.pl', server.ip4, String(PORT), '4'])).trim());
        }),
      );
      for (const [name, got] of results) expect(got, name).toBe('first=ok second=ok new=timeout');
    });
  }, 120_000);
});
