import { createHash } from 'node:crypto';
import { KccError, isKccError, messageOf } from '@kata-cc/errors';
import { compile, type ModuleSource, type Policy } from '@kata-cc/rego';

/**
 * Compiles Rego policies once per distinct text and evaluates them. Policies live in storage
 * (shared by replicas); the cache is keyed by the SHA-256 of the modules so an update on
 * another replica is picked up on the next request without invalidation messages.
 */
export class PolicyEngine {
  readonly #cache = new Map<string, Policy>();
  readonly #maxEntries: number;

  constructor(maxEntries = 64) {
    this.#maxEntries = maxEntries;
  }

  /** Compiles (or reuses) the modules; a bad policy gets `AS_POLICY_INVALID`. */
  compile(modules: ModuleSource[]): Policy {
    const h = createHash('sha256');
    for (const m of modules) h.update(m.path).update('\0').update(m.source).update('\0');
    const key = h.digest('hex');
    const hit = this.#cache.get(key);
    if (hit !== undefined) return hit;
    let policy: Policy;
    try {
      // v0 as trustee's regorus reads modules without `import rego.v1`: policies users already
      // have (`allow { ... }`) keep working, v1 keywords are still understood, and a module
      // that imports rego.v1 is held to v1's stricter rules.
      policy = compile(modules, { regoVersion: 'v0', maxSteps: 1_000_000, timeoutMs: 2000 });
    } catch (e) {
      throw new KccError({
        kind: 'INVALID_ARGUMENT',
        code: 'AS_POLICY_INVALID',
        message: `The policy does not compile: ${messageOf(e)}`,
        cause: e,
        details: isKccError(e) ? { regoCode: e.code } : {},
      });
    }
    if (this.#cache.size >= this.#maxEntries) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(key, policy);
    return policy;
  }

  /** Evaluates `query`; an engine error gets `AS_POLICY_EVALUATION`. Undefined -> undefined. */
  evaluate(modules: ModuleSource[], query: string, input: unknown, data: unknown): unknown {
    const policy = this.compile(modules);
    try {
      const r = policy.evaluate(query, input, data);
      return r.defined ? r.value : undefined;
    } catch (e) {
      throw new KccError({
        kind: 'INTERNAL',
        code: 'AS_POLICY_EVALUATION',
        message: `Policy evaluation failed: ${messageOf(e)}`,
        cause: e,
      });
    }
  }
}
