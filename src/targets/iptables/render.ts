// A ruleset as iptables-restore input, through templates/iptables/*.hbs.
import type { FlagName } from '../../frontend/config.js';
import { interfaceNameProblem } from '../../frontend/interface-name.js';
import type { PortRange } from '../../model/grant.js';
import type { Program } from '../../model/ir.js';
import { loadTemplate, tidy } from '../templates.js';
import { IptablesError, safe, type Frag, type IptRuleset } from './ruleset.js';

const UPPER = (fs: readonly FlagName[]): string => (fs.length ? fs.map((f) => f.toUpperCase()).join(',') : 'NONE');
const portsText = (rs: readonly PortRange[]): string => rs.map((r) => (r.lo === r.hi ? `${r.lo}` : `${r.lo}:${r.hi}`)).join(',');

/**
 * An interface name as an iptables-restore word: `-i eth0`. Names are checked where they enter
 * (KC116, --interface); this is the last word before the text: nothing iptables-restore would
 * read otherwise (blanks and quotes split or quote words, a trailing '+' is a wildcard) gets through.
 */
export function iptIfname(name: string): string {
  const problem = interfaceNameProblem(name);
  if (problem !== null) throw new IptablesError(`interface ${JSON.stringify(name)} cannot be written in an iptables rule: ${problem.text}`);
  return name;
}

function fragView(f: Frag): unknown {
  switch (f.k) {
    case 'iif':
      return { ...f, name: iptIfname(f.name) };
    case 'tcp-flags':
      return { ...f, mask: UPPER(f.mask), set: UPPER(f.set) };
    case 'multiport':
      return { ...f, ports: portsText(f.ranges) };
    default:
      return f;
  }
}

/** What the file's header says besides the rules. */
export interface RenderMeta {
  readonly version: string;
  readonly source: string;
  readonly notifyGroup: number;
  readonly guard: boolean;
  readonly doors: ReadonlyArray<{ readonly name: string; readonly line: number; readonly summary: string }>;
  readonly runtimeDoors: Program['runtimeDoors'];
}

/** iptables-restore input for a ruleset. */
export function renderIptables(ruleset: IptRuleset, meta: RenderMeta): string {
  const v6 = ruleset.family === 'ip6';
  const data = {
    ...meta,
    v6,
    tool: v6 ? 'ip6tables' : 'iptables',
    other: v6 ? '4' : '6',
    lists: ruleset.lists.map((l) => ({ ...l, comment: safe(l.comment, 200) })),
    hooks: ruleset.hooks,
    chains: ruleset.chains.map((c) => ({
      name: c.name,
      comment: safe(c.comment, 200),
      // Made when the template reaches the chain (an own getter, which Handlebars reads like a
      // property), so that the views of a big ruleset never all live at once.
      get rules() {
        return c.rules.map((r) => ({ match: r.match.map(fragView), target: r.target }));
      },
    })),
  };
  return tidy(loadTemplate('iptables', 'restore', ['syntax'])(data));
}
