import { createPrivateKey, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { Agent, request } from 'undici';
import { errorInformation } from '@kata-cc/kbs-client';
import { cliError } from './errors.js';

/** The global options every subcommand receives (from the root command). */
export interface GlobalOptions {
  url: string;
  adminKey?: string;
  adminTokenFile?: string;
  cacert?: string;
}

/** Lifetime of the admin JWTs kbs-cli signs: short, since each is minted per invocation. */
export const ADMIN_TOKEN_TTL_S = 300;

/**
 * Signs an admin JWT with the private key: EdDSA for Ed25519, ES256 for EC P-256 (the KBS
 * requires `exp`). The `role` claim satisfies trustee ≥ v0.21's authenticated authorization.
 */
export async function signAdminToken(pem: string | Buffer, now = Math.floor(Date.now() / 1000)): Promise<string> {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (cause) {
    throw cliError('KBSCLI_ADMIN_KEY_INVALID', 'Cannot parse --admin-key: expected an Ed25519 or EC P-256 private key in PEM', { cause });
  }
  let alg: string;
  if (key.asymmetricKeyType === 'ed25519') alg = 'EdDSA';
  else if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') alg = 'ES256';
  else throw cliError('KBSCLI_ADMIN_KEY_INVALID', `Cannot sign with --admin-key: a ${key.asymmetricKeyType ?? 'unknown'} key is not supported; use Ed25519 or EC P-256`);
  return new SignJWT({ role: 'admin' })
    .setProtectedHeader({ alg, typ: 'JWT' })
    .setSubject('kbs-cli')
    .setIssuedAt(now)
    .setExpirationTime(now + ADMIN_TOKEN_TTL_S)
    .sign(key);
}

/** A reply of an admin request. */
export interface AdminReply {
  status: number;
  body: Buffer;
}

/** Admin HTTP calls to one KBS, each with a freshly signed bearer token. */
export class AdminClient {
  readonly #opts: GlobalOptions;
  readonly #agent: Agent;
  readonly #credential: () => Promise<string>;

  constructor(opts: GlobalOptions, credential: () => Promise<string>, cacert?: string) {
    this.#opts = opts;
    this.#credential = credential;
    this.#agent = new Agent({ connect: cacert === undefined ? {} : { ca: cacert } });
  }

  /** Sends an admin request; non-2xx replies become errors naming `action` and the KBS's reason. */
  async call(action: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: { json?: unknown; bytes?: Uint8Array }): Promise<AdminReply> {
    const url = new URL(path, this.#opts.url.replace(/\/?$/, '/'));
    const headers: Record<string, string> = { authorization: `Bearer ${await this.#credential()}` };
    let payload: string | Buffer | null = null;
    if (body?.json !== undefined) {
      payload = JSON.stringify(body.json);
      headers['content-type'] = 'application/json';
    } else if (body?.bytes !== undefined) {
      payload = Buffer.from(body.bytes);
      headers['content-type'] = 'application/octet-stream';
    }
    let status: number;
    let buf: Buffer;
    try {
      const res = await request(url, { method, headers, body: payload, dispatcher: this.#agent, signal: AbortSignal.timeout(30_000) });
      status = res.statusCode;
      buf = Buffer.from(await res.body.arrayBuffer());
    } catch (cause) {
      throw cliError('KBSCLI_UNREACHABLE', `Cannot ${action}: the KBS at ${url.origin} is unreachable (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
    } finally {
      // one request per invocation: release the connection so the process can exit
    }
    if (status >= 200 && status < 300) return { status, body: buf };
    const info = errorInformation({ status, headers: {}, body: buf });
    const variant = info?.type.split('/').pop();
    const why = info === undefined ? `HTTP ${status}` : `HTTP ${status} ${variant}: ${info.detail.slice(0, 500)}`;
    const details = { status, ...(variant === undefined ? {} : { kbsError: variant }) };
    if (status === 404) throw cliError('KBSCLI_NOT_FOUND', `Cannot ${action}: not found (${why})`, { details });
    if (variant === 'AdminAuthAccess' || variant === 'AdminAuthInitialization' || (status === 401 && info === undefined)) {
      throw cliError('KBSCLI_ADMIN_UNAUTHORIZED', `Cannot ${action}: the KBS refused the admin credential (${why})`, { details });
    }
    if (/not found|no such|does not exist/i.test(info?.detail ?? '')) {
      throw cliError('KBSCLI_NOT_FOUND', `Cannot ${action}: not found (${why})`, { details });
    }
    throw cliError('KBSCLI_KBS_ERROR', `Cannot ${action}: the KBS answered ${why}`, { details });
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}
