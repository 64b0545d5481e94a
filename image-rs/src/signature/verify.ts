import { imgError } from '../errors.js';
import { formatReference, type ImageReference } from '../reference.js';
import type { RegistryClient } from '../registry/client.js';
import { readUri, type ResourceProvider } from '../resource.js';
import { loadCosignKey, verifyCosign } from './cosign.js';
import { fetchLookasideSignatures, lookasideBase, type LookasideConfig } from './lookaside.js';
import { requirementsFor, type Policy, type PolicyRequirement } from './policy.js';
import { readGpgKeys, verifySimpleSignature } from './simple.js';

export interface VerifyContext {
  policy: Policy;
  ref: ImageReference;
  /** The digest the reference resolved to first (index or manifest) and the image manifest's. */
  topDigest: string;
  manifestDigest: string;
  client: RegistryClient;
  lookaside?: LookasideConfig;
  resources?: ResourceProvider;
}

export interface VerifyResult {
  scope: string;
  requirements: string[];
}

async function keyBytes(r: { keyPath?: string; keyPaths?: string[]; keyData?: string }, resources: ResourceProvider | undefined): Promise<Buffer[]> {
  if (r.keyData !== undefined) return [Buffer.from(r.keyData, 'base64')];
  const paths = r.keyPaths ?? (r.keyPath === undefined ? [] : [r.keyPath]);
  return Promise.all(paths.map((p) => readUri(p, resources, 'signature key')));
}

async function check(req: PolicyRequirement, ctx: VerifyContext): Promise<void> {
  const name = formatReference(ctx.ref);
  const digests = [...new Set([ctx.topDigest, ctx.manifestDigest])];
  switch (req.type) {
    case 'insecureAcceptAnything':
      return;
    case 'reject':
      throw imgError('IMG_POLICY_REJECTED', `Policy rejects ${name}`);
    case 'signedBy': {
      const keys = (await Promise.all((await keyBytes(req, ctx.resources)).map(readGpgKeys))).flat();
      const base = ctx.lookaside === undefined ? undefined : lookasideBase(ctx.lookaside, ctx.ref);
      if (base === undefined) throw imgError('IMG_SIGNATURE_MISSING', `A signature is required for ${name}, but no lookaside signature store is configured for ${ctx.ref.registry}`);
      const sigs = await fetchLookasideSignatures(base, ctx.ref, ctx.topDigest);
      if (sigs.length === 0) throw imgError('IMG_SIGNATURE_MISSING', `A signature was required for ${name}, but no signature exists`);
      const reasons: string[] = [];
      for (const s of sigs) {
        const why = await verifySimpleSignature(s, keys, ctx.ref, digests, req.signedIdentity);
        if (why === undefined) return;
        reasons.push(why);
      }
      throw imgError('IMG_SIGNATURE_INVALID', `No valid signature for ${name}: ${reasons.join('; ')}`, { reasons });
    }
    case 'sigstoreSigned': {
      const [data] = await keyBytes(req, ctx.resources);
      const key = loadCosignKey(data ?? Buffer.alloc(0));
      const why = await verifyCosign(ctx.client, ctx.ref, ctx.topDigest, digests, key, req.signedIdentity);
      if (why === undefined) return;
      if (why === 'no cosign signature exists') throw imgError('IMG_SIGNATURE_MISSING', `A sigstore signature was required for ${name}, but none exists`);
      throw imgError('IMG_SIGNATURE_INVALID', `No valid sigstore signature for ${name}: ${why}`);
    }
  }
}

/**
 * Enforces the policy for a resolved image before any layer is fetched: every requirement of
 * the matching scope must pass (containers/image semantics).
 */
export async function verifyImagePolicy(ctx: VerifyContext): Promise<VerifyResult> {
  const { scope, requirements } = requirementsFor(ctx.policy, ctx.ref);
  for (const r of requirements) await check(r, ctx);
  return { scope, requirements: requirements.map((r) => r.type) };
}
