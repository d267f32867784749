// The npm registry reachable from these machines serves only the linux-x64
// builds of packages with per-platform optional dependencies (rollup,
// esbuild), so `npm install` leaves the other platforms out of
// package-lock.json, and `npm ci` then refuses the lock as "out of sync".
// This adds a version-only entry for each missing optional dependency: npm ci
// accepts the lock and skips them (they are optional). Run it after every
// `npm install` that changes the lock: node .ci/fix-lock.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const pkgs = lock.packages;
let added = 0;
for (const [path, meta] of Object.entries(pkgs)) {
  for (const [dep, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const nested = `${path ? `${path}/` : ''}node_modules/${dep}`;
    const top = `node_modules/${dep}`;
    if (pkgs[nested] || pkgs[top]) continue;
    pkgs[top] = { version, dev: meta.dev === true, optional: true };
    added++;
  }
}
writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`fix-lock: ${added} optional platform package(s) added`);
