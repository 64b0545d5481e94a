import { KccError, type ErrorKind } from '@kata-cc/errors';

/** Every error code of the agent (documented in README.md). */
export const AGENT_CODES = {
  AGENT_POLICY_DENIED: 'PERMISSION_DENIED',
  AGENT_POLICY_INVALID: 'INVALID_ARGUMENT',
  AGENT_POLICY_ERROR: 'INTERNAL',
  AGENT_SANDBOX_EXISTS: 'ALREADY_EXISTS',
  AGENT_NO_SANDBOX: 'FAILED_PRECONDITION',
  AGENT_CONTAINER_EXISTS: 'ALREADY_EXISTS',
  AGENT_CONTAINER_NOT_FOUND: 'NOT_FOUND',
  AGENT_PROCESS_NOT_FOUND: 'NOT_FOUND',
  AGENT_PROCESS_EXISTS: 'ALREADY_EXISTS',
  AGENT_INVALID_ID: 'INVALID_ARGUMENT',
  AGENT_INVALID_SPEC: 'INVALID_ARGUMENT',
  AGENT_INVALID_STATE: 'FAILED_PRECONDITION',
  AGENT_STREAM_EOF: 'INTERNAL',
  AGENT_STREAM_CLOSED: 'FAILED_PRECONDITION',
  AGENT_TTY_UNSUPPORTED: 'NOT_IMPLEMENTED',
  AGENT_NOT_IMPLEMENTED: 'NOT_IMPLEMENTED',
  AGENT_STORAGE_UNSUPPORTED: 'INVALID_ARGUMENT',
  AGENT_IMAGE_PULL_FAILED: 'UNAVAILABLE',
  AGENT_RUNC_FAILED: 'INTERNAL',
  AGENT_INITDATA_INVALID: 'INVALID_ARGUMENT',
  AGENT_CHANNEL_FAILED: 'UNAVAILABLE',
  AGENT_CANCELLED: 'UNAVAILABLE',
  AGENT_NETWORK_FAILED: 'INTERNAL',
} as const satisfies Record<string, ErrorKind>;

export type AgentCode = keyof typeof AGENT_CODES;

export function agentError(code: AgentCode, message: string, cause?: unknown, details?: Record<string, unknown>): KccError {
  return new KccError({ kind: AGENT_CODES[code], code, message, ...(cause === undefined ? {} : { cause }), ...(details ? { details } : {}) });
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Container and exec ids become path components and runc ids: reject anything else. */
export function checkId(id: string, what: string): string {
  // SECURITY: ids are joined into paths under /run; only a plain name may pass (no '/', no '..').
  if (!ID.test(id)) throw agentError('AGENT_INVALID_ID', `Invalid ${what} "${id.slice(0, 80)}"`);
  return id;
}
