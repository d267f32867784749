// Semantic lint rules: what a careful admin wants to know about a config
// knockd would accept. Reading problems (misread ports, timeouts...) are
// reported by the front end; these rules look at doors and their meaning.
import { codeInfo } from '../diagnostics/codes.js';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import type { Door, Knock, KnockdConfig } from '../frontend/config.js';
import { FLAG_NAMES } from '../frontend/config.js';
import type { Range } from '../frontend/source.js';
import type { DoorPlan } from '../model/plan.js';
import { FAMILIES } from '../model/plan.js';

export interface LintContext {
  readonly config: KnockdConfig;
  readonly plans: readonly DoorPlan[];
  /** --interface given on the command line (mirrors knockd -i). */
  readonly interfaceOption: string | null;
}

type Report = (code: string, message: string, range: Range) => void;
export type Rule = (ctx: LintContext, report: Report) => void;

const knockText = (ks: readonly Knock[]): string => ks.map((k) => `${k.port}:${k.proto}`).join(',');
const seqRange = (d: Door): Range => d.sequenceFrom.directive.range;
const FIREWALL_TOOL = /\b(ip6?tables(-legacy|-nft)?|ufw|firewall-cmd|nft)\b/;

const duplicateNames: Rule = ({ config }, report) => {
  const seen = new Map<string, Door>();
  for (const d of config.doors) {
    const first = seen.get(d.name);
    if (first) report('KC206', `door [${d.name}] is defined again (first at line ${first.header.range.start.line})`, d.header.range);
    else seen.set(d.name, d);
  }
};

const commandPairs: Rule = ({ config }, report) => {
  for (const d of config.doors) {
    const hasStart = !!d.startCommand.value || !!d.startCommand6.value;
    if (!hasStart) {
      report('KC222', `door [${d.name}] has no start_command: a correct knock only logs`, d.header.range);
      if (d.stopCommand.from) report('KC207', `stop_command in [${d.name}] never runs: there is no start_command`, d.stopCommand.from.range);
    }
    if (d.cmdTimeout.from && d.stopCommand.value === null && d.stopCommand6.value === null) {
      report('KC208', `cmd_timeout in [${d.name}] has no effect without a stop_command`, d.cmdTimeout.from.range);
    }
    if (d.startCommand6.value && d.stopCommand.value && d.stopCommand6.value === null && d.stopCommand6.from === null) {
      report('KC227', `IPv6 knockers of [${d.name}] run start_command_6 but then the IPv4 stop_command`, d.startCommand6.from!.range);
    }
    for (const c of [d.startCommand, d.startCommand6, d.stopCommand, d.stopCommand6]) {
      if (c.value && c.from && FIREWALL_TOOL.test(c.value) && !c.value.includes('%IP%')) {
        report('KC221', `this firewall command does not use %IP%: it acts the same for every knocker`, c.from.range);
      }
    }
  }
};

const ipv4OnlyForIpv6: Rule = ({ plans }, report) => {
  for (const p of plans) {
    const d = p.door;
    if (d.startCommand6.value !== null || !d.startCommand.value || !d.startCommand.from) continue;
    const v6 = p.families.ip6;
    const v4 = p.families.ip;
    const ipv4Only =
      (v6.kind === 'nothing' && v4.kind !== 'nothing') ||
      (v6.kind === 'runtime' && /\biptables\b/.test(d.startCommand.value) && !/\bip6tables\b/.test(d.startCommand.value));
    if (ipv4Only) {
      report('KC211', `IPv6 knockers of [${d.name}] also run this IPv4-only start_command (with an IPv6 %IP%, it fails)`, d.startCommand.from.range);
    }
  }
};

const flags: Rule = ({ config }, report) => {
  for (const d of config.doors) {
    const from = d.tcpFlags.from;
    if (!from) continue;
    const anySet = FLAG_NAMES.some((f) => d.tcpFlags.value[f] !== 'any');
    if (anySet && d.knocks.every((k) => k.proto === 'udp')) {
      report('KC210', `tcpflags of [${d.name}] never apply: every knock is UDP`, from.range);
    }
  }
};

