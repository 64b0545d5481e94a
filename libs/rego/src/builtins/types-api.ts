import type { Value } from '../value.js';

export interface BuiltinCtx {
  /** Time of the evaluation in ns since the epoch (time.now_ns is stable within one evaluation). */
  nowNs: bigint;
  strict: boolean;
  /** Per-evaluation memo for builtins that must be stable within one query (uuid, rand). */
  memo: Map<string, Value>;
  /** Non-integer arithmetic as IEEE doubles (regorus) instead of OPA's big.Float. */
  ieee: boolean;
  /** What opa.runtime().env shows (compile option runtimeEnv; default process.env). */
  runtimeEnv: Readonly<Record<string, string | undefined>>;
}

export interface Builtin {
  /** Number of arguments; -1 for variadic. */
  arity: number;
  fn: (args: Value[], ctx: BuiltinCtx) => Value | undefined;
}

/** A builtin failed on its input: undefined in non-strict mode, RGO_EVAL in strict mode. */
export class BuiltinError extends Error {
  /** Errors that are reported even in non-strict mode. */
  readonly always: boolean;
  /** The call is simply undefined (e.g. a non-integral index), even in strict mode. */
  readonly soft: boolean;
  constructor(message: string, always = false, soft = false) {
    super(message);
    this.always = always;
    this.soft = soft;
  }
}

export type Table = Record<string, Builtin>;

export function b(arity: number, fn: (args: Value[], ctx: BuiltinCtx) => Value | undefined): Builtin {
  return { arity, fn };
}

/**
 * Builtins over parsers of untrusted bytes (DER, PEM, JWK, JWT): any exception from the
 * platform (node:crypto TypeErrors, RangeErrors) becomes a BuiltinError naming the builtin,
 * so bad input is an undefined call (or RGO_EVAL in strict mode), never an internal error.
 */
export function guarded(table: Table): Table {
  const out: Table = {};
  for (const [name, bi] of Object.entries(table)) {
    out[name] = {
      arity: bi.arity,
      fn: (args, ctx) => {
        try {
          return bi.fn(args, ctx);
        } catch (e) {
          if (e instanceof BuiltinError) throw e;
          throw new BuiltinError(`${name}: invalid input (${e instanceof Error ? e.name : 'error'})`);
        }
      },
    };
  }
  return out;
}
