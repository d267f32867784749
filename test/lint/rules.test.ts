// Finer points of individual findings, beyond "this code fires here"
// (test/lint/codes.test.ts).
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/frontend/load.js';
import { lintParsed } from '../../src/lint/lint.js';

function lint(text: string): { at: string[]; messages: string[]; ok: boolean } {
  const r = parseConfigText(text, { file: 't.conf' });
  const ds = lintParsed(r, { interfaceOption: 'eth0' }).filter((d) => d.code !== 'KC222');
  return { at: ds.map((d) => `${d.code}@${d.range.start.line}:${d.range.start.col}`), messages: ds.map((d) => d.message), ok: r.config !== null };
}

describe('TCPFlags lines add up (knockd changes only the flags a line names)', () => {
  it('two lines naming different flags: no finding', () => {
    const r = parseConfigText('[d]\nsequence = 1,2,3\ntcpflags = syn\ntcpflags = !ack\n', { file: 't' });
    expect(r.config!.doors[0]!.tcpFlags.value).toMatchObject({ syn: 'set', ack: 'unset' });
    expect(lint('[d]\nsequence = 1,2,3\ntcpflags = syn\ntcpflags = !ack\n').at).toEqual([]);
  });

  it('a flag named again on a later line: KC209 at that item, not "directive given twice"', () => {
    const r = lint('[d]\nsequence = 1,2,3\ntcpflags = syn,ack\ntcpflags = fin,!syn\n');
    expect(r.at).toEqual(['KC209@4:16']);
    expect(r.messages[0]).toContain('this later item wins (!syn)');
  });

  it('a flag repeated inside one line: KC209 once at the repeat', () => {
    expect(lint('[d]\nsequence = 1,2,3\ntcpflags = syn,!syn,syn\n').at).toEqual(['KC209@3:16', 'KC209@3:21']);
  });
});

describe('directive given twice (KC216)', () => {
  it('sees through aliases: timeout after seq_timeout, command after start_command', () => {
    expect(lint('[d]\nsequence = 1,2,3\nseq_timeout = 5\ntimeout = 6\n').at).toEqual(['KC216@4:1']);
    const r = parseConfigText('[d]\nsequence = 1,2,3\nseq_timeout = 5\ntimeout = 6\n', { file: 't' });
    expect(r.config!.doors[0]!.seqTimeout.value).toBe(6);
  });

  it('is per door: the same key in two doors is fine', () => {
    expect(lint('[a]\nsequence = 1,2,3\n[b]\nsequence = 4,5,6\n').at).toEqual([]);
  });
});
