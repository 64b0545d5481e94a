/**
 * End-to-end harness (issue 9): everything a confidential pod meets on Kubernetes' path, real and
 * on loopback. A CA signs the registry's and the KBS's certificates for 127.0.0.1 (the host) and
 * 10.0.2.2 (the host as the guest sees it through QEMU user networking), so one image name works
 * on both sides. Pieces: docker-registry (TLS + htpasswd), a lookaside signature server,
 * PostgreSQL, the `kbs` (HTTPS, PostgreSQL storage), gpg keys, the guest-pull snapshotter, a
 * private containerd 1.6 whose CRI uses that snapshotter and the kata-cc handler.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { freePort, httpRaw, repoRoot, requireTool, type TestPostgres, type TestRegistry } from '@kata-cc/testing';
import { KBS_BIN, kbsCli, writeAdminKeys, type CliResult } from './kbs-harness.js';

const run = promisify(execFile);
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
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startE2eKbs(dir: string, ca: ReturnType<typeof makeCa>, pg: TestPostgres, db: string, options: { allowSample?: boolean; name?: string } = {}): Promise<E2eKbs> {
  const name = options.name ?? 'kbs';
  const tls = ca.issue(name);
  const admin = await writeAdminKeys(dir, `${name}-admin`);
  const storage = await pg.createDatabase(db).catch(() => `postgres://postgres@127.0.0.1:${pg.port}/${db}`);
  const port = await freePort();
  const args = ['--listen', `127.0.0.1:${port}`, '--tls-cert', tls.cert, '--tls-key', tls.key, '--storage', storage, '--admin-key', admin.pub, ...(options.allowSample === false ? [] : ['--allow-sample'])];
  const start = async (): Promise<Proc> => {
    const p = startProc(process.execPath, [KBS_BIN, ...args], { KATA_CC_LOG_LEVEL: 'info' });
    await waitFor(`${name} to listen`, () => /kbs listening on/.test(p.output()) || p.child.exitCode !== null, 30_000);
    if (p.child.exitCode !== null) throw new Error(`kbs exited: ${p.output()}`);
    return p;
  };
  const url = `https://127.0.0.1:${port}`;
  const kbs: E2eKbs = {
    url, port, adminKey: admin.key,
    proc: await start(),
    cli: (a) => kbsCli(['--url', url, '--cacert', ca.caFile, '--admin-key', admin.key, ...a]),
    restart: async () => {
      await kbs.proc.stop();
      kbs.proc = await start();
    },
    stop: () => kbs.proc.stop(),
  };
  return kbs;
}

/** A private containerd 1.6 whose CRI snapshotter is the kata-cc guest-pull proxy snapshotter. */
export interface E2eContainerd {
  dir: string;
  socket: string;
  proc: Proc;
  log(): Promise<string>;
  ctr(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export async function startE2eContainerd(o: { shimDir: string; kataConfigPath: string; sandboxImage: string; snapshotterSocket: string; registry: { name: string; endpoint: string; caFile: string; user: string; password: string } }): Promise<E2eContainerd> {
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(path.join(tmpdir(), 'kcc-e2e-ctd-'));
  const socket = path.join(dir, 'containerd.sock');
  mkdirSync(path.join(dir, 'cni-conf'), { recursive: true });
  const r = o.registry;
  writeFileSync(path.join(dir, 'config.toml'), `version = 2
root = "${dir}/root"
state = "${dir}/state"
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
[debug]
  level = "debug"
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"
[proxy_plugins.kata-cc]
  type = "snapshot"
  address = "${o.snapshotterSocket}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${o.sandboxImage}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${dir}/cni-conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "kata-cc"
    disable_snapshot_annotations = false
    default_runtime_name = "kata-cc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata-cc]
      runtime_type = "io.containerd.kata-cc.v2"
      pod_annotations = ["io.katacontainers.*"]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata-cc.options]
        ConfigPath = "${o.kataConfigPath}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    [plugins."io.containerd.grpc.v1.cri".registry.mirrors."${r.name}"]
      endpoint = ["https://${r.endpoint}"]
    [plugins."io.containerd.grpc.v1.cri".registry.configs."${r.endpoint}".tls]
      ca_file = "${r.caFile}"
    [plugins."io.containerd.grpc.v1.cri".registry.configs."${r.endpoint}".auth]
      username = "${r.user}"
      password = "${r.password}"
`);
  const logFile = path.join(dir, 'containerd.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(requireTool('containerd'), ['--config', path.join(dir, 'config.toml')], {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, PATH: `${o.shimDir}:${process.env['PATH'] ?? '/usr/bin:/bin'}` },
  });
  closeSync(fd);
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const ctrBin = requireTool('ctr');
  const ctr = async (args: string[]): Promise<string> => (await run(ctrBin, ['--address', socket, '--namespace', 'k8s.io', ...args], { encoding: 'utf8', timeout: 60_000 })).stdout;
  const proc: Proc = {
    child, output: () => '',
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
    },
  };
  const stop = async (): Promise<void> => {
    await proc.stop();
    await run('sh', ['-c', `grep -o " ${dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('containerd', async () => existsSync(socket) && (await ctr(['version']).then(() => true, () => false)), 20_000);
  } catch (e) {
    const log = await readFile(logFile, 'utf8').catch(() => '');
    await stop();
    throw new Error(`containerd did not start: ${(e as Error).message}\n${log.slice(-2000)}`);
  }
  return { dir, socket, proc, log: () => readFile(logFile, 'utf8'), ctr, stop };
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
