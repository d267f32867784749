// Entry points of the front end: read a knockd.conf (file, stdin or bytes)
// and return the typed config or the reasons it cannot be used.
import { closeSync, openSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { codeInfo } from '../diagnostics/codes.js';
import { fileStart, type Diagnostic } from '../diagnostics/diagnostic.js';
import { describeFsError, readBounded } from './read.js';
import { buildConfig, type BuildHost, type BuildLimits, type BuildResult } from './build.js';
import { splitKnockdLines } from './source.js';

export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

export interface ParseOptions extends BuildLimits {
  /** Name shown in messages. */
  readonly file: string;
  /** knockd opens One_Time_Sequences paths relative to its working directory. */
  readonly cwd?: string;
}

function fileError(code: string, file: string, message: string): BuildResult {
  const info = codeInfo(code);
  const d: Diagnostic = { code, severity: info.severity, message, range: fileStart(file), hint: info.hint };
  return { config: null, diagnostics: [d] };
}

type ReadResult = { ok: true; bytes: Uint8Array } | { ok: false; code: string; message: string };

function tooLarge(path: string, size: number | null): ReadResult {
  const what = size === null ? `more than ${MAX_CONFIG_BYTES} bytes` : `${size} bytes is over the ${MAX_CONFIG_BYTES}-byte limit`;
  return { ok: false, code: 'KC003', message: `${path}: ${what}` };
}

/** Reads a file the way the front end needs: bounded size, regular files only. */
export function readBytes(path: string): ReadResult {
  let fd: number | null = null;
  try {
    // stat before open: opening a FIFO would wait for a writer.
    const st = statSync(path);
    if (st.isDirectory()) return { ok: false, code: 'KC002', message: `${path}: Is a directory` };
    if (!st.isFile() && !path.startsWith('/dev/fd/') && !path.startsWith('/proc/')) {
      return { ok: false, code: 'KC002', message: `${path}: not a regular file` };
    }
    if (st.size > MAX_CONFIG_BYTES) return tooLarge(path, st.size);
    fd = openSync(path, 'r');
    const bytes = readBounded(fd, MAX_CONFIG_BYTES);
    return bytes ? { ok: true, bytes } : tooLarge(path, null);
  } catch (e) {
    return { ok: false, code: 'KC001', message: `${path}: ${describeFsError(e)}` };
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

function fsHost(cwd: string): BuildHost {
  return {
    readOneTimeFile(path) {
      const full = isAbsolute(path) ? path : resolve(cwd, path);
      const r = readBytes(full);
      return r.ok ? { ok: true, bytes: r.bytes, shownAs: path } : { ok: false, message: r.message.slice(full.length + 2) };
    },
  };
}

export function parseConfigBytes(bytes: Uint8Array, opts: ParseOptions): BuildResult {
  if (bytes.length > MAX_CONFIG_BYTES) {
    return fileError('KC003', opts.file, `${bytes.length} bytes is over the ${MAX_CONFIG_BYTES}-byte limit`);
  }
  const binary = notText(bytes);
  if (binary) return fileError('KC004', opts.file, `${opts.file} is not a text file (${binary}): a knockd.conf is text`);
  return buildConfig(splitKnockdLines(opts.file, bytes), fsHost(opts.cwd ?? process.cwd()), opts);
}

export function parseConfigText(text: string, opts: ParseOptions): BuildResult {
  return parseConfigBytes(Buffer.from(text, 'utf8'), opts);
}

/** Signatures of files given by mistake (a program, an archive, a capture). */
const MAGIC: ReadonlyArray<[string, readonly number[]]> = [
  ['an ELF executable', [0x7f, 0x45, 0x4c, 0x46]],
  ['gzip data', [0x1f, 0x8b]],
  ['bzip2 data', [0x42, 0x5a, 0x68]],
  ['xz data', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd data', [0x28, 0xb5, 0x2f, 0xfd]],
  ['a zip archive', [0x50, 0x4b, 0x03, 0x04]],
  ['a PNG image', [0x89, 0x50, 0x4e, 0x47]],
  ['a JPEG image', [0xff, 0xd8, 0xff]],
  ['a pcap capture', [0xd4, 0xc3, 0xb2, 0xa1]],
  ['a pcap capture', [0xa1, 0xb2, 0xc3, 0xd4]],
  ['a pcapng capture', [0x0a, 0x0d, 0x0d, 0x0a]],
];

/**
 * Why these bytes are not a text file (a program, an archive, a capture given by mistake), or
 * null: a known signature at the start. Other bytes are read line by line as knockd does (a stray
 * NUL is KC218, junk is KC226).
 */
export function notText(bytes: Uint8Array): string | null {
  for (const [what, sig] of MAGIC) if (bytes.length >= sig.length && sig.every((b, i) => bytes[i] === b)) return what;
  return null;
}

/** `-` reads standard input. */
export function loadConfigFile(path: string, cwd?: string, limits: BuildLimits = {}): BuildResult {
  if (path === '-') {
    let bytes: Uint8Array | null;
    try {
      bytes = readBounded(0, MAX_CONFIG_BYTES);
    } catch (e) {
      return fileError('KC001', '<stdin>', `cannot read standard input: ${describeFsError(e)}`);
    }
    if (!bytes) return fileError('KC003', '<stdin>', `standard input: more than ${MAX_CONFIG_BYTES} bytes`);
    return parseConfigBytes(bytes, { ...limits, file: '<stdin>', ...(cwd ? { cwd } : {}) });
  }
  const r = readBytes(path);
  if (!r.ok) return fileError(r.code, path, r.message);
  return parseConfigBytes(r.bytes, { ...limits, file: path, ...(cwd ? { cwd } : {}) });
}
