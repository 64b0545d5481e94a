/**
 * @kata-cc/kbs-types: KBS protocol 0.4.0 wire types, TEE names, canonical JSON and report_data binding.
 */
export { TEES, isTee, isSampleTee } from './tee.js';
export type { Tee, TeeClass } from './tee.js';
export {
  HASH_ALGORITHMS,
  DEFAULT_HASH_ALGORITHM,
  isHashAlgorithm,
  parseHashAlgorithm,
  digestLength,
  digest,
  bindingHashForTee,
} from './hash.js';
export type { HashAlgorithm } from './hash.js';
export { canonicalize } from './canonical-json.js';
export { KBS_PROTOCOL_VERSION, KBS_SESSION_COOKIE } from './messages.js';
export type {
  Request,
  Challenge,
  TeePubKey,
  EcTeePubKey,
  RsaTeePubKey,
  RuntimeData,
  InitData,
  CompositeEvidence,
  Attestation,
  AttestationResult,
  ProtectedHeader,
  Response,
  ErrorInformation,
  PrimaryRuntimeData,
} from './messages.js';
export {
  KBS_ERROR_TYPE_PREFIX,
  KBS_ERROR_VARIANTS,
  kbsErrorType,
  kbsErrorStatus,
  kbsErrorVariantOf,
} from './error-types.js';
export type { KbsErrorVariant } from './error-types.js';
export { primaryRuntimeData, runtimeDataDigest, regularizeData, expectedReportData, REPORT_DATA_SIZE } from './binding.js';
export {
  parseJson,
  checkProtocolVersion,
  parseRequest,
  parseChallenge,
  parseTeePubKey,
  parseAttestation,
  parseAdditionalEvidence,
  parseResponse,
  parseErrorInformation,
} from './parse.js';
export { b64urlEncode, b64urlDecode, b64Encode, b64Decode, encodeProtectedHeader } from './encoding.js';
