// Compares what knockc's command model says a line does (lineEffect) with what the real
// programs did to the kernel's rules, for one knocker family and one iptables variant.
//
// knockc's claims, per rule (grant key) and rule store:
//   'open'   the rule exists after the line, whatever the initial state;
//   'revoke' the rule has at least one copy fewer than before, or none;
//   unlisted the rule keeps its presence (count > 0 before <=> count > 0 after);
//   runtime  knockc runs the real command at run time: nothing to compare.
// A rule the grant model cannot express (source not exactly the knocker, negation, another
// table, ...) present after the line is a disagreement unless knockc said 'runtime'.
import { lineEffect as modelLineEffect } from '../../src/model/commands.js';
import type { Family } from '../../src/model/grant.js';
import { canonAddr } from './ipt-addr.js';
import { readSave } from './ipt-save-reader.js';
import { loadable, renderLine, type DiffCase, type Fam, type RuleSpec } from './ipt-spec.js';
import type { ExecResult, Execution, Variant } from './ipt-runner.js';

/** The contract of src/model/commands.ts (read structurally, so a richer action is fine). */
export type ModelEffect =
  | { readonly kind: 'empty' }
  | {
      readonly kind: 'effects';
      readonly effects: readonly { readonly key: string; readonly effect: 'open' | 'revoke'; readonly action: unknown }[];
    }
  | { readonly kind: 'runtime'; readonly code?: string; readonly token: string; readonly offset: number; readonly reason: string };

export function modelEffect(line: string, fam: Fam): ModelEffect {
  return modelLineEffect(line, fam as Family) as unknown as ModelEffect;
}

export interface Planned {
  readonly template: string;
  readonly fam: Fam;
  readonly knocker: string;
  readonly exec: Omit<Execution, 'id'>;
  /** Initial state: grant key -> copies (in the variant's default rule set). */
  readonly before: ReadonlyMap<string, number>;
  /** Initial state as commands, for the report. */
  readonly initText: readonly string[];
}

export function plan(c: DiffCase, fam: Fam): Planned {
  const knocker = fam === 'ip' ? c.knocker.ip : c.knocker.ip6;
  const inits = c.cmds.flatMap((cmd) => (cmd.kind === 'ipt' && cmd.init > 0 ? [{ spec: cmd.spec, copies: cmd.init }] : []));
  return planLine(renderLine(c), fam, knocker, inits);
}

/** A line (with %IP%) for a knocker, the initial state made of the specs that can be loaded for its family. */
export function planLine(template: string, fam: Fam, knocker: string, inits: readonly { spec: RuleSpec; copies: number }[]): Planned {
  const init: string[] = [];
  const before = new Map<string, number>();
  for (const { spec, copies } of inits) {
    const l = loadable(spec, fam, knocker);
    if (l === null) continue;
    for (let k = 0; k < copies; k++) init.push(l.command);
    before.set(l.key, (before.get(l.key) ?? 0) + copies);
  }
  return { template, fam, knocker, exec: { line: template.replaceAll('%IP%', knocker), init }, before, initText: init };
}

export interface Disagreement {
  /**
   * BROADER: knockc opens or keeps open what the real programs do not; NARROWER: the reverse.
   * CLOSES_MORE: knockc revokes a grant whose rule the real -D does not remove (it holds 2+
   * copies, or was added by another line written differently: -D compares matches in order);
   * knockc's grant is one kernel set element per grant, so a closing door closes it: a
   * documented, fail-closed difference (README), counted, not a failure.
   */
  readonly kind: 'BROADER' | 'NARROWER' | 'UNMODELED' | 'HARNESS' | 'CLOSES_MORE';
  readonly detail: string;
}

function backendOf(action: unknown, variant: Variant): Variant {
  const a = action as { store?: { name?: string }; tool?: string } | null;
  const name = a?.store?.name ?? a?.tool ?? '';
  if (name.includes('legacy')) return 'legacy';
  if (name.includes('nft')) return 'nft';
  return variant;
}

export interface RealState {
  /** `${backend} ${key}` -> copies. */
  readonly counts: Map<string, number>;
  readonly unknown: string[];
  readonly rules: string[];
}

