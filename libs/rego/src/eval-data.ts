/**
 * Reading `data`: the compiled rule tree (virtual documents) layered over base data.
 * Constant prefixes go straight down the tree; variables in the path enumerate the keys
 * of both; a package referenced as a whole is materialized as an object.
 */
import type { Term } from './ast.js';
import type { PNode, RuleSet } from './tree.js';
import type { Value } from './value.js';
import { RObject } from './value.js';

type Frame = Array<Value | undefined>;
type Cb = (v: Value) => boolean;

export abstract class DataWalker {
  overrides: Map<string, Value> | undefined;

  readonly root: PNode;
  data: Value;

  constructor(root: PNode, data: Value) {
    this.root = root;
    this.data = data;
  }

  abstract ruleValue(rs: RuleSet): Value | undefined;
  abstract zeroArgCall(rs: RuleSet): Value | undefined;
  /** True while the rule is being evaluated (a package materialized from inside it skips it). */
  abstract inProgress(rs: RuleSet): boolean;
  abstract walk(v: Value, path: Term[], i: number, f: Frame, cb: Cb): boolean;
  abstract term(t: Term, f: Frame, cb: Cb): boolean;
  abstract unifyVal(t: Term, v: Value, f: Frame, k: () => boolean): boolean;

  dataRef(prefix: string[], rest: Term[], _i: number, f: Frame, cb: Cb): boolean {
    let node: PNode = this.root;
    let base: Value | undefined = this.data;
    for (let j = 0; j < prefix.length; j++) {
      if (node.rules || (this.overrides && this.overrides.has(prefix.slice(0, j).join('\u0000')) && j > 0)) {
        return this.nodeWalk(node, base, prefix.slice(0, j), this.constTerms(prefix.slice(j), rest), 0, f, cb);
      }
      const key = prefix[j] as string;
      const child = node.children.get(key);
      if (child?.rules && base instanceof RObject && base.getStr(key) !== undefined) {
        return this.walk(base.getStr(key) as Value, this.constTerms(prefix.slice(j + 1), rest), 0, f, cb);
      }
      const baseChild: Value | undefined = base instanceof RObject ? base.getStr(key) : undefined;
      if (!child) {
        if (baseChild === undefined) return false;
        return this.walk(baseChild, this.constTerms(prefix.slice(j + 1), rest), 0, f, cb);
      }
      node = child;
      base = baseChild;
    }
    return this.nodeWalk(node, base, prefix, rest, 0, f, cb);
  }

  private constTerms(keys: string[], rest: Term[]): Term[] {
    if (keys.length === 0) return rest;
    const loc = { file: '', line: 0, col: 0 };
    return [...keys.map((v): Term => ({ t: 'scalar', v, loc })), ...rest];
  }

  private nodeWalk(node: PNode, base: Value | undefined, path: string[], rest: Term[], i: number, f: Frame, cb: Cb): boolean {
    if (this.overrides) {
      const o = this.overrides.get(path.join('\u0000'));
      if (o !== undefined) return this.walk(o, rest, i, f, cb);
    }
    if (node.rules) {
      // Base data at the same path takes precedence over the rule (as in regorus).
      if (base !== undefined) return this.walk(base, rest, i, f, cb);
      const v = this.ruleNodeValue(node, path);
      return v === undefined ? false : this.walk(v, rest, i, f, cb);
    }
    if (i === rest.length) return cb(this.nodeValue(node, base, path));
    const p = rest[i] as Term;
    const step = (raw: Value): boolean => {
      const key = typeof raw === 'number' ? String(raw) : raw;
      if (typeof key !== 'string') return false;
      const child = node.children.get(key);
      const baseChild = base instanceof RObject ? base.getStr(key) : undefined;
      if (child) return this.nodeWalk(child, baseChild, [...path, key], rest, i + 1, f, cb);
      return baseChild === undefined ? false : this.walk(baseChild, rest, i + 1, f, cb);
    };
    if (p.t === 'var' && p.slot !== undefined && f[p.slot] === undefined) {
      const keys = new Set<string>(node.children.keys());
      if (base instanceof RObject) for (const k of base.sortedKeys()) if (typeof k === 'string') keys.add(k);
      for (const key of [...keys].sort()) {
        if (this.unifyVal(p, key, f, () => step(key))) return true;
      }
      return false;
    }
    return this.term(p, f, step);
  }

  /** Value of a rule node; `c[x] := ...` and `c.k := ...` together make one object. */
  private ruleNodeValue(node: PNode, path: string[]): Value | undefined {
    const rs = node.rules as RuleSet;
    const v = rs.kind === 'func' ? this.zeroArgCall(rs) : this.ruleValue(rs);
    if (node.children.size === 0 || rs.kind !== 'object') return v;
    const out = v instanceof RObject ? v.clone() : new RObject();
    for (const [k, child] of node.children) {
      const cv = child.rules ? this.ruleNodeValue(child, [...path, k]) : this.nodeValue(child, undefined, [...path, k]);
      if (cv !== undefined) out.set(k, cv);
    }
    return out;
  }

  /** A package (or all of data) as an object: base data merged with defined rule values. */
  nodeValue(node: PNode, base: Value | undefined, path: string[]): Value {
    const out = base instanceof RObject ? base.clone() : new RObject();
    for (const [key, child] of node.children) {
      const childPath = [...path, key];
      const o = this.overrides?.get(childPath.join('\u0000'));
      let v: Value | undefined;
      if (o !== undefined) v = o;
      else if (child.rules) {
        if (this.inProgress(child.rules)) continue;
        v = this.ruleNodeValue(child, childPath);
      } else v = this.nodeValue(child, out.getStr(key), childPath);
      if (v !== undefined) out.set(key, v);
    }
    return out;
  }
}
