/**
 * @kata-cc/attestation-agent: the attestation agent (guest-components AA API over ttRPC):
 * evidence from the attester, KBS tokens through @kata-cc/kbs-client, the AA event log with
 * runtime measurement, and initdata binding; plus its binary `attestation-agent`. It is not a
 * KBS client library (that is @kata-cc/kbs-client).
 */
export { AttestationAgent } from './service.js';
export type { AttestationAgentDeps, KbsTokenReply } from './service.js';
export { DEFAULT_AA_CONFIG, kbsUrlFromKbcParams, parseAaConfig } from './config.js';
export type { AaConfig } from './config.js';
export { parseInitData } from './initdata.js';
export type { InitData } from './initdata.js';
export { DEFAULT_EVENTLOG_DIR, EventLog, aaelPlaintext, decodeAaelLog, encodeAaelEntry } from './eventlog.js';
export type { AaelEvent } from './eventlog.js';
export { AA_SERVICE, DEFAULT_AA_SOCKET, aaType, registerAttestationAgentService } from './ttrpc.js';
export { prepareSocketPath, unixSocketPath } from './socket.js';
export { AA_ERROR_CODES, aaError } from './errors.js';
export type { AaErrorCode } from './errors.js';
