// Before touching the kernel with nft: can this host load knockc's nft rules at all?
import type { Runner } from '../../host/runner.js';
import { checkKernel, checkPrivileges, versionAtLeast, type Check, type Purpose } from '../../host/checks.js';
import { nftVersion } from './live.js';

/** Kernel features the rules need, per mode. */
export const NFT_KERNEL_MIN = {
  standalone: { version: [5, 4] as const, why: 'deleting a set element from the packet path (attempts that fail or complete) needs Linux 5.4 or newer' },
  into: { version: [5, 10] as const, why: 'comments on chains (--into) need Linux 5.10 or newer; deleting a set element from the packet path needs 5.4' },
};
export const NFT_MIN = [0, 9, 7] as const;

export async function checkNft(run: Runner): Promise<Check> {
  const v = await nftVersion(run);
  if (v === null) return { level: 'error', what: 'nft', message: 'nft not found: install nftables (apt-get install nftables)' };
  if (!/^\d/.test(v) || !versionAtLeast(v, NFT_MIN)) {
    return { level: 'error', what: 'nft', message: `nft ${v} is too old: knockc needs nftables ${NFT_MIN.join('.')} or newer (set and chain comments)` };
  }
  return { level: 'ok', what: 'nft', message: `nftables ${v}` };
}

/** The checks of the nft target (privileges, nft, kernel); without root, only that (the rest would fail for it). */
export async function preflightNft(run: Runner, mode: 'standalone' | 'into', purpose: Purpose = 'load'): Promise<Check[]> {
  const privileges = await checkPrivileges(run, purpose);
  if (privileges.level === 'error') return [privileges];
  return [privileges, await checkNft(run), await checkKernel(run, NFT_KERNEL_MIN[mode])];
}

