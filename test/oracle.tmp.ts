import { readdirSync, readFileSync } from 'node:fs';
import { runRealKnockd } from './compat/run-knockd.js';
const dir = 'fixtures/lint';
const files: Record<string, string> = {};
for (const f of readdirSync(`${dir}/one-time`)) files[`one-time/${f}`] = readFileSync(`${dir}/one-time/${f}`, 'utf8');
for (const f of readdirSync(dir).filter((n) => n.endsWith('.conf')).sort()) {
  const r = await runRealKnockd({ text: readFileSync(`${dir}/${f}`, 'utf8'), files });
  console.log(f, r.verdict, r.verdict === 'reject' ? JSON.stringify(r.stderr.trim().split('\n')[0]) : '');
}
