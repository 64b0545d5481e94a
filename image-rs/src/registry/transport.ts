import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { imgError } from '../errors.js';

export interface TransportOptions {
  /** Extra PEM root certificates trusted in addition to Node's bundled roots. */
  ca?: string[];
  /** Registries (host[:port]) reached over plain HTTP; every other one needs TLS. */
  insecureRegistries?: string[];
  /** Max parallel connections per origin. */
  connections?: number;
  userAgent?: string;
}

/** A response body: async-iterable bytes plus the helpers the client needs. */
export interface Body extends AsyncIterable<Buffer> {
  dump(): Promise<void>;
  text(): Promise<string>;
  destroy(): void;
}

export interface RawResponse {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  body: Body;
  url: URL;
}

const MAX_REDIRECTS = 5;

function wrap(res: http.IncomingMessage): Body {
  return {
    [Symbol.asyncIterator]: () => res[Symbol.asyncIterator]() as AsyncIterator<Buffer>,
    dump: async () => {
      res.resume();
      if (!res.complete) await new Promise<void>((r) => { res.once('end', r); res.once('close', r); res.once('error', () => r()); });
    },
    text: async () => {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    destroy: () => res.destroy(),
  };
}

/**
 * HTTP for the registry client on node:http/https (keep-alive agents, custom CA; no undici on
 * the guest's startup path). Redirects are followed by hand so credentials never follow a
 * redirect to another origin (blob storage, CDNs).
 */
export class Transport {
  readonly #http: http.Agent;
  readonly #https: https.Agent;
  readonly #insecure: Set<string>;
  readonly #userAgent: string;

  constructor(options: TransportOptions = {}) {
    const maxSockets = options.connections ?? 8;
    this.#http = new http.Agent({ keepAlive: true, maxSockets });
    // Extra CAs are added to Node's bundled roots, never replacing them.
    this.#https = new https.Agent({ keepAlive: true, maxSockets, ...(options.ca !== undefined && options.ca.length > 0 ? { ca: [...rootCertificates, ...options.ca] } : {}) });
    this.#insecure = new Set(options.insecureRegistries ?? []);
    this.#userAgent = options.userAgent ?? 'kata-cc-image-rs/0.1';
  }

  /** Base URL of a registry's API: https unless the host is listed as insecure. */
  baseUrl(host: string): string {
    // SECURITY: plain HTTP only for registries the caller explicitly listed as insecure.
    return `${this.#insecure.has(host) ? 'http' : 'https'}://${host}`;
  }

  isInsecure(host: string): boolean {
    return this.#insecure.has(host);
  }

  #once(method: string, url: URL, headers: Record<string, string>, body?: string): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const mod = url.protocol === 'https:' ? https : http;
      const req = mod.request(url, {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        agent: url.protocol === 'https:' ? this.#https : this.#http,
        timeout: 60_000,
      }, resolve);
      req.on('timeout', () => req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(body);
    });
  }

  async request(method: 'GET' | 'HEAD' | 'POST', url: URL, headers: Record<string, string>, body?: string): Promise<RawResponse> {
    let current = url;
    let hdrs: Record<string, string> = { 'user-agent': this.#userAgent, ...headers };
    for (let hop = 0; ; hop++) {
      let res: http.IncomingMessage;
      try {
        res = await this.#once(method, current, hdrs, body);
      } catch (err) {
        throw imgError('IMG_REGISTRY_UNREACHABLE', `Cannot reach ${current.origin}: ${describeNetError(err)}`, { url: redactUrl(current) }, err);
      }
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(status) && typeof location === 'string') {
        res.resume();
        if (hop >= MAX_REDIRECTS) throw imgError('IMG_REGISTRY_ERROR', `Too many redirects from ${url.origin}`);
        const next = new URL(location, current);
        if (next.protocol !== 'https:' && next.protocol !== 'http:') throw imgError('IMG_REGISTRY_ERROR', `Redirect to unsupported scheme ${next.protocol}`);
        // SECURITY: an https request never downgrades to http through a redirect.
        if (current.protocol === 'https:' && next.protocol === 'http:') {
          throw imgError('IMG_INSECURE_REGISTRY', `Registry ${url.host} redirected to plain HTTP ${next.host}; refused`);
        }
        // SECURITY: credentials are for the registry only; a redirect to another origin
        // (pre-signed blob storage URL) gets no Authorization header.
        if (next.origin !== current.origin) {
          const { authorization: _dropped, ...rest } = hdrs;
          hdrs = rest;
        }
        current = next;
        continue;
      }
      return { statusCode: status, headers: res.headers, body: wrap(res), url: current };
    }
  }

  async close(): Promise<void> {
    this.#http.destroy();
    this.#https.destroy();
  }
}

export function describeNetError(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code;
  const msg = e.cause?.message ?? e.message ?? String(err);
  return code !== undefined && !msg.includes(code) ? `${code}: ${msg}` : msg;
}

/** A URL safe to log: no query (pre-signed URLs carry credentials there), no userinfo. */
export function redactUrl(u: URL): string {
  return `${u.origin}${u.pathname}`;
}
