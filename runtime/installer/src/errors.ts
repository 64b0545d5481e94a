import { KccError, type ErrorKind } from '@kata-cc/errors';

/** Every error code of the installer; documented in README.md (keep both in sync). */
export const INSTALLER_ERROR_CODES = {
  INST_BAD_ARGUMENT: 'INVALID_ARGUMENT',
  INST_ROOT_INVALID: 'FAILED_PRECONDITION',
  INST_ARTIFACTS_MISSING: 'FAILED_PRECONDITION',
  INST_CONFIG_PARSE: 'INVALID_ARGUMENT',
  INST_CONFIG_CONFLICT: 'ALREADY_EXISTS',
  INST_CONTAINERD_VERSION_UNKNOWN: 'FAILED_PRECONDITION',
  INST_WRITE_FAILED: 'INTERNAL',
  INST_STATE_CORRUPT: 'FAILED_PRECONDITION',
  INST_RESTART_FAILED: 'UNAVAILABLE',
  INST_CONTAINERD_NOT_READY: 'DEADLINE_EXCEEDED',
  INST_LABEL_FAILED: 'UNAVAILABLE',
  INST_SNAPSHOTTER_START_FAILED: 'UNAVAILABLE',
  INST_SNAPSHOTTER_STOP_FAILED: 'UNAVAILABLE',
  INST_INTERNAL: 'INTERNAL',
} as const satisfies Record<string, ErrorKind>;

export type InstallerErrorCode = keyof typeof INSTALLER_ERROR_CODES;

/** Builds a KccError whose kind follows from its code (one table, no drift). */
export function installerError(
  code: InstallerErrorCode,
  message: string,
  extra: { cause?: unknown; details?: Record<string, unknown> } = {},
): KccError {
  return new KccError({ kind: INSTALLER_ERROR_CODES[code], code, message, ...extra });
}
