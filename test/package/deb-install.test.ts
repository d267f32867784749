// The .deb on a bare Debian 12 (debootstrap minbase, test/lab/build-image.sh --variant bare):
// `apt-get install ./knockc_*.deb` pulls only Debian's packages (nodejs 18 among them), then
// knockc --version and lint run, and purge leaves no file of knockc's. About 15 s with the image
// cached (35 s to build it). Under CI=true a missing Docker engine fails the file, never skips it.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from '../cli/built.js';

const CI = Boolean(process.env['CI']) && process.env['CI'] !== 'false';
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const docker = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0 && process.getuid?.() === 0;
if (!docker && CI) throw new Error('Docker engine (as root) unavailable under CI=true: the .deb install test must run');

const SCRIPT = String.raw`
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
cd /mnt
apt-get install -y -q ./knockc_*_all.deb >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
echo "node=$(node --version)"
echo "version=$(knockc --version)"
knockc lint seed.conf >/tmp/lint.out 2>&1 && echo "lint=0" || echo "lint=$?"
dpkg-query -W -f='${'$'}{Version}\n' nodejs | sed 's/^/nodejs=/'
dpkg -L knockc | while read -r f; do [ -d "$f" ] || echo "$f"; done >/tmp/files
mkdir -p /var/lib/knockc && echo '[]' >/var/lib/knockc/pending.json   # what knockc run writes
apt-get purge -y -q knockc >/dev/null 2>&1
while read -r f; do [ -e "$f" ] || [ -L "$f" ] && echo "left=$f"; done </tmp/files
[ -e /var/lib/knockc ] && echo "left=/var/lib/knockc"
echo "files=$(wc -l </tmp/files)"
echo done
`;

describe.skipIf(!docker)('apt-get install ./knockc_*.deb on a bare Debian 12', () => {
  let image = '';
  let deb = '';
  let out = '';
  beforeAll(() => {
    ensureBuilt();
    image = process.env['KNOCKC_BARE_IMAGE'] || execFileSync(join(ROOT, 'test/lab/build-image.sh'), ['--variant', 'bare'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    out = mkdtempSync(join(tmpdir(), 'knockc-deb-out-'));
    deb = execFileSync(process.execPath, [join(ROOT, 'dist/tools/package.js'), out], { cwd: ROOT, encoding: 'utf8' }).trim();
    return () => rmSync(out, { recursive: true, force: true });
  });

  it('installs with Debian\'s nodejs, runs, and purges clean', { timeout: 300_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'knockc-deb-install-'));
    const name = `knockc-deb-install-${process.pid}`;
    try {
      copyFileSync(deb, join(dir, `knockc_${version}_all.deb`));
      copyFileSync(join(ROOT, 'fixtures/seed-fr-monitoring-opencloseSSH.conf'), join(dir, 'seed.conf'));
      const r = spawnSync('docker', ['run', '--rm', '--name', name, '-v', `${dir}:/mnt:ro`, image, 'sh', '-c', SCRIPT], { encoding: 'utf8', timeout: 280_000 });
      const out = r.stdout;
      expect(out, r.stderr).toContain('\ndone');
      expect(out).toMatch(/^node=v18\.\d+\.\d+$/m); // Debian 12's own nodejs
      expect(out).toContain(`version=${version}\n`);
      expect(out).toContain('lint=0\n');
      expect(out).not.toMatch(/^left=/m);
      expect(Number(/^files=(\d+)$/m.exec(out)?.[1])).toBeGreaterThan(10);
    } finally {
      spawnSync('docker', ['rm', '-f', name], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
