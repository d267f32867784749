// knockd-semantics.md sections 2-4, one test per behaviour, at model level:
// each trace runs through knockd's model AND the compiled rules (IR), which
// must agree, and the expected openings are spelled out.
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/frontend/load.js';
import { IrMachine } from '../../src/model/ir-interpreter.js';
import { runKnockd } from '../../src/model/knockd-machine.js';
import { DEFAULT_LOWER, lower } from '../../src/model/lower.js';
import { parseTrace } from '../../src/simulate/trace.js';
import type { Packet } from '../../src/model/packet.js';

const SSH = (port = 22) => `start_command = iptables -A INPUT -s %IP% -p tcp --dport ${port} -j ACCEPT
start_command_6 = ip6tables -A INPUT -s %IP% -p tcp --dport ${port} -j ACCEPT
cmd_timeout = 10
stop_command = iptables -D INPUT -s %IP% -p tcp --dport ${port} -j ACCEPT
stop_command_6 = ip6tables -D INPUT -s %IP% -p tcp --dport ${port} -j ACCEPT`;

function packets(trace: string, iface = 'eth0'): Packet[] {
  const { events, errors } = parseTrace('trace', trace);
  if (errors.length) throw new Error(JSON.stringify(errors));
  return events.map((e) => {
    const v6 = e.src.includes(':');
    const local = v6 ? '2001:db8::1' : '198.51.100.1';
    return {
      time: e.time, family: v6 ? 'ip6' : 'ip', src: e.src, dst: e.to ?? local, dstLocal: e.to === null,
      iif: e.iface ?? iface, proto: e.proto, port: e.port, flags: e.flags, ctNew: true,
    } satisfies Packet;
  });
}

/** Openings ("time src door") from both models; fails if they disagree. */
function openings(conf: string, trace: string, iface = 'eth0'): string[] {
  const r = parseConfigText(conf, { file: 'test.conf' });
  if (!r.config) throw new Error(JSON.stringify(r.diagnostics));
  const ps = packets(trace, iface);
  const knockd = runKnockd(r.config, ps, { iface }).flatMap((e) => (e.kind === 'open' ? [`${e.opening.time} ${e.opening.src} ${e.opening.door}`] : []));
  const ir = new IrMachine(lower(r.config, { ...DEFAULT_LOWER, iface, log: true }));
  for (const p of ps) ir.pass(p);
  const rules = ir.log.filter((l) => l.prefix.endsWith(': OPEN SESAME')).map((l) => `${l.time} ${l.src} ${l.prefix.replace(': OPEN SESAME', '')}`);
  expect(rules.sort(), 'compiled rules vs knockd').toEqual([...knockd].sort());
  return knockd;
}

const door3 = `[d]\nsequence = 7000,8000,9000\nseq_timeout = 5\ntcpflags = syn\n${SSH()}\n`;
const A = '198.51.100.2';
const B = '198.51.100.3';

describe('section 2: which packets count', () => {
  it('a packet to a port in no sequence is invisible: it does not reset', () => {
    expect(openings(door3, `0 ${A} tcp/7000\n1 ${A} tcp/80\n1 ${A} udp/53\n2 ${A} tcp/8000\n3 ${A} tcp/9000`)).toEqual([`3 ${A} d`]);
  });
  it('a packet whose flags no door accepts is invisible', () => {
    expect(openings(door3, `0 ${A} tcp/7000\n1 ${A} tcp/8000 ack\n2 ${A} tcp/8000\n3 ${A} tcp/9000`)).toEqual([`3 ${A} d`]);
  });
  it('a knock port with the wrong protocol is invisible unless some door lists it', () => {
    expect(openings(door3, `0 ${A} tcp/7000\n1 ${A} udp/8000\n2 ${A} tcp/8000\n3 ${A} tcp/9000`)).toEqual([`3 ${A} d`]);
  });
  it('knocks on another interface than knockd\'s are invisible', () => {
    expect(openings(door3, `0 ${A} tcp/7000\n1 ${A} tcp/8000 on eth1\n2 ${A} tcp/9000`)).toEqual([]);
    expect(openings(door3, `0 ${A} tcp/7000\n1 ${A} tcp/8000\n2 ${A} tcp/9000 on eth1\n3 ${A} tcp/9000`)).toEqual([`3 ${A} d`]);
  });
  it('Target: knocks must be addressed to the target, not the host', () => {
    const conf = `[t]\nsequence = 7000,8000\ntarget = 198.51.100.9\n${SSH()}\n`;
    expect(openings(conf, `0 ${A} tcp/7000\n1 ${A} tcp/8000`)).toEqual([]);
    expect(openings(conf, `0 ${A} tcp/7000 to 198.51.100.9\n1 ${A} tcp/8000 to 198.51.100.9`)).toEqual([`1 ${A} t`]);
  });
});

