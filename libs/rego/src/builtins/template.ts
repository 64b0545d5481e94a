/**
 * strings.render_template: the subset of Go text/template that policies use — `{{.a.b}}`,
 * `{{$v}}`, `{{if}}`/`{{else if}}`/`{{else}}`, `{{range [$i, $v :=] ...}}`/`{{else}}`,
 * `{{with}}`, `{{end}}`, comments and `{{-`/`-}}` trimming. Values print as Go's %v would
 * (maps as `map[k:v]`, slices as `[a b]`, null as `<nil>`, a missing key as `<undefined>`
 * as OPA 1.x prints it) and the functions len, index, eq, ne, not, and, or, print with plain
 * arguments (parenthesized calls allowed). Anything else (other functions, pipelines) is an error naming it.
 */
import { formatNumber } from '../format.js';
import type { Value } from '../value.js';
import { RObject, RSet } from '../value.js';
import { BuiltinError } from './types-api.js';

type Node =
  | { t: 'text'; s: string }
  | { t: 'out'; expr: string }
  | { t: 'if' | 'with'; expr: string; then: Node[]; else: Node[] }
  | { t: 'range'; expr: string; k?: string; v?: string; body: Node[]; else: Node[] };

function err(msg: string): never {
  throw new BuiltinError(`strings.render_template: ${msg}`);
}

function lex(src: string): (string | { a: string })[] {
  const out: (string | { a: string })[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      out.push(src.slice(i));
      break;
    }
    let text = src.slice(i, open);
    let inner = open + 2;
    if (src.startsWith('- ', inner)) {
      text = text.replace(/\s+$/, '');
      inner += 2;
    }
    const close = src.indexOf('}}', inner);
    if (close < 0) err('unclosed action');
    let body = src.slice(inner, close);
    i = close + 2;
    if (body.endsWith(' -')) {
      body = body.slice(0, -2);
      i += /^\s*/.exec(src.slice(i))?.[0].length ?? 0;
    }
    if (text) out.push(text);
    const trimmed = body.trim();
    if (!trimmed.startsWith('/*')) out.push({ a: trimmed });
  }
  return out;
}

function parse(toks: (string | { a: string })[]): Node[] {
  let pos = 0;
  const block = (stops: string[]): { nodes: Node[]; stop: string } => {
    const nodes: Node[] = [];
    while (pos < toks.length) {
      const tok = toks[pos++] as string | { a: string };
      if (typeof tok === 'string') {
        nodes.push({ t: 'text', s: tok });
        continue;
      }
      const a = tok.a;
      const word = a.split(/\s+/)[0] as string;
      if (stops.includes(word)) return { nodes, stop: a };
      if (word === 'if' || word === 'with') nodes.push(cond(word, a.slice(word.length).trim()));
      else if (word === 'range') {
        const m = /^range\s+(?:(\$\w*)\s*(?:,\s*(\$\w*))?\s*:=\s*)?(.+)$/.exec(a);
        if (!m) err(`bad range action {{${a}}}`);
        const body = block(['else', 'end']);
        const els = body.stop === 'else' ? block(['end']).nodes : [];
        const node: Node = { t: 'range', expr: m[3] as string, body: body.nodes, else: els };
        if (m[2]) {
          node.k = m[1] as string;
          node.v = m[2];
        } else if (m[1]) node.v = m[1];
        nodes.push(node);
      } else nodes.push({ t: 'out', expr: a });
    }
    if (stops.length) err('missing {{end}}');
    return { nodes, stop: '' };
  };
  const cond = (t: 'if' | 'with', expr: string): Node => {
    const then = block(['else', 'end']);
    let els: Node[] = [];
    if (then.stop.startsWith('else')) {
      const rest = then.stop.slice(4).trim();
      els = rest.startsWith('if ') ? [cond('if', rest.slice(3).trim())] : block(['end']).nodes;
    }
    return { t, expr, then: then.nodes, else: els };
  };
  return block([]).nodes;
}

type Scope = { dot: Value | undefined; vars: Map<string, Value | undefined> };

function field(v: Value | undefined, name: string): Value | undefined {
  if (v instanceof RObject) return v.getStr(name);
  if (v === undefined) return undefined;
  return err(`can't evaluate field ${name} in type ${Array.isArray(v) ? 'array' : typeof v}`);
}

/** Space-separated arguments of a function action (quoted strings and parenthesized groups kept whole). */
function splitArgs(e: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < e.length) {
    if (/\s/.test(e[i] as string)) {
      i++;
      continue;
    }
    const start = i;
    if (e[i] === '"') {
      for (i++; i < e.length && e[i] !== '"'; i++) if (e[i] === '\\') i++;
      i++;
    } else if (e[i] === '(') {
      for (let depth = 0; i < e.length; i++) {
        if (e[i] === '(') depth++;
        else if (e[i] === ')' && --depth === 0) break;
      }
      i++;
    } else while (i < e.length && !/\s/.test(e[i] as string)) i++;
    out.push(e.slice(start, i));
  }
  return out;
}

