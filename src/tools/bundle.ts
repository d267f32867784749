// Rewrites dist/cli.js (tsc's output) as one self-contained ES module: the whole CLI, its
// run-time dependencies (commander, chevrotain, Handlebars' parser) and templates/:
//   npm run build
// dist/cli.js then needs nothing but Node (18 or newer: docs/install.md says why): no
// node_modules, no templates/ and no package.json beside it, so it can be installed alone as
// /usr/bin/knockc (npm run package) or from the npm tarball, which holds only this file.
// It is also faster to start: Node otherwise resolves, opens, reads and compiles some sixty small
// modules one by one (one module starts a 10-door compile in ~205 ms instead of ~290 ms here).
// The other modules stay in dist/ for the tools (gen-docs, package) that import them.
import { build, type Plugin } from 'esbuild';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { packageRoot, packageVersion } from '../package.js';

const root = packageRoot();
const cli = join(root, 'dist', 'cli.js');

/** The Node majors the bundle is built for and tested on (package.json engines says the same). */
export const NODE_TARGET = 'node18';

/** templates/ as "target/name.hbs" -> text. */
function templates(): Record<string, string> {
  const out: Record<string, string> = {};
  const dir = join(root, 'templates');
  for (const target of readdirSync(dir)) {
    if (target === 'systemd') continue; // installed as files by the package, not read by the CLI
    for (const f of readdirSync(join(dir, target))) if (f.endsWith('.hbs')) out[`${target}/${f}`] = readFileSync(join(dir, target, f), 'utf8');
  }
  return out;
}

// src/frontend/chevrotain.ts finds chevrotain's one-module bundle beside the installed package at
// run time; here that bundle is imported statically, so it ends up inside dist/cli.js.
const chevrotainMin = join(dirname(createRequire(import.meta.url).resolve('chevrotain')), '..', 'chevrotain.min.mjs');
const chevrotainPlugin: Plugin = {
  name: 'knockc-chevrotain',
  setup(b) {
    b.onLoad({ filter: /[\\/]frontend[\\/]chevrotain\.js$/ }, () => ({
      contents: `export { createToken, Lexer, EmbeddedActionsParser } from ${JSON.stringify(chevrotainMin)};`,
      loader: 'js',
    }));
  },
};

// src/targets/templates.ts loads Handlebars through createRequire (a require esbuild cannot
// follow); without that line its require() calls are the module's own, which esbuild bundles.
const LOCAL_REQUIRE = 'const require = createRequire(import.meta.url);';
const handlebarsPlugin: Plugin = {
  name: 'knockc-handlebars',
  setup(b) {
    b.onLoad({ filter: /[\\/]targets[\\/]templates\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes(LOCAL_REQUIRE)) throw new Error(`${args.path}: "${LOCAL_REQUIRE}" not found: update src/tools/bundle.ts`);
      return { contents: text.replace(LOCAL_REQUIRE, ''), loader: 'js' };
    });
  },
};

await build({
  entryPoints: [cli],
  outfile: cli,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: NODE_TARGET,
  logLevel: 'warning',
  plugins: [chevrotainPlugin, handlebarsPlugin],
  define: {
    KNOCKC_BUNDLED_VERSION: JSON.stringify(packageVersion()),
    KNOCKC_BUNDLED_TEMPLATES: JSON.stringify(templates()),
  },
  // commander is CommonJS: its require() of Node's modules needs a real require in an ES module.
  banner: { js: "import { createRequire as knockcCreateRequire } from 'node:module';\nconst require = knockcCreateRequire(import.meta.url);" },
});
