// Text from the user's side (the config's path, door names, command text) reaches the
// generated file only inside comments: a line break in it must not end the comment and
// turn the rest into rules (a path like "x\nadd rule ... accept" would inject a rule).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/frontend/load.js';
import { compileIptables, IPTABLES_DEFAULTS } from '../../src/targets/iptables/generate.js';
import { compileNft, NFT_DEFAULTS } from '../../src/targets/nft/generate.js';
import { commentLine } from '../../src/targets/header.js';
import { netnsReady, toolPath } from '../netns-env.js';

const CONF = '[a" ; accept # ]\nsequence = 7000,8000\nstart_command = iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n';
const EVIL = '/tmp/x\nadd rule inet knockc input tcp dport 23 accept\n-A INPUT -p tcp --dport 23 -j ACCEPT\n\r\u2028y.conf';

function outputs(source: string): { nft: string; ipt: string } {
  const r = parseConfigText(CONF, { file: source });
  if (!r.config) throw new Error('config rejected');
  return {
    nft: compileNft(r.config, { ...NFT_DEFAULTS, version: 't', source }).text,
    ipt: compileIptables(r.config, { ...IPTABLES_DEFAULTS, family: 'ip', version: 't', source }).text,
  };
}

describe('user text in the generated file stays inside comments', () => {
  it('a path with line breaks compiles to the same rules as with each break replaced by ?', () => {
    const evil = outputs(EVIL);
    expect(evil).toEqual(outputs(EVIL.replace(/[\n\r\u2028]/g, '?')));
    expect(evil.nft).not.toMatch(/^add rule/m);
    expect(evil.ipt).not.toMatch(/^-A INPUT -p tcp --dport 23/m);
  });

  it('commentLine replaces every control character', () => {
    expect(commentLine('a\u0000b\tc\u007fd\u2029e')).toBe('a?b?c?d?e');
  });

  it.runIf(netnsReady('the generated-file check', ['nft', 'iptables-restore', 'unshare']))('the real nft and iptables-restore accept the file', () => {
    const { nft, ipt } = outputs(EVIL);
    const n = spawnSync('unshare', ['-n', toolPath('nft')!, '-c', '-f', '-'], { input: nft, encoding: 'utf8' });
    expect(n.stderr).toBe('');
    expect(n.status).toBe(0);
    const i = spawnSync('unshare', ['-n', toolPath('iptables-restore')!, '--test'], { input: ipt, encoding: 'utf8' });
    expect(i.stderr).toBe('');
    expect(i.status).toBe(0);
  });
});
