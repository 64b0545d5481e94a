/** Syntax tree produced by the parser and annotated (slots, resolved refs) by the compiler. */
import type { RuleSet } from './tree.js';
import type { Value } from './value.js';

export interface Loc {
  file: string;
  line: number;
  col: number;
}

export type Term =
  | { t: 'scalar'; v: Value; loc: Loc }
  | VarTerm
  | RefTerm
  | CallTerm
  | { t: 'array'; items: Term[]; loc: Loc }
  | { t: 'object'; entries: Array<[Term, Term]>; loc: Loc }
  | { t: 'set'; items: Term[]; loc: Loc }
  | { t: 'arraycompr'; head: Term; body: Literal[]; loc: Loc }
  | { t: 'setcompr'; head: Term; body: Literal[]; loc: Loc }
  | { t: 'objcompr'; key: Term; value: Term; body: Literal[]; loc: Loc };

export interface VarTerm {
  t: 'var';
  name: string;
  loc: Loc;
  /** Frame slot, set by the compiler for local variables. */
  slot?: number;
}

export interface RefTerm {
  t: 'ref';
  head: Term;
  path: Term[];
  loc: Loc;
  /** Set by the compiler when the ref starts at a constant `data.` path. */
  data?: { prefix: string[]; rest: Term[] };
}

export interface CallTerm {
  t: 'call';
  /** Dotted name as written (`count`, `regex.match`, `data.lib.f`, or a local function name). */
  name: string;
  args: Term[];
  loc: Loc;
  /** Operators (`+`, `==`, `in`...) always mean the builtin, whatever rules are named. */
  op?: boolean;
  /** Unary minus on a non-literal (`-x`). */
  unary?: boolean;
  /** Resolved by the compiler. */
  target?: CallTarget;
  /** Argument layout, computed on first call. */
  shape?: { nparams: number; hasOut: boolean; inArgs: Term[] };
}

export type CallTarget = { kind: 'builtin'; name: string } | { kind: 'rule'; path: string[]; rs: RuleSet };

export interface WithMod {
  target: Term;
  value: Term;
}

export type Literal =
  | { k: 'expr'; expr: Expr; negated: boolean; withs: WithMod[]; loc: Loc }
  | { k: 'some'; names: VarTerm[]; loc: Loc }
  | { k: 'somein'; key: Term | undefined; value: Term; coll: Term; loc: Loc }
  | { k: 'every'; key: Term | undefined; value: Term; coll: Term; body: Literal[]; loc: Loc };

export type Expr =
  | { e: 'term'; term: Term }
  | { e: 'assign'; lhs: Term; rhs: Term }
  | { e: 'unify'; lhs: Term; rhs: Term };

export type RuleKind = 'complete' | 'set' | 'object' | 'func';

export interface Rule {
  kind: RuleKind;
  /** Path inside the package, e.g. ['allow'] or ['a', 'b']. */
  path: string[];
  /** Set element (set rules and object rules whose leaves are sets). */
  key: Term | undefined;
  /** Object rules: the keys of `p[k1][k2]...` (one or more). */
  objKeys: Term[];
  /** `p[k] contains x`: the values of the object are sets. */
  leafSet: boolean;
  /** Value term; `true` when omitted. */
  value: Term;
  args: Term[] | undefined;
  body: Literal[];
  isDefault: boolean;
  /** Chained `else` alternatives (complete rules and functions). */
  elses: Array<{ value: Term; body: Literal[]; loc: Loc }>;
  loc: Loc;
  /** Number of frame slots the rule's body uses; set by the compiler. */
  nslots: number;
  /** Assignment (`:=`) heads cannot be redefined. */
  assign: boolean;
}

export interface Import {
  path: string[];
  alias: string;
  loc: Loc;
}

export interface Module {
  file: string;
  pkg: string[];
  imports: Import[];
  rules: Rule[];
  v1: boolean;
}
