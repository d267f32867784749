// Issue 16 matrix, host kind "firewalld" (nftables backend, ssh taken out of
// the public zone, port 80 allowed): knockc's permanent policy and ipsets make
// firewalld itself accept marked packets; `firewall-cmd --reload` keeps IPv4
// doors working and empties the IPv6 element until knockc apply adds it again
// (closed meanwhile). See attach-kit.ts and src/attach/firewalld.ts.
import { expect, test } from 'vitest';
import { describeHostFw } from './hostfw.js';
import { runAttachMatrix, SNAPSHOT_COMMON } from './attach-kit.js';

const START = [
  'mkdir -p /run/dbus',
  'dbus-daemon --system --fork',
  '(firewalld --nofork --nopid >/tmp/firewalld.log 2>&1 &)',
  'i=0; until firewall-cmd --state >/dev/null 2>&1; do i=$((i+1)); [ $i -gt 200 ] && { cat /tmp/firewalld.log; exit 1; }; sleep 0.1; done',
  'firewall-cmd --permanent --remove-service=ssh >/dev/null',
  'firewall-cmd --permanent --add-port=80/tcp >/dev/null',
  'firewall-cmd --reload >/dev/null',
].join('\n');

describeHostFw('attach: firewalld (issue 16)', () => {
  test('closed before and after, open for the knocker only, purge leaves /etc/firewalld byte-identical', async () => {
    const log = await runAttachMatrix({ kind: 'firewalld', setup: START, reload: 'firewall-cmd --reload >/dev/null', reloadKeepsDoors: true, standingLoaded: 'nft list chain inet firewalld filter_IN_policy_knockc_allow | grep -q knockc4', runtimeAccept: { open: "firewall-cmd --add-rich-rule='rule family=ipv4 source address=%IP% port port=22 protocol=tcp accept' >/dev/null", close: "firewall-cmd --remove-rich-rule='rule family=ipv4 source address=%IP% port port=22 protocol=tcp accept' >/dev/null" }, snapshot: SNAPSHOT_COMMON });
    expect(log).toContain("added firewalld's permanent policy knockc");
  }, 240_000);
});
