// Helper for robustness.test.ts: reads a config from standard input through
// the front end (`-`) and prints the result as JSON. Run with tsx.
import { loadConfigFile } from '../../src/frontend/load.js';

const r = loadConfigFile('-');
process.stdout.write(
  JSON.stringify({
    doors: r.config ? r.config.doors.map((d) => ({ name: d.name, knocks: d.knocks.map((k) => `${k.port}:${k.proto}`) })) : null,
    diagnostics: r.diagnostics.map((d) => ({ code: d.code, file: d.range.start.file, line: d.range.start.line, col: d.range.start.col })),
  }),
);
