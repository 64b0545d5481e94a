import { pino, type LoggerOptions } from 'pino';

/** The pino subset libraries depend on; they take it in `deps` and default to `silentLogger`. */
export interface Logger {
  trace(obj: unknown, msg?: string): void;
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
  fatal(obj: unknown, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

const noop = (): void => {};

/** A logger that drops everything: the default of every library. */
export const silentLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  fatal: noop,
  child: () => silentLogger,
};

/**
 * Field paths that may carry secrets anywhere in this project. pino replaces their values
 * before serialization, so a secret passed by mistake still never reaches a log line.
 */
export const REDACT_PATHS = [
  'secret', '*.secret', 'key', '*.key', 'privateKey', '*.privateKey', 'token', '*.token',
  'password', '*.password', 'authorization', '*.authorization', 'headers.authorization',
  'req.headers.authorization', 'req.headers.cookie', 'cookie', '*.cookie', 'nonce', '*.nonce',
  'resource', '*.resource', 'symkey', '*.symkey',
];

export interface CreateLoggerOptions {
  level?: string;
  /** Where lines go; defaults to stderr so stdout stays free for program output. */
  destination?: NodeJS.WritableStream | number;
}

/** Creates the one pino logger of a binary. Only `src/bin/*` calls this. */
export function createLogger(name: string, options: CreateLoggerOptions = {}): Logger {
  const pinoOptions: LoggerOptions = {
    name,
    level: options.level ?? process.env['KATA_CC_LOG_LEVEL'] ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  const destination = options.destination ?? 2;
  const stream = typeof destination === 'number' ? pino.destination({ fd: destination, sync: true }) : destination;
  return pino(pinoOptions, stream) as unknown as Logger;
}

/** Wraps a secret so that printing or serializing it shows nothing (Effect's Redacted). */
export class Redacted<T> {
  readonly #value: T;
  constructor(value: T) {
    this.#value = value;
  }
  /** The wrapped value; call only where the secret is used. */
  reveal(): T {
    return this.#value;
  }
  toString(): string {
    return '<redacted>';
  }
  toJSON(): string {
    return '<redacted>';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '<redacted>';
  }
}
