/**
 * @kata-cc/log: the Logger type libraries accept, `silentLogger`, `Redacted`, and
 * `createLogger` (pino with secret redaction) for binaries. Libraries never create loggers.
 */
export { REDACT_PATHS, Redacted, createLogger, silentLogger } from './logger.js';
export type { CreateLoggerOptions, Logger } from './logger.js';
