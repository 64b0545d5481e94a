/**
 * End-to-end harness (issue 9): everything a confidential pod meets on Kubernetes' path, real and
 * on loopback. A CA signs the registry's and the KBS's certificates for 127.0.0.1 (the host) and
 * 10.0.2.2 (the host as the guest sees it through QEMU user networking), so one image name works
 * on both sides. Pieces: docker-registry (TLS + htpasswd), a lookaside signature server,
 * PostgreSQL, the `kbs` (HTTPS, PostgreSQL storage), gpg keys, the guest-pull snapshotter, and
 * fronts for the KBS (a TCP failover proxy, a TLS-terminating gate). containerd itself is
 * `startContainerd` from @kata-cc/testing with its proxy-snapshotter and TLS-registry options.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { freePort, httpRaw, repoRoot, requireTool, type TestPostgres, type TestRegistry } from '@kata-cc/testing';
import { KBS_BIN, kbsCli, writeAdminKeys, type CliResult } from './kbs-harness.js';

export const GUEST_HOST = '10.0.2.2';
export const SNAPSHOTTER_BIN = path.join(repoRoot(), 'runtime', 'snapshotter', 'bin', 'kata-cc-snapshotter.js');

/** A CA in `dir` (ca.crt/ca.key) and leaf certificates for the host and the guest's view of it. */
export function makeCa(dir: string): { caFile: string; issue(name: string): { cert: string; key: string } } {
  const o = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=kata-cc-e2e-ca', '-keyout', 'ca.key', '-out', 'ca.crt']);
  return {
    caFile: path.join(dir, 'ca.crt'),
    issue: (name) => {
      o(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
      writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=IP:127.0.0.1,IP:${GUEST_HOST},DNS:localhost\n`);
      o(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
      return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
    },
  };
}

/** A process we started, with its output kept (bounded) for diagnostics. */
export interface Proc {
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function startProc(cmd: string, args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** docker-registry with TLS (our CA, SAN 127.0.0.1 and 10.0.2.2) and htpasswd basic auth. */
export async function startTlsRegistry(dir: string, ca: ReturnType<typeof makeCa>, user = 'e2e-user', password = 'e2e-pass-7f3a'): Promise<TestRegistry & { proc: Proc; port: number; restart(): Promise<void> }> {
  const { cert, key } = ca.issue('registry');
  mkdirSync(path.join(dir, 'storage'), { recursive: true });
  writeFileSync(path.join(dir, 'htpasswd'), execFileSync(requireTool('htpasswd'), ['-Bbn', user, password], { encoding: 'utf8' }));
  const port = await freePort();
  writeFileSync(path.join(dir, 'config.yml'), `version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: ${dir}/storage}\n  delete: {enabled: true}\nhttp:\n  addr: 127.0.0.1:${port}\n  tls: {certificate: ${cert}, key: ${key}}\nauth:\n  htpasswd: {realm: e2e, path: ${dir}/htpasswd}\n`);
  const caPem = readFileSync(ca.caFile, 'utf8');
  const url = `https://127.0.0.1:${port}`;
  const start = async (): Promise<Proc> => {
    const p = startProc(requireTool('docker-registry'), ['serve', path.join(dir, 'config.yml')]);
    await waitFor('registry', async () => (await httpRaw('GET', `${url}/v2/`, {}, undefined, caPem).then((r) => r.status, () => 0)) === 401, 20_000);
    return p;
  };
  const reg = {
    host: `127.0.0.1:${port}`, url, mode: 'tls' as const, dir, caPem, caFile: ca.caFile, user, password, tokenRequests: [], port,
    proc: await start(),
    stop: async () => { await reg.proc.stop(); },
    restart: async () => { reg.proc = await start(); },
  };
  return reg;
}

/** Serves a directory read-only over HTTP (the signature lookaside store, as a web server would). */
export async function serveDir(root: string): Promise<{ port: number; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(rel);
    const file = path.resolve(root, `.${rel}`);
    if (!file.startsWith(`${root}${path.sep}`) || !existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200).end(readFileSync(file));
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { port, requests, close: () => new Promise((r) => server.close(() => r())) };
}

/** The real `kbs` over HTTPS with PostgreSQL storage; restartable on the same port (state in PostgreSQL). */
export interface E2eKbs {
  url: string;
  port: number;
  adminKey: string;
  proc: Proc;
  cli(args: string[]): Promise<CliResult>;
  /** Stops (if running) and starts it again; `extraArgs` go to this start only (e.g. `--token-signer-key`). */
  restart(extraArgs?: string[]): Promise<void>;
  stop(): Promise<void>;
}

export async function startE2eKbs(dir: string, ca: ReturnType<typeof makeCa>, pg: TestPostgres, db: string, options: { allowSample?: boolean; name?: string } = {}): Promise<E2eKbs> {
  const name = options.name ?? 'kbs';
  const tls = ca.issue(name);
  const admin = await writeAdminKeys(dir, `${name}-admin`);
  const storage = await pg.createDatabase(db).catch(() => `postgres://postgres@127.0.0.1:${pg.port}/${db}`);
  const port = await freePort();
  const args = ['--listen', `127.0.0.1:${port}`, '--tls-cert', tls.cert, '--tls-key', tls.key, '--storage', storage, '--admin-key', admin.pub, ...(options.allowSample === false ? [] : ['--allow-sample'])];
  const start = async (extraArgs: string[] = []): Promise<Proc> => {
    const p = startProc(process.execPath, [KBS_BIN, ...args, ...extraArgs], { KATA_CC_LOG_LEVEL: 'info' });
    await waitFor(`${name} to listen`, () => /kbs listening on/.test(p.output()) || p.child.exitCode !== null, 30_000);
    if (p.child.exitCode !== null) throw new Error(`kbs exited: ${p.output()}`);
    return p;
  };
  const url = `https://127.0.0.1:${port}`;
  const kbs: E2eKbs = {
    url, port, adminKey: admin.key,
    proc: await start(),
    cli: (a) => kbsCli(['--url', url, '--cacert', ca.caFile, '--admin-key', admin.key, ...a]),
    restart: async (extraArgs = []) => {
      await kbs.proc.stop();
      kbs.proc = await start(extraArgs);
    },
    stop: () => kbs.proc.stop(),
  };
  return kbs;
}

/** gpg in its own home: a signing key (no passphrase) and its armored public key. */
export function gpgKey(home: string, uid: string): { fingerprint: string; publicKey: Buffer } {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const env = { ...process.env, GNUPGHOME: home };
  execFileSync('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', uid, 'ed25519', 'sign', '1d'], { env, stdio: 'ignore' });
  const list = execFileSync('gpg', ['--batch', '--with-colons', '--list-secret-keys', uid], { env, encoding: 'utf8' });
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(list)?.[1];
  if (fingerprint === undefined) throw new Error(`no gpg fingerprint in ${list}`);
  return { fingerprint, publicKey: execFileSync('gpg', ['--batch', '--armor', '--export', fingerprint], { env }) };
}

/** skopeo standalone-sign: a simple signing signature of `manifest` for `dockerRef`, into the lookaside layout. */
export function signInto(lookaside: string, gpgHome: string, fingerprint: string, manifest: Buffer, dockerRef: string, repoPath: string, digestHex: string): void {
  const dir = path.join(lookaside, `${repoPath}@sha256=${digestHex}`);
  mkdirSync(dir, { recursive: true });
  const mf = path.join(dir, 'manifest.json');
  writeFileSync(mf, manifest);
  execFileSync(requireTool('skopeo'), ['standalone-sign', mf, dockerRef, fingerprint, '--output', path.join(dir, 'signature-1')], { env: { ...process.env, GNUPGHOME: gpgHome }, stdio: ['ignore', 'ignore', 'pipe'] });
  execFileSync('rm', ['-f', mf]);
}

/** Every pid whose command line mentions one of `needles` (for cleanup and leak checks). */
export function pidsMatching(needles: string[]): number[] {
  const out: number[] = [];
  for (const p of existsSync('/proc') ? readFileDir('/proc') : []) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (needles.some((n) => n !== '' && cmd.includes(n))) out.push(Number(p));
    } catch { /* gone */ }
  }
  return out;
}

