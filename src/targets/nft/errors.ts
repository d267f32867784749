// nft's errors point at a line of the generated script (`/dev/stdin:19:11-21:
// Error: value too large`); this maps that line back to the door, and the
// setting of the door, that produced it.
import type { Door, KnockdConfig } from '../../frontend/config.js';
import type { Range } from '../../frontend/source.js';
import type { Program } from '../../model/ir.js';

export interface NftError {
  /** 1-based line of the script nft read, or null when nft gave no place. */
  readonly scriptLine: number | null;
  readonly message: string;
}

export interface MappedError {
  readonly message: string;
  /** The script line's text (trimmed), when nft gave one. */
  readonly scriptText: string | null;
  readonly scriptLine: number | null;
  readonly door: string | null;
  /** Where in the config: the door setting, or the door's header. */
  readonly where: Range | null;
  /** Which part of the script: the compiled rules, knockc's removal of what was loaded, or carried-over state. */
  readonly part: 'rules' | 'prelude' | 'state' | 'unknown';
}

/** The `Error:` lines of nft's stderr, with their script line. */
export function parseNftErrors(stderr: string): NftError[] {
  const out: NftError[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^(?:.*?):(\d+):(\d+)(?:-\d+)?: Error: (.*)$/.exec(line);
    if (m) {
      out.push({ scriptLine: Number(m[1]), message: m[3]!.trim() });
      continue;
    }
    const e = /(?:^|\s)Error: (.*)$/.exec(line);
    if (e) out.push({ scriptLine: null, message: e[1]!.trim() });
  }
  if (out.length === 0 && stderr.trim()) out.push({ scriptLine: null, message: stderr.trim().split('\n')[0]! });
  // nft repeats one failure for every command of the batch it aborted: keep each message once.
  const seen = new Set<string>();
  return out.filter((e) => {
    const k = `${e.scriptLine}|${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The knockc object (set or chain name) a line of the compiled text belongs to. */
export function objectOfLine(lines: readonly string[], index: number): { kind: 'set' | 'chain' | 'rule'; name: string } | null {
  const line = lines[index] ?? '';
  const flat = /^(?:add|insert|flush|delete) (set|chain|rule) \S+ \S+ (\S+)/.exec(line);
  if (flat) return { kind: flat[1] as 'set' | 'chain' | 'rule', name: flat[2]! };
  for (let i = index; i >= 0; i--) {
    const m = /^\s*(set|chain) (\S+) \{/.exec(lines[i]!);
    if (m) return { kind: i === index ? (m[1] as 'set' | 'chain') : m[1] === 'set' ? 'set' : 'rule', name: m[2]! };
    if (/^table /.test(lines[i]!)) break;
  }
  return null;
}

function doorByLabel(config: KnockdConfig, text: string): Door | null {
  const m = /\[([^\]]*)\] line (\d+)/.exec(text);
  if (!m) return null;
  return config.doors.find((d) => d.name === m[1] && d.header.range.start.line === Number(m[2])) ?? null;
}

/** The door an IR object belongs to (SetDecl.door, Chain.door). */
const doorAt = (config: KnockdConfig, index: number | null | undefined): Door | null => (index === null || index === undefined ? null : (config.doors.find((d) => d.index === index) ?? null));

/** The doors that open a grant set (from the program's rules). */
function doorsOpening(program: Program, config: KnockdConfig, set: string): Door[] {
  const out: Door[] = [];
  for (const c of program.chains) {
    for (const l of c.lines) {
      if (l.kind !== 'rule' || !l.stmts.some((s) => (s.k === 'set-add' || s.k === 'set-refresh') && s.set === set)) continue;
      const d = doorAt(config, c.door) ?? doorByLabel(config, l.comment ?? '') ?? doorByLabel(config, c.comment);
      if (d && !out.includes(d)) out.push(d);
    }
  }
  return out;
}

export interface ScriptParts {
  readonly text: string;
  readonly preludeLines: number;
  readonly compiledLines: number;
}

export function mapNftErrors(stderr: string, script: ScriptParts, program: Program, config: KnockdConfig): MappedError[] {
  const lines = script.text.split('\n');
  return parseNftErrors(stderr).map((e): MappedError => {
    if (e.scriptLine === null) return { message: e.message, scriptText: null, scriptLine: null, door: null, where: null, part: 'unknown' };
    const idx = e.scriptLine - 1;
    const scriptText = (lines[idx] ?? '').trim();
    const base = { message: e.message, scriptText, scriptLine: e.scriptLine };
    if (idx < script.preludeLines) return { ...base, door: null, where: null, part: 'prelude' };
    if (idx >= script.preludeLines + script.compiledLines) return { ...base, door: null, where: null, part: 'state' };
    const obj = objectOfLine(lines, idx);
    let door: Door | null = doorByLabel(config, scriptText);
    let where: Range | null = null;
    if (obj && !door) {
      const set = program.sets.find((s) => s.name === obj.name);
      if (set) {
        door = set.role === 'grant' ? (doorsOpening(program, config, set.name)[0] ?? null) : doorAt(config, set.door);
        // A set's own line, or its timeout: the door setting that gave the timeout.
        if (door && /\btimeout\b/.test(scriptText)) where = (set.role === 'grant' ? door.cmdTimeout.from : door.seqTimeout.from)?.range ?? null;
      } else {
        const chain = program.chains.find((c) => c.name === obj.name);
        if (chain) door = doorAt(config, chain.door) ?? doorByLabel(config, chain.comment);
      }
    }
    // A shared set's elements take their timeout from the rule: the door's seq_timeout, or for a grant its cmd_timeout.
    if (door && !where && /too large|range/i.test(e.message)) {
      if (/@knockc_grant[46] \{[^}]*\btimeout\b/.test(scriptText)) where = door.cmdTimeout.from?.range ?? null;
      else if (/@knockc_(?:armed|stage)[46](?:_\d+)? \{[^}]*\btimeout\b/.test(scriptText)) where = door.seqTimeout.from?.range ?? null;
    }
    return { ...base, door: door?.name ?? null, where: where ?? door?.header.range ?? null, part: 'rules' };
  });
}

/** Messages for the terminal: `FILE:LINE:COL: error: [door] ...`, then the script line nft quoted (once per config place and message). */
export function formatMappedErrors(errors: readonly MappedError[], fallbackFile: string): string {
  const groups = new Map<string, { e: MappedError; more: number }>();
  for (const e of errors) {
    const k = e.where ? `${e.where.start.file}:${e.where.start.line}:${e.where.start.col}|${e.door}|${e.message}` : `${e.scriptLine}|${e.message}`;
    const g = groups.get(k);
    if (g) g.more++;
    else groups.set(k, { e, more: 0 });
  }
  return [...groups.values()]
    .map(({ e, more }) => {
      const at = e.where ? `${e.where.start.file}:${e.where.start.line}:${e.where.start.col}` : fallbackFile;
      const what =
        e.part === 'prelude'
          ? 'removing what knockc loaded before failed'
          : e.part === 'state'
            ? 'carrying live state over failed'
            : 'nft rejects the rules';
      const head = `${at}: error: ${e.door ? `[${e.door}] ` : ''}${what}: ${e.message}`;
      const also = more ? ` (and ${more} more line${more === 1 ? '' : 's'} of the script from the same setting)` : '';
      return e.scriptLine !== null ? `${head}\n    nft: script line ${e.scriptLine}: ${e.scriptText}${also}\n` : `${head}\n`;
    })
    .join('');
}
