// The lines of a one-time sequences file as knockd reads them: every
// non-empty line not starting with '#' that parses as a Sequence, in order.
// Shared by the config reader (the first one is the door's sequence) and the
// runtime (which retires lines and re-reads the file).
import { cTrim } from './cnum.js';
import type { Located, OneTimeEntry } from './config.js';
import { readSequence } from './sequence.js';
import { splitKnockdLines } from './source.js';

export function readOneTimeEntries(shownAs: string, bytes: Uint8Array, onBadLine: (line: number, at: Located<string>) => void = () => {}): OneTimeEntry[] {
  const entries: OneTimeEntry[] = [];
  for (const l of splitKnockdLines(shownAs, bytes).lines) {
    const text = cTrim(l.text);
    if (text === '' || text.startsWith('#')) continue;
    const lead = l.text.length - l.text.replace(/^[ \t\n\v\f\r]+/, '').length;
    const at: Located<string> = {
      value: text,
      raw: l.text,
      range: {
        start: { file: shownAs, line: l.physLine, col: l.physCol + lead },
        end: { file: shownAs, line: l.physLine, col: l.physCol + lead + text.length },
      },
    };
    const r = readSequence(at);
    if (!r.ok) {
      onBadLine(l.physLine, at);
      continue;
    }
    entries.push({ knocks: r.knocks, line: l.physLine, offset: l.byteOffset, text });
  }
  return entries;
}
