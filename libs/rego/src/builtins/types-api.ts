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
