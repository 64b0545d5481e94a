/**
 * @kata-cc/kbs: Key Broker Service HTTP server.
 */
export { createKbsServer, DEFAULT_BODY_LIMIT } from './app.js';
export type { KbsServer, KbsServerOptions } from './app.js';
export { KbsCore, DEFAULT_MAX_SESSIONS } from './kbs-core.js';
export { AddressRateLimiter } from './rate-limit.js';
export type { KbsCoreOptions } from './kbs-core.js';
export { AdminAuth } from './admin-auth.js';
export { encryptToTeeKey, concatKdf } from './jwe.js';
export { toHttpFailure } from './http-error.js';
export { parseKbsPath, resourcePath } from './request-path.js';
export { openStore, parseStorageSpec } from './storage/registry.js';
export type { StorageSpec } from './storage/registry.js';
export { MemoryStore } from './storage/memory/memory-store.js';
export { SqliteStore } from './storage/sqlite/sqlite-store.js';
export { PostgresStore } from './storage/postgres/postgres-store.js';
export type { KbsStore, Session, SessionLimit, PolicyKind, StoredReferenceValue } from './storage/store.js';
