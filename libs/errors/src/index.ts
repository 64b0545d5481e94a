/**
 * @kata-cc/errors: the one error class (`KccError`) of kata-cc, with stable codes and the
 * closed set of kinds transports map. Not a place for transport mappings themselves.
 */
export { ERROR_KINDS, KccError, hasCode, isKccError, messageOf } from './kcc-error.js';
export type { ErrorKind, KccErrorOptions } from './kcc-error.js';
