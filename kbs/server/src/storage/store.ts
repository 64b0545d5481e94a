import type { Tee } from '@kata-cc/kbs-types';

/** A handshake session: `authed` after /auth, `attested` after a successful /attest. */
export interface Session {
  id: string;
  tee: Tee;
  /** The challenge nonce (base64 STANDARD). */
  nonce: string;
  state: 'authed' | 'attested';
  /** The attestation token, once attested. */
  token?: string;
  /** Milliseconds since the epoch; not extended by /attest (trustee). */
  expiresAt: number;
}

export interface SessionLimit {
  maxLive: number;
  now: number;
}

export type PolicyKind = 'resource' | 'attestation';

export interface StoredReferenceValue {
  name: string;
  values: unknown;
  expiresAt: number;
}

/**
 * Everything the KBS persists, behind one interface so replicas can share PostgreSQL and a
 * single node can use one SQLite file. Every write is durable when its promise resolves.
 */
export interface KbsStore {
  readonly kind: 'memory' | 'sqlite' | 'postgres';

  /**
   * Stores a new session. With `limit`, atomically refuses (returns false, stores nothing) when
   * `limit.maxLive` unexpired sessions (expires_at > limit.now) already exist, so unauthenticated
   * /auth calls cannot grow the table without bound. PostgreSQL may overshoot by at most the
   * number of concurrent inserts (READ COMMITTED); memory and SQLite are exact.
   */
  createSession(session: Session, limit?: SessionLimit): Promise<boolean>;
  /** Unexpired sessions (expires_at > now). */
  countLiveSessions(now: number): Promise<number>;
  getSession(id: string): Promise<Session | undefined>;
  /**
   * Moves an unexpired `authed` session to `attested` with `token`, atomically: returns false
   * when it is missing, expired or already attested (so concurrent /attest calls cannot both win).
   */
  markAttested(id: string, token: string, now: number): Promise<boolean>;
  deleteExpiredSessions(now: number): Promise<number>;
  deleteSession(id: string): Promise<void>;

  putResource(path: string, data: Uint8Array): Promise<void>;
  getResource(path: string): Promise<Uint8Array | undefined>;
  deleteResource(path: string): Promise<boolean>;

  putPolicy(kind: PolicyKind, id: string, body: string): Promise<void>;
  getPolicy(kind: PolicyKind, id: string): Promise<string | undefined>;
  listPolicies(kind: PolicyKind): Promise<Record<string, string>>;

  putReferenceValues(values: StoredReferenceValue[]): Promise<void>;
  getReferenceValue(name: string, now: number): Promise<StoredReferenceValue | undefined>;
  listReferenceValues(now: number): Promise<Record<string, unknown>>;

  /** Returns the stored secret `name`, storing `create()` first if absent (first writer wins). */
  getOrCreateSecret(name: string, create: () => string): Promise<string>;

  /** Cheap liveness probe of the backend (used by `/healthz`); throws when unreachable. */
  ping(): Promise<void>;

  close(): Promise<void>;
}
