/**
 * @kata-cc/cdh: the Confidential Data Hub (guest-components CDH API over ttRPC, keyprovider over
 * ttRPC and gRPC): KBS resources through the attestation agent's token, sealed secrets (vault
 * and envelope), image layer key unwrapping and image pulls via image-rs; plus its binary
 * `confidential-data-hub`. It does not attest itself (the attestation agent does).
 */
export { ConfidentialDataHub } from './hub.js';
export type { ConfidentialDataHubDeps } from './hub.js';
export { CREDENTIALS_DIR, DEFAULT_AA_SOCKET, DEFAULT_CDH_SOCKET, parseCdhConfig } from './config.js';
export type { CdhConfig, CdhImageConfig, KbcName } from './config.js';
export type { ResourceGetter } from './kbc/resource-getter.js';
export { CcKbc } from './kbc/cc-kbc.js';
export { OFFLINE_FS_RESOURCES, OfflineFsKbc } from './kbc/offline-fs.js';
export { createResourceGetter } from './kbc/registry.js';
export { AaTokenSource } from './aa-token.js';
export type { Decrypter } from './kms/decrypter.js';
export { createDecrypter } from './kms/registry.js';
export { SEALED_SECRET_KEYS_DIR, SEALED_SECRET_VERSION, unsealSecret } from './secret/sealed-secret.js';
export type { UnsealOptions } from './secret/sealed-secret.js';
export { kbsEnvelope, sealSecret } from './secret/seal.js';
export { KEY_PROVIDER_NAME, handleKeyProviderInput, parseAnnotationPacket, unwrapLayerKey } from './keyprovider.js';
export type { AnnotationPacket } from './keyprovider.js';
export { decryptWith } from './crypto.js';
export type { WrapType } from './crypto.js';
export { provisionCredentials } from './credentials.js';
export { cdhType, registerCdhServices } from './ttrpc.js';
export { DEFAULT_KEYPROVIDER_GRPC, serveKeyProviderGrpc } from './grpc.js';
export { CDH_ERROR_CODES, cdhError } from './errors.js';
export type { CdhErrorCode } from './errors.js';
