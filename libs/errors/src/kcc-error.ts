/**
 * The closed set of error categories. Transports map a kind to their own status codes in
 * exactly one place each (HTTP in the KBS, ttRPC/gRPC codes in the agent and shim), the way
 * containerd's errdefs map to gRPC codes.
 */
export const ERROR_KINDS = [
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'FAILED_PRECONDITION',
  'PERMISSION_DENIED',
  'UNAUTHENTICATED',
  'RESOURCE_EXHAUSTED',
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'NOT_IMPLEMENTED',
  'INTERNAL',
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

export interface KccErrorOptions {
  /** The category transports map to a status. */
  kind: ErrorKind;
  /** Stable, documented code with a package prefix, e.g. `KBS_POLICY_DENIED`. */
  code: string;
  /** Sentence case, no trailing period; names the failed action; never contains a secret. */
  message: string;
  cause?: unknown;
  /** Structured, non-secret details for logs and machine-readable output. */
  details?: Record<string, unknown>;
}

const CODE_PATTERN = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/;

/** The one error class of the project. Callers match `code` or `kind`, never the message. */
export class KccError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(options: KccErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    if (!CODE_PATTERN.test(options.code)) {
      throw new TypeError(`Invalid error code "${options.code}": expected PREFIX_UPPER_SNAKE`);
    }
    this.name = 'KccError';
    this.kind = options.kind;
    this.code = options.code;
    this.details = options.details;
  }

  toJSON(): { code: string; kind: ErrorKind; message: string; details?: Record<string, unknown> } {
    return {
      code: this.code,
      kind: this.kind,
      message: this.message,
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

/** True for a KccError from any copy of this package (matches on shape, not identity). */
export function isKccError(value: unknown): value is KccError {
  return (
    value instanceof Error &&
    typeof (value as Partial<KccError>).code === 'string' &&
    typeof (value as Partial<KccError>).kind === 'string' &&
    (ERROR_KINDS as readonly string[]).includes((value as KccError).kind)
  );
}

/** True when `value` is a KccError with the given code. */
export function hasCode(value: unknown, code: string): value is KccError {
  return isKccError(value) && value.code === code;
}

/** The message of any thrown value, for wrapping foreign errors without losing them. */
export function messageOf(value: unknown): string {
  if (value instanceof Error) return value.message;
  return String(value);
}
