// `knockc explain`: each door as a human summary, as data, or as a Graphviz
// picture of its state machine.
import type { KnockdConfig } from '../frontend/config.js';
import { FAMILIES, planDoors, type DoorPlan } from '../model/plan.js';
import { flagsText, grantText, knockText, lifetimeText, planText } from './describe.js';

export interface ExplainedDoor {
  name: string;
  line: number;
  sequence: Array<{ port: number; proto: string }>;
  tcpFlags: string;
  oneTimeSequences: string | null;
  seqTimeout: number;
  cmdTimeout: number;
  target: string | null;
  actions: Record<string, { kind: string; summary: string }>;
  needsRuntime: boolean;
}

export function explainData(config: KnockdConfig): { file: string; interface: string | null; doors: ExplainedDoor[] } {
  return {
    file: config.file,
    interface: config.options.interface.value,
    doors: planDoors(config).map((p) => {
      const d = p.door;
      return {
        name: d.name,
        line: d.header.range.start.line,
        sequence: d.knocks.map((k) => ({ port: k.port, proto: k.proto })),
        tcpFlags: flagsText(d.tcpFlags.value),
        oneTimeSequences: d.sequenceFrom.oneTime?.path ?? null,
        seqTimeout: d.seqTimeout.value,
        cmdTimeout: d.cmdTimeout.value,
        target: d.target.value,
        actions: Object.fromEntries(FAMILIES.map((f) => [f === 'ip' ? 'ipv4' : 'ipv6', { kind: p.families[f].kind, summary: planText(p.families[f]) }])),
        needsRuntime: p.needsRuntime,
      };
    }),
  };
}

export function explainText(config: KnockdConfig): string {
  const out: string[] = [];
  for (const p of planDoors(config)) {
    const d = p.door;
    out.push(`[${d.name}]  (${config.file}:${d.header.range.start.line})`);
    const seq = d.knocks.map((k) => knockText(k, d)).join(' -> ');
    out.push(`  knock     ${seq}`);
    out.push(`  within    ${d.seqTimeout.value} s of the first knock${d.sequenceFrom.kind === 'one-time' ? ` (one-time sequences from ${d.sequenceFrom.oneTime?.path}, ${d.sequenceFrom.oneTime?.sequences.length} left)` : ''}`);
    if (d.target.value) out.push(`  target    knocks must be sent to ${d.target.value}`);
    const v4 = planText(p.families.ip);
    const v6 = planText(p.families.ip6);
    if (v4 === v6) out.push(`  then      ${v4} (IPv4 and IPv6)`);
    else {
      out.push(`  IPv4      ${v4}`);
      out.push(`  IPv6      ${v6}`);
    }
    out.push(`  runtime   ${p.needsRuntime ? 'needed (`knockc run`)' : 'not needed: the kernel does everything'}`);
    out.push('');
  }
  if (config.doors.length === 0) out.push('(no doors)\n');
  return out.join('\n');
}

function dotEscape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

function doorDot(p: DoorPlan, n: number): string[] {
  const d = p.door;
  const id = (s: string): string => `"${n}_${s}"`;
  const lines: string[] = [];
  lines.push(`  subgraph "cluster_${n}" {`);
  lines.push(`    label="[${dotEscape(d.name)}]  seq_timeout ${d.seqTimeout.value} s";`);
  lines.push(`    ${id('idle')} [label="idle", shape=circle];`);
  for (let s = 1; s < d.knocks.length; s++) lines.push(`    ${id(`s${s}`)} [label="stage ${s}", shape=circle];`);
  const openLines = FAMILIES.map((f) => `${f === 'ip' ? 'IPv4' : 'IPv6'}: ${planText(p.families[f])}`);
  lines.push(`    ${id('open')} [label="OPEN SESAME\\n${dotEscape(openLines.join('\\n'))}", shape=doublecircle];`);
  d.knocks.forEach((k, i) => {
    const from = i === 0 ? id('idle') : id(`s${i}`);
    const to = i === d.knocks.length - 1 ? id('open') : id(`s${i + 1}`);
    lines.push(`    ${from} -> ${to} [label="${dotEscape(knockText(k, d))}"];`);
    if (i > 0) {
      lines.push(`    ${from} -> ${id('idle')} [label="other knock port", style=dashed, color=red];`);
      lines.push(`    ${from} -> ${id('idle')} [label="${d.seqTimeout.value} s since first knock", style=dotted];`);
    }
  });
  const timed = FAMILIES.flatMap((f) => {
    const pl = p.families[f];
    return pl.kind === 'kernel' ? pl.opens.filter((g) => g.lifetime.kind === 'timed') : [];
  });
  if (timed[0]) lines.push(`    ${id('open')} -> ${id('idle')} [label="closes ${dotEscape(grantText(timed[0].target))} ${dotEscape(lifetimeText(timed[0].lifetime))}", style=dotted];`);
  lines.push('  }');
  return lines;
}

export function explainDot(config: KnockdConfig): string {
  const lines = ['digraph knockc {', '  rankdir=LR;', '  node [fontname="Helvetica"]; edge [fontname="Helvetica", fontsize=10];'];
  planDoors(config).forEach((p, n) => lines.push(...doorDot(p, n)));
  lines.push('}');
  return lines.join('\n') + '\n';
}
