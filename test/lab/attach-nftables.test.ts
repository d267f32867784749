// Issue 16 matrix, host kind "nftables": a plain /etc/nftables.conf (starting with
// `flush ruleset`, as Debian's does) loaded by nft; its reload (`systemctl reload
// nftables` runs `nft -f /etc/nftables.conf`) flushes knockc's table too: closed
// until knockc re-attaches; the standing rule comes back with the user's rules
// through the include. See attach-kit.ts.
import { expect, test } from 'vitest';
import { describeHostFw } from './hostfw.js';
import { runAttachMatrix, SNAPSHOT_COMMON } from './attach-kit.js';

const CONF = `#!/usr/sbin/nft -f
flush ruleset

table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" accept
		meta l4proto { icmp, ipv6-icmp } accept
		tcp dport 80 accept
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
	}
}
`;

describeHostFw('attach: plain nftables ruleset (issue 16)', () => {
  test('closed before and after, open for the knocker only, purge leaves nftables.conf byte-identical', async () => {
    const log = await runAttachMatrix({
      kind: 'nftables',
      setup: `cat > /etc/nftables.conf <<'EOF'\n${CONF}EOF\nnft -f /etc/nftables.conf`,
      reload: 'nft -f /etc/nftables.conf',
      reloadKeepsDoors: false,
      standingLoaded: 'nft list chain inet filter input | grep -q "knockc standing rule"', runtimeAccept: { open: 'nft insert rule inet filter input ip saddr %IP% tcp dport 22 accept', close: 'h=$(nft -a list chain inet filter input | sed -n "s/.*ip saddr %IP% tcp dport 22 accept # handle //p"); nft delete rule inet filter input handle $h' }, snapshot: SNAPSHOT_COMMON,
    });
    expect(log).toContain('included it from /etc/nftables.conf');
  }, 180_000);
});
