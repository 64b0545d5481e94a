import { Agent, request } from 'undici';
import { kbcError } from './errors.js';

/** One HTTP reply from the KBS, body fully read (KBS bodies are small: tokens, JWEs, errors). */
export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface KbsHttpOptions {
  /** PEM root certificate(s) the KBS's TLS certificate must chain to (aa.toml `cert`). */
  cert?: string;
  /** Per-request timeout in milliseconds; default 30 000. */
  timeoutMs?: number;
  /** Largest reply body accepted, in bytes; default 64 MiB. */
  maxReplyBytes?: number;
}

/** Default reply limit: far above any token or JWE-wrapped secret, far below memory trouble. */
export const DEFAULT_MAX_REPLY_BYTES = 64 * 1024 * 1024;

interface StoredCookie {
  value: string;
  expiresAt: number | undefined;
}

/**
 * HTTP to one KBS with a minimal cookie jar (the KBS sets only `kbs-session-id`, with an
 * `Expires` and no Path/Domain, so one jar per KBS origin is exact enough).
 */
export class KbsHttp {
  readonly baseUrl: URL;
  readonly #agent: Agent;
  readonly #timeoutMs: number;
  readonly #maxReplyBytes: number;
  readonly #cookies = new Map<string, StoredCookie>();

  constructor(url: string, options: KbsHttpOptions = {}) {
    let base: URL;
    try {
      base = new URL(url);
    } catch (cause) {
      throw kbcError('KBC_INVALID_CONFIG', `Invalid KBS URL "${url}": expected http(s)://host[:port]`, { cause });
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw kbcError('KBC_INVALID_CONFIG', `Invalid KBS URL "${url}": the scheme must be http or https`);
    }
    this.baseUrl = base;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#maxReplyBytes = options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
    this.#agent = new Agent({
      connect: options.cert === undefined ? {} : { ca: options.cert },
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
    });
  }

  /** Sends a request to `path` (e.g. `/kbs/v0/auth`) relative to the KBS URL. */
  async send(method: 'GET' | 'POST' | 'DELETE', path: string, options: { json?: unknown; headers?: Record<string, string> } = {}): Promise<HttpReply> {
    const url = new URL(this.baseUrl.pathname.replace(/\/$/, '') + path, this.baseUrl);
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    const cookie = this.#cookieHeader();
    if (cookie !== '') headers['cookie'] = cookie;
    let body: string | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    }
    let res;
    const chunks: Buffer[] = [];
    try {
      res = await request(url, { method, headers, body: body ?? null, dispatcher: this.#agent, signal: AbortSignal.timeout(this.#timeoutMs) });
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        // SECURITY: a hostile or broken KBS must not make the guest buffer unbounded data.
        if (size > this.#maxReplyBytes) {
          res.body.destroy();
          throw kbcError('KBC_PROTOCOL_ERROR', `KBS reply to ${method} ${url.pathname} exceeds ${this.#maxReplyBytes} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (cause) {
      if (cause instanceof Error && 'code' in cause && cause.code === 'KBC_PROTOCOL_ERROR') throw cause;
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw kbcError('KBC_HTTP_FAILED', `Cannot reach the KBS at ${this.baseUrl.origin} (${method} ${url.pathname}): ${reason}`, { cause });
    }
    this.#storeCookies(res.headers['set-cookie']);
    return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) };
  }

  /** Forgets every cookie (a new handshake starts a new session). */
  clearCookies(): void {
    this.#cookies.clear();
  }

  /** The current session cookie value, if any (for tests and diagnostics; it is not a secret by itself). */
  cookie(name: string): string | undefined {
    this.#expire();
    return this.#cookies.get(name)?.value;
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  #expire(): void {
    const now = Date.now();
    for (const [k, c] of this.#cookies) if (c.expiresAt !== undefined && c.expiresAt <= now) this.#cookies.delete(k);
  }

  #cookieHeader(): string {
    this.#expire();
    return [...this.#cookies].map(([k, c]) => `${k}=${c.value}`).join('; ');
  }

  #storeCookies(header: string | string[] | undefined): void {
    if (header === undefined) return;
    for (const line of Array.isArray(header) ? header : [header]) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let expiresAt: number | undefined;
      for (const attr of attrs) {
        const [k = '', ...v] = attr.split('=');
        const key = k.trim().toLowerCase();
        const val = v.join('=').trim();
        if (key === 'max-age' && /^-?\d+$/.test(val)) expiresAt = Date.now() + Number(val) * 1000;
        else if (key === 'expires' && expiresAt === undefined && !Number.isNaN(Date.parse(val))) expiresAt = Date.parse(val);
      }
      this.#cookies.set(name, { value, expiresAt });
      if (expiresAt !== undefined && expiresAt <= Date.now()) this.#cookies.delete(name);
    }
  }
}
