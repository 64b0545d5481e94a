/**
 * @kata-cc/rego: Rego policy engine (parser, compiler, top-down evaluator, builtins).
 * `compile(modules)` once, then `policy.evaluate(query, input, data)` per request.
 */
export { compile } from './compile.js';
export { RGO_CODES } from './errors.js';
export { parseJson, toJsonText } from './json.js';
export type { RgoCode } from './errors.js';
export type { CompileOptions, EvalResult, ModuleSource, Policy } from './types.js';
