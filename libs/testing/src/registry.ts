import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, sign, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { requireTool } from './paths.js';

/**
 * Test helpers for image tests: Debian's docker-registry (distribution 2.8) on a free loopback
 * port (plain, TLS + bcrypt htpasswd, or bearer tokens from an in-process token server), a
 * small tar writer (also for hostile archives) and an image pusher. Node built-ins only.
 */
export interface TestRegistry {
  host: string;
  url: string;
  mode: 'plain' | 'tls' | 'token';
  dir: string;
  /** PEM of the CA that signed the TLS cert (tls mode). */
  caPem?: string;
  caFile?: string;
  user?: string;
  password?: string;
  /** Token requests seen (token mode): method and whether credentials came with it. */
  tokenRequests: { method: string; user: string }[];
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' });
}

function makeCa(dir: string): void {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=kata-cc-test-ca', '-keyout', 'ca.key', '-out', 'ca.crt'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr'], dir);
  writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.crt'], dir);
}

/** Starts a registry; `stop()` kills it and removes its storage. */
export async function startRegistry(opts: { mode?: 'plain' | 'tls' | 'token'; user?: string; password?: string } = {}): Promise<TestRegistry> {
  const mode = opts.mode ?? 'plain';
  const user = opts.user ?? 'tester';
  const password = opts.password ?? 'testpass';
  const bin = requireTool('docker-registry');
  const dir = mkdtempSync(path.join(tmpdir(), 'kcc-registry-'));
  mkdirSync(path.join(dir, 'storage'));
  const port = await freePort();
  const tokenRequests: TestRegistry['tokenRequests'] = [];
  let extra = '';
  let tokenServer: http.Server | undefined;
  if (mode === 'tls') {
    makeCa(dir);
    const hash = execFileSync(requireTool('htpasswd'), ['-Bbn', user, password], { encoding: 'utf8' });
    writeFileSync(path.join(dir, 'htpasswd'), hash);
    extra = `  tls: {certificate: ${dir}/server.crt, key: ${dir}/server.key}\nauth:\n  htpasswd: {realm: test-realm, path: ${dir}/htpasswd}\n`;
  } else if (mode === 'token') {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=token-signer', '-keyout', 'signer.key', '-out', 'signer.crt'], dir);
    const tport = await freePort();
    tokenServer = tokenService(dir, user, password, tokenRequests);
    await new Promise<void>((r) => tokenServer?.listen(tport, '127.0.0.1', r));
    extra = `auth:\n  token: {realm: "http://127.0.0.1:${tport}/token", service: test-registry, issuer: test-issuer, rootcertbundle: ${dir}/signer.crt}\n`;
  }
  writeFileSync(
    path.join(dir, 'config.yml'),
    `version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: ${dir}/storage}\n  delete: {enabled: true}\nhttp:\n  addr: 127.0.0.1:${port}\n${extra}`,
  );
  const child: ChildProcess = spawn(bin, ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 4000) stderr += d.toString();
  });
  const host = `127.0.0.1:${port}`;
  const url = `${mode === 'tls' ? 'https' : 'http'}://${host}`;
  const caPem = mode === 'tls' ? readFileSync(path.join(dir, 'ca.crt'), 'utf8') : undefined;
  const reg: TestRegistry = {
    host, url, mode, dir, tokenRequests,
    ...(caPem === undefined ? {} : { caPem, caFile: path.join(dir, 'ca.crt') }),
    ...(mode === 'plain' ? {} : { user, password }),
    stop: async () => {
      // A child killed by a signal has a signalCode and no exitCode: waiting for its exit would hang.
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      await new Promise<void>((r) => (tokenServer ? tokenServer.close(() => r()) : r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  for (let i = 0; i < 100; i++) {
    const status = await httpRaw('GET', `${url}/v2/`, {}, undefined, caPem).then((r) => r.status, () => 0);
    if (status === 200 || status === 401) return reg;
    if (child.exitCode !== null || child.signalCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await reg.stop();
  throw new Error(`docker-registry did not start: ${stderr}`);
}

function tokenService(dir: string, user: string, password: string, seen: TestRegistry['tokenRequests']): http.Server {
  const key = createPrivateKey(readFileSync(path.join(dir, 'signer.key')));
  const der = new X509Certificate(readFileSync(path.join(dir, 'signer.crt'))).raw;
  const b64u = (x: string | Buffer): string => Buffer.from(x).toString('base64url');
  return http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const auth = req.headers.authorization ?? '';
      let who = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString() : '';
      if (req.method === 'POST') {
        const f = new URLSearchParams(body);
        for (const k of ['scope', 'service']) for (const v of f.getAll(k)) u.searchParams.append(k, v);
        if (f.get('username')) who = `${f.get('username') ?? ''}:${f.get('password') ?? ''}`;
      }
      seen.push({ method: req.method ?? '?', user: who.split(':')[0] ?? '' });
      if (who !== '' && who !== `${user}:${password}`) {
        res.writeHead(401).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return;
      }
      const access = u.searchParams.getAll('scope').flatMap((x) => x.split(' ')).filter(Boolean).map((s) => {
        const [type, ...rest] = s.split(':');
        const actions = (rest.pop() ?? '').split(',');
        return { type, name: rest.join(':'), actions: who ? actions : actions.filter((a) => a === 'pull') };
      });
      const now = Math.floor(Date.now() / 1000);
      const input = `${b64u(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [der.toString('base64')] }))}.${b64u(JSON.stringify({
        iss: 'test-issuer', sub: who.split(':')[0] || 'anonymous', aud: u.searchParams.get('service'), exp: now + 300, nbf: now - 10, iat: now, jti: String(Math.random()), access,
      }))}`;
      const token = `${input}.${b64u(sign('sha256', Buffer.from(input), key))}`;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
    });
  });
}

interface RawResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export function httpRaw(method: string, url: string, headers: Record<string, string>, body?: Buffer, ca?: string): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, { method, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) }, ...(ca ? { ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

// ---- tar writer (ustar + pax), able to write hostile archives on purpose ----

export interface TarSpec {
  path: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'chardev' | 'blockdev' | 'fifo';
  data?: Buffer | string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkpath?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, string>;
  /** Extra pax records (e.g. an oversized one). */
  pax?: Record<string, string>;
  /** Raw typeflag override (e.g. 'L' for a GNU long name record). */
  typeflag?: string;
}

const TYPEFLAG = { file: '0', hardlink: '1', symlink: '2', chardev: '3', blockdev: '4', dir: '5', fifo: '6' } as const;

function header(name: string, size: number, typeflag: string, e: TarSpec): Buffer {
  const b = Buffer.alloc(512);
  const oct = (v: number, off: number, len: number): void => {
    b.write(`${v.toString(8).padStart(len - 1, '0')}\0`, off, len, 'latin1');
  };
  b.write(name.slice(0, 100), 0, 100, 'utf8');
  oct(e.mode ?? (e.type === 'dir' ? 0o755 : 0o644), 100, 8);
  oct(e.uid ?? 0, 108, 8);
  oct(e.gid ?? 0, 116, 8);
  oct(size, 124, 12);
  oct(e.mtime ?? 1_700_000_000, 136, 12);
  b.write(typeflag, 156, 1, 'latin1');
  b.write((e.linkpath ?? '').slice(0, 100), 157, 100, 'utf8');
  b.write('ustar\0', 257, 6, 'latin1');
  b.write('00', 263, 2, 'latin1');
  oct(e.devmajor ?? 0, 329, 8);
  oct(e.devminor ?? 0, 337, 8);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return b;
}

function pad(n: number): Buffer {
  return Buffer.alloc((512 - (n % 512)) % 512);
}

function paxRecords(recs: Record<string, string>): Buffer {
  return Buffer.concat(Object.entries(recs).map(([k, v]) => {
    const body = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(body) + 1;
    while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
    return Buffer.from(`${len}${body}`);
  }));
}

/** Builds a tar archive from specs (pax records for long names, xattrs and extras). */
export function buildTar(entries: TarSpec[], opts: { noEnd?: boolean } = {}): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    const pax: Record<string, string> = { ...(e.pax ?? {}) };
    if (Buffer.byteLength(e.path) > 100) pax['path'] = e.path;
    if (e.linkpath !== undefined && Buffer.byteLength(e.linkpath) > 100) pax['linkpath'] = e.linkpath;
    for (const [k, v] of Object.entries(e.xattrs ?? {})) pax[`SCHILY.xattr.${k}`] = v;
    if (Object.keys(pax).length > 0) {
      const body = paxRecords(pax);
      out.push(header('PaxHeader', body.length, 'x', {} as TarSpec), body, pad(body.length));
    }
    const typeflag = e.typeflag ?? TYPEFLAG[e.type ?? 'file'];
    out.push(header(e.path, data.length, typeflag, e), data, pad(data.length));
  }
  if (opts.noEnd !== true) out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

// ---- images: push through the distribution API, or write an OCI layout for skopeo ----

export interface TestLayer {
  tar: Buffer;
  compression?: 'gzip' | 'zstd' | 'none';
}

export interface TestImage {
  layers: TestLayer[];
  config?: Record<string, unknown>;
  architecture?: string;
  os?: string;
  format?: 'oci' | 'docker';
}

export interface PushedImage {
  manifestDigest: string;
  configDigest: string;
  manifest: Buffer;
  layers: { digest: string; diffId: string; size: number; mediaType: string }[];
}

function compress(l: TestLayer): { blob: Buffer; suffix: string } {
  const c = l.compression ?? 'gzip';
  if (c === 'none') return { blob: l.tar, suffix: '' };
  if (c === 'gzip') return { blob: gzipSync(l.tar, { level: 1 }), suffix: 'gzip' };
  return { blob: execFileSync(requireTool('zstd'), ['-q', '-c', '-3'], { input: l.tar, maxBuffer: 1 << 30 }), suffix: 'zstd' };
}

/** Manifest, config and blobs of a test image (deterministic). */
export function imageBlobs(img: TestImage): { manifest: Buffer; mediaType: string; blobs: Map<string, Buffer>; pushed: PushedImage } {
  const docker = img.format === 'docker';
  const blobs = new Map<string, Buffer>();
  const layers = img.layers.map((l) => {
    const { blob, suffix } = compress(l);
    const digest = sha256(blob);
    blobs.set(digest, blob);
    const mediaType = docker
      ? `application/vnd.docker.image.rootfs.diff.tar${suffix ? `.${suffix}` : ''}`
      : `application/vnd.oci.image.layer.v1.tar${suffix ? `+${suffix}` : ''}`;
    return { digest, diffId: sha256(l.tar), size: blob.length, mediaType };
  });
  const config = Buffer.from(JSON.stringify({
    architecture: img.architecture ?? 'amd64', os: img.os ?? 'linux', config: img.config ?? {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  }));
  const configDigest = sha256(config);
  blobs.set(configDigest, config);
  const mediaType = docker ? 'application/vnd.docker.distribution.manifest.v2+json' : 'application/vnd.oci.image.manifest.v1+json';
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType,
    config: { mediaType: docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  }));
  return { manifest, mediaType, blobs, pushed: { manifestDigest: sha256(manifest), configDigest, manifest, layers } };
}

