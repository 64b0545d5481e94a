import { randomBytes, randomUUID } from 'node:crypto';
import { KccError } from '@kata-cc/errors';
import { silentLogger, type Logger } from '@kata-cc/log';
import { parseAttestation, parseJson, parseRequest, parseTeePubKey } from '@kata-cc/kbs-types';
import type { Challenge, Response, TeePubKey } from '@kata-cc/kbs-types';
import {
  AttestationService,
  DEFAULT_RESOURCE_POLICY,
  RESOURCE_POLICY_ID,
  TEE_PUBKEY_PATHS,
  TokenSigner,
  jsonPointer,
  parseRvpsMessage,
} from '@kata-cc/attestation-service';
import type { VerifierConfig } from '@kata-cc/verifier';
import { kbsError, withVariant } from './http-error.js';
import { encryptToTeeKey } from './jwe.js';
import { challengeExtraParams } from './extra-params.js';
import type { KbsMetrics } from './metrics.js';
import type { KbsStore, Session } from './storage/store.js';

export const DEFAULT_MAX_SESSIONS = 10_000;

export interface KbsCoreOptions {
  store: KbsStore;
  /** Dev mode (`--allow-sample`): sample evidence accepted and affirmable. */
  devMode?: boolean;
  sessionTimeoutSeconds?: number;
  /** Bound on unexpired sessions across all replicas sharing the store (default 10000). */
  maxSessions?: number;
  tokenLifetimeSeconds?: number;
  /** P-256 PEM; default: one key generated once and kept in the store (shared by replicas). */
  tokenSignerPem?: string;
  verifier?: VerifierConfig;
  logger?: Logger;
  metrics?: KbsMetrics;
  /** Clock in ms (sessions, tokens, reference values, /auth rate); tests advance it, not sleep. */
  now?: () => number;
}

/** The KBS protocol and admin operations, independent of the HTTP framework. */
export class KbsCore {
  readonly store: KbsStore;
  readonly as: AttestationService;
  readonly devMode: boolean;
  readonly #sessionMs: number;
  readonly #maxSessions: number;
  /** Live-session count read from the store at most once a second, plus our inserts since. */
  #liveEstimate = { count: 0, at: 0 };
  readonly #log: Logger;
  readonly #metrics: KbsMetrics | undefined;
  /** The clock of this KBS (KbsCoreOptions.now). */
  readonly now: () => number;

  private constructor(o: KbsCoreOptions, as: AttestationService) {
    this.store = o.store;
    this.as = as;
    this.devMode = o.devMode === true;
    this.#sessionMs = (o.sessionTimeoutSeconds ?? 300) * 1000;
    this.#maxSessions = o.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.#log = o.logger ?? silentLogger;
    this.#metrics = o.metrics;
    this.now = o.now ?? Date.now;
  }

  static async create(o: KbsCoreOptions): Promise<KbsCore> {
    const pem = o.tokenSignerPem ?? (await o.store.getOrCreateSecret('attestation-token-signer', TokenSigner.generatePem));
    const as = new AttestationService({
      store: o.store,
      signer: new TokenSigner(pem),
      devMode: o.devMode === true,
      tokenLifetimeSeconds: o.tokenLifetimeSeconds ?? 300,
      ...(o.verifier === undefined ? {} : { verifier: o.verifier }),
      ...(o.logger === undefined ? {} : { logger: o.logger }),
      ...(o.now === undefined ? {} : { now: o.now }),
    });
    return new KbsCore(o, as);
  }

  get sessionTimeoutMs(): number {
    return this.#sessionMs;
  }

  /** `POST /kbs/v0/auth`: validates the Request, opens a session, returns the challenge. */
  async auth(body: Uint8Array): Promise<{ session: Session; challenge: Challenge }> {
    try {
      const request = parseRequest(parseJson(body));
      this.as.checkTee(request.tee);
      const extra = challengeExtraParams(request.tee, request['extra-params']);
      const session: Session = {
        id: randomUUID().replaceAll('-', ''),
        tee: request.tee,
        // SE: the nonce is the verifier's SeAttestationRequest (trustee's supplemental challenge).
        nonce: (await this.as.challenge(request.tee)) ?? randomBytes(32).toString('base64'),
        state: 'authed',
        expiresAt: this.now() + this.#sessionMs,
      };
      await this.#createBounded(session);
      return { session, challenge: { nonce: session.nonce, 'extra-params': extra } };
    } catch (e) {
      throw withVariant(e, 'AttestationError');
    }
  }

