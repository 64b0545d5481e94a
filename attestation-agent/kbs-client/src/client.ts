import { setTimeout as sleep } from 'node:timers/promises';
import type { Attester } from '@kata-cc/attester';
import { isKccError } from '@kata-cc/errors';
import { silentLogger, type Logger } from '@kata-cc/log';
import { kbcError } from './errors.js';
import { KbsHttp } from './http.js';
import { decryptJweResponse, parseJweResponse } from './jwe.js';
import { replyError, replyJson, resourceRefusal } from './kbs-reply.js';
import { rcarHandshake } from './rcar.js';
import { parseResourceUri, resourceApiPath } from './resource-uri.js';
import { DEFAULT_TEE_KEY_ALGORITHM, TeeKeyPair, type TeeKeyAlgorithm } from './tee-key.js';
import { parseToken, tokenValid, type CachedToken } from './token.js';

/** Handshake attempts of the Rust client (`RCAR_MAX_ATTEMPT`). */
export const RCAR_MAX_ATTEMPT = 5;
/** Resource GET attempts; a 401 re-attests in between (`KBS_GET_RESOURCE_MAX_ATTEMPT`). */
export const KBS_GET_RESOURCE_MAX_ATTEMPT = 3;

/** A token and the TEE key it is bound to, e.g. from the AA's GetToken (passport mode). */
export interface TokenAndKey {
  token: string;
  teeKey: TeeKeyPair;
}

export interface KbsClientConfig {
  /** KBS base URL, e.g. `https://kbs:8080`. */
  url: string;
  /** PEM root certificate of the KBS's TLS certificate (aa.toml `cert`, cdh.toml `kbs_cert`). */
  cert?: string;
  /** Algorithm of the generated TEE key; ignored when `teeKey` is given. Default EC P-256. */
  teeKeyAlgorithm?: TeeKeyAlgorithm;
  /** Use this TEE key instead of generating one (kbs-cli `--tee-key-file`). */
  teeKey?: TeeKeyPair;
  /** The initdata TOML sent as `init-data` in every attestation. */
  initData?: string;
  /** Handshake attempts (default 5) and the pause between them (default 1000 ms). */
  handshakeAttempts?: number;
  handshakeRetryDelayMs?: number;
  /** Per-request HTTP timeout (default 30 s). */
  timeoutMs?: number;
  /** Largest KBS reply accepted (default 64 MiB). */
  maxReplyBytes?: number;
}

export interface KbsClientDeps {
  /**
   * Produces evidence (background-check mode: the client runs RCAR itself and uses the session
   * cookie). Exactly one of `attester` and `tokenSource` must be given.
   */
  attester?: Attester;
  /** Device attesters (e.g. `sampledevice`) whose evidence is added as `additional_evidence`. */
  additionalAttesters?: readonly Attester[];
  /**
   * Supplies a token and its TEE key (passport mode: the CDH gets them from the AA's GetToken
   * and sends `Authorization: Bearer`). Called again when the KBS answers 401.
   */
  tokenSource?: () => Promise<TokenAndKey>;
  logger?: Logger;
  /** Clock in ms, for tests of the token cache. */
  now?: () => number;
}

/**
 * The KBS client (guest-components `KbsClient`): RCAR handshake with retries, token cache until
 * `exp`, and resource fetch with JWE decryption. Calls are serialized per client so that two
 * concurrent requests never run two handshakes that overwrite each other's session.
 */
