// Rewrites dist/cli.js (tsc's output) as one ES module holding the whole CLI and commander:
//   npm run build
// Node otherwise resolves, opens, reads and compiles some sixty small modules one by one, most
// of knockc's start-up: one module starts a 10-door compile in ~205 ms instead of ~290 ms here.
// The modules stay in dist/ for everything else that imports them. chevrotain's own bundle and
// Handlebars' parser are still loaded at run time (src/frontend/chevrotain.ts,
// src/targets/templates.ts find them relative to the installed packages).
import { build } from 'esbuild';
import { join } from 'node:path';
import { packageRoot } from '../package.js';

const cli = join(packageRoot(), 'dist', 'cli.js');

await build({
  entryPoints: [cli],
  outfile: cli,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
  // commander is CommonJS: its require() of Node's modules needs a real require in an ES module.
  banner: { js: "import { createRequire as knockcCreateRequire } from 'node:module';\nconst require = knockcCreateRequire(import.meta.url);" },
});
