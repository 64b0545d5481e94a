/**
 * @kata-cc/rego: Rego policy engine: parser, compiler and evaluator.
 */
export {};
