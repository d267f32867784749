// Addresses as knockd compares them: as TEXT. A door's Target matches only
// when it is spelled exactly like inet_ntoa()/inet_ntop() print the packet's
// destination.
import { isIP } from 'node:net';
import { ipText, ipv6Bytes } from './addr-text.js';

export type TargetReading =
  | { readonly kind: 'address'; readonly family: 'ip' | 'ip6'; readonly canonical: string; readonly isCanonical: boolean }
  | { readonly kind: 'hostname' }
  | { readonly kind: 'invalid' };

/** As glibc's inet_ntop() prints it (::ffff:198.51.100.7 and ::198.51.100.7 keep their dotted tail). */
function canonicalIpv6(addr: string): string {
  const b = ipv6Bytes(addr);
  return b === null ? addr : ipText(b);
}

function canonicalIpv4(addr: string): string {
  return addr.split('.').map((p) => String(Number(p))).join('.');
}

export function readTarget(text: string): TargetReading {
  const v = isIP(text);
  if (v === 4) {
    const canonical = canonicalIpv4(text);
    return { kind: 'address', family: 'ip', canonical, isCanonical: canonical === text };
  }
  if (v === 6) {
    // inet_ntop() never prints a zone ("%eth0"), so a zoned Target never matches.
    const zone = text.indexOf('%');
    if (zone >= 0) return { kind: 'address', family: 'ip6', canonical: canonicalIpv6(text.slice(0, zone)), isCanonical: false };
    const canonical = canonicalIpv6(text);
    return { kind: 'address', family: 'ip6', canonical, isCanonical: canonical === text };
  }
  if (/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/.test(text)) {
    return { kind: 'hostname' };
  }
  return { kind: 'invalid' };
}
