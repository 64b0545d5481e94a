/** strings.render_template, regex.template_match, graph.*, rego.metadata.*, opa.runtime. */
import type { Value } from '../value.js';
import { RObject, RSet, objectOf } from '../value.js';
import { coll, obj, str } from './check.js';
import { compileRe } from './regex.js';
import { renderTemplate } from './template.js';
import { b, BuiltinError } from './types-api.js';
import type { Table } from './types-api.js';

const VERSION = '0.1.0';

/** Go regexp.QuoteMeta. */
function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/** Edges of a graph node: an array or set of neighbours; anything else (or absent) is none. */
function edges(graph: RObject, node: Value): Value[] {
  const e = graph.get(node);
  if (Array.isArray(e)) return e;
  if (e instanceof RSet) return e.sorted();
  return [];
}

/**
 * OPA's graph.reachable_paths: a depth-first walk from each neighbour of each start node,
 * recording the path where it ends (a node without edges, a node missing from the graph,
 * which is not included, or an edge back to a node already reached in this walk; OPA's
 * `reached` set is shared by the whole walk and its paths accumulate per node, and so do
 * ours, so results match OPA's on cyclic graphs too).
 */
function reachablePaths(graph: RObject, starts: Value[]): RSet {
  const out = new RSet();
  const build = (root: Value, path: Value[], reached: RSet): void => {
    if (!graph.has(root)) {
      out.add(path);
      return;
    }
    const p = [...path, root];
    const es = edges(graph, root);
    if (es.length === 0) {
      out.add(p);
      return;
    }
    const acc: Value[] = [];
    for (const n of es) {
      if (reached.has(n)) {
        acc.push(...p);
        out.add([...acc]);
      } else {
        reached.add(root);
        build(n, p, reached);
      }
    }
  };
  for (const s of starts) {
    if (!graph.has(s)) continue;
    const es = edges(graph, s);
    if (es.length === 0) out.add([s]);
    for (const n of es) build(n, [s], RSet.of([s]));
  }
  return out;
}

export const EXTRAS: Table = {
  'strings.render_template': b(2, (a) => renderTemplate(str(a, 0), obj(a, 1))),
  'regex.template_match': b(4, (a) => {
    const [tpl, subject, open, close] = [str(a, 0), str(a, 1), str(a, 2), str(a, 3)];
    if (open.length === 0 || close.length === 0) throw new BuiltinError('regex.template_match: delimiters must not be empty');
    let re = '^';
    let i = 0;
    while (i < tpl.length) {
      const s = tpl.indexOf(open, i);
      if (s < 0) {
        re += quoteMeta(tpl.slice(i));
        break;
      }
      // Balanced delimiters, as ory/ladon (OPA's implementation) requires.
      let depth = 0;
      let e = s;
      for (; e < tpl.length; e++) {
        if (tpl.startsWith(open, e)) depth++;
        else if (tpl.startsWith(close, e) && --depth === 0) break;
      }
      if (depth !== 0) throw new BuiltinError(`regex.template_match: unbalanced braces in ${JSON.stringify(tpl)}`);
      re += quoteMeta(tpl.slice(i, s)) + '(' + tpl.slice(s + open.length, e) + ')';
      i = e + close.length;
    }
    return compileRe(re + '$').test(subject);
  }),
  'graph.reachable': b(2, (a) => {
    const graph = obj(a, 0);
    const seen = new RSet();
    const stack = [...coll(a, 1)];
    while (stack.length > 0) {
      const n = stack.pop() as Value;
      if (seen.has(n) || !graph.has(n)) continue;
      seen.add(n);
      stack.push(...edges(graph, n));
    }
    return seen;
  }),
  'graph.reachable_paths': b(2, (a) => reachablePaths(obj(a, 0), coll(a, 1))),
  // Annotations (METADATA comments) are not parsed: OPA returns these for unannotated rules.
  'rego.metadata.rule': b(0, () => new RObject()),
  'rego.metadata.chain': b(0, () => []),
  'opa.runtime': b(0, (_a, ctx) => {
    // SECURITY: like OPA, the environment (compile option runtimeEnv, default process.env) is
    // visible to policies, which are trusted content; hosts whose policy output leaves the
    // trust boundary pass {}. Values never reach logs from here.
    const env = new RObject();
    for (const [k, v] of Object.entries(ctx.runtimeEnv)) if (v !== undefined) env.set(k, v);
    return objectOf([
      ['env', env],
      ['version', `kata-cc-rego ${VERSION}`],
      ['commit', ''],
      ['config', new RObject()],
    ]);
  }),
};
