import { compile, type Policy } from '@kata-cc/rego';
import { silentLogger, type Logger } from '@kata-cc/log';
import { agentError } from '../errors.js';
import { applyJsonPatch, type JsonPatchOp } from './json-patch.js';

export interface PolicySource {
  /** Where it came from: `default`, `initdata`, `SetPolicy`. */
  origin: string;
  text: string;
}

/**
 * Agent policy as kata's agent enforces it: before a request is served, the rule named after
 * its protobuf message (`CreateContainerRequest`, `ReadStreamRequest`, ...) in package
 * `agent_policy` is evaluated with the request (proto field names) as `input`. `true` or
 * `{allowed: true, ops}` allows (ops patch the policy state under `data.pstate`, as genpolicy
 * uses); false, undefined or an error denies.
 */
export class AgentPolicy {
  #policy: Policy;
  #source: PolicySource;
  #state: Record<string, unknown> = {};
  #allowFailing: boolean;
  readonly #log: Logger;

  constructor(source: PolicySource, logger: Logger = silentLogger) {
    this.#log = logger;
    this.#policy = AgentPolicy.#compile(source);
    this.#source = source;
    this.#allowFailing = this.#flag('AllowRequestsFailingPolicy');
    this.#announce();
  }

  static #compile(source: PolicySource): Policy {
    try {
      const p = compile([{ path: `${source.origin}.rego`, source: source.text }], { regoVersion: 'v0', timeoutMs: 5000 });
      if (!p.packages.includes('agent_policy')) throw new Error(`package must be agent_policy, got ${p.packages.join(', ')}`);
      return p;
    } catch (cause) {
      throw agentError('AGENT_POLICY_INVALID', `Invalid agent policy from ${source.origin}: ${(cause as Error).message}`, cause);
    }
  }

  get origin(): string {
    return this.#source.origin;
  }

  #flag(name: string): boolean {
    try {
      const r = this.#policy.evaluate(`data.agent_policy.${name}`, {}, { pstate: this.#state });
      return r.defined && r.value === true;
    } catch {
      return false;
    }
  }

  #announce(): void {
    const allowAll = this.#source.origin === 'default';
    if (allowAll) this.#log.warn({ origin: 'default' }, 'agent policy: baked default (allow-all, for development): every request is allowed');
    else this.#log.info({ origin: this.#source.origin }, 'agent policy loaded');
    if (this.#allowFailing) this.#log.warn('agent policy sets AllowRequestsFailingPolicy: denials are logged, not enforced');
  }

  /** Replaces the policy (SetPolicy); the new text must compile, or the old one stays. */
  replace(source: PolicySource): void {
    const p = AgentPolicy.#compile(source);
    this.#policy = p;
    this.#source = source;
    this.#state = {};
    this.#allowFailing = this.#flag('AllowRequestsFailingPolicy');
    this.#announce();
  }

  /** Throws AGENT_POLICY_DENIED unless the policy allows `request` as `messageName`. */
  check(messageName: string, endpoint: string, request: unknown): void {
    let allowed = false;
    let prints: string[] = [];
    try {
      const r = this.#policy.evaluate(`data.agent_policy.${messageName}`, request, { pstate: this.#state });
      prints = r.prints;
      if (r.defined && r.value === true) allowed = true;
      else if (r.defined && typeof r.value === 'object' && r.value !== null && (r.value as { allowed?: unknown }).allowed === true) {
        allowed = true;
        const ops = (r.value as { ops?: JsonPatchOp[] }).ops;
        if (Array.isArray(ops) && ops.length) this.#state = applyJsonPatch({ pstate: this.#state }, ops)['pstate'] as Record<string, unknown>;
      }
    } catch (cause) {
      this.#log.error({ endpoint, err: cause }, 'agent policy evaluation failed');
      if (!this.#allowFailing) throw agentError('AGENT_POLICY_ERROR', `${endpoint}: policy evaluation failed: ${(cause as Error).message}`, cause);
    }
    if (allowed) return;
    // SECURITY: a request the policy does not explicitly allow is refused (undefined = deny).
    const why = prints.length ? prints.join('; ') : `rule ${messageName} is false or undefined`;
    this.#log.warn({ endpoint, rule: messageName, origin: this.#source.origin }, 'request blocked by agent policy');
    if (this.#allowFailing) return;
    throw agentError('AGENT_POLICY_DENIED', `${endpoint} is blocked by policy: ${why}`, undefined, { rule: messageName, origin: this.#source.origin });
  }
}
