// `knockc explain`: each door as a human summary, as data, or as a Graphviz
// picture of its state machine.
import type { KnockdConfig } from '../frontend/config.js';
import { FAMILIES, planDoors, type DoorPlan } from '../model/plan.js';
import { flagsText, knockText, planText } from '../model/describe.js';

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

/** The version of explain's JSON (like lint's and status's): a consumer checks it before reading the rest. */
export const EXPLAIN_JSON_VERSION = 1;

export function explainData(config: KnockdConfig): { version: typeof EXPLAIN_JSON_VERSION; file: string; interface: string | null; doors: ExplainedDoor[] } {
  return {
    version: EXPLAIN_JSON_VERSION,
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
    const runtimeWhy = d.sequenceFrom.kind === 'one-time' ? ': the kernel matches the sequence, `knockc run` retires it and runs the commands' : '';
    out.push(`  runtime   ${p.needsRuntime ? `needed (\`knockc run\`)${runtimeWhy}` : 'not needed: the kernel does everything'}`);
    out.push('');
  }
  if (config.doors.length === 0) out.push('(no doors)\n');
  return out.join('\n');
}

/** Text for a DOT "..." string: quotes and backslashes escaped, no raw line breaks. */
function dotEscape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/[\r\n]+/g, ' ');
}

/** Word-wraps plain text into DOT label lines, each left-justified (`\l`). */
function dotLines(lines: readonly string[], width = 48): string {
  const out: string[] = [];
  for (const line of lines) {
    let cur = '';
    // Backticks mark commands in the text summaries; a picture does without them.
    for (const word of line.replace(/`/g, '').split(' ')) {
      if (cur !== '' && cur.length + 1 + word.length > width) {
        out.push(cur);
        cur = `    ${word}`;
      } else cur = cur === '' ? word : `${cur} ${word}`;
    }
    out.push(cur);
  }
  return out.map((l) => `${dotEscape(l)}\\l`).join('');
}

function doorDot(p: DoorPlan, n: number): string[] {
  const d = p.door;
  const id = (s: string): string => `"d${n}_${s}"`;
  const last = d.knocks.length;
  const oneTime = d.sequenceFrom.kind === 'one-time' ? ' (one-time: the sequence changes after each use)' : '';
  const target = d.target.value ? `, sent to ${d.target.value}` : '';
  const lines: string[] = [];
  lines.push(`  subgraph "cluster_${n}" {`);
  lines.push(`    label="[${dotEscape(d.name)}]  ${last} knock${last === 1 ? '' : 's'}${dotEscape(target)}, all within ${d.seqTimeout.value} s of the first${dotEscape(oneTime)}";`);
  lines.push('    labeljust=l; style=rounded; color=gray50; fontname="Helvetica-Bold"; fontsize=12;');
  lines.push(`    ${id('idle')} [label="idle", shape=circle, style=filled, fillcolor=gray92];`);
  for (let s = 1; s < last; s++) lines.push(`    ${id(`s${s}`)} [label="stage ${s}", shape=circle];`);
  lines.push(`    ${id('open')} [label="OPEN\\nSESAME", shape=doublecircle, style=filled, fillcolor=palegreen];`);
  // What the opening does, per family (one line when both agree).
  const v4 = planText(p.families.ip);
  const v6 = planText(p.families.ip6);
  const what = v4 === v6 ? [`IPv4 and IPv6: ${v4}`] : [`IPv4: ${v4}`, `IPv6: ${v6}`];
  what.push(p.needsRuntime ? 'needs the runtime (knockc run)' : 'kernel only: no runtime needed');
  lines.push(`    ${id('action')} [label="${dotLines(what)}", shape=box, style="rounded,filled", fillcolor=lightyellow, fontsize=10];`);
  d.knocks.forEach((k, i) => {
    const from = i === 0 ? id('idle') : id(`s${i}`);
    const to = i === last - 1 ? id('open') : id(`s${i + 1}`);
    lines.push(`    ${from} -> ${to} [label="${dotEscape(knockText(k, d))}", penwidth=1.5];`);
    if (i > 0) {
      // knockd drops the attempt on a wrong knock (a port some door listens on) or at seq_timeout.
      lines.push(`    ${from} -> ${id('idle')} [label="wrong knock or\\n${d.seqTimeout.value} s elapsed", style=dashed, color=red3, fontcolor=red3, constraint=false];`);
    }
  });
  lines.push(`    ${id('open')} -> ${id('action')} [label="runs", style=bold, arrowhead=none];`);
  lines.push(`    ${id('open')} -> ${id('idle')} [label="attempt done", style=dotted, color=gray40, fontcolor=gray40, constraint=false];`);
  lines.push('  }');
  return lines;
}

export function explainDot(config: KnockdConfig): string {
  const plans = planDoors(config);
  const lines = [
    'digraph knockc {',
    `  label="${dotEscape(config.file)}: each door's state machine, one attempt per knocking source\\n` +
      'wrong knock: a packet to a port some door knocks on (with this door\'s TCP flags); other packets change nothing"; labelloc=t; fontname="Helvetica"; fontsize=13;',
    '  rankdir=LR; newrank=true; nodesep=0.4; ranksep=0.5;',
    '  node [fontname="Helvetica", fontsize=11]; edge [fontname="Helvetica", fontsize=9];',
  ];
  // With rankdir=LR, dot stacks clusters bottom-up in input order: emit the doors
  // last to first so that the picture reads top to bottom in file order.
  for (let n = plans.length - 1; n >= 0; n--) lines.push(...doorDot(plans[n]!, n));
  lines.push('}');
  return lines.join('\n') + '\n';
}
