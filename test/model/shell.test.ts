import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { offsetsOf, sliceWord, splitShell, type Listed, type ShellCommand } from '../../src/model/commands/shell.js';

// Words as the analysers see them: text, span and where each character came from.
const seen = (commands: readonly ShellCommand[]) =>
  commands.map((words) => words.map((w) => ({ text: w.text, start: w.start, end: w.end, offsets: offsetsOf(w) })));
const words = (list: readonly Listed[]): ShellCommand[] => list.map((c) => c.words);

describe('splitShell on lines of plain words', () => {
  // A trailing ';' sends the same line through the character-by-character reader.
  const plainLine = fc
    .array(fc.oneof(fc.constantFrom('', ' ', '%IP%', '--dport=22', '/sbin/iptables', '{', '}', '!'), fc.stringMatching(/^[A-Za-z0-9,./:=@_%+-]{1,8}$/)), {
      maxLength: 12,
    })
    .map((parts) => parts.join(' '))
    .filter((line) => line.trim() !== '');

  it('reads them as the general reader does', () => {
    fc.assert(
      fc.property(plainLine, (line) => {
        expect(seen(words(splitShell(line)))).toEqual(seen(words(splitShell(`${line};`))));
      }),
      { numRuns: 2000 },
    );
  });

  it('finds no command in blanks only', () => {
    expect(splitShell('')).toEqual([]);
    expect(splitShell('   ')).toEqual([]);
  });
});

describe('word offsets', () => {
  it('are the line offsets of a plain word, and survive slicing', () => {
    const [first] = words(splitShell('  iptables --dport=22'));
    const option = first?.[1];
    expect(option && seen([[option]])).toEqual([[{ text: '--dport=22', start: 11, end: 21, offsets: [11, 12, 13, 14, 15, 16, 17, 18, 19, 20] }]]);
    expect(option && offsetsOf(sliceWord(option, 8))).toEqual([19, 20]);
  });

  it('skip the quotes of a quoted word', () => {
    const [first] = words(splitShell(`a "b'c"d`));
    expect(first?.[1] && offsetsOf(first[1])).toEqual([3, 4, 5, 7]);
  });
});
