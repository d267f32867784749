// The standing rule: the ONE rule knockc adds to the host firewall, accepting
// packets that carry knockc's mark bits. This module writes and reads its every
// form (nft, iptables, the lines of persistent rule files), so that apply,
// remove --purge and status agree on what is knockc's.
import { markHex, type Mark } from '../model/mark.js';

/** The comment that makes a rule knockc's standing rule. */
export const STANDING_COMMENT = 'knockc standing rule';

/** The rule text in an nft chain (`nft insert rule FAMILY TABLE CHAIN <this>`). */
export function nftStandingRule(m: Mark): string {
  const h = markHex(m);
  return `meta mark & ${h} == ${h} accept comment "${STANDING_COMMENT}"`;
}

/** The rule's arguments after `iptables -I CHAIN 1` (or -C / -D CHAIN). */
export function iptStandingArgs(m: Mark): string[] {
  const h = markHex(m);
  return ['-m', 'mark', '--mark', `${h}/${h}`, '-m', 'comment', '--comment', STANDING_COMMENT, '-j', 'ACCEPT'];
}

/** The rule as a line of an iptables-restore file (rules.v4, ufw's before.rules). */
export function iptStandingLine(chain: string, m: Mark): string {
  const h = markHex(m);
  return `-A ${chain} -m mark --mark ${h}/${h} -m comment --comment "${STANDING_COMMENT}" -j ACCEPT`;
}

/** Is this line of `iptables -S` / iptables-save / a rules file a standing rule (of any mark)? */
export function isIptStandingLine(line: string): boolean {
  return /^-A \S+ .*--comment "knockc standing rule"( |$)/.test(line.trim());
}

/** The mark a standing-rule line accepts (iptables prints 0x1000000/0x1000000), or null. */
export function iptStandingMark(line: string): number | null {
  const m = /--mark (0x[0-9a-f]+)\/(0x[0-9a-f]+)/i.exec(line);
  return m && Number(m[1]) === Number(m[2]) ? Number(m[1]) >>> 0 : null;
}

/**
 * Inserts the standing rule as the first rule of `chain` in the `*filter` section of an
 * iptables-restore file; the text unchanged when it is there already. Any other standing
 * line (another mark) is taken out. null: the file has no `*filter` section declaring the chain.
 */
export function withIptStandingLine(text: string, chain: string, m: Mark): string | null {
  const want = iptStandingLine(chain, m);
  const lines = text.split('\n');
  let section = '';
  let declared = false;
  let at = -1;
  let commit = -1;
  let present = false;
  const out: string[] = [];
  for (const line of lines) {
    const t = line.trim();
    if (t.startsWith('*')) section = t.slice(1);
    if (section === 'filter') {
      if (t.startsWith(`:${chain} `)) declared = true;
      if (t === want) present = true;
      else if (isIptStandingLine(t) && t.startsWith(`-A ${chain} `)) continue;
      if (at < 0 && t.startsWith(`-A ${chain} `)) at = out.length;
      if (t === 'COMMIT' && commit < 0) commit = out.length;
    }
    out.push(line);
  }
  if (!declared) return null;
  if (present) return out.join('\n');
  const where = at >= 0 ? at : commit;
  if (where < 0) return null;
  out.splice(where, 0, want);
  return out.join('\n');
}

/** The file without any standing-rule line (what remove --purge writes back). */
export function withoutIptStandingLines(text: string): string {
  return text
    .split('\n')
    .filter((l) => !isIptStandingLine(l))
    .join('\n');
}
