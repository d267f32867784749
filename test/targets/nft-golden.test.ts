// Golden files (aerleon style): every fixture compiles to the reference
// ruleset under test/golden/nft/, and every reference loads with `nft -c`.
// Refresh with: npm run golden:refresh
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/frontend/load.js';
import { compileNft, NFT_DEFAULTS, type NftOptions } from '../../src/targets/nft/generate.js';

const FIXTURES = 'fixtures';
const GOLDEN = 'test/golden/nft';
const update = process.env.KNOCKC_UPDATE_GOLDEN === '1';
const nftPath = ['/usr/sbin/nft', '/sbin/nft'].find((p) => existsSync(p));

const variants: Array<{ suffix: string; opts: Partial<NftOptions> }> = [
  { suffix: '', opts: {} },
  { suffix: '.log', opts: { log: true, iface: 'eth0' } },
  { suffix: '.into', opts: { into: { family: 'inet', table: 'filter', chain: 'input', forwardChain: null } } },
];

function compileFixture(file: string, opts: Partial<NftOptions>): string | null {
  const r = parseConfigText(readFileSync(join(FIXTURES, file), 'utf8'), { file: `fixtures/${file}` });
  if (!r.config) return null;
  return compileNft(r.config, { ...NFT_DEFAULTS, ...opts, version: 'GOLDEN', source: `fixtures/${file}` }).text;
}

function nftCheck(text: string, prelude = ''): { status: number | null; stderr: string } {
  const r = spawnSync(nftPath!, ['-c', '-f', '-'], { input: prelude + text, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

/** --into needs the user's table to exist; this is the smallest such table. */
const USER_TABLE = 'table inet filter {\n  chain input {\n    type filter hook input priority 0; policy accept;\n  }\n}\n';

const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.conf')).sort();

describe('nft golden files', () => {
  it('has fixtures to compile', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(10);
  });
  if (process.env.CI === 'true') {
    it('has nft in CI', () => expect(nftPath, 'nft is not installed: .ci/run must install nftables').toBeDefined());
  }

  for (const f of fixtures) {
    for (const v of variants) {
      const golden = join(GOLDEN, `${basename(f, '.conf')}${v.suffix}.nft`);
      it(`${f}${v.suffix}`, () => {
        const text = compileFixture(f, v.opts);
        if (text === null) {
          // Only lint fixtures that knockd itself rejects may fail to compile.
          expect(f.startsWith('lint-') || f.startsWith('KC')).toBe(true);
          return;
        }
        if (update || !existsSync(golden)) {
          mkdirSync(GOLDEN, { recursive: true });
          if (update) writeFileSync(golden, text);
        }
        expect(existsSync(golden), `missing ${golden}: run npm run golden:refresh`).toBe(true);
        expect(text).toBe(readFileSync(golden, 'utf8'));
        if (nftPath) {
          const r = nftCheck(text, v.suffix === '.into' ? USER_TABLE : '');
          expect(r.stderr).toBe('');
          expect(r.status).toBe(0);
        }
      });
    }
  }
});