  /**
   * Stores a session unless `maxSessions` live ones exist. Far below the limit a plain insert
   * (the count is refreshed once a second); near it, the store's atomic count-and-insert.
   */
  async #createBounded(session: Session): Promise<void> {
    const now = this.now();
    if (now - this.#liveEstimate.at >= 1000) {
      this.#liveEstimate = { count: await this.store.countLiveSessions(now), at: now };
      this.#metrics?.liveSessions.set(this.#liveEstimate.count);
    }
    const near = this.#liveEstimate.count >= this.#maxSessions * 0.9;
    // SECURITY: unauthenticated callers cannot hold more than maxSessions sessions (DoS bound).
    const stored = await this.store.createSession(session, near ? { maxLive: this.#maxSessions, now } : undefined);
    if (!stored) {
      this.#metrics?.authRefused.inc({ reason: 'max_sessions' });
      // Expired rows may be what fills the table: sweep now rather than at the next interval.
      await this.store.deleteExpiredSessions(now);
      this.#liveEstimate.at = 0;
      throw new KccError({
        kind: 'RESOURCE_EXHAUSTED',
        code: 'KBS_TOO_MANY_SESSIONS',
        message: `The KBS holds its maximum of ${this.#maxSessions} open handshake sessions; retry later`,
        details: { variant: 'AttestationError', retryAfterSeconds: Math.max(1, Math.ceil(this.#sessionMs / 10_000)) },
      });
    }
    this.#liveEstimate.count++;
  }

  /** `POST /kbs/v0/attest`: checks session and nonce, verifies, stores and returns the token. */
  async attest(sessionId: string | undefined, body: Uint8Array): Promise<{ session: Session; token: string }> {
    let tee = 'unknown';
    try {
      const session = await this.#liveSession(sessionId);
      tee = session.tee;
      // SECURITY: one attestation per session; a replayed /attest never yields a new token.
      if (session.state !== 'authed') throw kbsError('KBS_SESSION_ALREADY_ATTESTED', 'This session is already attested; start a new one with /auth', 'AttestationError');
      const attestation = parseAttestation(parseJson(body));
      // SECURITY: the evidence must answer THIS session's challenge (stored server-side).
      if (attestation['runtime-data'].nonce !== session.nonce) {
        await this.store.deleteSession(session.id);
        throw kbsError('KBS_NONCE_MISMATCH', 'The nonce in the runtime data differs from the one in the handshake session', 'AttestationError');
      }
      let token: string;
      try {
        ({ token } = await this.as.attest({ tee: session.tee, nonce: session.nonce, attestation }));
      } catch (e) {
        // SECURITY: one try per challenge: a failed attestation ends the session, so evidence
        // cannot be retried against the same nonce and the row does not linger.
        await this.store.deleteSession(session.id);
        throw e;
      }
      if (!(await this.store.markAttested(session.id, token, this.now()))) {
        throw kbsError('KBS_SESSION_ALREADY_ATTESTED', 'This session was attested concurrently or expired; start a new one with /auth', 'AttestationError');
      }
      this.#metrics?.attestations.inc({ tee, result: 'ok' });
      return { session: { ...session, state: 'attested', token }, token };
    } catch (e) {
      this.#metrics?.attestations.inc({ tee, result: 'error' });
      throw withVariant(e, 'AttestationError');
    }
  }

  async #liveSession(id: string | undefined): Promise<Session> {
    if (id === undefined) throw kbsError('KBS_SESSION_NOT_FOUND', 'No kbs-session-id cookie: call /auth first', 'AttestationError');
    const s = await this.store.getSession(id);
    if (s === undefined) throw kbsError('KBS_SESSION_NOT_FOUND', 'Unknown session: call /auth again', 'AttestationError');
    if (s.expiresAt <= this.now()) throw kbsError('KBS_SESSION_EXPIRED', 'The session has expired: call /auth again', 'AttestationError');
    return s;
  }

  /** The token of an attested, unexpired session, or undefined. */
  async sessionToken(id: string | undefined): Promise<string | undefined> {
    if (id === undefined) return undefined;
    const s = await this.store.getSession(id);
    return s !== undefined && s.state === 'attested' && s.expiresAt > this.now() ? s.token : undefined;
  }

  /** `GET /kbs/v0/resource/<repo>/<type>/<tag>`: token -> policy -> JWE to the TEE key. */
  async getResource(token: string | undefined, path: [string, string, string], query: Record<string, string>): Promise<Response> {
    if (token === undefined) throw kbsError('KBS_TOKEN_NOT_FOUND', 'No attested session cookie and no "Authorization: Bearer" token', 'TokenNotFound');
    // SECURITY: the token is re-verified on every request, also when it came from the session.
    const claims = this.as.signer.verify(token, Math.floor(this.now() / 1000));
    const teeKey = extractTeeKey(claims);
    const policy = (await this.store.getPolicy('resource', RESOURCE_POLICY_ID)) ?? DEFAULT_RESOURCE_POLICY;
    const data = { plugin: 'resource', 'resource-path': path, query, dev_mode: this.devMode };
    let allow: unknown;
    try {
      allow = this.as.engine.evaluate([{ path: 'resource-policy.rego', source: policy }], 'data.policy.allow', claims, data);
    } catch (e) {
      throw withVariant(e, 'PolicyEngineError');
    }
    this.#metrics?.policyEvals.inc({ result: allow === true ? 'allow' : 'deny' });
    // SECURITY: only a literal `true` releases; undefined or non-boolean results deny.
    if (allow !== true) throw kbsError('KBS_POLICY_DENIED', `The resource policy denies access to ${path.join('/')}`, 'PolicyDeny', 'PERMISSION_DENIED');
    const bytes = await this.store.getResource(path.join('/'));
    if (bytes === undefined) throw kbsError('KBS_RESOURCE_NOT_FOUND', `Resource ${path.join('/')} not found`, 'PluginInternalError', 'NOT_FOUND');
    const jwe = encryptToTeeKey(teeKey, bytes);
    this.#metrics?.resources.inc();
    this.#log.info({ path: path.join('/') }, 'resource released');
    return jwe;
  }

  async setResource(path: [string, string, string], data: Uint8Array): Promise<void> {
    await this.store.putResource(path.join('/'), data);
  }

  async deleteResource(path: [string, string, string]): Promise<void> {
    if (!(await this.store.deleteResource(path.join('/')))) {
      throw kbsError('KBS_RESOURCE_NOT_FOUND', `Resource ${path.join('/')} not found`, 'PluginInternalError', 'NOT_FOUND');
    }
  }

  /** `POST /kbs/v0/resource-policy` with `{"policy": "<base64url rego>"}`. */
  async setResourcePolicy(body: Uint8Array): Promise<void> {
    try {
      const rego = decodePolicyField(body);
      this.as.engine.compile([{ path: 'resource-policy.rego', source: rego }]);
      await this.store.putPolicy('resource', RESOURCE_POLICY_ID, rego);
    } catch (e) {
      throw withVariant(e, 'ParsePolicyError');
    }
  }

  /**
   * `GET /kbs/v0/resource-policy`: exactly trustee's reply, the JSON list of policy ids from
   * `PolicyEngine::list_policies()`. trustee stores its default under `resource-policy` at start
   * (overwrite=false), so the list is always `["resource-policy"]`.
   */
  async listResourcePolicies(): Promise<string[]> {
    return [RESOURCE_POLICY_ID];
  }

  /**
   * `GET /kbs/v0/resource-policy/<id>` (our extension; trustee ignores the suffix and lists):
   * `{"id", "policy": base64url Rego}`, the shape of the POST body, so kbs-cli can print the Rego.
   */
  async getResourcePolicy(id: string): Promise<{ id: string; policy: string }> {
    if (id !== RESOURCE_POLICY_ID) throw kbsError('KBS_POLICY_NOT_FOUND', `No resource policy "${id.slice(0, 64)}"; the one policy is "${RESOURCE_POLICY_ID}"`, 'PolicyEngineError', 'NOT_FOUND');
    const stored = await this.store.getPolicy('resource', RESOURCE_POLICY_ID);
    return { id, policy: Buffer.from(stored ?? DEFAULT_RESOURCE_POLICY).toString('base64url') };
  }

  /** `POST /kbs/v0/attestation-policy` with `{"type":"rego","policy_id","policy"}`. */
  async setAttestationPolicy(body: Uint8Array): Promise<void> {
    try {
      const obj = parseJson(body);
      const rego = decodePolicyField(body);
      const id = (obj as Record<string, unknown>)['policy_id'] ?? 'default_cpu';
      if (typeof id !== 'string') throw kbsError('KBS_POLICY_INVALID', 'Field "policy_id" must be a string', 'ParsePolicyError', 'INVALID_ARGUMENT');
      await this.as.setPolicy(id, rego);
    } catch (e) {
      throw withVariant(e, 'ParsePolicyError');
    }
  }

  async setReferenceValues(body: Uint8Array): Promise<string[]> {
    try {
      const values = parseRvpsMessage(parseJson(body), this.now());
      await this.store.putReferenceValues(values);
      return values.map((v) => v.name);
    } catch (e) {
      throw withVariant(e, 'RvpsError');
    }
  }

  async getReferenceValue(name: string): Promise<unknown> {
    const v = await this.store.getReferenceValue(name, this.now());
    if (v === undefined) throw kbsError('KBS_REFERENCE_VALUE_NOT_FOUND', `Reference value ${JSON.stringify(name)} not found or expired`, 'RvpsError', 'NOT_FOUND');
    // trustee replies with the stored value itself (e.g. `["1"]`).
    return v.values;
  }
}

function decodePolicyField(body: Uint8Array): string {
  const obj = parseJson(body);
  const p = typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>)['policy'] : undefined;
  if (typeof p !== 'string') throw kbsError('KBS_POLICY_INVALID', 'The body needs a string field "policy" (base64url of the Rego text)', 'ParsePolicyError', 'INVALID_ARGUMENT');
  // trustee decodes URL_SAFE_NO_PAD; we also tolerate '=' padding.
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(p)) throw kbsError('KBS_POLICY_INVALID', 'Field "policy" is not base64url', 'ParsePolicyError', 'INVALID_ARGUMENT');
  return Buffer.from(p, 'base64url').toString('utf8');
}

function extractTeeKey(claims: Record<string, unknown>): TeePubKey {
  for (const p of TEE_PUBKEY_PATHS) {
    const v = jsonPointer(claims, p);
    if (v !== undefined) {
      try {
        return parseTeePubKey(v);
      } catch (e) {
        throw withVariant(e, 'TokenVerifierError');
      }
    }
  }
  throw kbsError('KBS_TEE_PUBKEY_NOT_FOUND', 'The attestation token carries no TEE public key', 'TokenVerifierError');
}