function readFileDir(d: string): string[] {
  return (execFileSync('ls', [d], { encoding: 'utf8' })).split('\n').filter(Boolean);
}

/** Byte-wise search for `needle` under each root (files only; symlinks not followed). Returns the hits. */
export function findBytes(roots: string[], needle: Buffer): string[] {
  const hits: string[] = [];
  for (const root of roots) {
    if (!existsSync(root)) continue;
    // grep -r does not follow symlinks; -a treats binary files as text; -l lists files; -F fixed string
    // -s: files that vanish while we search (other tests under /tmp) are not errors of ours.
    const r = spawnSync('grep', ['-rlaFs', '--', needle.toString('latin1'), root], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0 && r.status !== 1 && r.status !== 2) throw new Error(`grep failed on ${root}: ${String(r.status)} ${r.error?.message ?? ''}`);
    hits.push(...r.stdout.split('\n').filter(Boolean));
  }
  return hits;
}

/**
 * A TCP front for KBS replicas (what a Kubernetes Service with readiness does): each connection
 * goes to the first backend that accepts it, so a killed replica is skipped. `connections` counts
 * per backend port.
 */
export async function failoverProxy(backends: () => number[]): Promise<{ port: number; connections: Map<number, number>; close(): Promise<void> }> {
  const net = await import('node:net');
  const connections = new Map<number, number>();
  const open = new Set<import('node:net').Socket>();
  const server = net.createServer((client) => {
    open.add(client);
    client.once('close', () => open.delete(client));
    client.pause();
    const tryAt = (i: number): void => {
      const port = backends()[i];
      if (port === undefined) return void client.destroy();
      const up = net.connect(port, '127.0.0.1');
      up.once('error', () => { up.destroy(); tryAt(i + 1); });
      up.once('connect', () => {
        up.removeAllListeners('error');
        connections.set(port, (connections.get(port) ?? 0) + 1);
        up.on('error', () => client.destroy());
        client.on('error', () => up.destroy());
        client.once('close', () => up.destroy());
        up.once('close', () => client.destroy());
        client.pipe(up).pipe(client);
        client.resume();
      });
    };
    tryAt(0);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { port, connections, close: () => new Promise((r) => { for (const c of open) c.destroy(); server.close(() => r()); }) };
}

/** One request the gate forwarded: what, to which backend generation, with which answer. */
export interface GateEntry { method: string; path: string; status: number; backend: string }

/**
 * An HTTPS front that terminates TLS (a certificate from the test CA, so the guest trusts it) and
 * forwards each request to one backend, so a test can see the KBS protocol step by step and
 * place a fault exactly between two of them: `holdAfter(pred)` holds every later request (and
 * new connections' requests) as soon as a response matching `pred` is forwarded, before the
 * client has read it; `release()` lets them through, to whatever the backend is by then.
 * Each request gets its own upstream connection, so a backend restarted during a hold is
 * reached afresh. `backendLabel()` names the backend instance in the log.
 */
export async function httpsGate(o: { cert: string; key: string; caPem: string; backendPort: () => number; backendLabel: () => string }): Promise<{
  port: number; log: GateEntry[]; inflight(): number; holdAfter(pred: (e: GateEntry) => boolean): Promise<GateEntry>; release(): void; close(): Promise<void>;
}> {
  const https = await import('node:https');
  const log: GateEntry[] = [];
  let held: Promise<void> | undefined;
  let releaseHeld: (() => void) | undefined;
  let trigger: { pred: (e: GateEntry) => boolean; fire: (e: GateEntry) => void } | undefined;
  let inflight = 0;
  const server = https.createServer({ cert: readFileSync(o.cert), key: readFileSync(o.key) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => void (async () => {
      while (held) await held;
      inflight++;
      const backend = o.backendLabel();
      const headers = { ...req.headers };
      delete headers['connection'];
      const up = https.request({ host: '127.0.0.1', port: o.backendPort(), method: req.method, path: req.url, headers, ca: o.caPem, agent: false }, (ur) => {
        const body: Buffer[] = [];
        ur.on('data', (d: Buffer) => body.push(d));
        ur.on('end', () => {
          const e: GateEntry = { method: req.method ?? '', path: (req.url ?? '').split('?')[0] ?? '', status: ur.statusCode ?? 0, backend };
          log.push(e);
          // Hold before the client sees this answer: its next request cannot slip through.
          if (trigger?.pred(e)) {
            held = new Promise((r) => { releaseHeld = r; });
            const t = trigger;
            trigger = undefined;
            t.fire(e);
          }
          inflight--;
          res.writeHead(ur.statusCode ?? 502, ur.headers).end(Buffer.concat(body));
        });
      });
      up.on('error', (err) => {
        inflight--;
        log.push({ method: req.method ?? '', path: req.url ?? '', status: 502, backend });
        res.writeHead(502).end(String(err.message));
      });
      up.end(Buffer.concat(chunks));
    })());
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port, log,
    inflight: () => inflight,
    holdAfter: (pred) => new Promise((fire) => { trigger = { pred, fire }; }),
    release: () => { const r = releaseHeld; held = undefined; releaseHeld = undefined; r?.(); },
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