export function realState(r: ExecResult, fam: Fam, knocker: string): RealState {
  const counts = new Map<string, number>();
  const unknown: string[] = [];
  const rules: string[] = [];
  const dumps: [Variant, Fam, string][] = [
    ['nft', 'ip', r.dumps.nft4],
    ['nft', 'ip6', r.dumps.nft6],
    ['legacy', 'ip', r.dumps.leg4],
    ['legacy', 'ip6', r.dumps.leg6],
  ];
  for (const [backend, dfam, text] of dumps) {
    // A rule in the other family's tables is never a grant for this knocker.
    const s = readSave(text, dfam, dfam === fam ? knocker : dfam === 'ip' ? '0.0.0.0' : '::');
    for (const [k, n] of s.keys) counts.set(`${backend} ${k}`, (counts.get(`${backend} ${k}`) ?? 0) + n);
    for (const u of s.unknown) unknown.push(`${backend}/${dfam} ${u}`);
    for (const line of text.split('\n')) if (line.startsWith('-A ')) rules.push(`${backend}/${dfam} ${line}`);
  }
  return { counts, unknown, rules };
}

export function compare(p: Planned, variant: Variant, model: ModelEffect, r: ExecResult): Disagreement[] {
  const d: Disagreement[] = [];
  if (r.initFailed.length > 0) return [{ kind: 'HARNESS', detail: `initial state not loaded: ${r.initFailed.join(' | ')}` }];
  if (model.kind === 'runtime') return d;
  const real = realState(r, p.fam, p.knocker);
  const before = new Map<string, number>();
  for (const [k, n] of p.before) before.set(`${variant} ${k}`, n);
  const claims = new Map<string, ('open' | 'revoke')[]>();
  if (model.kind === 'effects') {
    for (const e of model.effects) {
      const id = `${backendOf(e.action, variant)} ${normKeyOf(e.key)}`;
      claims.set(id, [...(claims.get(id) ?? []), e.effect]);
    }
  }
  for (const [id, effects] of claims) {
    const b = before.get(id) ?? 0;
    const a = real.counts.get(id) ?? 0;
    for (const e of effects) {
      if (e === 'open' && a === 0) d.push({ kind: 'BROADER', detail: `knockc opens ${id}; the real programs leave it absent (${b} -> ${a} copies)` });
      if (e === 'revoke' && a > 0 && a >= b) d.push({ kind: 'CLOSES_MORE', detail: `knockc revokes ${id}; the real programs keep it (${b} -> ${a} copies)` });
    }
  }
  for (const id of new Set([...before.keys(), ...real.counts.keys()])) {
    if (claims.has(id)) continue;
    const b = before.get(id) ?? 0;
    const a = real.counts.get(id) ?? 0;
    if (b > 0 && a === 0) d.push({ kind: 'BROADER', detail: `the real programs remove ${id} (${b} -> 0 copies); knockc keeps it` });
    if (b === 0 && a > 0) d.push({ kind: 'NARROWER', detail: `the real programs add ${id} (0 -> ${a} copies); knockc does not` });
  }
  for (const u of real.unknown) d.push({ kind: 'UNMODELED', detail: `rule knockc cannot express, yet it did not defer to the runtime: ${u}` });
  return d;
}

const normKeyOf = (k: string): string => k.replace(/ dport=0-65535 /, ' dport=* ');

export function describeModel(m: ModelEffect): string {
  if (m.kind === 'runtime') return `runtime ${m.code ?? ''} at ${m.offset} ${JSON.stringify(m.token)}: ${m.reason}`;
  if (m.kind === 'empty') return 'empty';
  if (m.effects.length === 0) return 'effects: [] (changes nothing for this family)';
  return `effects: ${m.effects
    .map((e) => {
      const a = e.action as { store?: { name?: string }; tool?: string } | null;
      return `${e.effect} [${a?.store?.name ?? a?.tool ?? '?'}] ${e.key}`;
    })
    .join('; ')}`;
}

export function report(p: Planned, variant: Variant, model: ModelEffect, r: ExecResult, ds: readonly Disagreement[]): string {
  const real = realState(r, p.fam, p.knocker);
  return [
    `line (knockd.conf):  ${JSON.stringify(p.template)}`,
    `family:              ${p.fam} (knocker ${p.knocker}${canonAddr(p.knocker, p.fam) === p.knocker ? '' : ' NOT CANONICAL'})`,
    `variant:             iptables-${variant}`,
    `initial state:       ${p.initText.length === 0 ? '(empty)' : p.initText.join(' ; ')}`,
    `knockc says:         ${describeModel(model)}`,
    `real exit status:    ${r.rc}`,
    `real output:         ${r.out === '' ? '(none)' : r.out.split('\n').join(' / ')}`,
    `real rules after:    ${real.rules.length === 0 ? '(none)' : `\n    ${real.rules.join('\n    ')}`}`,
    `disagreements:\n    ${ds.map((x) => `${x.kind}: ${x.detail}`).join('\n    ')}`,
  ].join('\n');
}
