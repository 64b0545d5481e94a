/**
 * @kata-cc/kbs-client: the KBS protocol 0.4.0 client (RCAR handshake, TEE key pair, token
 * cache, resource fetch and JWE decryption), wire-compatible with guest-components'
 * kbs_protocol crate. It does not produce evidence itself (an Attester does) and runs no server.
 */
export { kbcError } from './errors.js';
export type { KbcErrorCode } from './errors.js';
export { DEFAULT_TEE_KEY_ALGORITHM, TEE_KEY_ALGORITHMS, TeeKeyPair, parseTeeKeyAlgorithm } from './tee-key.js';
export type { TeeKeyAlgorithm, TeePubKeyJwk } from './tee-key.js';
export { decryptJweResponse, parseJweResponse } from './jwe.js';
export type { JweResponse } from './jwe.js';
