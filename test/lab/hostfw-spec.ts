/**
 * Generated ufw and firewall-cmd command lines for the differential test against the real
 * programs (hostfw-differential.test.ts): the forms knockc recognises in many spellings
 * (keyword orders, quoting, `=` or a blank, paths), forms it must refuse, chained with `;`,
 * `&&` and `||`, sometimes with an iptables command (whose exit status the chain follows).
 * Every command can also be rendered as the `add` form of the same rule, which is how
 * initial states are made ("the rule is already there").
 */
import fc from 'fast-check';
import type { Family } from '../../src/model/grant.js';
import type { LineEffect } from '../../src/model/commands.js';
import type { Keys } from './hostfw-read.js';

export const KNOCKERS: Readonly<Record<Family, readonly string[]>> = {
  ip: ['198.51.100.2', '198.51.100.77', '203.0.113.9'],
  // As knockd writes %IP% (glibc inet_ntop).
  ip6: ['2001:db8::2', '2001:db8:0:1::a', '2001:db8::100'],
};

// ------------------------------------------------------------------------------------ ufw

export interface UfwSpec {
  readonly kind: 'ufw';
  readonly path: string;
  readonly prefix: string; // '', 'delete', 'prepend', 'insert N'
  readonly action: string;
  readonly inOn: string; // '', 'in', 'in on IFACE'
  readonly src: string;
  readonly to: string | null;
  readonly port: string | null;
  /** `from X port P` (a source port) instead of `to ... port P`. */
  readonly portAfterFrom: boolean;
  readonly proto: string | null;
  /** Permutation of the from / to / proto clauses (0-5). */
  readonly order: number;
  readonly tail: string;
}

export interface FwSpec {
  readonly kind: 'fw';
  readonly path: string;
  readonly zone: string | null; // '--zone=internal', '--zone internal'
  readonly quiet: string | null;
  readonly quietFirst: boolean;
  readonly op: string; // '--add-rich-rule', '--remove-rich-rule', '--add-rich'
  readonly opSep: '=' | ' ';
  readonly family: string | null; // 'family="ipv4"', 'family=ipv6', ...
  readonly source: string; // 'source address="%IP%"', ...
  readonly element: string | null;
  readonly action: string;
  /** Where the family attribute goes among the rule's elements (0 = right after `rule`). */
  readonly familyAt: number;
  readonly accepts: 'last' | 'before-element';
  readonly quote: "'" | '"';
}

export interface IptSpec {
  readonly kind: 'ipt';
  readonly tool: 'iptables' | 'ip6tables';
  readonly op: '-I' | '-A' | '-D';
  readonly port: number;
}

export type CmdSpec = UfwSpec | FwSpec | IptSpec;

const PERMS = [
  [0, 1, 2],
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
] as const;

function renderUfw(s: UfwSpec, add: boolean): string {
  const head = [s.path, ...(add || s.prefix === '' ? [] : [s.prefix]), s.action, ...(s.inOn ? [s.inOn] : [])];
  const port = s.port === null ? [] : ['port', s.port];
  const clauses = [
    ['from', s.src, ...(s.portAfterFrom ? port : [])],
    s.to === null ? [] : ['to', s.to, ...(s.portAfterFrom ? [] : port)],
    s.proto === null ? [] : ['proto', s.proto],
  ];
  const body = (PERMS[s.order] ?? PERMS[0]).flatMap((i) => clauses[i] as string[]);
  return [...head, ...body, ...(s.tail ? [s.tail] : [])].join(' ');
}

export function richRule(s: FwSpec): string {
  const parts: string[] = [s.source];
  if (s.element !== null) {
    if (s.accepts === 'before-element') parts.push(s.action, s.element);
    else parts.push(s.element, s.action);
  } else {
    parts.push(s.action);
  }
  if (s.family !== null) parts.splice(Math.min(s.familyAt, parts.length), 0, s.family);
  return `rule ${parts.join(' ')}`;
}

