// Issue 17 item 7: messages a new user tripped over (the built CLI; nothing here touches a
// firewall: the commands that could are run without capabilities and refuse before loading).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, knockc } from './built.js';

const tmp = mkdtempSync(join(tmpdir(), 'knockc-messages-'));
const BAD = join(tmp, 'bad.conf');
writeFileSync(BAD, '[a]\n\tsequence = 99999\n\tcommand = /bin/true\n');
const GOOD = join(tmp, 'good.conf');
writeFileSync(GOOD, '[openSSH]\n\tsequence = 7000,8000,9000\n\tseq_timeout = 5\n\tcommand = /usr/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n\ttcpflags = syn\n');

beforeAll(() => ensureBuilt());

describe('apply: config errors are a refusal like the others', () => {
  it('ends with "nothing was changed" (an invalid config, a missing file)', () => {
    for (const target of ['nft', 'iptables']) {
      const r = knockc(['apply', '--target', target, BAD], { dropCaps: ['all'] });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('bad.conf:2:13: error: section a: port 99999 is invalid (over 65535) [KC106]');
      expect(r.stderr).toMatch(/\nknockc: nothing was changed\n$/);
      const m = knockc(['apply', '--target', target, join(tmp, 'missing.conf')], { dropCaps: ['all'] });
      expect(m.status).toBe(2);
      expect(m.stderr).toContain('[KC001]');
      expect(m.stderr).toMatch(/\nknockc: nothing was changed\n$/);
    }
  });
});

describe('explain --format json', () => {
  it('has a version field, like lint and status', () => {
    const r = knockc(['explain', '--format', 'json', GOOD]);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(j)[0]).toBe('version');
    expect(j['version']).toBe(1);
  });
});
