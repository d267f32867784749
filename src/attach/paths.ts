// Where the host firewalls keep their saved rules, under one root: /etc on a
// host. KNOCKC_ETC moves the root (a chroot, an image being built, and the
// test suite, whose scratch network namespaces share this machine's /etc and
// must never write there: test/setup-env.ts sets it for every test process).

/** The root of the host's configuration files: KNOCKC_ETC, else /etc. */
export function defaultEtc(): string {
  const e = process.env['KNOCKC_ETC'];
  return e && e.startsWith('/') ? e.replace(/\/+$/, '') || '/' : '/etc';
}

export interface HostPaths {
  readonly nftablesConf: string;
  readonly standingNft: string;
  readonly guardNft: string;
  readonly iptablesRules: Readonly<Record<'4' | '6', string>>;
  readonly ufwBefore: Readonly<Record<'4' | '6', string>>;
  readonly firewalld: string;
  /** knockc's own directory (its saved standing rule, guard, scratch files). */
  readonly knockc: string;
}

export function hostPaths(etc: string): HostPaths {
  const r = etc === '/' ? '' : etc;
  return {
    nftablesConf: `${r}/nftables.conf`,
    standingNft: `${r}/knockc/standing.nft`,
    guardNft: `${r}/knockc/guard.nft`,
    iptablesRules: { '4': `${r}/iptables/rules.v4`, '6': `${r}/iptables/rules.v6` },
    ufwBefore: { '4': `${r}/ufw/before.rules`, '6': `${r}/ufw/before6.rules` },
    firewalld: `${r}/firewalld`,
    knockc: `${r}/knockc`,
  };
}
