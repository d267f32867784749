// Every target knockc offers, one line each (aerleon's plugin table): `--target`
// choices, help and option checks all come from here.
import { iptablesTarget } from './iptables/target.js';
import { irJsonTarget } from './ir-json/target.js';
import { nftTarget } from './nft/target.js';
import type { Target } from './target.js';

// Each target's own option and compiled types stay inside it; commands see the common interface.
export const TARGETS: readonly Target<any, any>[] = [nftTarget, iptablesTarget, irJsonTarget]; // eslint-disable-line @typescript-eslint/no-explicit-any

export const TARGET_NAMES: readonly string[] = TARGETS.map((t) => t.name);

export function targetNamed(name: string): Target<unknown> {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`internal: no target ${name}`);
  return t as Target<unknown>;
}
