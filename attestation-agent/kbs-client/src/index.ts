/**
 * @kata-cc/kbs-client: the KBS protocol 0.4.0 client (RCAR handshake, TEE key pair, token
 * cache, resource fetch and JWE decryption), wire-compatible with guest-components'
 * kbs_protocol crate. It does not produce evidence itself (an Attester does) and runs no server.
 */
export { KBS_GET_RESOURCE_MAX_ATTEMPT, KbsClient, RCAR_MAX_ATTEMPT } from './client.js';
export type { KbsClientConfig, KbsClientDeps, TokenAndKey } from './client.js';
export { KBC_ERROR_CODES, kbcError } from './errors.js';
export type { KbcErrorCode } from './errors.js';
export { DEFAULT_MAX_REPLY_BYTES, KbsHttp } from './http.js';
export type { HttpReply, KbsHttpOptions } from './http.js';
export { DEFAULT_TEE_KEY_ALGORITHM, TEE_KEY_ALGORITHMS, TeeKeyPair, parseTeeKeyAlgorithm } from './tee-key.js';
export type { TeeKeyAlgorithm, TeePubKeyJwk } from './tee-key.js';
export { decryptJweResponse, parseJweResponse } from './jwe.js';
export type { JweResponse } from './jwe.js';
export { formatResourceUri, parseResourceUri, resourceApiPath } from './resource-uri.js';
export type { ResourceUri } from './resource-uri.js';
export { parseToken, tokenValid } from './token.js';
export type { CachedToken } from './token.js';
export { errorInformation, replyError } from './kbs-reply.js';
export { deviceEvidence } from './rcar.js';
