/**
 * @kata-cc/kbs-cli: the KBS command line (binary `kbs-cli`), modelled on trustee's kbs-client:
 * admin calls (resources, policies, reference values) with a signed admin JWT, and
 * `get-resource` / `attest`, which play the guest through @kata-cc/kbs-client. It never imports
 * the KBS server: it speaks HTTP only.
 */
export { buildProgram } from './program.js';
export { AdminClient, ADMIN_TOKEN_TTL_S, signAdminToken } from './admin.js';
export type { AdminReply, GlobalOptions } from './admin.js';
export { KBSCLI_ERROR_CODES, cliError, exitCodeOf } from './errors.js';
export type { CliErrorCode } from './errors.js';
export { BUILTIN_RESOURCE_POLICIES } from './policies.js';
export { sampleReferenceValueMessage } from './commands/set-reference-value.js';
