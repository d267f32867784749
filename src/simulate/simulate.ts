// `knockc simulate`: run a packet trace through knockd's state machine and
// through the compiled rules, and say what opens when. Both must agree; a
// disagreement is printed (it would be a knockc bug, or one of the
// documented differences).
import type { KnockdConfig } from '../frontend/config.js';
import { planText } from '../model/describe.js';
import { IrMachine } from '../model/ir-interpreter.js';
import { KnockdMachine } from '../model/knockd-machine.js';
import { DEFAULT_LOWER, lower } from '../model/lower.js';
import type { Packet } from '../model/packet.js';
import { planDoors } from '../model/plan.js';
import type { TraceEvent } from './trace.js';

export interface SimulateOptions {
  readonly iface: string;
  /** The host's own addresses, for packets without "to". */
  readonly local4: string;
  readonly local6: string;
}

export interface SimLine {
  readonly time: number;
  readonly text: string;
}

function toPacket(e: TraceEvent, o: SimulateOptions): Packet {
  const v6 = e.src.includes(':');
  const local = v6 ? o.local6 : o.local4;
  return {
    time: e.time,
    family: v6 ? 'ip6' : 'ip',
    src: e.src,
    dst: e.to ?? local,
    dstLocal: e.to === null || e.to === local,
    iif: e.iface ?? o.iface,
    proto: e.proto,
    port: e.port,
    flags: e.kind === 'probe' ? ['syn'] : e.flags,
    ctNew: true,
  };
}

export function simulate(config: KnockdConfig, events: readonly TraceEvent[], o: SimulateOptions): { lines: SimLine[]; disagreements: number } {
  const knockd = new KnockdMachine(config, { iface: o.iface });
  const ir = new IrMachine(lower(config, { ...DEFAULT_LOWER, iface: o.iface, log: true }));
  const plans = planDoors(config);
  const lines: SimLine[] = [];
  let disagreements = 0;
  for (const e of events) {
    const p = toPacket(e, o);
    const at = `${e.time.toFixed(3).padStart(8)}  ${e.src.padEnd(16)}`;
    if (e.kind === 'probe') {
      const v = ir.pass(p);
      const state = v === 'drop' ? 'closed (knockc drops it)' : v === 'accept' ? 'OPEN (granted)' : 'not guarded by knockc';
      lines.push({ time: e.time, text: `${at}probe ${e.proto}/${e.port}: ${state}` });
      continue;
    }
    const before = ir.log.length;
    const printed = lines.length;
    ir.pass(p);
    const got = ir.log.slice(before).map((l) => l.prefix);
    const want: string[] = [];
    for (const ev of knockd.step(p)) {
      if (ev.kind === 'reset') lines.push({ time: e.time, text: `${at}[${ev.door}] wrong knock ${e.proto}/${e.port}: attempt reset at stage ${ev.stage}` });
      if (ev.kind === 'timeout') lines.push({ time: e.time, text: `${at}[${ev.door}] sequence timeout (stage ${ev.stage})` });
      if (ev.kind === 'stage') {
        want.push(`${ev.door}: Stage ${ev.stage}`);
        lines.push({ time: e.time, text: `${at}[${ev.door}] stage ${ev.stage}` });
      }
      if (ev.kind === 'open') {
        want.push(`${ev.opening.door}: OPEN SESAME`);
        const plan = plans[ev.opening.doorIndex]!;
        lines.push({ time: e.time, text: `${at}[${ev.opening.door}] OPEN SESAME: ${planText(plan.families[ev.opening.family])}` });
      }
    }
    const a = got.filter((x) => !x.startsWith('notify')).sort().join('|');
    const b = want.sort().join('|');
    if (a !== b) {
      disagreements++;
      lines.push({ time: e.time, text: `${at}!! compiled rules disagree with knockd here: rules did [${a}], knockd did [${b}]` });
    }
    if (lines.length === printed) {
      lines.push({ time: e.time, text: `${at}${e.proto}/${e.port}${e.proto === 'tcp' ? ` [${e.flags.join(',') || '-'}]` : ''}: no effect` });
    }
  }
  return { lines, disagreements };
}
