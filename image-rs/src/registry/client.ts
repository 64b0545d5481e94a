import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { isKccError } from '@kata-cc/errors';
import { imgError } from '../errors.js';
import { apiHost, type ImageReference } from '../reference.js';
import { MANIFEST_ACCEPT, type Descriptor } from '../types.js';
import { Authenticator } from './auth.js';
import { credentialsFor, type AuthFile } from './credentials.js';
import { describeNetError, Transport, type RawResponse, type TransportOptions } from './transport.js';

export interface RegistryClientOptions extends TransportOptions {
  auth?: AuthFile;
  /** Attempts per blob after a broken connection (each resumes with a Range request). */
  retries?: number;
  /** Largest manifest/index accepted (containerd uses 4 MiB). */
  maxManifestBytes?: number;
}

export interface FetchedManifest {
  bytes: Buffer;
  digest: string;
  mediaType: string;
}

const DEFAULT_MAX_MANIFEST = 4 * 1024 * 1024;

/** OCI distribution v2 client: manifests, blobs (resumable), auth, TLS, redirects. */
export class RegistryClient {
  readonly #transport: Transport;
  readonly #auth: Authenticator;
  readonly #retries: number;
  readonly #maxManifest: number;

  constructor(options: RegistryClientOptions = {}) {
    this.#transport = new Transport(options);
    this.#auth = new Authenticator(this.#transport, (r, repo) => credentialsFor(options.auth, r, repo));
    this.#retries = options.retries ?? 3;
    this.#maxManifest = options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST;
  }

  async close(): Promise<void> {
    await this.#transport.close();
  }

  /** GET with auth: anonymous first, then whatever the 401 challenge asks for. */
  async get(ref: ImageReference, path: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET'): Promise<RawResponse> {
    const url = new URL(`${this.#transport.baseUrl(apiHost(ref.registry))}/v2/${ref.repository}/${path}`);
    const pre = this.#auth.header(ref.registry, ref.repository);
    let res = await this.#transport.request(method, url, pre === undefined ? headers : { ...headers, authorization: pre });
    if (res.statusCode === 401) {
      await res.body.dump();
      const www = res.headers['www-authenticate'];
      const authz = await this.#auth.respond(ref.registry, ref.repository, Array.isArray(www) ? www.join(', ') : www);
      res = await this.#transport.request(method, url, { ...headers, authorization: authz });
      if (res.statusCode === 401) {
        await res.body.dump();
        throw imgError('IMG_REGISTRY_UNAUTHORIZED', `Registry ${ref.registry} rejected the credentials for ${ref.repository}`);
      }
    }
    if (res.statusCode === 403) {
      await res.body.dump();
      throw imgError('IMG_REGISTRY_DENIED', `Registry ${ref.registry} denied access to ${ref.repository}`);
    }
    return res;
  }

  /** A manifest or index by tag or digest, size-limited and digest-checked. */
  async getManifest(ref: ImageReference, reference: string, expected?: Descriptor): Promise<FetchedManifest> {
    const res = await this.get(ref, `manifests/${reference}`, { accept: MANIFEST_ACCEPT });
    if (res.statusCode === 404) {
      await res.body.dump();
      throw imgError('IMG_MANIFEST_NOT_FOUND', `Manifest ${ref.registry}/${ref.repository}:${reference} not found`);
    }
    if (res.statusCode !== 200) throw await httpError(res, `fetch manifest ${ref.repository}:${reference}`);
    const limit = expected?.size ?? this.#maxManifest;
    const declared = Number(res.headers['content-length'] ?? '0');
    // SECURITY: a manifest is read into memory, so its size is bounded before reading.
    if (declared > limit || limit > this.#maxManifest) {
      res.body.destroy();
      throw imgError('IMG_MANIFEST_TOO_LARGE', `Manifest ${ref.repository}:${reference} is larger than ${Math.min(limit, this.#maxManifest)} bytes`);
    }
    const bytes = await readLimited(res, limit, `manifest ${ref.repository}:${reference}`);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const want = expected?.digest ?? (reference.includes(':') ? reference : undefined);
    // SECURITY: content fetched by digest must hash to that digest (the registry is untrusted).
    if (want !== undefined && !digestMatches(want, bytes)) {
      throw imgError('IMG_DIGEST_MISMATCH', `Manifest ${ref.repository}@${want} does not match its digest`, { expected: want, actual: digest });
    }
    const ct = res.headers['content-type'];
    const mediaType = (typeof ct === 'string' ? ct.split(';')[0]?.trim() : undefined) ?? '';
    return { bytes, digest: want ?? digest, mediaType };
  }

