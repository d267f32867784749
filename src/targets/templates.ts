// Handlebars set-up shared by the generators: templates live in templates/,
// the TypeScript side only prepares the data they render.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { packageRoot } from '../cli/common.js';

export type Template = (data: unknown) => string;

function newEnv(): typeof Handlebars {
  const hb = Handlebars.create();
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  hb.registerHelper('ne', (a: unknown, b: unknown) => a !== b);
  hb.registerHelper('gt', (a: number, b: number) => a > b);
  hb.registerHelper('join', (xs: unknown[], sep: string) => (Array.isArray(xs) ? xs.join(typeof sep === 'string' ? sep : ',') : ''));
  hb.registerHelper('concat', (...args: unknown[]) => args.slice(0, -1).join(''));
  return hb;
}

const cache = new Map<string, Template>();

/** Compiles `templates/<target>/<name>.hbs` with every other template of the target as a partial. */
export function loadTemplate(target: string, name: string, partials: readonly string[]): Template {
  const id = `${target}/${name}`;
  const hit = cache.get(id);
  if (hit) return hit;
  const hb = newEnv();
  const dir = join(packageRoot(), 'templates', target);
  const read = (n: string): string => readFileSync(join(dir, `${n}.hbs`), 'utf8');
  for (const p of partials) {
    const text = read(p);
    registerInlines(hb, text);
    hb.registerPartial(p, text);
  }
  const compiled = hb.compile(read(name), { noEscape: true, strict: false });
  const tpl: Template = (data) => compiled(data);
  cache.set(id, tpl);
  return tpl;
}

/** `{{#*inline "x"}}...{{/inline}}` blocks of a syntax file become global partials. */
function registerInlines(hb: typeof Handlebars, text: string): void {
  const re = /\{\{#\*inline "([^"]+)"\}\}([\s\S]*?)\{\{\/inline\}\}/g;
  for (const m of text.matchAll(re)) hb.registerPartial(m[1]!, m[2]!);
}