const FUNCS: Record<string, (args: (Value | undefined)[]) => Value | undefined> = {
  len: ([x]) => (typeof x === 'string' ? Buffer.byteLength(x) : Array.isArray(x) ? x.length : x instanceof RObject || x instanceof RSet ? x.size : err('len of a non-collection')),
  index: ([x, ...ks]) => {
    let v = x;
    for (const k of ks) v = Array.isArray(v) && typeof k === 'number' ? v[k] : v instanceof RObject && k !== undefined ? v.get(k) : err('index of a non-collection');
    return v;
  },
  eq: ([a, ...bs]) => bs.some((b) => goText(a) === goText(b)),
  ne: ([a, b]) => goText(a) !== goText(b),
  not: ([a]) => !truthy(a),
  and: (xs) => xs.find((x) => !truthy(x)) ?? xs[xs.length - 1],
  or: (xs) => xs.find((x) => truthy(x)) ?? xs[xs.length - 1],
  print: (xs) => xs.map(goText).join(' '),
};

function evalExpr(expr: string, s: Scope): Value | undefined {
  let e = expr.trim();
  if (e.startsWith('(') && e.endsWith(')')) e = e.slice(1, -1).trim();
  const words = splitArgs(e);
  const fn = words.length > 1 ? FUNCS[words[0] as string] : undefined;
  if (fn) return fn(words.slice(1).map((w) => evalExpr(w, s)));
  if (/^"(?:[^"\\]|\\.)*"$/.test(e)) return JSON.parse(e) as string;
  if (/^-?\d+(\.\d+)?$/.test(e)) return Number(e);
  if (e === 'true' || e === 'false') return e === 'true';
  const m = /^(\$\w*|\.)((?:\.\w+)*)$/.exec(e) ?? /^()((?:\.\w+)+)$/.exec(e);
  if (!m) return err(`unsupported action {{${e}}} (fields, variables, literals and len/index/eq/ne/not/and/or/print)`);
  let v: Value | undefined = m[1] === '.' || m[1] === '' ? s.dot : s.vars.has(m[1] as string) ? s.vars.get(m[1] as string) : err(`undefined variable ${m[1]}`);
  for (const f of (m[2] as string).split('.').slice(1)) v = field(v, f);
  return v;
}

function truthy(v: Value | undefined): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof RObject || v instanceof RSet) return v.size > 0;
  return true;
}

/** Go's fmt %v of the JSON value OPA hands to text/template. */
function goText(v: Value | undefined): string {
  if (v === undefined) return '<undefined>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return formatNumber(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return '[' + v.map(goText).join(' ') + ']';
  if (v instanceof RSet) return '[' + v.sorted().map(goText).join(' ') + ']';
  return 'map[' + v.sortedKeys().map((k) => `${goText(k)}:${goText(v.get(k))}`).join(' ') + ']';
}

function render(nodes: Node[], s: Scope, out: string[]): void {
  for (const n of nodes) {
    switch (n.t) {
      case 'text':
        out.push(n.s);
        break;
      case 'out': {
        const v = evalExpr(n.expr, s);
        out.push(goText(v));
        break;
      }
      case 'if':
      case 'with': {
        const v = evalExpr(n.expr, s);
        if (truthy(v)) render(n.then, n.t === 'with' ? { ...s, dot: v } : s, out);
        else render(n.else, s, out);
        break;
      }
      case 'range': {
        const v = evalExpr(n.expr, s);
        const items: [Value, Value][] = Array.isArray(v)
          ? v.map((x, i) => [i, x])
          : v instanceof RSet
            ? v.sorted().map((x, i) => [i, x])
            : v instanceof RObject
              ? v.sortedKeys().map((k) => [k, v.get(k) as Value])
              : v === undefined || v === null
                ? []
                : err(`range can't iterate over ${goText(v)}`);
        if (items.length === 0) render(n.else, s, out);
        for (const [k, x] of items) {
          const vars = new Map(s.vars);
          if (n.k !== undefined) vars.set(n.k, k);
          if (n.v !== undefined) vars.set(n.v, x);
          render(n.body, { dot: x, vars }, out);
        }
        break;
      }
    }
  }
}

export function renderTemplate(template: string, vars: RObject): string {
  const out: string[] = [];
  render(parse(lex(template)), { dot: vars, vars: new Map([['$', vars]]) }, out);
  return out.join('');
}
