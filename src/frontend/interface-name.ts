// Interface names that may reach rule text (Interface in [options], --interface).
//
// Linux's rule (dev_valid_name, net/core/dev.c): 1 to IFNAMSIZ-1 = 15 bytes, not "." or "..",
// no '/', ':' or whitespace. knockc refuses more, so that a name is written into an nft
// string ("...") and an iptables-restore word (-i NAME) as it is and means exactly that
// interface in both:
//   - control characters and non-ASCII bytes: invisible or look-alike characters, and a
//     config's bytes must be the rule's bytes whatever the text encoding;
//   - quotes (" ' `) and '\': nft strings cannot hold '"' (a name with one ends the string and
//     the rest is read as statements), iptables-restore reads quotes and backslashes as
//     quoting, shells too;
//   - '$', '{', '}': template and variable syntax (Jinja {{ x }}, ${VAR}, $VAR, nft's own
//     $var): such a value is an unrendered template, not an interface;
//   - a trailing '+' or '*': a wildcard in iptables (-i eth+) and in nft (iifname "eth*"),
//     which would match every interface of that prefix.
// knockd would not start with any of these either: pcap cannot open a device of that name.

/** IFNAMSIZ - 1: the longest name Linux accepts, in bytes. */
export const IFNAME_MAX_BYTES = 15;

/** Bytes allowed anywhere in a name (printable ASCII but / : " ' ` \ $ { }). */
export const IFNAME_CHARS: readonly string[] = Array.from({ length: 0x7f - 0x21 }, (_, i) => String.fromCharCode(0x21 + i)).filter(
  (c) => !'/:"\'`\\${}'.includes(c),
);
const ALLOWED = new Set(IFNAME_CHARS);

/** `{{ network_interface }}`, `{% ... %}`, `${PRIMARY_INTERFACE}`, `$interface`. */
export function looksLikeTemplate(value: string): boolean {
  return /\{\{|\{%|\$\{|\$[A-Za-z_]/.test(value);
}

const show = (c: string): string => {
  const code = c.codePointAt(0)!;
  return code < 0x20 || code === 0x7f ? `U+${code.toString(16).toUpperCase().padStart(4, '0')}` : `'${c}'`;
};

export interface InterfaceNameProblem {
  /** "it contains '/'" */
  readonly text: string;
  /** true: Linux itself refuses the name (dev_valid_name); false: knockc refuses it for the rules' sake. */
  readonly linux: boolean;
}

/** Why `name` cannot be used as an interface name in rules, or null when it can. */
export function interfaceNameProblem(name: string): InterfaceNameProblem | null {
  const linux = (text: string): InterfaceNameProblem => ({ text, linux: true });
  const ours = (text: string): InterfaceNameProblem => ({ text, linux: false });
  if (name.length === 0) return linux('it is empty');
  if (name === '.' || name === '..') return linux(`"${name}" is not a name`);
  for (const c of name) {
    if (ALLOWED.has(c)) continue;
    if (c === '/' || c === ':') return linux(`it contains ${show(c)}`);
    if (/\s/.test(c)) return linux(c === ' ' || c === '\t' ? 'it contains a blank' : `it contains whitespace (${show(c)})`);
    if (c < ' ' || c === '\x7f') return ours(`it contains a control character (${show(c)})`);
    if (c > '\x7f') return ours(`it contains a non-ASCII character ('${c}')`);
    if (c === '"' || c === "'" || c === '`') return ours(`it contains a quote (${show(c)})`);
    return ours(`it contains ${show(c)}`);
  }
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > IFNAME_MAX_BYTES) return linux(`it is ${bytes} bytes long, over ${IFNAME_MAX_BYTES}`);
  if (name.endsWith('+')) return ours("it ends with '+', a wildcard in iptables rules");
  if (name.endsWith('*')) return ours("it ends with '*', a wildcard in nft rules");
  return null;
}

/** The whole message: what is wrong with `value` as an interface name, or null when nothing is. */
export function interfaceNameError(value: string, what: string): string | null {
  const problem = interfaceNameProblem(value);
  if (problem === null) return null;
  const shown = JSON.stringify(value);
  if (looksLikeTemplate(value)) {
    return `${what} ${shown} looks like an unrendered template, not an interface name: render it (or set the variable) first; knockd would not start with it either`;
  }
  return problem.linux
    ? `${what} ${shown} is not an interface name: ${problem.text} (Linux allows no such name, so knockd would not start)`
    : `${what} ${shown} is not an interface name knockc accepts: ${problem.text}, which cannot be written safely into rules`;
}