function quoted(text: string, q: "'" | '"'): string {
  return q === "'" ? `'${text}'` : `"${text.replace(/["\\$`]/g, (c) => `\\${c}`)}"`;
}

function renderFw(s: FwSpec, add: boolean): string {
  const rule = quoted(richRule(s), s.quote);
  const op = add ? '--add-rich-rule' : s.op;
  const opt = s.opSep === '=' ? [`${op}=${rule}`] : [op, rule];
  const quiet = add || s.quiet === null ? [] : [s.quiet];
  return [s.path, ...(s.zone === null ? [] : [s.zone]), ...(s.quietFirst ? quiet : []), ...opt, ...(s.quietFirst ? [] : quiet)].join(' ');
}

function renderIpt(s: IptSpec, add: boolean): string {
  return `${s.tool} ${add ? '-A' : s.op} INPUT -s %IP% -p tcp --dport ${s.port} -j ACCEPT`;
}

/** The command as written in the line (add = false), or as the `add` of the same rule. */
export function renderCmd(s: CmdSpec, add = false): string {
  return s.kind === 'ufw' ? renderUfw(s, add) : s.kind === 'fw' ? renderFw(s, add) : renderIpt(s, add);
}

// ------------------------------------------------------------------------- generators

const weighted = <T>(...xs: Array<[number, T]>): fc.Arbitrary<T> => fc.oneof(...xs.map(([weight, v]) => ({ weight, arbitrary: fc.constant(v) })));

/**
 * Each command is drawn in a spelling knockc reads, then (one time in four) given one
 * change that knockc must refuse or read differently: a line is compiled only when all
 * its commands are, so refused spellings are kept rare enough for most lines to compile.
 */
const UFW_MUTATIONS: ReadonlyArray<(s: UfwSpec) => UfwSpec> = [
  (s) => ({ ...s, path: '/opt/bogus/ufw' }),
  (s) => ({ ...s, prefix: 'insert 1' }),
  (s) => ({ ...s, prefix: 'insert 3' }),
  (s) => ({ ...s, action: 'deny' }),
  (s) => ({ ...s, action: 'limit' }),
  (s) => ({ ...s, action: 'ALLOW' }),
  (s) => ({ ...s, inOn: 'in on eth0:1' }),
  (s) => ({ ...s, inOn: 'in on eth+' }),
  (s) => ({ ...s, src: 'any' }),
  (s) => ({ ...s, to: s.to ?? 'any', port: '022' }),
  (s) => ({ ...s, to: s.to ?? 'any', port: '0' }),
  (s) => ({ ...s, to: s.to ?? 'any', port: '70000' }),
  (s) => ({ ...s, to: s.to ?? 'any', port: 'ssh' }),
  (s) => ({ ...s, to: s.to ?? 'any', port: '80:79', proto: 'tcp' }),
  (s) => ({ ...s, to: s.to ?? 'any', port: '22:24', proto: null }),
  (s) => ({ ...s, port: s.port ?? '22', portAfterFrom: true }),
  (s) => ({ ...s, proto: 'TCP' }),
  (s) => ({ ...s, proto: 'any' }),
  (s) => ({ ...s, proto: 'icmp' }),
  (s) => ({ ...s, tail: "comment 'knock'" }),
  (s) => ({ ...s, tail: 'log' }),
];

