// `knockc simulate`: the trace format and what it prints, on a seed example.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/frontend/load.js';
import { simulate } from '../../src/simulate/simulate.js';
import { parseTrace } from '../../src/simulate/trace.js';

const conf = 'fixtures/seed-fr-monitoring-opencloseSSH.conf';
const config = parseConfigText(readFileSync(conf, 'utf8'), { file: conf }).config!;
const opts = { iface: 'eth0', local4: '198.51.100.1', local6: '2001:db8::1' };

describe('knockc simulate', () => {
  it('tells what opens when, and when it closes again', () => {
    const { events, errors } = parseTrace('t', readFileSync('fixtures/traces/seed-fr-monitoring.trace', 'utf8'));
    expect(errors).toEqual([]);
    const r = simulate(config, events, opts);
    expect(r.disagreements).toBe(0);
    const text = r.lines.map((l) => l.text.replace(/\s+/g, ' ').trim());
    expect(text).toContain('1.400 198.51.100.2 [opencloseSSH] OPEN SESAME: opens tcp port 22 for 30 s after the last opening');
    expect(text).toContain('1.500 198.51.100.2 probe tcp/22: OPEN (granted)');
    expect(text).toContain('1.500 198.51.100.3 probe tcp/22: closed (knockc drops it)');
    expect(text).toContain('2.100 198.51.100.3 [opencloseSSH] wrong knock udp/9000: attempt reset at stage 1');
    expect(text).toContain('31.300 198.51.100.2 probe tcp/22: OPEN (granted)');
    expect(text).toContain('31.500 198.51.100.2 probe tcp/22: closed (knockc drops it)');
  });

  it('counts seq_timeout from the first knock', () => {
    const { events } = parseTrace('t', '0 198.51.100.2 udp/7000\n3 198.51.100.2 tcp/8000\n5.5 198.51.100.2 udp/9000\n6 198.51.100.2 probe tcp/22\n');
    const text = simulate(config, events, opts).lines.map((l) => l.text);
    expect(text.some((t) => t.includes('OPEN SESAME'))).toBe(false);
    expect(text.some((t) => t.includes('sequence timeout (stage 2)'))).toBe(true);
  });

  it('reports bad trace lines with line and column', () => {
    const { errors } = parseTrace('bad.trace', '0 198.51.100.2 tcp/7000\n1 nothost tcp/1\n2 198.51.100.2 tcp:8000\n3 198.51.100.2 tcp/1 bogus\n5 198.51.100.2 tcp/1\n4 198.51.100.2 tcp/1\n');
    expect(errors.map((e) => `${e.range.start.line}:${e.range.start.col}`)).toEqual(['2:3', '3:16', '4:22', '6:1']);
  });
});