  /** A small blob (config, signature payload) read whole, digest- and size-checked. */
  async getSmallBlob(ref: ImageReference, desc: Descriptor, maxBytes = 16 * 1024 * 1024): Promise<Buffer> {
    if (desc.size > maxBytes) throw imgError('IMG_MANIFEST_TOO_LARGE', `Blob ${desc.digest} declares ${desc.size} bytes, more than ${maxBytes}`);
    const chunks: Buffer[] = [];
    for await (const c of this.blobChunks(ref, desc)) chunks.push(c);
    const buf = Buffer.concat(chunks);
    if (!digestMatches(desc.digest, buf)) throw imgError('IMG_DIGEST_MISMATCH', `Blob ${desc.digest} of ${ref.repository} does not match its digest`);
    return buf;
  }

  /**
   * The bytes of a blob as they arrive, never more than `desc.size`. A broken connection is
   * retried with `Range: bytes=<received>-`, so the consumer sees one seamless stream.
   * The digest is checked by the caller's pipeline (it sees every byte exactly once).
   */
  async *blobChunks(ref: ImageReference, desc: Descriptor, signal?: AbortSignal): AsyncGenerator<Buffer> {
    let received = 0;
    for (let attempt = 0; ; attempt++) {
      let res: RawResponse | undefined;
      try {
        res = await this.get(ref, `blobs/${desc.digest}`, received > 0 ? { range: `bytes=${received}-` } : {});
        if (res.statusCode === 404) {
          await res.body.dump();
          throw imgError('IMG_BLOB_NOT_FOUND', `Blob ${desc.digest} not found in ${ref.registry}/${ref.repository}`);
        }
        let skip = 0;
        if (res.statusCode === 206 && received > 0) {
          const cr = String(res.headers['content-range'] ?? '');
          const start = /^bytes (\d+)-/.exec(cr)?.[1];
          if (start === undefined || Number(start) !== received) throw imgError('IMG_REGISTRY_ERROR', `Registry answered a Range request for ${desc.digest} with content-range "${cr}"`);
        } else if (res.statusCode === 200) {
          skip = received; // the server ignored Range: drop what we already have
        } else {
          throw await httpError(res, `fetch blob ${desc.digest}`);
        }
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          signal?.throwIfAborted();
          let c = chunk;
          if (skip > 0) {
            if (c.length <= skip) {
              skip -= c.length;
              continue;
            }
            c = c.subarray(skip);
            skip = 0;
          }
          received += c.length;
          // SECURITY: never accept more bytes than the manifest declared.
          if (received > desc.size) throw imgError('IMG_SIZE_MISMATCH', `Blob ${desc.digest} is larger than the ${desc.size} bytes its descriptor declares`);
          yield c;
        }
        if (received !== desc.size) {
          throw Object.assign(new Error(`connection ended after ${received} of ${desc.size} bytes`), { retryable: true });
        }
        return;
      } catch (err) {
        res?.body.destroy();
        const retryable = !isKccError(err) || err.code === 'IMG_REGISTRY_UNREACHABLE' || (err.code === 'IMG_REGISTRY_ERROR' && (err.details?.['status'] as number) >= 500);
        if (!retryable || attempt >= this.#retries || signal?.aborted === true) {
          if (isKccError(err)) throw err;
          throw imgError('IMG_REGISTRY_UNREACHABLE', `Download of ${desc.digest} failed after ${attempt + 1} attempts: ${describeNetError(err)}`, { received }, err);
        }
        await sleep(Math.min(200 * 2 ** attempt, 2000));
      }
    }
  }
}

/** True when `bytes` hash to `digest` (sha256 or sha512). */
export function digestMatches(digest: string, bytes: Buffer): boolean {
  const [alg, hex] = digest.split(':');
  if ((alg !== 'sha256' && alg !== 'sha512') || hex === undefined) return false;
  return createHash(alg).update(bytes).digest('hex') === hex;
}

async function readLimited(res: RawResponse, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      res.body.destroy();
      throw imgError('IMG_MANIFEST_TOO_LARGE', `${what} exceeds ${limit} bytes`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

async function httpError(res: RawResponse, action: string): Promise<Error> {
  let detail = '';
  try {
    const text = (await res.body.text()).slice(0, 2000);
    const errs = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors;
    detail = errs?.map((e) => `${e.code ?? ''} ${e.message ?? ''}`.trim()).join('; ') ?? '';
  } catch {
    // not a distribution error body
  }
  return imgError('IMG_REGISTRY_ERROR', `Cannot ${action}: HTTP ${res.statusCode}${detail ? ` (${detail})` : ''}`, { status: res.statusCode });
}