export const ufwArb: fc.Arbitrary<UfwSpec> = fc
  .record({
    // /usr/sbin/ufw and /sbin/ufw exist on Debian 12 (merged /usr).
    path: weighted<string>([8, 'ufw'], [2, '/usr/sbin/ufw'], [1, '/sbin/ufw']),
    prefix: weighted<string>([6, ''], [4, 'delete'], [2, 'prepend']),
    action: fc.constant('allow'),
    inOn: weighted<string>([8, ''], [2, 'in'], [2, 'in on eth0'], [1, 'in on kc0']),
    src: weighted<string>([8, '%IP%'], [2, '%IP%/32'], [2, '%IP%/128']),
    to: weighted<string | null>(
      [4, null],
      [8, 'any'],
      [1, 'ANY'],
      [2, '198.51.100.1'],
      [1, '198.51.100.1/24'],
      [1, '203.0.113.0/24'],
      [2, '2001:db8::1'],
      [1, '2001:db8:1::/64'],
    ),
    port: weighted<string | null>([3, null], [8, '22'], [3, '2222'], [2, '22:24'], [2, '22,80'], [1, '1000:1010,2000']),
    portAfterFrom: fc.constant(false),
    proto: weighted<string | null>([4, null], [6, 'tcp'], [3, 'udp']),
    order: fc.integer({ min: 0, max: 5 }),
    tail: fc.constant(''),
    mutation: fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: UFW_MUTATIONS.length - 1 }) }),
  })
  .map(({ mutation, ...r }) => {
    // A list or range without proto is refused by ufw itself ("Must specify 'tcp' or 'udp'"): give it one, unless mutated.
    const spec: UfwSpec = { kind: 'ufw', ...r, proto: r.proto ?? (r.port !== null && /[:,]/.test(r.port) ? 'tcp' : null) };
    return mutation < 0 ? spec : (UFW_MUTATIONS[mutation] as (s: UfwSpec) => UfwSpec)(spec);
  });

const FW_MUTATIONS: ReadonlyArray<(s: FwSpec) => FwSpec> = [
  (s) => ({ ...s, path: '/opt/bogus/firewall-cmd' }),
  (s) => ({ ...s, zone: '--zone=public' }),
  (s) => ({ ...s, zone: '--zone public' }),
  (s) => ({ ...s, zone: '--zone=internal' }),
  (s) => ({ ...s, zone: '--zone=trusted' }),
  (s) => ({ ...s, zone: '--zone=nosuch' }),
  (s) => ({ ...s, op: '--add-rich' }),
  (s) => ({ ...s, family: 'family="IPV4"' }),
  (s) => ({ ...s, family: null }),
  (s) => ({ ...s, source: 'source NOT address="%IP%"' }),
  (s) => ({ ...s, source: 'source address="%IP%/24"' }),
  (s) => ({ ...s, element: 'port port="022" protocol="tcp"' }),
  (s) => ({ ...s, element: 'port port="0" protocol="tcp"' }),
  (s) => ({ ...s, element: 'port port="25-23" protocol="tcp"' }),
  (s) => ({ ...s, element: 'port port="22-22" protocol="tcp"' }),
  (s) => ({ ...s, element: 'port port="22" protocol="TCP"' }),
  (s) => ({ ...s, element: 'port port="22" protocol="sctp"' }),
  (s) => ({ ...s, element: 'port port="22"' }),
  (s) => ({ ...s, element: 'service name="dns"' }),
  (s) => ({ ...s, element: 'service name="nosuch"' }),
  (s) => ({ ...s, action: 'accept limit value="1/m"' }),
  (s) => ({ ...s, action: 'log accept' }),
  (s) => ({ ...s, action: 'drop' }),
];

const fwElement = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({
        port: weighted<string>([8, '22'], [3, '2222'], [3, '22-24']),
        protocol: weighted<string>([8, 'tcp'], [4, 'udp']),
        protoFirst: fc.boolean(),
        q: weighted([3, '"'], [1, '']),
      })
      .map(({ port, protocol, protoFirst, q }) => {
        const a = `port=${q}${port}${q}`;
        const b = `protocol=${q}${protocol}${q}`;
        return `port ${protoFirst ? `${b} ${a}` : `${a} ${b}`}`;
      }),
  },
  { weight: 3, arbitrary: weighted<string>([4, 'ssh'], [2, 'http'], [2, 'https']).map((n) => `service name="${n}"`) },
  { weight: 1, arbitrary: fc.constant(null) },
);

