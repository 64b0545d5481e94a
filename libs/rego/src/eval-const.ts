/** Sentinel shared by the evaluator and its helpers (its own module so they do not import eval.ts at run time). */
export const NOT_SIMPLE = Symbol('not-simple');
