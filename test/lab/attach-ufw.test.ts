// Issue 16 matrix, host kind "ufw" (Debian's ufw, enabled with default deny):
// the standing rule lives in ufw's before.rules / before6.rules, so `ufw reload`
// keeps it and the doors keep working. See attach-kit.ts.
import { expect, test } from 'vitest';
import { describeHostFw } from './hostfw.js';
import { runAttachMatrix, SNAPSHOT_COMMON } from './attach-kit.js';

describeHostFw('attach: ufw (issue 16)', () => {
  test('closed before and after, open for the knocker only, purge leaves before.rules byte-identical', async () => {
    const log = await runAttachMatrix({
      kind: 'ufw',
      // ufw cannot write /proc/sys in a container ("problem running sysctl"): its rules load anyway.
      setup: 'ufw default deny incoming >/dev/null; ufw allow 80/tcp >/dev/null; ufw --force enable >/dev/null 2>&1; iptables -S ufw-before-input >/dev/null',
      reload: 'ufw reload >/dev/null 2>&1; iptables -S ufw-before-input >/dev/null',
      reloadKeepsDoors: true,
      standingLoaded: 'iptables -S ufw-before-input | grep -q "knockc standing rule" && ip6tables -S ufw6-before-input | grep -q "knockc standing rule"', runtimeAccept: { open: 'ufw allow from %IP% to any port 22 proto tcp >/dev/null', close: 'ufw delete allow from %IP% to any port 22 proto tcp >/dev/null' }, snapshot: SNAPSHOT_COMMON,
    });
    expect(log).toContain('saved the standing rule in /etc/ufw/before.rules');
    expect(log).toContain('saved the standing rule in /etc/ufw/before6.rules');
  }, 180_000);
});
