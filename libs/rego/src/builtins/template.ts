/**
 * strings.render_template: the subset of Go text/template that policies use — `{{.a.b}}`,
 * `{{$v}}`, `{{if}}`/`{{else if}}`/`{{else}}`, `{{range [$i, $v :=] ...}}`/`{{else}}`,
 * `{{with}}`, `{{end}}`, comments and `{{-`/`-}}` trimming. Values print as Go's %v would
 * (maps as `map[k:v]`, slices as `[a b]`, a missing key as `<no value>`). Anything else
 * (functions, pipelines) is an error naming the action.
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

function evalExpr(expr: string, s: Scope): Value | undefined {
  const e = expr.trim();
  if (/^"(?:[^"\\]|\\.)*"$/.test(e)) return JSON.parse(e) as string;
  if (/^-?\d+(\.\d+)?$/.test(e)) return Number(e);
  if (e === 'true' || e === 'false') return e === 'true';
  const m = /^(\$\w*|\.)((?:\.\w+)*)$/.exec(e) ?? /^()((?:\.\w+)+)$/.exec(e);
  if (!m) return err(`unsupported action {{${e}}} (only fields, variables and literals)`);
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
  if (v === undefined || v === null) return '<no value>';
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
        out.push(v === undefined ? '<no value>' : goText(v));
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