describe('section 3: the state machine', () => {
  it('a wrong knock resets, and the resetting packet starts nothing', () => {
    expect(openings(door3, `0 ${A} tcp/7000\n1 ${A} tcp/9000\n2 ${A} tcp/8000\n3 ${A} tcp/9000`)).toEqual([]);
    // The knock after the reset starts afresh.
    expect(openings(door3, `0 ${A} tcp/7000\n1 ${A} tcp/7000\n2 ${A} tcp/7000\n3 ${A} tcp/8000\n4 ${A} tcp/9000`)).toEqual([`4 ${A} d`]);
  });
  it('a wrong knock that is the first knock starts nothing while it resets', () => {
    expect(openings(door3, `0 ${A} tcp/7000\n1 ${A} tcp/7000\n2 ${A} tcp/8000\n3 ${A} tcp/9000`)).toEqual([]);
  });
  it('seq_timeout bounds the whole sequence, counted from the first knock', () => {
    expect(openings(door3, `0 ${A} tcp/7000\n3 ${A} tcp/8000\n5.5 ${A} tcp/9000`)).toEqual([]);
    expect(openings(door3, `0 ${A} tcp/7000\n3 ${A} tcp/8000\n4.5 ${A} tcp/9000`)).toEqual([`4.5 ${A} d`]);
  });
  it('a TCP flag mismatch is ignored, not a reset', () => {
    const conf = `[d]\nsequence = 7000,8000,9000\nseq_timeout = 5\ntcpflags = syn,!ack\n[other]\nsequence = 8000,1\ntcpflags = ack\n${SSH(2222)}\n`;
    expect(openings(conf, `0 ${A} tcp/7000\n1 ${A} tcp/9000 syn,ack\n2 ${A} tcp/8000\n3 ${A} tcp/9000`)).toEqual([`3 ${A} d`]);
  });
  it('sources are independent: two clients may interleave', () => {
    expect(openings(door3, `0 ${A} tcp/7000\n0.5 ${B} tcp/7000\n1 ${A} tcp/8000\n1.5 ${B} tcp/8000\n2 ${B} tcp/9000\n2.5 ${A} tcp/9000`)).toEqual([`2 ${B} d`, `2.5 ${A} d`]);
  });
  it('doors sharing a first knock start together', () => {
    const conf = `[a]\nsequence = 7000,8000\n${SSH()}\n[b]\nsequence = 7000,9000\n${SSH(2222)}\n`;
    expect(openings(conf, `0 ${A} tcp/7000\n1 ${A} tcp/9000`)).toEqual([`1 ${A} b`]);
    expect(openings(conf, `0 ${A} tcp/7000\n1 ${A} tcp/8000`)).toEqual([`1 ${A} a`]);
  });
  it('no new attempt while the source is mid-sequence on another door', () => {
    const conf = `[a]\nsequence = 7000,8000,9000\n${SSH()}\n[b]\nsequence = 6000,6001\n${SSH(2222)}\n`;
    // 6000 resets [a] (its flags match) but does not start [b]; 6001 then starts nothing.
    expect(openings(conf, `0 ${A} tcp/7000\n1 ${A} tcp/6000\n2 ${A} tcp/6001`)).toEqual([]);
    expect(openings(conf, `0 ${A} tcp/7000\n1 ${A} tcp/6000\n2 ${A} tcp/6000\n3 ${A} tcp/6001`)).toEqual([`3 ${A} b`]);
  });
  it('one-port doors open at once', () => {
    expect(openings(`[one]\nsequence = 7000:udp\n${SSH()}\n`, `0 ${A} udp/7000\n1 ${A} udp/7000`)).toEqual([`0 ${A} one`, `1 ${A} one`]);
  });
  it('IPv6 knockers are tracked on their own', () => {
    expect(openings(door3, `0 2001:db8::2 tcp/7000\n1 ${A} tcp/8000\n2 2001:db8::2 tcp/8000\n3 2001:db8::2 tcp/9000`)).toEqual(['3 2001:db8::2 d']);
  });
  it('seq_timeout 0: a multi-knock door never opens, and never blocks others', () => {
    const conf = `[z]\nsequence = 7000,8000\nseq_timeout = 0\n${SSH()}\n[o]\nsequence = 8000:udp\n${SSH(2222)}\n`;
    expect(openings(conf, `0 ${A} tcp/7000\n0 ${A} tcp/8000\n1 ${A} udp/8000`)).toEqual([`1 ${A} o`]);
  });
});

