// Handlebars set-up shared by the generators: templates live in templates/,
// the TypeScript side only prepares the data they render.
//
// The templates are Handlebars, parsed by Handlebars itself (its parser and its
// whitespace control: standalone lines, ~, partial indentation), and rendered by
// the small renderer below, which runs the syntax tree directly. For a 1000-door
// config (100,000 lines of rules) Handlebars' runtime spends most of a compile on
// per-call option objects, data frames and helper wrappers, and builds the text by
// string concatenation whose pieces all survive garbage collection; the renderer
// appends to one buffer. It knows the part of Handlebars the templates use (see
// compileProgram) and refuses anything else when a template is loaded, so a
// template can never mean something else here than in Handlebars;
// loadReferenceTemplate renders with Handlebars itself, and the tests check that
// both give the same text for every template.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../package.js';

const require = createRequire(import.meta.url);
type HandlebarsModule = typeof import('handlebars');

/**
 * Handlebars' parser (Handlebars.parse is this very function): loading it alone takes a third of
 * the time loading all of Handlebars takes, and every compile pays for it. All of Handlebars
 * only for the reference renderer.
 */
const parse: (text: string) => hbs.AST.Program = (() => {
  try {
    return (require('handlebars/dist/cjs/handlebars/compiler/base.js') as { parse: (text: string) => hbs.AST.Program }).parse;
  } catch {
    return (require('handlebars') as HandlebarsModule).parse;
  }
})();

export type Template = (data: unknown) => string;

type Helper = (...args: unknown[]) => unknown;

/** Pure functions of their arguments; the last argument is Handlebars' options object. */
const HELPERS: Readonly<Record<string, Helper>> = {
  eq: (a: unknown, b: unknown) => a === b,
  ne: (a: unknown, b: unknown) => a !== b,
  gt: (a: unknown, b: unknown) => (a as number) > (b as number),
  join: (xs: unknown, sep: unknown) => (Array.isArray(xs) ? xs.join(typeof sep === 'string' ? sep : ',') : ''),
  concat: (...args: unknown[]) => args.slice(0, -1).join(''),
};

interface Source {
  /** Partials: every other template of the target, and each `{{#*inline "x"}}` block of them. */
  readonly partials: ReadonlyMap<string, string>;
  readonly main: string;
}

/** Set by the bundle (src/tools/bundle.ts): templates/ as "target/name.hbs" -> text, so dist/cli.js reads no file. */
declare const KNOCKC_BUNDLED_TEMPLATES: Readonly<Record<string, string>> | undefined;

