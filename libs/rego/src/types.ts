/** Public types of the Rego engine: what the KBS, the attestation service and the agent call. */

/** One Rego module: `path` names it in errors and `print` output (`path:line: ...`). */
export interface ModuleSource {
  path: string;
  source: string;
}

export interface CompileOptions {
  /**
   * Syntax of modules that do not say it themselves. A module with `import rego.v1` is v1;
   * a module with `import future.keywords...` is v0 (genpolicy's policies). Default 'v1'.
   */
  regoVersion?: 'v0' | 'v1';
  /** Evaluation step budget per `evaluate` call (a runaway policy fails with RGO_LIMIT). */
  maxSteps?: number;
  /** Wall-clock budget per `evaluate` call in milliseconds (RGO_LIMIT when exceeded). */
  timeoutMs?: number;
  /**
   * Collect `print()` output in EvalResult.prints (default true). False skips formatting
   * entirely (print() still succeeds), which saves time on policies that print a lot.
   */
  prints?: boolean;
  /** Milliseconds clock for the time budget (default Date.now; tests inject a fake one). */
  clock?: () => number;
  /** Evaluation steps between two clock checks (default 1024). */
  timeCheckInterval?: number;
  /** Builtin errors (bad argument types, division by zero) raise RGO_EVAL instead of making the expression undefined (OPA's --strict-builtin-errors). Default false. */
  strictBuiltinErrors?: boolean;
  /**
   * Integers beyond 2^53 in results come back as `bigint` (exact; print them with
   * `toJsonText`). Default false: they come back as the nearest JS number, so callers that
   * `JSON.stringify` results keep working. Evaluation itself is always exact.
   */
  bigints?: boolean;
  /**
   * Arithmetic on non-integers: 'opa' (default) follows OPA's big.Float (`0.1 + 0.2` is
   * `0.3`); 'ieee' is plain double arithmetic as regorus (trustee's engine) does it
   * (`0.30000000000000004`). Integers are exact either way.
   */
  decimals?: 'opa' | 'ieee';
  /**
   * The environment `opa.runtime().env` shows. Default: the process environment, as OPA.
   * A host that runs policies whose output leaves the trust boundary (the guest agent's
   * denial messages reach the host) can pass `{}`.
   */
  runtimeEnv?: Readonly<Record<string, string>>;
}

/** JSON-compatible result: sets become arrays sorted as OPA sorts them. */
export interface EvalResult {
  /** False when the query has no value (OPA's "undefined"); `value` is then absent. */
  defined: boolean;
  value?: unknown;
  /**
   * Every solution of the query, in order (`value` is the first): the bindings object when
   * the query names variables (`x = data.a[_]`), else the expression's value (an array of
   * the expressions' values when the query has several).
   */
  results: unknown[];
  /** Lines written by `print()` while evaluating, each prefixed with `path:line: `. */
  prints: string[];
}

/** A compiled set of modules: compile once, evaluate per request. Safe to reuse. */
export interface Policy {
  /**
   * Evaluates `query` (a ref such as `data.policy.allow`, or any Rego query expression)
   * with `input` and extra base `data`. Throws KccError RGO_* on errors.
   */
  evaluate(query: string, input?: unknown, data?: unknown): EvalResult;
  /** Package paths defined by the modules, e.g. `['agent_policy']`. */
  readonly packages: readonly string[];
}
