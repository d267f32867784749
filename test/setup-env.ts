// Every test process: knockc's host-firewall files (src/attach/paths.ts) go to a
// scratch directory, never to this machine's /etc. The scratch network namespace
// tests share the machine's file system; a test that attaches on purpose in a lab
// container passes its own root ('/etc' inside the container).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

if (!process.env['KNOCKC_ETC']) process.env['KNOCKC_ETC'] = mkdtempSync(join(tmpdir(), 'knockc-etc-'));
