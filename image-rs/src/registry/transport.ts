import { rootCertificates } from 'node:tls';
import { Agent, type Dispatcher } from 'undici';
import { imgError } from '../errors.js';

export interface TransportOptions {
  /** Extra PEM root certificates trusted in addition to the system store. */
  ca?: string[];
  /** Registries (host[:port]) reached over plain HTTP; every other one needs TLS. */
  insecureRegistries?: string[];
  /** Max parallel connections per origin. */
  connections?: number;
  userAgent?: string;
}

export interface RawResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  url: URL;
}

const MAX_REDIRECTS = 5;

/**
 * HTTP for the registry client: one undici Agent (keep-alive, custom CA), manual redirects so
 * credentials never follow a redirect to another origin (blob storage, CDNs).
 */
export class Transport {
  readonly #agent: Agent;
  readonly #insecure: Set<string>;
  readonly #userAgent: string;

  constructor(options: TransportOptions = {}) {
    this.#agent = new Agent({
      connections: options.connections ?? 8,
      // Extra CAs are added to Node's bundled roots, never replacing them.
      connect: options.ca !== undefined && options.ca.length > 0 ? { ca: [...rootCertificates, ...options.ca] } : {},
      bodyTimeout: 60_000,
      headersTimeout: 30_000,
    });
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

  async request(
    method: 'GET' | 'HEAD' | 'POST',
    url: URL,
    headers: Record<string, string>,
    body?: string,
  ): Promise<RawResponse> {
    let current = url;
    let hdrs = { 'user-agent': this.#userAgent, ...headers };
    for (let hop = 0; ; hop++) {
      let res: Dispatcher.ResponseData;
      try {
        res = await this.#agent.request({
          origin: current.origin,
          path: `${current.pathname}${current.search}`,
          method,
          headers: hdrs,
          ...(body === undefined ? {} : { body }),
        });
      } catch (err) {
        throw imgError('IMG_REGISTRY_UNREACHABLE', `Cannot reach ${current.origin}: ${describeNetError(err)}`, { url: redactUrl(current) }, err);
      }
      const location = res.headers['location'];
      if ([301, 302, 303, 307, 308].includes(res.statusCode) && typeof location === 'string') {
        res.body.resume();
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
          const { authorization: _dropped, ...rest } = hdrs as Record<string, string>;
          hdrs = rest as typeof hdrs;
        }
        current = next;
        continue;
      }
      return { statusCode: res.statusCode, headers: res.headers, body: res.body, url: current };
    }
  }

  async close(): Promise<void> {
    await this.#agent.close();
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
