// The compiled rules (as an IR program, run by the IR interpreter with kernel
// set semantics) open and close exactly what knockd 0.8 would (its executable
// model), on thousands of random configs and packet traces per run.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KnockdConfig } from '../../src/frontend/config.js';
import { parseConfigText } from '../../src/frontend/load.js';
import { IrMachine } from '../../src/model/ir-interpreter.js';
import { runKnockd } from '../../src/model/knockd-machine.js';
import { lower, DEFAULT_LOWER } from '../../src/model/lower.js';
import type { Packet } from '../../src/model/packet.js';
import { configText, GRANT_PORTS, LOCAL4, LOCAL6, scenarioArb, type RandomDoor } from './random-scenarios.js';

const seed = process.env.KNOCKC_SEED ? Number(process.env.KNOCKC_SEED) : Date.now() % 2 ** 31;
const runs = Number(process.env.KNOCKC_RUNS ?? 3000);

function parse(text: string): KnockdConfig {
  const r = parseConfigText(text, { file: 'random.conf' });
  if (!r.config) throw new Error(`generated config rejected:\n${text}\n${JSON.stringify(r.diagnostics)}`);
  return r.config;
}

/** What knockd's commands leave open at `time`: a grant per opening, kept for cmd_timeout or for good. */
function knockdGrantOpen(doors: readonly RandomDoor[], openings: ReadonlyArray<{ time: number; doorIndex: number; src: string }>, src: string, port: number, time: number): boolean {
  return openings.some((o) => {
    const d = doors[o.doorIndex]!;
    if (o.src !== src || d.grantPort !== port || o.time > time) return false;
    return !d.timed || time < o.time + d.cmdTimeout;
  });
}

function probe(src: string, port: number, time: number): Packet {
  const v6 = src.includes(':');
  return { time, family: v6 ? 'ip6' : 'ip', src, dst: v6 ? LOCAL6 : LOCAL4, dstLocal: true, iif: 'eth0', proto: 'tcp', port, flags: ['syn'], ctNew: true };
}

describe('compiled rules are equivalent to knockd (model level)', () => {
  it(`agrees on every stage, opening and grant over ${runs} random scenarios (seed ${seed})`, () => {
    fc.assert(
      fc.property(scenarioArb, ({ doors, trace }) => {
        const config = parse(configText(doors));
        const knockd = runKnockd(config, trace, { iface: 'eth0' });
        const ir = new IrMachine(lower(config, { ...DEFAULT_LOWER, iface: 'eth0', log: true }));
        const checkpoints: Array<{ time: number }> = [];
        for (const p of trace) {
          ir.pass(p);
          checkpoints.push({ time: p.time });
        }
        const want = knockd.flatMap((e) =>
          e.kind === 'stage' ? [`${e.time} ${e.src} knockc ${e.door}: Stage ${e.stage}`]
          : e.kind === 'open' ? [`${e.opening.time} ${e.opening.src} knockc ${e.opening.door}: OPEN SESAME`]
          : [],
        );
        const got = ir.log.map((l) => `${l.time} ${l.src} knockc ${l.prefix}`);
        expect(got.sort()).toEqual(want.sort());

        // Grants: probe every source and granted port at every half second after the trace starts.
        const openings = knockd.flatMap((e) => (e.kind === 'open' ? [e.opening] : []));
        const end = (trace[trace.length - 1]?.time ?? 0) + 12;
        const replay = new IrMachine(lower(config, { ...DEFAULT_LOWER, iface: 'eth0', log: true }));
        let i = 0;
        for (let t = 0.25; t < end; t += 0.5) {
          while (i < trace.length && trace[i]!.time <= t) replay.pass(trace[i++]!);
          for (const src of new Set(trace.map((p) => p.src))) {
            for (const port of GRANT_PORTS) {
              const expected = knockdGrantOpen(doors, openings, src, port, t);
              const usesPort = doors.some((d) => d.grantPort === port);
              const verdict = replay.pass(probe(src, port, t));
              expect(verdict, `t=${t} ${src} port ${port}`).toBe(expected ? 'accept' : usesPort ? 'drop' : 'continue');
            }
          }
        }
      }),
      { seed, numRuns: runs, endOnFailure: true },
    );
  }, 300_000);
});
