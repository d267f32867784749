// knockd's parseconfig(): turns the lines of a knockd.conf into a typed
// config, rejecting exactly what knockd rejects (errors) and noting where
// knockd silently misreads the text (warnings).
import type { IToken } from 'chevrotain';
import { codeInfo } from '../diagnostics/codes.js';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { DEFAULT_MAX_FINDINGS, FindingCollector, tallyTotal, type Tally } from '../diagnostics/limit.js';
import { cutBytes } from '../text.js';
import { atoi, cSpaces, cTrim, cUpper } from './cnum.js';
import type { Door, Knock, Located, OneTimeEntry, SequenceSource, Setting, TcpFlags } from './config.js';
import { readOneTimeEntries } from './one-time.js';
import { ANY_FLAGS, DEFAULT_CMD_TIMEOUT, DEFAULT_PIDFILE, DEFAULT_SEQ_TIMEOUT, type KnockdConfig } from './config.js';
import { readTarget } from './address.js';
import { interfaceNameError } from './interface-name.js';
import { parseLines } from './parser.js';
import { readSequence, readTcpFlags, type ReadKnock, type SequenceProblem } from './sequence.js';
import { type LogicalLine, type Range, type SourceText } from './source.js';

export interface BuildHost {
  /** Reads a one-time sequences file the way knockd would (relative to its working directory). */
  readOneTimeFile(path: string): { ok: true; bytes: Uint8Array; shownAs: string } | { ok: false; message: string };
}

export interface BuildResult {
  readonly config: KnockdConfig | null;
  /** In place order; at most `maxFindings` of them (BuildLimits). */
  readonly diagnostics: readonly Diagnostic[];
  /** Findings counted but not kept in `diagnostics` (absent: none). */
  readonly notShown?: Tally;
}

export interface BuildLimits {
  /** Findings kept (the first ones in place order); the others are only counted. Default DEFAULT_MAX_FINDINGS. */
  readonly maxFindings?: number;
}

/**
 * Doors knockc reads in one config. knockd 0.8 cannot start with far fewer: with 4,000 doors
 * pcap_compile runs out of memory, and 1,000 take it 27 s to start (measured, see
 * docs/commands.md). Beyond this, the front end reports KC117 and stops reading, so that
 * time and memory stay bounded whatever the file holds (16 MiB of "[a]" lines are 4 million doors).
 */
export const MAX_DOORS = 10_000;

/** Door keys and the setting each writes: aliases collapse to theirs, so "given twice" sees through them. */
const DOOR_SETTINGS: ReadonlyMap<string, string> = new Map([
  ['TARGET', 'TARGET'], ['SEQUENCE', 'SEQUENCE'], ['ONE_TIME_SEQUENCES', 'SEQUENCE'], ['SEQ_TIMEOUT', 'SEQ_TIMEOUT'],
  ['TIMEOUT', 'SEQ_TIMEOUT'], ['START_COMMAND', 'START_COMMAND'], ['COMMAND', 'START_COMMAND'], ['START_COMMAND_6', 'START_COMMAND_6'],
  ['COMMAND_6', 'START_COMMAND_6'], ['CMD_TIMEOUT', 'CMD_TIMEOUT'], ['STOP_COMMAND', 'STOP_COMMAND'], ['STOP_COMMAND_6', 'STOP_COMMAND_6'],
  ['TCPFLAGS', 'TCPFLAGS'],
]);
const settingOf = (key: string): string => DOOR_SETTINGS.get(key) ?? key;
const OPTION_KEYS = new Set(['LOGFILE', 'PIDFILE', 'INTERFACE']);

const NAME_BYTES = 127;

interface DoorDraft {
  index: number;
  name: string;
  header: Located<string>;
  knocks: readonly Knock[];
  sequenceFrom: SequenceSource | null;
  target: Setting<string | null>;
  seqTimeout: Setting<number>;
  cmdTimeout: Setting<number>;
  startCommand: Setting<string | null>;
  startCommand6: Setting<string | null>;
  stopCommand: Setting<string | null>;
  stopCommand6: Setting<string | null>;
  tcpFlags: Setting<TcpFlags>;
  /** A sequence or one_time_sequences line was given (a failed one has been reported already). */
  sequenceTried: boolean;
}

