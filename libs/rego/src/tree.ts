/** The compiled rule tree: packages as nested nodes, each rule path holding one RuleSet. */
import type { Rule, RuleKind } from './ast.js';
import { rgoError } from './errors.js';

export interface RuleSet {
  /** Full path below data, e.g. ['agent_policy', 'allow']. */
  path: string[];
  kind: RuleKind;
  rules: Rule[];
  defaultRule: Rule | undefined;
}

export interface PNode {
  children: Map<string, PNode>;
  rules: RuleSet | undefined;
}

export function newNode(): PNode {
  return { children: new Map(), rules: undefined };
}

/** Node at `path` (first element 'data'), or undefined. */
export function lookupNode(root: PNode, path: readonly string[]): PNode | undefined {
  let n: PNode | undefined = root;
  for (let i = 1; i < path.length && n; i++) n = n.children.get(path[i] as string);
  return n;
}

/** A package with no rules is still an (empty) object under data. */
export function ensurePackage(root: PNode, pkg: string[]): void {
  let n = root;
  for (const k of pkg) {
    let c = n.children.get(k);
    if (!c) {
      c = newNode();
      n.children.set(k, c);
    }
    n = c;
  }
}

export function addRule(root: PNode, pkg: string[], rule: Rule): void {
  const full = [...pkg, ...rule.path];
  let n = root;
  for (const k of full) {
    let c = n.children.get(k);
    if (!c) {
      c = newNode();
      n.children.set(k, c);
    }
    n = c;
  }
  const loc = `${rule.loc.file}:${rule.loc.line}`;
  if (!n.rules) n.rules = { path: full, kind: rule.kind, rules: [], defaultRule: undefined };
  const rs = n.rules;
  const sameFamily = rs.kind === rule.kind || (rs.kind === 'complete' && rule.kind === 'complete');
  if (!sameFamily) {
    throw rgoError('RGO_COMPILE', `${loc}: rule ${full.join('.')} conflicts with an earlier definition of a different kind (${rs.kind} vs ${rule.kind})`);
  }
  if (rule.kind === 'func' && rs.rules.length > 0 && (rs.rules[0]?.args?.length ?? 0) !== (rule.args?.length ?? 0)) {
    throw rgoError('RGO_COMPILE', `${loc}: function ${full.join('.')} has definitions with different numbers of arguments`);
  }
  if (rule.isDefault) {
    if (rs.defaultRule) throw rgoError('RGO_COMPILE', `${loc}: multiple default rules ${full.join('.')} found`);
    rs.defaultRule = rule;
    return;
  }
  rs.rules.push(rule);
}
