import { constants } from 'node:os';
import { KccError, type ErrorKind } from '@kata-cc/errors';

/** Every error code of this package (README table kept in sync by a test). */
export const VSOCK_ERROR_CODES = [
  'VSOCK_ADDON_MISSING',
  'VSOCK_BAD_ADDRESS',
  'VSOCK_UNSUPPORTED',
  'VSOCK_NO_TRANSPORT',
  'VSOCK_CONNECTION_REFUSED',
  'VSOCK_TIMEOUT',
  'VSOCK_ADDRESS_IN_USE',
  'VSOCK_FAILED',
] as const;
export type VsockErrorCode = (typeof VSOCK_ERROR_CODES)[number];

const E = constants.errno;

function classify(errno: number | undefined): { code: VsockErrorCode; kind: ErrorKind; hint: string } {
  switch (errno) {
    case E.EAFNOSUPPORT:
      return { code: 'VSOCK_UNSUPPORTED', kind: 'FAILED_PRECONDITION', hint: 'the kernel has no AF_VSOCK (modprobe vsock)' };
    case E.ENODEV:
      return { code: 'VSOCK_NO_TRANSPORT', kind: 'FAILED_PRECONDITION', hint: 'no vsock transport reaches that CID (on a host: /dev/vhost-vsock is missing, modprobe vhost_vsock; in a guest: no virtio-vsock device)' };
    case E.ECONNREFUSED:
    case E.ECONNRESET:
      return { code: 'VSOCK_CONNECTION_REFUSED', kind: 'UNAVAILABLE', hint: 'nothing listens on that port yet' };
    case E.ETIMEDOUT:
      return { code: 'VSOCK_TIMEOUT', kind: 'DEADLINE_EXCEEDED', hint: 'no answer from that CID (is a VM running with that guest-cid? without /dev/vhost-vsock a host routes guest CIDs nowhere)' };
    case E.EADDRINUSE:
      return { code: 'VSOCK_ADDRESS_IN_USE', kind: 'ALREADY_EXISTS', hint: 'another socket is bound to that port' };
    default:
      return { code: 'VSOCK_FAILED', kind: 'INTERNAL', hint: 'unexpected error' };
  }
}

/** Maps an addon error (its `errno` property) to a KccError with a stable VSOCK_* code. */
export function vsockError(err: unknown, what: string): KccError {
  if (err instanceof KccError) return err;
  const errno = (err as { errno?: unknown } | null)?.errno;
  const c = classify(typeof errno === 'number' ? errno : undefined);
  const syscall = err instanceof Error ? err.message : String(err);
  return new KccError({ kind: c.kind, code: c.code, message: `${what}: ${syscall}: ${c.hint}`, cause: err, details: { errno } });
}

/** Validates a CID or port (u32). */
export function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'VSOCK_BAD_ADDRESS', message: `vsock ${name} must be an integer in [0, 2^32-1], got ${String(v)}` });
  }
}
