// How the runtime loads rules: the same compile + atomic apply as `knockc
// apply` (state of unchanged doors carried over), as a function that throws
// a readable message instead of printing and exiting.
import type { KnockdConfig } from '../frontend/config.js';
import { applyNft } from '../targets/nft/apply.js';
import { formatMappedErrors } from '../targets/nft/errors.js';
import type { NftLocation } from '../targets/nft/script.js';
import { applyIptables, FAMILIES, type IptCompiled } from '../targets/iptables/host.js';
import type { Backend } from '../targets/iptables/preflight.js';
import type { Runner } from '../host/runner.js';
import type { Family } from '../model/grant.js';
import { compileIptables, IPTABLES_DEFAULTS } from '../targets/iptables/generate.js';
import { compileNft, NFT_DEFAULTS } from '../targets/nft/generate.js';

export type DeployTarget =
  | { readonly kind: 'nft'; readonly location: NftLocation; readonly maxSources: number | null }
  | { readonly kind: 'iptables'; readonly backend: Backend; readonly guard: boolean };

export interface DeployOptions {
  readonly run: Runner;
  readonly target: DeployTarget;
  readonly iface: string | null;
  readonly log: boolean;
  readonly version: string;
  readonly source: string;
}

export class DeployError extends Error {}

export function deployer(o: DeployOptions): (config: KnockdConfig) => Promise<void> {
  return async (config) => {
    const t = o.target;
    if (t.kind === 'nft') {
      const loc = t.location;
      const compiled = compileNft(config, {
        ...NFT_DEFAULTS,
        iface: o.iface,
        log: o.log,
        maxSources: t.maxSources,
        table: loc.table,
        into: loc.mode === 'into' ? loc : null,
        version: o.version,
        source: o.source,
      });
      const r = await applyNft({ run: o.run, config, compiled, location: loc, maxSources: t.maxSources, dryRun: false });
      if (!r.ok) throw new DeployError(`nft refused the rules: ${formatMappedErrors(r.errors, o.source).trim() || r.nftStderr.trim()}`);
      return;
    }
    const compiled = {} as Record<Family, IptCompiled>;
    for (const family of FAMILIES) {
      const c = compileIptables(config, { ...IPTABLES_DEFAULTS, family, iface: o.iface, log: o.log, guard: t.guard, version: o.version, source: o.source });
      compiled[family] = { text: c.text, hooks: c.ruleset.hooks };
    }
    const r = await applyIptables({ run: o.run, backend: t.backend, compiled, dryRun: false });
    if (!r.ok) throw new DeployError(`iptables-restore refused the rules: ${r.error.trim()}`);
  };
}
