/**
 * A minimal OCI distribution-spec pusher (spec/spec.md "Push"): HEAD to skip blobs the
 * registry has, monolithic upload (POST /v2/<repo>/blobs/uploads/ then PUT <location>?digest=),
 * manifest PUT. Auth: Basic, or Bearer tokens from the realm in WWW-Authenticate (docker token
 * spec) with the Basic credentials. TLS: system roots plus --dest-cert-dir CAs; with
 * --dest-tls-verify=false, HTTPS without verification and then plain HTTP (as skopeo does).
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Agent, request, type Dispatcher } from 'undici';
import { encImgError } from './errors.js';
import type { BlobFile } from './layout.js';

export interface DockerRef { host: string; repo: string; tag: string }

/** `docker://HOST[:PORT]/REPO[:TAG]` (the registry host is required, tag defaults to latest). */
export function parseDockerRef(ref: string): DockerRef {
  const rest = ref.slice('docker://'.length);
  const slash = rest.indexOf('/');
  const host = slash > 0 ? rest.slice(0, slash) : '';
  let repo = slash > 0 ? rest.slice(slash + 1) : '';
  let tag = 'latest';
  const colon = repo.lastIndexOf(':');
  if (colon > 0) { tag = repo.slice(colon + 1); repo = repo.slice(0, colon); }
  if (!host || !/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(repo) || !/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(tag) || repo.includes('@')) {
    throw encImgError('ENCIMG_USAGE', `"${ref}" is not docker://HOST[:PORT]/REPO[:TAG] (lower-case repository, a tag, no digest)`);
  }
  return { host, repo, tag };
}

export interface PushOptions {
  tlsVerify: boolean;
  certDir?: string;
  /** `user:password`. */
  creds?: string;
}

interface Res { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }

export class RegistryPusher {
  private auth: string | undefined;
  private base = '';
  private readonly ref: DockerRef;
  private readonly opts: PushOptions;
  private readonly dispatcher: Dispatcher;
  private constructor(ref: DockerRef, opts: PushOptions, dispatcher: Dispatcher) {
    this.ref = ref;
    this.opts = opts;
    this.dispatcher = dispatcher;
  }

  static async open(ref: DockerRef, opts: PushOptions): Promise<RegistryPusher> {
    const ca: string[] = [];
    if (opts.certDir) {
      for (const f of (await readdir(opts.certDir).catch(() => [] as string[])).filter((n) => n.endsWith('.crt') || n.endsWith('.pem'))) {
        ca.push(await readFile(path.join(opts.certDir, f), 'utf8'));
      }
    }
    const { rootCertificates } = await import('node:tls');
    // SECURITY: certificates are verified unless the user said --dest-tls-verify=false.
    const agent = new Agent({ connect: { rejectUnauthorized: opts.tlsVerify, ...(ca.length ? { ca: [...rootCertificates, ...ca] } : {}) } });
    const p = new RegistryPusher(ref, opts, agent);
    await p.ping();
    return p;
  }

  async close(): Promise<void> { await this.dispatcher.close(); }

  private async ping(): Promise<void> {
    const schemes = this.opts.tlsVerify ? ['https'] : ['https', 'http'];
    let last: unknown;
    for (const s of schemes) {
      try {
        const r = await request(`${s}://${this.ref.host}/v2/`, { dispatcher: this.dispatcher, method: 'GET', headersTimeout: 15_000, bodyTimeout: 15_000 });
        await r.body.dump();
        this.base = `${s}://${this.ref.host}`;
        return;
      } catch (e) { last = e; }
    }
    const why = (last as { code?: string; message?: string }).code ?? (last as Error).message;
    throw encImgError('ENCIMG_REGISTRY_UNREACHABLE', `Registry ${this.ref.host} is unreachable over ${schemes.join(' or ')} (${why})${this.opts.tlsVerify ? '; for a plain-HTTP or self-signed registry pass --dest-tls-verify=false or --dest-cert-dir' : ''}`, { cause: last });
  }

