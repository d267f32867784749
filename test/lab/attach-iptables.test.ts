// Issue 16 matrix, host kind "iptables", both variants: rules saved where
// netfilter-persistent keeps them (/etc/iptables/rules.v4, rules.v6) and loaded
// the way its plugins load them (`iptables-restore < rules.v4`: the package itself
// does not configure under debootstrap, see packages-hostfw.txt); that reload keeps
// the standing rule (it is saved there), so the doors keep working through it.
// See attach-kit.ts.
import { expect, test } from 'vitest';
import { describeHostFw } from './hostfw.js';
import { runAttachMatrix, SNAPSHOT_COMMON } from './attach-kit.js';

const RULES = (icmp: string) => `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p ${icmp} -j ACCEPT
-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT
COMMIT
`;

/** What netfilter-persistent's 15-ip4tables and 25-ip6tables plugins run on start and reload. */
const LOAD = 'iptables-restore < /etc/iptables/rules.v4 && ip6tables-restore < /etc/iptables/rules.v6';

function setup(variant: 'nft' | 'legacy'): string {
  return [
    `update-alternatives --quiet --set iptables /usr/sbin/iptables-${variant}`,
    `update-alternatives --quiet --set ip6tables /usr/sbin/ip6tables-${variant}`,
    'mkdir -p /etc/iptables',
    `cat > /etc/iptables/rules.v4 <<'EOF'\n${RULES('icmp')}EOF`,
    `cat > /etc/iptables/rules.v6 <<'EOF'\n${RULES('ipv6-icmp')}EOF`,
    LOAD,
  ].join('\n');
}

describeHostFw('attach: iptables with netfilter-persistent (issue 16)', () => {
  for (const variant of ['nft', 'legacy'] as const) {
    test(`iptables-${variant}: closed before and after, open for the knocker only, purge leaves rules.v4/v6 byte-identical`, async () => {
      const log = await runAttachMatrix({ kind: 'iptables', setup: setup(variant), reload: LOAD, reloadKeepsDoors: true, standingLoaded: 'iptables -S INPUT | grep -q "knockc standing rule" && ip6tables -S INPUT | grep -q "knockc standing rule"', runtimeAccept: { open: 'iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT', close: 'iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT' }, snapshot: SNAPSHOT_COMMON });
      expect(log).toContain(`iptables-${variant} rules drop incoming packets`);
      expect(log).toContain('saved the standing rule in /etc/iptables/rules.v4');
    }, 180_000);
  }
});