export const fwArb: fc.Arbitrary<FwSpec> = fc
  .record({
    path: weighted<string>([8, 'firewall-cmd'], [2, '/usr/bin/firewall-cmd'], [1, '/bin/firewall-cmd']),
    zone: fc.constant(null),
    quiet: weighted<string | null>([6, null], [3, '-q'], [1, '--quiet']),
    quietFirst: fc.boolean(),
    op: weighted<string>([8, '--add-rich-rule'], [5, '--remove-rich-rule']),
    opSep: weighted<'=' | ' '>([4, '='], [1, ' ']),
    family: weighted<string>([4, 'family="ipv4"'], [4, 'family="ipv6"'], [1, 'family=ipv4'], [1, 'family=ipv6']),
    source: weighted<string>([10, 'source address="%IP%"'], [2, 'source address=%IP%'], [2, 'source address="%IP%/32"'], [2, 'source address="%IP%/128"']),
    element: fwElement,
    action: fc.constant('accept'),
    familyAt: weighted([12, 0], [2, 1], [1, 2], [1, 3]),
    accepts: weighted<'last' | 'before-element'>([8, 'last'], [1, 'before-element']),
    quote: weighted<"'" | '"'>([4, "'"], [1, '"']),
    mutation: fc.oneof({ weight: 4, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: FW_MUTATIONS.length - 1 }) }),
  })
  .map(({ mutation, ...r }) => {
    const spec: FwSpec = { kind: 'fw', ...r };
    return mutation < 0 ? spec : (FW_MUTATIONS[mutation] as (s: FwSpec) => FwSpec)(spec);
  });

export const iptArb: fc.Arbitrary<IptSpec> = fc.record({
  kind: fc.constant('ipt' as const),
  tool: fc.constantFrom('iptables' as const, 'ip6tables' as const),
  op: weighted<'-I' | '-A' | '-D'>([2, '-I'], [1, '-A'], [2, '-D']),
  port: fc.constantFrom(9000, 9001),
});

export type HostTool = 'ufw' | 'firewalld';

export interface GenCase {
  readonly tool: HostTool;
  readonly cmds: readonly CmdSpec[];
  readonly joins: ReadonlyArray<'; ' | ' && ' | ' || ' | ';'>;
  readonly family: Family;
  readonly knocker: number;
  /** Per command: copies of its add form in the initial state (0 = absent). */
  readonly present: readonly number[];
}

/**
 * Every form the generator makes is compared, those of the disagreements this test found
 * included (ufw `port 22` and `port 22 proto tcp` in one line; firewalld `service ssh` and
 * `port 22 tcp`, `address="A"` and `"A/32"`; ufw `from %IP%/32` for an IPv6 knocker).
 */
export function caseArb(tool: HostTool): fc.Arbitrary<GenCase> {
  const main = tool === 'ufw' ? ufwArb : fwArb;
  const cmd: fc.Arbitrary<CmdSpec> = fc.oneof({ weight: 5, arbitrary: main as fc.Arbitrary<CmdSpec> }, { weight: 1, arbitrary: iptArb });
  return fc
    .record({
      first: main as fc.Arbitrary<CmdSpec>,
      rest: fc.array(cmd, { maxLength: 2 }),
      joins: fc.array(weighted<'; ' | ' && ' | ' || ' | ';'>([3, '; '], [3, ' && '], [2, ' || '], [1, ';']), { minLength: 2, maxLength: 2 }),
      family: fc.constantFrom<Family>('ip', 'ip6'),
      knocker: fc.integer({ min: 0, max: 2 }),
      present: fc.array(weighted([3, 0], [3, 1], [1, 2]), { minLength: 3, maxLength: 3 }),
      // A rich rule's family is the knocker's 7 times in 10 (the other family fails: INVALID_ADDR).
      align: fc.array(weighted([7, true], [3, false]), { minLength: 3, maxLength: 3 }),
    })
    .map(({ first, rest, joins, family, knocker, present, align }) => {
      const fam = family === 'ip' ? 'ipv4' : 'ipv6';
      const cmds = [first, ...rest].map((s, i) =>
        s.kind === 'fw' && align[i] && s.family !== null && /ipv[46]/.test(s.family) ? { ...s, family: s.family.replace(/ipv[46]/, fam) } : s,
      );
      const c: GenCase = { tool, cmds, joins: joins.slice(0, cmds.length - 1), family, knocker, present: present.slice(0, cmds.length) };
      return c;
    });
}