  private async send(method: Dispatcher.HttpMethod, url: string, headers: Record<string, string>, body?: Buffer | (() => Readable)): Promise<Res> {
    const go = async (): Promise<Res> => {
      try {
        const r = await request(url, { dispatcher: this.dispatcher, method, headers: { ...headers, ...(this.auth ? { authorization: this.auth } : {}) }, ...(body ? { body: typeof body === 'function' ? body() : body } : {}) });
        return { status: r.statusCode, headers: r.headers, body: Buffer.from(await r.body.arrayBuffer()) };
      } catch (cause) {
        throw encImgError('ENCIMG_REGISTRY_UNREACHABLE', `${method} ${new URL(url).pathname} failed (${(cause as { code?: string }).code ?? (cause as Error).message})`, { cause });
      }
    };
    let r = await go();
    if (r.status === 401 && (await this.authenticate(String(r.headers['www-authenticate'] ?? '')))) r = await go();
    if (r.status === 401 || r.status === 403) {
      throw encImgError('ENCIMG_REGISTRY_UNAUTHORIZED', `Registry ${this.ref.host} refused ${method} on ${this.ref.repo} (HTTP ${r.status})${this.opts.creds ? '; check --dest-creds' : '; pass --dest-creds user:password'}`);
    }
    return r;
  }

  /** Sets the Authorization header from a challenge; false when there is nothing new to try. */
  private async authenticate(www: string): Promise<boolean> {
    const basic = this.opts.creds ? `Basic ${Buffer.from(this.opts.creds).toString('base64')}` : undefined;
    if (/^basic/i.test(www)) {
      if (!basic || this.auth === basic) return false;
      this.auth = basic;
      return true;
    }
    if (!/^bearer/i.test(www) || this.auth?.startsWith('Bearer')) return false;
    const param = (k: string): string => new RegExp(`${k}="([^"]*)"`).exec(www)?.[1] ?? '';
    const url = new URL(param('realm'));
    if (param('service')) url.searchParams.set('service', param('service'));
    url.searchParams.set('scope', `repository:${this.ref.repo}:pull,push`);
    const t = await request(url, { dispatcher: this.dispatcher, headers: basic ? { authorization: basic } : {} }).catch((cause: unknown) => {
      throw encImgError('ENCIMG_REGISTRY_UNREACHABLE', `Token server ${url.host} is unreachable`, { cause });
    });
    const body = (await t.body.json().catch(() => ({}))) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (t.statusCode !== 200 || !token) {
      throw encImgError('ENCIMG_REGISTRY_UNAUTHORIZED', `Token server ${url.host} refused a push token for ${this.ref.repo} (HTTP ${t.statusCode})`);
    }
    this.auth = `Bearer ${token}`;
    return true;
  }

  /** Streams the blob file (a retry after a 401 reopens it). */
  async pushBlob(digest: string, blob: BlobFile): Promise<void> {
    const repoUrl = `${this.base}/v2/${this.ref.repo}`;
    if ((await this.send('HEAD', `${repoUrl}/blobs/${digest}`, {})).status === 200) return;
    const start = await this.send('POST', `${repoUrl}/blobs/uploads/`, {});
    const loc = start.headers['location'];
    if (start.status !== 202 || typeof loc !== 'string') throw this.failed(`blob upload start for ${digest}`, start);
    const put = new URL(loc, this.base);
    put.searchParams.set('digest', digest);
    const r = await this.send('PUT', put.toString(), { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) }, () => createReadStream(blob.path));
    if (r.status !== 201) throw this.failed(`blob upload of ${digest}`, r);
  }

  async pushManifest(manifest: Buffer, mediaType: string): Promise<void> {
    const r = await this.send('PUT', `${this.base}/v2/${this.ref.repo}/manifests/${this.ref.tag}`, { 'content-type': mediaType }, manifest);
    if (r.status !== 201) throw this.failed('manifest upload', r);
  }

  private failed(what: string, r: Res): Error {
    let detail = '';
    try {
      const e = (JSON.parse(r.body.toString('utf8')) as { errors?: { code?: string; message?: string }[] }).errors?.[0];
      if (e) detail = `: ${e.code ?? ''} ${e.message ?? ''}`.slice(0, 300);
    } catch { /* not JSON */ }
    return encImgError('ENCIMG_PUSH_FAILED', `Registry ${this.ref.host} rejected the ${what} (HTTP ${r.status}${detail})`);
  }
}