function readSources(target: string, name: string, partials: readonly string[]): Source {
  const read = (n: string): string =>
    typeof KNOCKC_BUNDLED_TEMPLATES === 'object'
      ? KNOCKC_BUNDLED_TEMPLATES[`${target}/${n}.hbs`]!
      : readFileSync(join(packageRoot(), 'templates', target, `${n}.hbs`), 'utf8');
  const out = new Map<string, string>();
  for (const p of partials) {
    const text = read(p);
    // `{{#*inline "x"}}...{{/inline}}` blocks of a syntax file become global partials.
    for (const m of text.matchAll(/\{\{#\*inline "([^"]+)"\}\}([\s\S]*?)\{\{\/inline\}\}/g)) out.set(m[1]!, m[2]!);
    out.set(p, text);
  }
  return { partials: out, main: read(name) };
}

const cache = new Map<string, Template>();

/** Compiles `templates/<target>/<name>.hbs` with every other template of the target as a partial. */
export function loadTemplate(target: string, name: string, partials: readonly string[]): Template {
  const id = `${target}/${name}`;
  const hit = cache.get(id);
  if (hit) return hit;
  const src = readSources(target, name, partials);
  const tpl = templateFromText(src.main, src.partials, `${id}.hbs`);
  cache.set(id, tpl);
  return tpl;
}

/** Collapse the blank lines left by template blocks; keep exactly one final newline. */
export function tidy(s: string): string {
  // trimEnd: what /\s*$/ removes, without a regex that retries at every whitespace of a big file.
  return s.replace(/[ \t]+$/gm, '').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}

/** The same template rendered by Handlebars' own runtime (for the tests: both must give the same text). */
export function loadReferenceTemplate(target: string, name: string, partials: readonly string[]): Template {
  const src = readSources(target, name, partials);
  return referenceFromText(src.main, src.partials);
}

/** A template from its text; partials by name. Throws on what the renderer does not know. */
export function templateFromText(text: string, partials: ReadonlyMap<string, string> = new Map(), file = 'template'): Template {
  return new Renderer(partials, file).template(text);
}

/** Handlebars' own rendering of the same text, with the same helpers and options. */
export function referenceFromText(text: string, partials: ReadonlyMap<string, string> = new Map()): Template {
  const hb = (require('handlebars') as HandlebarsModule).create();
  for (const [n, f] of Object.entries(HELPERS)) hb.registerHelper(n, f);
  for (const [n, t] of partials) hb.registerPartial(n, t);
  const compiled = hb.compile(text, { noEscape: true, strict: false });
  return (data) => compiled(data);
}

// ---------------------------------------------------------------------------------------------
// The renderer

type AST = hbs.AST.Node;
type Program = hbs.AST.Program;

/** The context stack `../` walks: a new level only where the context changes (Handlebars' depths). */
interface Scope {
  ctx: unknown;
  readonly up: Scope | null;
}

/** @index, @first, @last, @key, @root. */
type Frame = Record<string, unknown>;

/** The output: pieces joined into larger strings every few thousand, so that few objects stay alive. */
class Out {
  private parts: string[] = [];
  private readonly chunks: string[] = [];
  push(s: string): void {
    if (this.parts.push(s) >= 8192) this.flush();
  }
  private flush(): void {
    this.chunks.push(this.parts.join(''));
    this.parts = [];
  }
  text(): string {
    this.flush();
    return this.chunks.join('');
  }
}

type Run = (scope: Scope, frame: Frame, out: Out) => void;
type Eval = (scope: Scope, frame: Frame) => unknown;

const own = Object.prototype.hasOwnProperty;

/** Handlebars' lookup: own properties only (its prototype-access rules), null-safe. */
function lookup(value: unknown, parts: readonly string[]): unknown {
  let cur = value;
  for (const p of parts) {
    if (cur === null || cur === undefined) return cur;
    cur = own.call(cur, p) ? (cur as Record<string, unknown>)[p] : undefined;
    if (typeof cur === 'function') throw new Error(`template data: "${p}" is a function (Handlebars would call it; the renderer does not)`);
  }
  return cur;
}

/** Handlebars' `if`: false for falsy values (0 included) and empty arrays. */
const truthy = (v: unknown): boolean => !!v && !(Array.isArray(v) && v.length === 0);

class Renderer {
  private readonly compiled = new Map<string, Run>();

  constructor(
    private readonly partials: ReadonlyMap<string, string>,
    private readonly file: string,
  ) {}

  template(text: string): Template {
    const run = this.program(parse(text));
    return (data) => {
      const out = new Out();
      run({ ctx: data, up: null }, { root: data }, out);
      return out.text();
    };
  }

  private fail(node: AST, what: string): never {
    const at = node.loc ? `${node.loc.source ?? this.file}:${node.loc.start.line}:${node.loc.start.column + 1}` : this.file;
    throw new Error(`template ${at}: ${what} is not supported by knockc's template renderer (src/targets/templates.ts)`);
  }

  private partial(name: string): Run {
    let run = this.compiled.get(name);
    if (!run) {
      const text = this.partials.get(name);
      if (text === undefined) throw new Error(`template ${this.file}: the partial ${name} could not be found`);
      run = this.program(parse(text));
      this.compiled.set(name, run);
    }
    return run;
  }

  /** The subset: content, comments, {{path}}, {{helper args}}, if/unless/each blocks with else, partials. */
  private program(p: Program | undefined): Run {
    if (!p) return () => {};
    if (p.blockParams?.length) this.fail(p, 'block parameters (as |x|)');
    const parts = p.body.map((s) => this.statement(s));
    if (parts.length === 1) return parts[0]!;
    return (scope, frame, out) => {
      for (const run of parts) run(scope, frame, out);
    };
  }

  private statement(node: AST): Run {
    switch (node.type) {
      case 'ContentStatement': {
        const text = (node as hbs.AST.ContentStatement).value;
        return (_s, _f, out) => out.push(text);
      }
      case 'CommentStatement':
        return () => {};
      case 'MustacheStatement': {
        const m = node as hbs.AST.MustacheStatement;
        const value = this.helperCall(m) ?? this.expression(m.path);
        return (scope, frame, out) => {
          const v = value(scope, frame);
          if (v !== null && v !== undefined) out.push(typeof v === 'string' ? v : `${v as string}`);
        };
      }
      case 'BlockStatement':
        return this.block(node as hbs.AST.BlockStatement);
      case 'PartialStatement':
        return this.partialStatement(node as hbs.AST.PartialStatement);
      default:
        return this.fail(node, node.type);
    }
  }

  private block(b: hbs.AST.BlockStatement): Run {
    const name = b.path.original;
    if (b.path.type !== 'PathExpression' || b.path.depth || b.path.data || b.path.parts.length !== 1) this.fail(b, `block {{#${name}}}`);
    if (b.params.length !== 1 || b.hash) this.fail(b, `{{#${name}}} without exactly one argument, or with name=value arguments`);
    const arg = this.expression(b.params[0]!);
    const fn = this.program(b.program);
    const inverse = this.program(b.inverse);
    switch (name) {
      case 'if':
      case 'unless': {
        const want = name === 'if';
        // Same context: no new `../` level.
        return (scope, frame, out) => (truthy(arg(scope, frame)) === want ? fn : inverse)(scope, frame, out);
      }
      case 'each':
        return (scope, frame, out) => {
          const xs = arg(scope, frame);
          if (!Array.isArray(xs)) {
            if (xs !== null && typeof xs === 'object') this.fail(b, '{{#each}} over something else than an array');
            inverse(scope, frame, out);
            return;
          }
          const n = xs.length;
          if (n === 0) {
            inverse(scope, frame, out);
            return;
          }
          // One frame and one scope per loop, updated in place: nothing keeps them past an iteration.
          const f: Frame = { ...frame, _parent: frame, key: 0, index: 0, first: true, last: false };
          const inner: Scope = { ctx: undefined, up: scope };
          for (let i = 0; i < n; i++) {
            const x: unknown = xs[i];
            f['key'] = i;
            f['index'] = i;
            f['first'] = i === 0;
            f['last'] = i === n - 1;
            // Handlebars compares loosely (context != depths[0]).
            // eslint-disable-next-line eqeqeq
            if (x != scope.ctx) {
              inner.ctx = x;
              fn(inner, f, out);
            } else fn(scope, f, out);
          }
        };
      default:
        return this.fail(b, `block helper {{#${name}}}`);
    }
  }

  private partialStatement(p: hbs.AST.PartialStatement): Run {
    if (p.hash) this.fail(p, 'a partial with name=value arguments');
    if (p.params.length > 1) this.fail(p, 'a partial with more than one argument');
    const context = p.params.length ? this.expression(p.params[0]!) : null;
    const indent = p.indent ?? '';
    const find = this.partialName(p);
    return (scope, frame, out) => {
      const run = find(scope, frame);
      // A partial starts a new `../` stack at its context, and sees the caller's @data.
      const inner: Scope = { ctx: context ? context(scope, frame) : scope.ctx, up: null };
      if (!indent) {
        run(inner, frame, out);
        return;
      }
      // A standalone partial: each of its lines is indented like the tag (not an empty last one).
      const sub = new Out();
      run(inner, frame, sub);
      const lines = sub.text().split('\n');
      for (let i = 0; i < lines.length; i++) {
        if (!lines[i] && i + 1 === lines.length) break;
        lines[i] = indent + lines[i]!;
      }
      out.push(lines.join('\n'));
    };
  }

  /** The partial a {{> name}} or {{> (helper args)}} calls. */
  private partialName(p: hbs.AST.PartialStatement): (scope: Scope, frame: Frame) => Run {
    if (p.name.type !== 'SubExpression') {
      const fixed = String((p.name as hbs.AST.PathExpression).original);
      return () => this.partial(fixed);
    }
    const s = p.name as hbs.AST.SubExpression;
    const name = this.call(s);
    const dynamic = s.params.filter((a) => !a.type.endsWith('Literal'));
    if (dynamic.length !== 1) return (scope, frame) => this.partial(String(name(scope, frame)));
    // Like (concat "m-" k): helpers are pure, so the partial is remembered per value of k.
    const key = this.expression(dynamic[0]!);
    const seen = new Map<unknown, Run>();
    return (scope, frame) => {
      const k = key(scope, frame);
      let run = seen.get(k);
      if (!run) {
        run = this.partial(String(name(scope, frame)));
        seen.set(k, run);
      }
      return run;
    };
  }

  /** {{name args}} and {{name}} when `name` is a helper; null for a plain {{path}}. */
  private helperCall(m: hbs.AST.MustacheStatement): Eval | null {
    const p = m.path as hbs.AST.PathExpression;
    const simple = p.type === 'PathExpression' && !p.data && p.depth === 0 && p.parts.length === 1;
    if (m.params.length === 0 && !(simple && own.call(HELPERS, p.parts[0]!))) {
      if (m.hash) this.fail(m, 'name=value arguments');
      return null;
    }
    return this.call(m as unknown as hbs.AST.SubExpression);
  }

  private call(s: hbs.AST.SubExpression): Eval {
    const name = s.path.original;
    const helper = s.path.type === 'PathExpression' && own.call(HELPERS, name) ? HELPERS[name]! : null;
    if (!helper) return this.fail(s, `the helper "${name}" (missing helper)`);
    if (s.hash) this.fail(s, 'name=value arguments');
    const args = s.params.map((a) => this.expression(a));
    const options = Object.freeze({ name, hash: Object.freeze({}) });
    if (args.length === 1) {
      const [a] = args as [Eval];
      return (scope, frame) => helper.call(scope.ctx, a(scope, frame), options);
    }
    if (args.length === 2) {
      const [a, b] = args as [Eval, Eval];
      return (scope, frame) => helper.call(scope.ctx, a(scope, frame), b(scope, frame), options);
    }
    return (scope, frame) => helper.call(scope.ctx, ...args.map((a) => a(scope, frame)), options);
  }

  private expression(e: AST): Eval {
    switch (e.type) {
      case 'StringLiteral':
      case 'NumberLiteral':
      case 'BooleanLiteral': {
        const v = (e as hbs.AST.StringLiteral).value;
        return () => v;
      }
      case 'UndefinedLiteral':
        return () => undefined;
      case 'NullLiteral':
        return () => null;
      case 'SubExpression':
        return this.call(e as hbs.AST.SubExpression);
      case 'PathExpression': {
        const p = e as hbs.AST.PathExpression;
        if (p.data) {
          if (p.depth) this.fail(p, `@../ data paths (${p.original})`);
          return (_scope, frame) => lookup(frame, p.parts);
        }
        const { depth, parts } = p;
        if (depth === 0 && parts.length === 1 && own.call(HELPERS, parts[0]!)) this.fail(p, `the helper "${parts[0]}" used as a value`);
        if (depth === 0) return (scope) => lookup(scope.ctx, parts);
        return (scope) => {
          let s: Scope | null = scope;
          for (let d = 0; d < depth && s; d++) s = s.up;
          return s ? lookup(s.ctx, parts) : undefined;
        };
      }
      default:
        return this.fail(e, e.type);
    }
  }
}