describe('section 4: grants', () => {
  const conf = `[o]\nsequence = 7000,8000\n${SSH()}\n`;
  function grantAt(trace: string, t: number, src = A): string {
    const r = parseConfigText(conf, { file: 'g.conf' });
    const ir = new IrMachine(lower(r.config!, { ...DEFAULT_LOWER, iface: 'eth0' }));
    for (const p of packets(trace)) if (p.time <= t) ir.pass(p);
    const v6 = src.includes(':');
    return ir.pass({ time: t, family: v6 ? 'ip6' : 'ip', src, dst: v6 ? '2001:db8::1' : '198.51.100.1', dstLocal: true, iif: 'eth0', proto: 'tcp', port: 22, flags: ['syn'], ctNew: true });
  }
  it('opens for the knocker only, for cmd_timeout', () => {
    const t = `0 ${A} tcp/7000\n1 ${A} tcp/8000`;
    expect(grantAt(t, 0.5)).toBe('drop');
    expect(grantAt(t, 1.5)).toBe('accept');
    expect(grantAt(t, 1.5, B)).toBe('drop');
    expect(grantAt(t, 10.9)).toBe('accept');
    expect(grantAt(t, 11)).toBe('drop');
  });
  it('a new opening extends the grant to cmd_timeout after the LAST opening', () => {
    const t = `0 ${A} tcp/7000\n1 ${A} tcp/8000\n8 ${A} tcp/7000\n9 ${A} tcp/8000`;
    expect(grantAt(t, 15)).toBe('accept');
    expect(grantAt(t, 19.1)).toBe('drop');
  });
  it('IPv6 knockers run start_command_6', () => {
    const t = `0 2001:db8::2 tcp/7000\n1 2001:db8::2 tcp/8000`;
    expect(grantAt(t, 2, '2001:db8::2')).toBe('accept');
  });
});

describe('deliberate differences (model level)', () => {
  it('cmd_timeout = 0: knockd adds and at once deletes the rule; knockc opens nothing', async () => {
    const { planDoors } = await import('../../src/model/plan.js');
    const r = parseConfigText(`[z]\nsequence = 7000,8000\n${SSH().replace('cmd_timeout = 10', 'cmd_timeout = 0')}\n`, { file: 'z.conf' });
    const plan = planDoors(r.config!)[0]!;
    expect(plan.families.ip).toEqual({ kind: 'nothing', why: 'cmd_timeout 0 closes the grant as soon as it opens' });
    const ir = new IrMachine(lower(r.config!, { ...DEFAULT_LOWER, iface: 'eth0' }));
    for (const p of packets(`0 ${A} tcp/7000\n1 ${A} tcp/8000`)) ir.pass(p);
    expect(ir.pass({ time: 1, family: 'ip', src: A, dst: '198.51.100.1', dstLocal: true, iif: 'eth0', proto: 'tcp', port: 22, flags: ['syn'], ctNew: true })).toBe('continue');
  });
});

describe("knockd 0.8's attempt-list bug (reproduced only by the model's listBug option)", () => {
  it('when the oldest attempt ends, knockd forgets every other attempt; knockc does not', () => {
    const r = parseConfigText(door3, { file: 'bug.conf' });
    const trace = packets(`0 ${A} tcp/7000\n0.5 ${B} tcp/7000\n1 ${A} tcp/8000\n1.5 ${A} tcp/9000\n2 ${B} tcp/8000\n2.5 ${B} tcp/9000\n3 ${B} tcp/9000`);
    const opened = (bug: boolean): string[] =>
      runKnockd(r.config!, trace, { iface: 'eth0', listBug: bug }).flatMap((e) => (e.kind === 'open' ? [e.opening.src] : []));
    expect(opened(true)).toEqual([A]);
    expect(opened(false)).toEqual([A, B]);
    expect(openings(door3, trace.map((p) => `${p.time} ${p.src} ${p.proto}/${p.port}`).join('\n'))).toEqual([`1.5 ${A} d`, `2.5 ${B} d`]);
  });
});
