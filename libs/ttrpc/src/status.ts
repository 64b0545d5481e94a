/**
 * The one place where error kinds become gRPC status codes and back (containerd `errgrpc`).
 * ttRPC carries `google.rpc.Status`; containerd's errdefs read the code, so a shim that answers
 * NOT_FOUND with code 5 is understood as `errdefs.ErrNotFound`.
 */
import { KccError, isKccError, messageOf, type ErrorKind } from '@kata-cc/errors';
import { ERROR_INFO_TYPE_URL, decodeErrorInfo, encodeErrorInfo, type RpcStatus } from './messages.js';

/** gRPC status codes (google.golang.org/grpc/codes). */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const ERROR_DOMAIN = 'kata-cc';

/**
 * The gRPC code of an error kind, for every transport that speaks gRPC codes: ttRPC here, and
 * the gRPC servers (CDH keyprovider, snapshotter) whose @grpc/grpc-js `status` has the same values.
 */
export function grpcCodeOfKind(kind: ErrorKind): number {
  switch (kind) {
    case 'INVALID_ARGUMENT': return GrpcCode.INVALID_ARGUMENT;
    case 'NOT_FOUND': return GrpcCode.NOT_FOUND;
    case 'ALREADY_EXISTS': return GrpcCode.ALREADY_EXISTS;
    case 'FAILED_PRECONDITION': return GrpcCode.FAILED_PRECONDITION;
    case 'PERMISSION_DENIED': return GrpcCode.PERMISSION_DENIED;
    case 'UNAUTHENTICATED': return GrpcCode.UNAUTHENTICATED;
    case 'RESOURCE_EXHAUSTED': return GrpcCode.RESOURCE_EXHAUSTED;
    case 'UNAVAILABLE': return GrpcCode.UNAVAILABLE;
    case 'DEADLINE_EXCEEDED': return GrpcCode.DEADLINE_EXCEEDED;
    case 'NOT_IMPLEMENTED': return GrpcCode.UNIMPLEMENTED;
    case 'INTERNAL': return GrpcCode.INTERNAL;
  }
}

function kindOfCode(code: number): ErrorKind {
  switch (code) {
    case GrpcCode.INVALID_ARGUMENT:
    case GrpcCode.OUT_OF_RANGE:
      return 'INVALID_ARGUMENT';
    case GrpcCode.DEADLINE_EXCEEDED: return 'DEADLINE_EXCEEDED';
    case GrpcCode.NOT_FOUND: return 'NOT_FOUND';
    case GrpcCode.ALREADY_EXISTS: return 'ALREADY_EXISTS';
    case GrpcCode.PERMISSION_DENIED: return 'PERMISSION_DENIED';
    case GrpcCode.RESOURCE_EXHAUSTED: return 'RESOURCE_EXHAUSTED';
    case GrpcCode.FAILED_PRECONDITION:
    case GrpcCode.ABORTED:
      return 'FAILED_PRECONDITION';
    case GrpcCode.UNIMPLEMENTED: return 'NOT_IMPLEMENTED';
    case GrpcCode.UNAVAILABLE:
    case GrpcCode.CANCELLED:
      return 'UNAVAILABLE';
    case GrpcCode.UNAUTHENTICATED: return 'UNAUTHENTICATED';
    default: return 'INTERNAL';
  }
}

/**
 * An error thrown by a handler, as the status sent to the peer. KccErrors keep their kind (as
 * the gRPC code) and their stable code (as a `google.rpc.ErrorInfo` detail, reason = code).
 * Anything else is INTERNAL with its message.
 */
export function statusFromError(err: unknown): RpcStatus {
  if (isKccError(err)) {
    return {
      code: grpcCodeOfKind(err.kind),
      message: err.message,
      details: [{ typeUrl: ERROR_INFO_TYPE_URL, value: encodeErrorInfo(err.code, ERROR_DOMAIN) }],
    };
  }
  return { code: GrpcCode.INTERNAL, message: messageOf(err), details: [] };
}

/** A status received from a peer, as a KccError (code from ErrorInfo when the peer sent one). */
export function errorFromStatus(status: RpcStatus, service: string, method: string): KccError {
  let code = `TTRPC_STATUS_${Object.entries(GrpcCode).find(([, v]) => v === status.code)?.[0] ?? 'UNKNOWN'}`;
  for (const d of status.details) {
    if (d.typeUrl !== ERROR_INFO_TYPE_URL) continue;
    const info = decodeErrorInfo(d.value);
    if (/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/.test(info.reason)) code = info.reason;
  }
  return new KccError({
    kind: kindOfCode(status.code),
    code,
    message: status.message || `${service}/${method} failed with status ${status.code}`,
    details: { grpcCode: status.code, service, method },
  });
}
