// Words for model objects, shared by explain, simulate and the generated files' headers.
import type { Door, Knock, TcpFlags } from '../frontend/config.js';
import { FLAG_NAMES } from '../frontend/config.js';
import type { GrantTarget } from './grant.js';
import type { FamilyPlan, Lifetime } from './plan.js';

export function flagsText(f: TcpFlags): string {
  const parts = FLAG_NAMES.filter((n) => f[n] !== 'any').map((n) => (f[n] === 'set' ? n : `!${n}`));
  return parts.length === 0 ? 'any' : parts.join(',');
}

export function knockText(k: Knock, door: Door): string {
  const flags = k.proto === 'tcp' ? flagsText(door.tcpFlags.value) : 'any';
  return `${k.port}/${k.proto}${flags === 'any' ? '' : ` [${flags}]`}`;
}

export function grantText(t: GrantTarget): string {
  const m = t.match;
  const parts: string[] = [];
  parts.push(m.proto ?? 'all traffic');
  if (m.dports) parts.push(`port ${m.dports.map((r) => (r.lo === r.hi ? `${r.lo}` : `${r.lo}-${r.hi}`)).join(',')}`);
  if (m.daddr) parts.push(`to ${m.daddr}`);
  if (m.iif) parts.push(`in on ${m.iif}`);
  if (m.synOnly) parts.push('SYN only');
  if (m.newOnly) parts.push('new connections');
  if (m.hook === 'forward') parts.push('(forwarded)');
  return parts.join(' ');
}

export function lifetimeText(l: Lifetime): string {
  return l.kind === 'timed' ? `for ${l.seconds} s after the last opening` : 'until a closing door revokes it';
}

export function planText(p: FamilyPlan): string {
  switch (p.kind) {
    case 'nothing':
      return `nothing (${p.why})`;
    case 'runtime':
      return `runs a command through \`knockc run\` (${p.code === 'KC402' ? p.reason : `"${p.token}": ${p.reason}`})`;
    case 'kernel': {
      const parts = [
        ...p.opens.map((g) => `opens ${grantText(g.target)} ${lifetimeText(g.lifetime)}`),
        ...p.revokes.map((g) => `closes ${grantText(g.target)}`),
      ];
      return parts.length ? parts.join('; ') : 'nothing';
    }
  }
}