export class KbsClient {
  readonly #http: KbsHttp;
  readonly #config: KbsClientConfig;
  readonly #deps: KbsClientDeps;
  readonly #log: Logger;
  readonly #now: () => number;
  #teeKey: TeeKeyPair;
  #token: CachedToken | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(config: KbsClientConfig, deps: KbsClientDeps) {
    if ((deps.attester === undefined) === (deps.tokenSource === undefined)) {
      throw kbcError('KBC_INVALID_CONFIG', 'Cannot create a KBS client: give exactly one of an attester (background check) or a token source (passport)');
    }
    // SE binds its runtime data through the SeAttestationRequest, which has no room for device
    // evidence; trustee's client refuses composite evidence on s390x the same way.
    if (deps.attester?.tee === 'se' && (deps.additionalAttesters ?? []).length > 0) {
      throw kbcError('KBC_INVALID_CONFIG', 'Cannot create a KBS client: IBM SE attestation cannot carry additional device evidence');
    }
    this.#config = config;
    this.#deps = deps;
    this.#log = (deps.logger ?? silentLogger).child({ component: 'kbs-client' });
    this.#now = deps.now ?? Date.now;
    this.#http = new KbsHttp(config.url, {
      ...(config.cert === undefined ? {} : { cert: config.cert }),
      ...(config.timeoutMs === undefined ? {} : { timeoutMs: config.timeoutMs }),
      ...(config.maxReplyBytes === undefined ? {} : { maxReplyBytes: config.maxReplyBytes }),
    });
    this.#teeKey = config.teeKey ?? TeeKeyPair.generate(config.teeKeyAlgorithm ?? DEFAULT_TEE_KEY_ALGORITHM);
  }

  /** The TEE key pair whose public half the current token carries. */
  get teeKey(): TeeKeyPair {
    return this.#teeKey;
  }

  /** Runs a fresh RCAR handshake (with retries) and returns the new token. */
  attest(): Promise<string> {
    return this.#serialized(async () => (await this.#refresh()).jwt);
  }

  /** The cached token if still valid, else a new one (guest-components `get_token`). */
  getToken(): Promise<TokenAndKey> {
    return this.#serialized(async () => {
      const token = tokenValid(this.#token, this.#now()) ? this.#token : await this.#refresh();
      return { token: token.jwt, teeKey: this.#teeKey };
    });
  }

  /**
   * Fetches and decrypts a resource (`kbs:///repo/type/tag`, `kbs+plugin:///...` or
   * `repo/type/tag`). A 401 means the session or token is stale: re-attest and retry, up to
   * 3 attempts in all (as the Rust client). 404 is `KBC_RESOURCE_NOT_FOUND`; a 401 that
   * persists is `KBC_POLICY_DENIED`, `KBC_RESOURCE_NOT_FOUND` or `KBC_UNAUTHORIZED` by the KBS
   * error variant.
   */
  async getResource(uri: string): Promise<Uint8Array> {
    const path = resourceApiPath(parseResourceUri(uri));
    return this.#serialized(async () => {
      if (!tokenValid(this.#token, this.#now())) await this.#refresh();
      let last: ReturnType<typeof replyError> | undefined;
      for (let attempt = 1; attempt <= KBS_GET_RESOURCE_MAX_ATTEMPT; attempt++) {
        const headers: Record<string, string> = {};
        if (this.#deps.tokenSource !== undefined && this.#token !== undefined) headers['authorization'] = `Bearer ${this.#token.jwt}`;
        const reply = await this.#http.send('GET', path, { headers });
        if (reply.status === 200) {
          return decryptJweResponse(parseJweResponse(replyJson(`GET ${path}`, reply)), this.#teeKey);
        }
        if (reply.status === 404) throw replyError('KBC_RESOURCE_NOT_FOUND', `the resource request ${path}`, reply);
        if (reply.status !== 401) throw replyError('KBC_PROTOCOL_ERROR', `the resource request ${path}`, reply);
        last = resourceRefusal(path, reply);
        this.#log.warn({ attempt, path, status: reply.status }, 'KBS answered 401 to a resource request: re-attesting');
        // As the Rust client: one new handshake per 401 (not the 5-attempt loop), then retry.
        if (attempt < KBS_GET_RESOURCE_MAX_ATTEMPT) await this.#refresh(1);
      }
      throw last ?? kbcError('KBC_UNAUTHORIZED', `KBS refused the resource request ${path}`);
    });
  }

  /** Closes the HTTP connections. */
  async close(): Promise<void> {
    await this.#http.close();
  }

  #serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #refresh(maxAttempts?: number): Promise<CachedToken> {
    this.#token = undefined;
    if (this.#deps.tokenSource !== undefined) {
      const { token, teeKey } = await this.#deps.tokenSource();
      this.#teeKey = teeKey;
      this.#token = parseToken(token);
      return this.#token;
    }
    const attester = this.#deps.attester;
    if (attester === undefined) throw kbcError('KBC_NO_ATTESTER', 'Cannot attest to the KBS: no attester configured');
    const attempts = maxAttempts ?? this.#config.handshakeAttempts ?? RCAR_MAX_ATTEMPT;
    const delay = this.#config.handshakeRetryDelayMs ?? 1000;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const jwt = await rcarHandshake(this.#http, attester, this.#teeKey, {
          ...(this.#config.initData === undefined ? {} : { initData: this.#config.initData }),
          ...(this.#deps.additionalAttesters === undefined ? {} : { additionalAttesters: this.#deps.additionalAttesters }),
          logger: this.#log,
        });
        this.#token = parseToken(jwt);
        return this.#token;
      } catch (err) {
        lastError = err;
        // Local mistakes (bad config, unusable key, report data too long) do not heal by retrying.
        if (isKccError(err) && (err.kind === 'INVALID_ARGUMENT' || err.kind === 'NOT_IMPLEMENTED')) throw err;
        this.#log.warn({ attempt, attempts, code: isKccError(err) ? err.code : undefined, err: isKccError(err) ? err.message : String(err) }, 'RCAR handshake failed');
        if (attempt < attempts) await sleep(delay);
      }
    }
    if (isKccError(lastError)) throw lastError;
    throw kbcError('KBC_ATTEST_FAILED', `Cannot complete the RCAR handshake with the KBS after ${attempts} attempts`, { cause: lastError });
  }
}
