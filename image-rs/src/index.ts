/**
 * @kata-cc/image-rs: pull, verify, decrypt and unpack OCI images in the guest.
 * Entry point: `pullImage(ref, options)`; the parts (registry client, unpack, ocicrypt,
 * signature policy, layer store) are exported for the CDH and tests.
 */
export { pullImage } from './pull.js';
export type { LayerReport, ProgressEvent, PullOptions, PullResult } from './pull.js';
export { IMG_CODES, imgError } from './errors.js';
export type { ImgCode } from './errors.js';
export { formatReference, parseReference, repoName } from './reference.js';
export type { ImageReference } from './reference.js';
export { MEDIA } from './types.js';
export type { Descriptor, ImageConfig, ImageIndex, ImageManifest, Platform } from './types.js';
export { RegistryClient, digestMatches } from './registry/client.js';
export type { RegistryClientOptions } from './registry/client.js';
export { credentialsFor, parseAuthFile } from './registry/credentials.js';
export type { AuthFile, Credentials } from './registry/credentials.js';
export { hostPlatform, parsePlatform, resolveManifest, selectPlatform } from './manifest.js';
export { loadPrivateKey } from './decrypt/keys.js';
export { decryptJwe } from './decrypt/jwe.js';
export { isEncrypted, unwrapLayerKey } from './decrypt/ocicrypt.js';
export type { DecryptionKeys, LayerKey } from './decrypt/ocicrypt.js';
export type { KeyUnwrapper, UnwrapRequest } from './decrypt/key-unwrapper.js';
export { GrpcKeyProvider, parseUnwrapOutput, unwrapInputJson } from './decrypt/grpc-keyprovider.js';
export { applyLayer } from './unpack/layer.js';
export type { ApplyLayerOptions, LayerLimits } from './unpack/layer.js';
export type { DevicePolicy } from './unpack/extract.js';
export { parsePolicy, policyScopes, requirementsFor } from './signature/policy.js';
export type { Policy, PolicyRequirement, SignedIdentity } from './signature/policy.js';
export { loadRegistriesD, mergeRegistriesD } from './signature/lookaside.js';
export type { LookasideConfig } from './signature/lookaside.js';
export { verifyImagePolicy } from './signature/verify.js';
export { LayerStore } from './store/layer-store.js';
export type { StoredImage } from './store/layer-store.js';
export { readUri } from './resource.js';
export type { ResourceProvider } from './resource.js';
export { resolveUser } from './bundle/user.js';
export { runtimeSpec } from './bundle/spec.js';