export function lineOf(c: GenCase): string {
  return c.cmds.map((s, i) => (i === 0 ? '' : (c.joins[i - 1] as string)) + renderCmd(s)).join('');
}

export function knockerOf(c: GenCase): string {
  return KNOCKERS[c.family][c.knocker] as string;
}

export function subst(text: string, knocker: string): string {
  return text.split('%IP%').join(knocker);
}

/** Single-quoted for sh. */
function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A shell command that adds a runtime rich rule through firewalld's D-Bus API (what
 * firewall-cmd --add-rich-rule calls, without its 0.2 s Python start-up).
 */
export function firewalldAddRich(rule: string, zone = ''): string {
  return `dbus-send --system --print-reply --dest=org.fedoraproject.FirewallD1 /org/fedoraproject/FirewallD1 org.fedoraproject.FirewallD1.zone.addRichRule string:${shq(zone)} string:${shq(rule)} int32:0 >/dev/null`;
}

/**
 * Initial state: the add form of each command as many times as `present` says (copies
 * matter for iptables only; ufw and firewalld skip an existing rule), with %IP% replaced.
 * firewall-cmd's are added through firewalld's D-Bus API (the same call, faster).
 */
export function setupOf(c: GenCase): string[] {
  const k = knockerOf(c);
  return c.cmds.flatMap((s, i) =>
    Array.from({ length: Math.min(c.present[i] ?? 0, s.kind === 'ipt' ? 2 : 1) }, () =>
      s.kind === 'fw' ? firewalldAddRich(subst(richRule(s), k), /--zone[= ](\S+)/.exec(s.zone ?? '')?.[1] ?? '') : subst(renderCmd(s, true), k),
    ),
  );
}

// ---------------------------------------------------------------------------- compare

/**
 * What knockc says against what the real programs did, key by key (store|grantKey):
 *   'open'   the rule exists after the line, whatever the initial state;
 *   'revoke' the rule has at least one copy fewer than before, or none;
 *   unlisted keys (and lines knockc reads as changing nothing) keep their presence.
 * Returns the disagreements (empty when they agree). 'runtime' is not compared.
 */
export function compareKeys(effect: LineEffect, before: Keys, after: Keys): string[] {
  if (effect.kind === 'runtime') return [];
  const claimed = new Map<string, 'open' | 'revoke'>();
  if (effect.kind === 'effects') for (const e of effect.effects) claimed.set(`${e.action.store.name}|${e.key}`, e.effect);
  const problems: string[] = [];
  for (const k of new Set([...before.keys(), ...after.keys(), ...claimed.keys()])) {
    const b = before.get(k) ?? 0;
    const a = after.get(k) ?? 0;
    const c = claimed.get(k);
    if (c === 'open' && a === 0) problems.push(`BROADER: knockc opens ${k}; the real program leaves it absent (${b} -> ${a} copies)`);
    // A revoke the real delete does not perform (it names another rule the tool holds for the same
    // grant, e.g. `port 22 proto tcp` while ufw holds `port 22`): knockc keeps one kernel element
    // per grant, so a closing door closes it. The documented fail-closed difference, not a failure.
    else if (c === 'revoke' && a > 0 && a >= b) continue;
    else if (c === undefined && a > 0 && b === 0) problems.push(`NARROWER: knockc leaves ${k} as it was (absent); the real program adds it (${b} -> ${a} copies)`);
    else if (c === undefined && a === 0 && b > 0) problems.push(`BROADER: knockc leaves ${k} as it was (present); the real program removes it (${b} -> ${a} copies)`);
  }
  return problems;
}

export function describeEffect(e: LineEffect): string {
  if (e.kind === 'empty') return 'empty';
  if (e.kind === 'runtime') return `runtime ${e.code} at '${e.token}' (${e.reason})`;
  if (e.effects.length === 0) return 'changes nothing';
  return e.effects.map((x) => `${x.effect} ${x.action.store.name}|${x.key}`).join('; ');
}
