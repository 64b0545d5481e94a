import { KccError } from '@kata-cc/errors';
import type { ErrorKind } from '@kata-cc/errors';

/** Every error code of this package (documented in README.md). */
export const RGO_CODES = {
  RGO_PARSE: 'syntax error in a module or query (file:line:col, what was expected)',
  RGO_COMPILE: 'semantic error: unknown builtin or function, unsafe variable, bad rule mix',
  RGO_CONFLICT: 'a complete rule, function or object rule produced two different values',
  RGO_LIMIT: 'the step or time budget of one evaluation was exceeded',
  RGO_EVAL: 'runtime error: builtin error (strict), type error, with on a bad target',
  RGO_INPUT: 'input or data is not representable as a Rego value',
} as const;

export type RgoCode = keyof typeof RGO_CODES;

const KINDS: Record<RgoCode, ErrorKind> = {
  RGO_PARSE: 'INVALID_ARGUMENT',
  RGO_COMPILE: 'INVALID_ARGUMENT',
  RGO_CONFLICT: 'FAILED_PRECONDITION',
  RGO_LIMIT: 'RESOURCE_EXHAUSTED',
  RGO_EVAL: 'FAILED_PRECONDITION',
  RGO_INPUT: 'INVALID_ARGUMENT',
};

export function rgoError(code: RgoCode, message: string, details?: Record<string, unknown>): KccError {
  return new KccError({ kind: KINDS[code], code, message, ...(details ? { details } : {}) });
}