/** A directive as it is being applied (not kept: a file may hold millions). */
interface Directive {
  /** Upper-cased, trimmed key, as knockd compares it. */
  readonly key: string;
  readonly keyAt: Located<string>;
}

/** Keys upper-cased by spelling: the same few repeat on every door. */
const upperKeys = new Map<string, string>();

function upperKey(text: string): string {
  let key = upperKeys.get(text);
  if (key === undefined) {
    key = cUpper(text);
    if (upperKeys.size < 64) upperKeys.set(text, key);
  }
  return key;
}

/** UTF-8 takes at most 3 bytes per UTF-16 unit: most names need no encoding to know they fit. */
function fitsBytes(s: string, max: number): boolean {
  return s.length * 3 <= max || Buffer.byteLength(s, 'utf8') <= max;
}

export function buildConfig(src: SourceText, host: BuildHost, limits: BuildLimits = {}): BuildResult {
  const file = src.file;
  const diags = new FindingCollector(limits.maxFindings ?? DEFAULT_MAX_FINDINGS);
  const report = (code: string, message: string, range: Range): void => {
    const info = codeInfo(code);
    diags.add({ code, severity: info.severity, message, range, hint: info.hint });
  };

  const doors: DoorDraft[] = [];
  /** One-time files read for this config, by the path as written: doors sharing one read it once. */
  const oneTimeRead = new Map<string, { ok: true; entries: OneTimeEntry[] } | { ok: false; message: string }>();
  let section = '';
  let door: DoorDraft | null = null;
  /** The directive that last wrote each setting of `door` (directives only ever go to the newest door). */
  const written = new Map<string, Directive>();
  let options: { logFile: Setting<string | null>; pidFile: Setting<string>; interface: Setting<string | null>; useSyslog: Setting<boolean> } = {
    logFile: { value: null, from: null },
    pidFile: { value: DEFAULT_PIDFILE, from: null },
    interface: { value: null, from: null },
    useSyslog: { value: false, from: null },
  };

  /** `tok`, trimmed, on a line whose text offset 0 is at column `base`. */
  const located = (physLine: number, base: number, tok: IToken): Located<string> => {
    const raw = tok.image;
    const value = cTrim(raw);
    const startCol = base + tok.startOffset + cSpaces(raw);
    return {
      value,
      raw,
      range: {
        start: { file, line: physLine, col: startCol },
        end: { file, line: physLine, col: startCol + value.length },
      },
    };
  };
  const emptyAt = (physLine: number, col: number): Located<string> => ({
    value: '',
    raw: '',
    range: { start: { file, line: physLine, col }, end: { file, line: physLine, col } },
  });
  const lineRange = (line: LogicalLine): Range => ({
    start: { file, line: line.physLine, col: line.physCol },
    end: { file, line: line.physLine, col: line.physCol + line.text.length },
  });

  if (src.hasBom) {
    report('KC113', 'file starts with a UTF-8 byte order mark: knockd reads it as part of line 1 and rejects the file', {
      start: { file, line: 1, col: 1 },
      end: { file, line: 1, col: 2 },
    });
  }
  if (src.binaryScore > 0.01) {
    report('KC226', `${Math.round(src.binaryScore * 100)}% of the bytes are control characters: is this a knockd.conf?`, {
      start: { file, line: 1, col: 1 },
      end: { file, line: 1, col: 1 },
    });
  }

  parseLines(src.lines, (line, node, start): boolean => {
    if (line.splitByBuffer) {
      report('KC217', `line is longer than 4095 bytes: knockd reads the rest as line ${line.knockdLine + 1}`, lineRange(line));
    }
    if (line.hadNul) report('KC218', 'NUL byte: knockd ignores the rest of this line', lineRange(line));
    // The BOM has been reported; knockd's reaction to it (line 1 is not a section) follows naturally.
    const base = line.physCol - start;
    switch (node.kind) {
      case 'section':
        return openSection(located(line.physLine, base, node.token));
      case 'bare':
        bareDirective(located(line.physLine, base, node.word));
        return true;
      case 'directive': {
        const equalsCol = base + node.equals.startOffset;
        const keyAt = node.key ? located(line.physLine, base, node.key) : emptyAt(line.physLine, equalsCol);
        const valueAt = node.value ? located(line.physLine, base, node.value) : emptyAt(line.physLine, equalsCol + 1);
        directive(keyAt, valueAt);
        return true;
      }
    }
    return true;
  });

  /** Opens a section; false when it is one door too many (reading stops there). */
  function openSection(at: Located<string>): boolean {
    let name = at.value.slice(1);
    if (!fitsBytes(name, 255)) name = cutBytes(name, 255);
    name = name.slice(0, -1);
    if (name.length === 0) {
      report('KC101', 'bad section name: "[]" has an empty name', at.range);
      return true;
    }
    if (name !== 'options' && doors.length === MAX_DOORS) {
      report('KC117', `door ${MAX_DOORS + 1}: more than ${MAX_DOORS} doors, knockc stops reading here (knockd 0.8 cannot start with this many)`, at.range);
      return false;
    }
    section = name;
    if (name === 'options') return true;
    if (name.toLowerCase() === 'options') {
      report('KC223', `[${name}] is a door, not the global [options] section (the name is case-sensitive)`, at.range);
    }
    const doorName = fitsBytes(name, NAME_BYTES) ? name : cutBytes(name, NAME_BYTES);
    if (doorName !== name) report('KC224', `door name is longer than ${NAME_BYTES} bytes: knockd calls it "${doorName}"`, at.range);
    written.clear();
    door = {
      index: doors.length,
      name: doorName,
      header: at,
      knocks: [],
      sequenceFrom: null,
      target: { value: null, from: null },
      seqTimeout: { value: DEFAULT_SEQ_TIMEOUT, from: null },
      cmdTimeout: { value: DEFAULT_CMD_TIMEOUT, from: null },
      startCommand: { value: null, from: null },
      startCommand6: { value: null, from: null },
      stopCommand: { value: null, from: null },
      stopCommand6: { value: null, from: null },
      tcpFlags: { value: ANY_FLAGS, from: null },
      sequenceTried: false,
    };
    doors.push(door);
    return true;
  }

  /** A line without `=`. */
  function bareDirective(keyAt: Located<string>): void {
    if (section === '') {
      report('KC102', 'all directives must belong to a section', keyAt.range);
      return;
    }
    const key = upperKey(keyAt.value);
    if (key !== 'USESYSLOG') {
      report('KC103', `syntax error: "${keyAt.value}" has no "=" (only UseSyslog stands alone)`, keyAt.range);
      return;
    }
    options = { ...options, useSyslog: { value: true, from: keyAt } };
  }

  function directive(keyAt: Located<string>, valueAt: Located<string>): void {
    if (section === '') {
      report('KC102', 'all directives must belong to a section', keyAt.range);
      return;
    }
    const key = upperKey(keyAt.value);
    if (key === 'USESYSLOG') {
      report('KC114', `syntax error: UseSyslog takes no value (got "= ${valueAt.value}")`, keyAt.range);
      return;
    }
    if (section === 'options') {
      if (!OPTION_KEYS.has(key)) {
        report('KC104', `syntax error: "${keyAt.value}" is not an [options] key`, keyAt.range);
        return;
      }
      if (key === 'LOGFILE') options = { ...options, logFile: { value: valueAt.value, from: valueAt } };
      else if (key === 'PIDFILE') options = { ...options, pidFile: { value: valueAt.value, from: valueAt } };
      else interfaceDirective(valueAt);
      return;
    }
    if (!door) return; // unreachable: a non-options section always opens a door
    if (!DOOR_SETTINGS.has(key)) {
      report('KC105', `syntax error: "${keyAt.value}" is not a door key`, keyAt.range);
      return;
    }
    applyDoorDirective(door, { key, keyAt }, valueAt);
  }

  /**
   * knockd keeps the first non-empty Interface (later ones are ignored; an empty one leaves its
   * default, eth0) and cannot start on a name pcap cannot open: KC116 for what cannot be one.
   */
  function interfaceDirective(valueAt: Located<string>): void {
    if (options.interface.value !== null || valueAt.value === '') return;
    const error = interfaceNameError(valueAt.value, 'Interface');
    if (error !== null) report('KC116', error, valueAt.range);
    options = { ...options, interface: { value: valueAt.value, from: valueAt } };
  }

  function hashWarning(valueAt: Located<string>, key: string): void {
    const i = valueAt.value.indexOf('#');
    if (i > 0 && /[ \t]/.test(valueAt.value[i - 1] ?? '') && !key.includes('COMMAND')) {
      report('KC219', `"${valueAt.value.slice(i)}" is part of the ${key.toLowerCase()} value, not a comment`, {
        start: { ...valueAt.range.start, col: valueAt.range.start.col + i },
        end: valueAt.range.end,
      });
    }
  }

  function sequenceError(p: SequenceProblem, doorName: string): void {
    if (p.kind === 'too-many') report('KC108', `section ${doorName}: too many ports in knock sequence (knockd allows 32)`, p.range);
    else if (p.kind === 'port-invalid') report('KC106', `section ${doorName}: port ${p.port} is invalid (over 65535)`, p.range);
    else report('KC107', `section ${doorName}: unknown protocol in knock sequence: "${cTrim(p.proto)}"`, p.range);
  }

  function misreadWarnings(knocks: readonly ReadKnock[]): void {
    for (const k of knocks) {
      const text = k.item.value;
      if (k.misread === 'zero') report('KC201', `knock "${text}" reads as port 0`, k.item.range);
      else if (k.misread === 'junk') report('KC202', `knock "${text}" reads as port ${k.port}: the rest is ignored`, k.item.range);
      else if (k.misread === 'negative') report('KC203', `knock "${text}" wraps around to port ${k.port}`, k.item.range);
      else if (k.misread === 'extra-field') report('KC220', `knock "${text}" has extra ":" fields; knockd reads ${k.port}:${k.proto}`, k.item.range);
    }
  }

  function timeout(valueAt: Located<string>, key: string): number {
    const n = atoi(valueAt.value);
    const name = key.toLowerCase();
    if (n.noDigits || cTrim(n.ignored) !== '') {
      report('KC204', `${name} "${valueAt.value}" reads as ${n.value}`, valueAt.range);
    }
    if (n.value <= 0) {
      const effect =
        name === 'seq_timeout' ? 'every attempt times out at the next knock, so only one-knock doors can open'
        : n.value < 0 ? 'the stop command never runs'
        : 'the stop command runs at once';
      report('KC205', `${name} is ${n.value}: ${effect}`, valueAt.range);
    }
    return n.value;
  }

  function applyDoorDirective(dr: DoorDraft, latest: Directive, valueAt: Located<string>): void {
    const key = latest.key;
    const setting = settingOf(key);
    if (setting === 'SEQUENCE') dr.sequenceTried = true;
    const prev = written.get(setting);
    written.set(setting, latest);
    // TCPFlags lines add up instead of replacing each other: a flag named again is KC209 below.
    if (prev && setting !== 'TCPFLAGS') {
      report('KC216', `${setting.toLowerCase()} given again in [${dr.name}]: this one wins over line ${prev.keyAt.range.start.line}`, { start: latest.keyAt.range.start, end: valueAt.range.end });
    }
    hashWarning(valueAt, key);
    switch (setting) {
      case 'TARGET': {
        // knockd pastes Target into its pcap filter ("dst host X"): pcap rejects what is not a host.
        const t = readTarget(valueAt.value);
        if (t.kind === 'invalid') report('KC115', `target "${valueAt.value}" is not an address (knockd's packet filter rejects it)`, valueAt.range);
        else if (t.kind === 'hostname') report('KC228', `target "${valueAt.value}" is a host name: knockd compares it to the packet's address text, so [${dr.name}] never opens (and knockd needs DNS to start)`, valueAt.range);
        else if (!t.isCanonical) report('KC228', `target "${valueAt.value}" is not written as knockd prints addresses ("${t.canonical}"), so [${dr.name}] never opens`, valueAt.range);
        dr.target = { value: valueAt.value, from: valueAt };
        return;
      }
      case 'SEQUENCE': {
        if (key === 'SEQUENCE') {
          const r = readSequence(valueAt);
          if (!r.ok) {
            sequenceError(r.problem, dr.name);
            dr.knocks = [];
            return;
          }
          misreadWarnings(r.knocks);
          dr.knocks = r.knocks;
          dr.sequenceFrom = { kind: 'sequence', directive: valueAt };
          return;
        }
        readOneTime(dr, valueAt);
        return;
      }
      case 'SEQ_TIMEOUT':
        dr.seqTimeout = { value: timeout(valueAt, 'seq_timeout'), from: valueAt };
        return;
      case 'CMD_TIMEOUT':
        dr.cmdTimeout = { value: timeout(valueAt, 'cmd_timeout'), from: valueAt };
        return;
      case 'START_COMMAND':
        dr.startCommand = { value: valueAt.value, from: valueAt };
        return;
      case 'START_COMMAND_6':
        dr.startCommand6 = { value: valueAt.value, from: valueAt };
        return;
      case 'STOP_COMMAND':
        dr.stopCommand = { value: valueAt.value, from: valueAt };
        return;
      case 'STOP_COMMAND_6':
        dr.stopCommand6 = { value: valueAt.value, from: valueAt };
        return;
      case 'TCPFLAGS': {
        // Unlike other keys, a second TCPFlags line adds to the first: only a flag it names changes.
        const r = readTcpFlags(valueAt, dr.tcpFlags.value);
        if (!r.ok) {
          report('KC109', `unrecognized flag "${r.item}"`, r.range);
          return;
        }
        for (const rep of r.repeated) {
          report('KC209', `TCP flag ${rep.flag} given twice in "${valueAt.value}": the later item wins (${r.flags[rep.flag] === 'set' ? rep.flag : '!' + rep.flag})`, rep.range);
        }
        for (const item of dr.tcpFlags.from ? r.named : []) {
          if (dr.tcpFlags.value[item.flag] === 'any') continue;
          report('KC209', `TCP flag ${item.flag} was already given by an earlier TCPFlags line of [${dr.name}]: this later item wins (${r.flags[item.flag] === 'set' ? item.flag : '!' + item.flag})`, item.range);
        }
        dr.tcpFlags = { value: r.flags, from: valueAt };
        return;
      }
    }
  }

  /** A one-time file's entries; its invalid lines are reported the first time it is read. */
  function oneTimeEntries(path: string): { ok: true; entries: OneTimeEntry[] } | { ok: false; message: string } {
    let r = oneTimeRead.get(path);
    if (r === undefined) {
      const got = host.readOneTimeFile(path);
      r = got.ok
        ? { ok: true, entries: readOneTimeEntries(got.shownAs, got.bytes, (line, at) => report('KC225', `line ${line} of ${path} is not a valid sequence; knockd skips it`, at.range)) }
        : got;
      oneTimeRead.set(path, r);
    }
    return r;
  }

  function readOneTime(dr: DoorDraft, valueAt: Located<string>): void {
    const got = oneTimeEntries(valueAt.value);
    if (!got.ok) {
      report('KC111', `${valueAt.value}: ${got.message}`, valueAt.range);
      dr.knocks = [];
      return;
    }
    const entries = got.entries;
    const first = entries[0];
    if (!first) {
      report('KC112', `no more sequences left in the one time sequences file ${valueAt.value} for door ${dr.name}`, valueAt.range);
      dr.knocks = [];
      return;
    }
    dr.knocks = first.knocks;
    dr.sequenceFrom = { kind: 'one-time', directive: valueAt, oneTime: { path: valueAt.value, sequences: entries } };
  }

  const finished: Door[] = [];
  for (const dr of doors) {
    if (dr.knocks.length === 0 || dr.sequenceFrom === null) {
      // A sequence directive that failed has been reported already; knockd stops there.
      if (!dr.sequenceTried) report('KC110', `section '${dr.name}' has an empty knock sequence`, dr.header.range);
      continue;
    }
    const { sequenceTried: _, ...done } = dr;
    finished.push({ ...done, sequenceFrom: dr.sequenceFrom });
  }

  const config: KnockdConfig | null = diags.hasErrors ? null : { file, doors: finished, options };
  const { findings, notShown } = diags.result();
  return { config, diagnostics: findings, ...(tallyTotal(notShown) > 0 ? { notShown } : {}) };
}
