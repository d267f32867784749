// The built CLI, nft and any command, run inside one scratch network namespace (the tests of
// apply / remove / status through the CLI). Never throws for a failing command, but nft().
import { spawnSync } from 'node:child_process';
import { CLI } from './cli/built.js';
import { toolPath } from './netns-env.js';

export interface Out {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface NetnsCli {
  inNs(argv: string[], input?: string): Out;
  knockc(...args: string[]): Out;
  /** nft ARGS; throws with nft's message when it fails. */
  nft(...args: string[]): string;
}

export function netnsCli(ns: string): NetnsCli {
  const ip = toolPath('ip');
  const nftPath = toolPath('nft');
  const inNs = (argv: string[], input?: string): Out => {
    const r = spawnSync(ip!, ['netns', 'exec', ns, ...argv], { encoding: 'utf8', input: input ?? '', env: { ...process.env, NO_COLOR: '1' } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return {
    inNs,
    knockc: (...args) => inNs([process.execPath, CLI, ...args]),
    nft: (...args) => {
      const r = inNs([nftPath!, ...args]);
      if (r.status !== 0) throw new Error(`nft ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    },
  };
}
