// Issue 16 matrix, host kind "none": no firewall at all. knockc's guard table
// (inet knockc_guard, saved in /etc/knockc/guard.nft) keeps the granted ports
// closed in both families to every packet knockc did not mark, and stays when
// knockc's tracking table is deleted or removed; only --purge takes it out.
// The "firewall reload" of this host is knockc-guard.service's start: `nft -f
// /etc/knockc/guard.nft`. See attach-kit.ts.
import { expect, test } from 'vitest';
import { describeHostFw } from './hostfw.js';
import { runAttachMatrix, SNAPSHOT_COMMON } from './attach-kit.js';

describeHostFw('attach: no host firewall (issue 16)', () => {
  test('the guard keeps granted ports closed in both families; purge removes it', async () => {
    const log = await runAttachMatrix({ kind: 'none', setup: 'true', reload: 'nft -f /etc/knockc/guard.nft', reloadKeepsDoors: true, standingLoaded: 'nft list table inet knockc_guard >/dev/null', snapshot: SNAPSHOT_COMMON, openWithoutKnockc: true });
    expect(log).toContain('loaded table inet knockc_guard: closes tcp/22, tcp/2222');
  }, 180_000);
});