async function authed(reg: TestRegistry, method: string, url: string, headers: Record<string, string>, body: Buffer | undefined, repo: string, state: { auth?: string }): Promise<RawResult> {
  const send = (): Promise<RawResult> => httpRaw(method, url, { ...headers, ...(state.auth ? { authorization: state.auth } : {}) }, body, reg.caPem);
  let r = await send();
  if (r.status !== 401) return r;
  const www = String(r.headers['www-authenticate'] ?? '');
  const basic = `Basic ${Buffer.from(`${reg.user ?? ''}:${reg.password ?? ''}`).toString('base64')}`;
  if (www.startsWith('Basic')) state.auth = basic;
  else {
    const realm = /realm="([^"]+)"/.exec(www)?.[1] ?? '';
    const service = /service="([^"]+)"/.exec(www)?.[1] ?? '';
    const t = await httpRaw('GET', `${realm}?service=${encodeURIComponent(service)}&scope=${encodeURIComponent(`repository:${repo}:pull,push`)}`, { authorization: basic });
    state.auth = `Bearer ${(JSON.parse(t.body.toString()) as { token: string }).token}`;
  }
  r = await send();
  return r;
}

async function pushBlob(reg: TestRegistry, repo: string, digest: string, blob: Buffer, state: { auth?: string }): Promise<void> {
  const head = await authed(reg, 'HEAD', `${reg.url}/v2/${repo}/blobs/${digest}`, {}, undefined, repo, state);
  if (head.status === 200) return;
  const start = await authed(reg, 'POST', `${reg.url}/v2/${repo}/blobs/uploads/`, {}, undefined, repo, state);
  if (start.status !== 202) throw new Error(`blob upload start: HTTP ${start.status}`);
  const loc = new URL(String(start.headers.location), reg.url);
  loc.searchParams.set('digest', digest);
  const put = await authed(reg, 'PUT', loc.toString(), { 'content-type': 'application/octet-stream' }, blob, repo, state);
  if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status} ${put.body.toString()}`);
}

/** Pushes raw manifest bytes under a tag (or digest). */
export async function pushManifest(reg: TestRegistry, repo: string, ref: string, manifest: Buffer, mediaType: string, state: { auth?: string } = {}): Promise<void> {
  const r = await authed(reg, 'PUT', `${reg.url}/v2/${repo}/manifests/${ref}`, { 'content-type': mediaType }, manifest, repo, state);
  if (r.status !== 201) throw new Error(`manifest put: HTTP ${r.status} ${r.body.toString()}`);
}

/** Pushes a test image (blobs, config, manifest) through the registry API. */
export async function pushImage(reg: TestRegistry, repo: string, tag: string, img: TestImage): Promise<PushedImage> {
  const { manifest, mediaType, blobs, pushed } = imageBlobs(img);
  const state: { auth?: string } = {};
  for (const [d, b] of blobs) await pushBlob(reg, repo, d, b, state);
  await pushManifest(reg, repo, tag, manifest, mediaType, state);
  return pushed;
}

/** Pushes several platform images and an OCI index over them under `tag`. */
export async function pushIndex(reg: TestRegistry, repo: string, tag: string, imgs: TestImage[]): Promise<{ indexDigest: string; images: PushedImage[] }> {
  const images: PushedImage[] = [];
  const manifests = [];
  for (const img of imgs) {
    const { manifest, mediaType, blobs, pushed } = imageBlobs(img);
    const state: { auth?: string } = {};
    for (const [d, b] of blobs) await pushBlob(reg, repo, d, b, state);
    await pushManifest(reg, repo, pushed.manifestDigest, manifest, mediaType, state);
    images.push(pushed);
    manifests.push({ mediaType, digest: pushed.manifestDigest, size: manifest.length, platform: { os: img.os ?? 'linux', architecture: img.architecture ?? 'amd64' } });
  }
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
  await pushManifest(reg, repo, tag, index, 'application/vnd.oci.image.index.v1+json');
  return { indexDigest: sha256(index), images };
}

/** Writes an OCI image layout (`oci:<dir>:<tag>` for skopeo/umoci). */
export function writeOciLayout(dir: string, tag: string, img: TestImage): PushedImage {
  const { manifest, mediaType, blobs, pushed } = imageBlobs(img);
  mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const [d, b] of [...blobs, [pushed.manifestDigest, manifest] as const]) writeFileSync(path.join(dir, 'blobs', 'sha256', d.slice(7)), b);
  writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType, digest: pushed.manifestDigest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
  return pushed;
}
