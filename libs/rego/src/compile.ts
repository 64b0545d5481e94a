import { rgoError } from './errors.js';
import type { CompileOptions, ModuleSource, Policy } from './types.js';

/** Parses and compiles `modules` into a reusable Policy. Throws RGO_PARSE / RGO_COMPILE. */
export function compile(modules: ModuleSource[], options: CompileOptions = {}): Policy {
  void modules;
  void options;
  throw rgoError('RGO_COMPILE', 'Rego engine is being built: compile() is not available yet');
}