const sequences: Rule = ({ config }, report) => {
  const doors = config.doors;
  for (const d of doors) {
    if (d.knocks.length === 1 && d.sequenceFrom.kind === 'sequence') {
      report('KC214', `[${d.name}] opens on a single knock (${knockText(d.knocks)})`, seqRange(d));
    }
  }
  // Linear in the doors whatever they hold (a config of thousands of doors with one sequence
  // must not compare every pair, nor report every pair): doors grouped by their exact sequence;
  // a door is reported once against the first door of its group (KC212), and once as a prefix
  // of the first longer door, with the number of the others (KC213).
  const keyOf = (ks: readonly Knock[], n: number): string => knockText(ks.slice(0, n));
  const groups = new Map<string, { first: Door; longer: Door | null; longerCount: number }>();
  for (const d of doors) {
    const key = keyOf(d.knocks, d.knocks.length);
    const g = groups.get(key);
    if (g) report('KC212', `[${d.name}] has the same sequence as [${g.first.name}] (${key}): both open together`, seqRange(d));
    else groups.set(key, { first: d, longer: null, longerCount: 0 });
  }
  for (const d of doors) {
    // Each of the door's proper prefixes that is some door's whole sequence.
    for (let n = 1; n < d.knocks.length; n++) {
      const g = groups.get(keyOf(d.knocks, n));
      if (!g) continue;
      if (g.longer === null) g.longer = d;
      g.longerCount++;
    }
  }
  for (const d of doors) {
    const g = groups.get(keyOf(d.knocks, d.knocks.length))!;
    if (g.longer === null) continue;
    const b = g.longer.name;
    const others = g.longerCount - 1;
    report(
      'KC213',
      others === 0
        ? `the sequence of [${d.name}] is a prefix of [${b}]'s: knocking [${b}] also opens [${d.name}]`
        : `the sequence of [${d.name}] is a prefix of [${b}]'s and of ${others} other door${others === 1 ? "'s" : "s'"}: knocking any of them also opens [${d.name}]`,
      seqRange(d),
    );
  }
};

const knockOnOpenedPort: Rule = ({ plans }, report) => {
  for (const p of plans) {
    const seen = new Set<string>();
    for (const fam of FAMILIES) {
      const plan = p.families[fam];
      if (plan.kind !== 'kernel') continue;
      for (const g of plan.opens) {
        if (g.target.kind !== 'filter') continue;
        const m = g.target.match;
        for (const k of p.door.knocks) {
          const protoHit = m.proto === null || m.proto === k.proto;
          const portHit = m.dports === null || m.dports.some((r) => k.port >= r.lo && k.port <= r.hi);
          const id = `${k.port}/${k.proto}`;
          if (protoHit && portHit && !seen.has(id)) {
            seen.add(id);
            report('KC215', `knock ${id} of [${p.door.name}] is also a port this door opens`, k.item.range);
          }
        }
      }
    }
  }
};

const runtimeNeeds: Rule = ({ plans }, report) => {
  for (const p of plans) {
    const seen = new Set<string>();
    for (const fam of FAMILIES) {
      const plan = p.families[fam];
      if (plan.kind !== 'runtime') continue;
      const id = `${plan.range.start.line}:${plan.range.start.col}:${plan.code}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const what =
        plan.code === 'KC401' ? `"${plan.token}" not understood (${plan.reason})` : plan.code === 'KC402' ? plan.reason : `"${plan.token}": ${plan.reason}`;
      report(plan.code, `[${p.door.name}] needs the runtime: ${what}`, plan.range);
    }
    if (p.door.sequenceFrom.kind === 'one-time') {
      report('KC404', `[${p.door.name}] uses one-time sequences: it opens only through \`knockc run\`, which retires each used line and loads the next sequence`, p.door.sequenceFrom.directive.range);
    }
  }
};

const environment: Rule = ({ config, interfaceOption }, report) => {
  if (!interfaceOption && config.options.interface.value === null && config.doors.length > 0) {
    report('KC403', 'no Interface in [options] and no --interface: knocks count on every interface (knockd would listen on eth0 only)', config.doors[0]!.header.range);
  }
  const o = config.options;
  const logFrom = o.useSyslog.from ?? o.logFile.from;
  if (logFrom) report('KC405', 'logging settings apply to `knockc run`; compiled doors log through the kernel (compile --log)', logFrom.range);
};

export const RULES: readonly Rule[] = [
  duplicateNames, commandPairs, ipv4OnlyForIpv6, flags, sequences, knockOnOpenedPort, runtimeNeeds, environment,
];

/** The codes that say a door needs the runtime (compile and apply show them). */
export const RUNTIME_CODES: readonly string[] = ['KC401', 'KC402', 'KC404', 'KC407', 'KC408'];

/** The only rules that report the codes compile shows (RUNTIME_CODES; a target adds its own check). */
export const COMPILE_RULES: readonly Rule[] = [runtimeNeeds];

export function runRules(ctx: LintContext, rules: readonly Rule[] = RULES): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report: Report = (code, message, range) => {
    const info = codeInfo(code);
    out.push({ code, severity: info.severity, message, range, hint: info.hint });
  };
  for (const r of rules) r(ctx, report);
  return out;
}
