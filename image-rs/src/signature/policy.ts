import { imgError } from '../errors.js';
import { formatReference, type ImageReference } from '../reference.js';
import type { Policy, PolicyRequirement, SignedIdentity } from './policy-types.js';

const TYPES = new Set(['insecureAcceptAnything', 'reject', 'signedBy', 'sigstoreSigned']);
const IDENTITY_TYPES = new Set(['matchExact', 'matchRepoDigestOrExact', 'matchRepository', 'exactReference', 'exactRepository', 'remapIdentity']);

function bad(msg: string): never {
  throw imgError('IMG_POLICY_INVALID', `Invalid policy.json: ${msg}`);
}

function checkRequirements(list: unknown, where: string): PolicyRequirement[] {
  if (!Array.isArray(list) || list.length === 0) bad(`${where} must be a non-empty array of requirements`);
  for (const r of list as Record<string, unknown>[]) {
    // Only a string type is shown: String() of a hostile (deeply nested) value overflows the stack.
    const t: unknown = typeof r === 'object' && r !== null ? r['type'] : undefined;
    if (typeof t !== 'string' || !TYPES.has(t)) bad(`${where} has an unknown requirement type ${typeof t === 'string' ? `"${t.slice(0, 64)}"` : `(${Array.isArray(t) ? 'array' : typeof t})`}`);
    if (r['type'] === 'signedBy') {
      if (r['keyType'] !== 'GPGKeys') bad(`${where}: signedBy keyType must be "GPGKeys"`);
      const n = ['keyPath', 'keyPaths', 'keyData'].filter((k) => r[k] !== undefined).length;
      if (n !== 1) bad(`${where}: signedBy needs exactly one of keyPath, keyPaths, keyData`);
    }
    if (r['type'] === 'sigstoreSigned') {
      const n = ['keyPath', 'keyData'].filter((k) => r[k] !== undefined).length;
      if (n !== 1) bad(`${where}: sigstoreSigned needs exactly one of keyPath, keyData (keyless is not supported)`);
    }
    const id: unknown = r['signedIdentity'];
    if (id !== undefined) {
      const it: unknown = typeof id === 'object' && id !== null ? (id as Record<string, unknown>)['type'] : undefined;
      if (typeof it !== 'string' || !IDENTITY_TYPES.has(it)) bad(`${where}: unknown signedIdentity type ${typeof it === 'string' ? `"${it.slice(0, 64)}"` : `(${Array.isArray(it) ? 'array' : typeof it})`}`);
    }
  }
  return list as PolicyRequirement[];
}

/** Parses and validates a containers policy.json. */
export function parsePolicy(json: string | Uint8Array): Policy {
  let obj: Record<string, unknown>;
  try {
    obj = JSON.parse(typeof json === 'string' ? json : Buffer.from(json).toString('utf8')) as Record<string, unknown>;
  } catch {
    bad('not JSON');
  }
  if (typeof obj !== 'object' || obj === null) bad('not an object');
  const def = checkRequirements(obj['default'], '"default"');
  const transports: Record<string, Record<string, PolicyRequirement[]>> = {};
  const t = obj['transports'];
  if (t !== undefined) {
    if (typeof t !== 'object' || t === null) bad('"transports" must be an object');
    for (const [name, scopes] of Object.entries(t as Record<string, unknown>)) {
      if (typeof scopes !== 'object' || scopes === null) bad(`transport "${name}" must be an object`);
      transports[name] = {};
      for (const [scope, reqs] of Object.entries(scopes as Record<string, unknown>)) {
        (transports[name] as Record<string, PolicyRequirement[]>)[scope] = checkRequirements(reqs, `transports.${name}["${scope}"]`);
      }
    }
  }
  return { default: def, transports };
}

/**
 * The scopes a docker reference matches, most specific first (containers/image docker
 * transport `PolicyConfigurationNamespaces`): the full reference, the repository, each parent
 * namespace, the registry host, then `*.`-wildcards of the host's parent domains.
 */
export function policyScopes(ref: ImageReference): string[] {
  const out = [formatReference(ref)];
  const parts = `${ref.registry}/${ref.repository}`.split('/');
  for (let i = parts.length; i >= 1; i--) out.push(parts.slice(0, i).join('/'));
  const host = ref.registry.split(':')[0] ?? ref.registry;
  const labels = host.split('.');
  for (let i = 1; i < labels.length; i++) out.push(`*.${labels.slice(i).join('.')}`);
  return out;
}

/** The requirements that apply to `ref` (first matching scope, then the transport default, then the global default). */
export function requirementsFor(policy: Policy, ref: ImageReference): { scope: string; requirements: PolicyRequirement[] } {
  const docker = policy.transports?.['docker'] ?? {};
  for (const scope of policyScopes(ref)) {
    const r = docker[scope];
    if (r !== undefined) return { scope, requirements: r };
  }
  const def = docker[''];
  if (def !== undefined) return { scope: 'docker default', requirements: def };
  return { scope: 'default', requirements: policy.default };
}

export type { Policy, PolicyRequirement, SignedIdentity };
