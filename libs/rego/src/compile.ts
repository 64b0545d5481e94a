/** compile(): parse modules, build the rule tree, resolve names; returns a reusable Policy. */
import type { Module } from './ast.js';
import { rgoError } from './errors.js';
import { parseModule } from './parser.js';
import { PolicyImpl } from './policy.js';
import { Resolver } from './resolve.js';
import { addRule, ensurePackage, newNode } from './tree.js';
import type { CompileOptions, ModuleSource, Policy } from './types.js';

export const DEFAULT_MAX_STEPS = 10_000_000;
export const DEFAULT_TIMEOUT_MS = 5_000;

/** Parses and compiles `modules` into a reusable Policy. Throws RGO_PARSE / RGO_COMPILE. */
export function compile(modules: ModuleSource[], options: CompileOptions = {}): Policy {
  const defaultV1 = (options.regoVersion ?? 'v1') === 'v1';
  const parsed: Module[] = modules.map((m) => {
    if (typeof m.source !== 'string' || typeof m.path !== 'string') throw rgoError('RGO_PARSE', 'module must have a string path and source');
    return parseModule(m.source, m.path, defaultV1);
  });
  const root = newNode();
  for (const m of parsed) {
    ensurePackage(root, m.pkg);
    for (const r of m.rules) {
      const head = r.path[0];
      if (m.v1 && (head === 'input' || head === 'data')) throw rgoError('RGO_COMPILE', `${r.loc.file}:${r.loc.line}:${r.loc.col}: ${head} cannot be shadowed`);
      addRule(root, m.pkg, r);
    }
  }
  for (const m of parsed) {
    const imports = new Map<string, string[]>();
    for (const imp of m.imports) imports.set(imp.alias, imp.path);
    for (const r of m.rules) new Resolver({ pkg: m.pkg, imports, root, v1: m.v1 }).rule(r);
  }
  const packages = [...new Set(parsed.map((m) => m.pkg.join('.')))];
  return new PolicyImpl(root, packages, {
    maxSteps: options.maxSteps ?? DEFAULT_MAX_STEPS,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    clock: options.clock ?? Date.now,
    checkEvery: Math.max(1, options.timeCheckInterval ?? 1024),
    prints: options.prints ?? true,
    bigints: options.bigints ?? false,
    decimals: options.decimals ?? 'opa',
    // SECURITY: empty unless the caller opts in: the KBS's environment holds storage DSNs and
    // the agent's print output reaches the untrusted host, so no policy sees env by default.
    runtimeEnv: options.runtimeEnv ?? {},
    strict: options.strictBuiltinErrors ?? false,
  });
}


