import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import grpc from '@grpc/grpc-js';
import loader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { requireTool } from './paths.js';

/**
 * A private containerd 1.6 (the logic of ../shared/peers/containerd.sh): own root, state, gRPC and
 * ttRPC sockets and runc root in a temp dir, CRI enabled with runtime handler `kata-cc` ->
 * io.containerd.kata-cc.v2 (pod annotations io.katacontainers.* passed through), `shimDir`
 * first on containerd's PATH so it finds containerd-shim-kata-cc-v2 there.
 * Shim sockets (/run/containerd/s) and ctr FIFOs (/run/containerd/fifo) stay where 1.6 hard-codes them.
 */
export interface TestContainerd {
  readonly dir: string;
  readonly socket: string;
  readonly ttrpcSocket: string;
  readonly namespace: string;
  readonly process: ChildProcess;
  /** ctr against this instance (namespace `namespace`). */
  ctr(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<{ stdout: string; stderr: string; code: number }>;
  /** containerd's own log so far. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

export interface ContainerdOptions {
  shimDir: string;
  /** Runtime configuration passed as CRI `options.ConfigPath` of handler kata-cc. */
  kataConfigPath: string;
  sandboxImage: string;
  /** host:port of a plain-HTTP registry CRI may pull from. */
  registry?: string;
  /** Registry name -> plain-HTTP host:port that serves it (CRI mirrors). */
  mirrors?: Record<string, string>;
  namespace?: string;
  /** More CRI runtime handlers of type io.containerd.kata-cc.v2: handler name -> ConfigPath. */
  extraHandlers?: Record<string, string>;
  /**
   * A proxy snapshotter (e.g. kata-cc-snapshotter for guest pull) registered as
   * `proxy_plugins.<name>` and made CRI's snapshotter, with snapshot annotations passed through.
   */
  proxySnapshotter?: { name: string; address: string };
  /** Registry name -> HTTPS endpoint (host:port) with its CA file and optional basic auth (CRI mirrors + configs). */
  tlsRegistries?: Record<string, { endpoint: string; caFile: string; user?: string; password?: string }>;
  /** CRI's default runtime handler (default `runc`). */
  defaultRuntime?: 'runc' | 'kata-cc';
}

function tlsRegistryConfig(regs: NonNullable<ContainerdOptions['tlsRegistries']>): string {
  const r = '[plugins."io.containerd.grpc.v1.cri".registry';
  return Object.entries(regs).map(([name, c]) => `  ${r}.mirrors."${name}"]
    endpoint = ["https://${c.endpoint}"]
  ${r}.configs."${c.endpoint}".tls]
    ca_file = "${c.caFile}"
${c.user === undefined ? '' : `  ${r}.configs."${c.endpoint}".auth]
    username = "${c.user}"
    password = "${c.password ?? ''}"
`}`).join('');
}

export async function startContainerd(o: ContainerdOptions): Promise<TestContainerd> {
  const containerd = requireTool('containerd');
  const ctrBin = requireTool('ctr');
  const dir = await mkdtemp(path.join(tmpdir(), 'kcc-ctd-'));
  const socket = path.join(dir, 'containerd.sock');
  await mkdir(path.join(dir, 'cni-conf'), { recursive: true });
  const mirrorMap: Record<string, string> = { ...(o.registry ? { [o.registry]: o.registry } : {}), ...(o.mirrors ?? {}) };
  const mirror = Object.entries(mirrorMap)
    .map(([name, endpoint]) => `  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."${name}"]\n    endpoint = ["http://${endpoint}"]\n`)
    .join('');
  const config = `version = 2
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
${o.proxySnapshotter ? `[proxy_plugins.${o.proxySnapshotter.name}]
  type = "snapshot"
  address = "${o.proxySnapshotter.address}"
` : ''}[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${o.sandboxImage}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${dir}/cni-conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "${o.proxySnapshotter?.name ?? 'overlayfs'}"
    disable_snapshot_annotations = ${o.proxySnapshotter ? 'false' : 'true'}
    default_runtime_name = "${o.defaultRuntime ?? 'runc'}"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "${dir}/runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata-cc]
      runtime_type = "io.containerd.kata-cc.v2"
      pod_annotations = ["io.katacontainers.*"]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata-cc.options]
        ConfigPath = "${o.kataConfigPath}"
${Object.entries(o.extraHandlers ?? {}).map(([name, cfg]) => `    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.${name}]
      runtime_type = "io.containerd.kata-cc.v2"
      pod_annotations = ["io.katacontainers.*"]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.${name}.options]
        ConfigPath = "${cfg}"
`).join('')}  [plugins."io.containerd.grpc.v1.cri".registry]
${mirror}${tlsRegistryConfig(o.tlsRegistries ?? {})}`;
  await writeFile(path.join(dir, 'config.toml'), config);
  const logFile = path.join(dir, 'containerd.log');
  const { openSync, closeSync } = await import('node:fs');
  const fd = openSync(logFile, 'a');
  const child = spawn(containerd, ['--config', path.join(dir, 'config.toml')], {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, PATH: `${o.shimDir}:${process.env['PATH'] ?? '/usr/bin:/bin'}` },
  });
  closeSync(fd);
  const namespace = o.namespace ?? 'kcc-test';
  const run = promisify(execFile);
  const ctr: TestContainerd['ctr'] = async (args, opts = {}) => {
    if (opts.input !== undefined) {
      // execFile has no stdin input: spawn, write, end
      return new Promise((resolve) => {
        const c = spawn(ctrBin, ['--address', socket, '--namespace', namespace, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
        c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
        const t = setTimeout(() => c.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
        c.on('exit', (code) => { clearTimeout(t); resolve({ stdout, stderr, code: code ?? 1 }); });
        c.stdin.end(opts.input);
      });
    }
    try {
      const r = await run(ctrBin, ['--address', socket, '--namespace', namespace, ...args], { timeout: opts.timeoutMs ?? 120_000, encoding: 'utf8' });
      return { stdout: r.stdout, stderr: r.stderr, code: 0 };
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; code?: number };
      return { stdout: err.stdout ?? '', stderr: err.stderr ?? '', code: typeof err.code === 'number' ? err.code : 1 };
    }
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => { const t = setTimeout(() => { child.kill('SIGKILL'); r(undefined); }, 5000); child.once('exit', () => { clearTimeout(t); r(undefined); }); });
    }
    // overlay snapshots and shm mounts of the instance must go before the directory
    await run('sh', ['-c', `grep -o " ${dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  let up = false;
  for (let i = 0; i < 200 && !up; i++) {
    up = existsSync(socket) && (await ctr(['version'])).code === 0;
    if (up) break;
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!up) {
    const log = await readFile(logFile, 'utf8').catch(() => '');
    await stop();
    throw new Error(`containerd did not start:\n${log.slice(-2000)}`);
  }
  return { dir, socket, ttrpcSocket: `${socket}.ttrpc`, namespace, process: child, ctr, log: () => readFile(logFile, 'utf8'), stop };
}

/** The subset of the CRI (k8s.io/cri-api runtime.v1, real field numbers) a kubelet-like test calls. */
const CRI_PROTO = `syntax = "proto3";
package runtime.v1;
service RuntimeService {
  rpc Version(VersionRequest) returns (VersionResponse) {}
  rpc RunPodSandbox(RunPodSandboxRequest) returns (RunPodSandboxResponse) {}
  rpc StopPodSandbox(PodSandboxIdRequest) returns (Empty) {}
  rpc RemovePodSandbox(PodSandboxIdRequest) returns (Empty) {}
  rpc ListPodSandbox(ListPodSandboxRequest) returns (ListPodSandboxResponse) {}
  rpc PodSandboxStatus(PodSandboxIdRequest) returns (PodSandboxStatusResponse) {}
  rpc CreateContainer(CreateContainerRequest) returns (CreateContainerResponse) {}
  rpc StartContainer(ContainerIdRequest) returns (Empty) {}
  rpc StopContainer(StopContainerRequest) returns (Empty) {}
  rpc RemoveContainer(ContainerIdRequest) returns (Empty) {}
  rpc ContainerStatus(ContainerIdRequest) returns (ContainerStatusResponse) {}
  rpc ExecSync(ExecSyncRequest) returns (ExecSyncResponse) {}
}
service ImageService {
  rpc PullImage(PullImageRequest) returns (PullImageResponse) {}
}
message Empty {}
message VersionRequest { string version = 1; }
message VersionResponse { string version = 1; string runtime_name = 2; string runtime_version = 3; string runtime_api_version = 4; }
message KeyValue { string key = 1; string value = 2; }
message NamespaceOption { int32 network = 1; int32 pid = 2; int32 ipc = 3; }
message LinuxSandboxSecurityContext { NamespaceOption namespace_options = 1; }
message LinuxPodSandboxConfig { string cgroup_parent = 1; LinuxSandboxSecurityContext security_context = 2; }
message PodSandboxMetadata { string name = 1; string uid = 2; string namespace = 3; uint32 attempt = 4; }
message PodSandboxConfig { PodSandboxMetadata metadata = 1; string hostname = 2; string log_directory = 3; map<string, string> labels = 6; map<string, string> annotations = 7; LinuxPodSandboxConfig linux = 8; }
message RunPodSandboxRequest { PodSandboxConfig config = 1; string runtime_handler = 2; }
message RunPodSandboxResponse { string pod_sandbox_id = 1; }
message PodSandboxIdRequest { string pod_sandbox_id = 1; bool verbose = 2; }
message PodSandboxStatus { string id = 1; int32 state = 3; }
message ListPodSandboxRequest {}
message PodSandbox { string id = 1; PodSandboxMetadata metadata = 2; int32 state = 3; int64 created_at = 4; map<string, string> labels = 5; map<string, string> annotations = 6; string runtime_handler = 7; }
message ListPodSandboxResponse { repeated PodSandbox items = 1; }
message PodSandboxStatusResponse { PodSandboxStatus status = 1; map<string, string> info = 2; }
message ImageSpec { string image = 1; map<string, string> annotations = 2; }
message ContainerMetadata { string name = 1; uint32 attempt = 2; }
message ContainerConfig { ContainerMetadata metadata = 1; ImageSpec image = 2; repeated string command = 3; repeated string args = 4; string working_dir = 5; repeated KeyValue envs = 6; map<string, string> labels = 9; map<string, string> annotations = 10; string log_path = 11; bool stdin = 12; bool stdin_once = 13; bool tty = 14; }
message CreateContainerRequest { string pod_sandbox_id = 1; ContainerConfig config = 2; PodSandboxConfig sandbox_config = 3; }
message CreateContainerResponse { string container_id = 1; }
message ContainerIdRequest { string container_id = 1; bool verbose = 2; }
message StopContainerRequest { string container_id = 1; int64 timeout = 2; }
message ContainerStatus { string id = 1; ContainerMetadata metadata = 2; int32 state = 3; int64 created_at = 4; int64 started_at = 5; int64 finished_at = 6; int32 exit_code = 7; ImageSpec image = 8; string image_ref = 9; string reason = 10; string message = 11; string log_path = 15; }
message ContainerStatusResponse { ContainerStatus status = 1; map<string, string> info = 2; }
message ExecSyncRequest { string container_id = 1; repeated string cmd = 2; int64 timeout = 3; }
message ExecSyncResponse { bytes stdout = 1; bytes stderr = 2; int32 exit_code = 3; }
message AuthConfig { string username = 1; string password = 2; }
message PullImageRequest { ImageSpec image = 1; AuthConfig auth = 2; PodSandboxConfig sandbox_config = 3; }
message PullImageResponse { string image_ref = 1; }
`;

/** CRI container states (runtime.v1.ContainerState). */
export const CRI_CONTAINER_STATE = { CREATED: 0, RUNNING: 1, EXITED: 2, UNKNOWN: 3 } as const;

type Json = Record<string, unknown>;

/** A kubelet-like CRI client over containerd's gRPC socket. */
export interface CriClient {
  call(method: string, request: Json, timeoutMs?: number): Promise<Json>;
  close(): void;
}

export function criClient(socket: string): CriClient {
  const parsed = protobuf.parse(CRI_PROTO, { keepCase: true });
  const def = loader.fromJSON(parsed.root.toJSON(), { keepCase: true, longs: Number, enums: Number, defaults: true });
  const pkg = (grpc.loadPackageDefinition(def) as unknown as { runtime: { v1: Record<string, grpc.ServiceClientConstructor> } }).runtime.v1;
  const addr = `unix://${socket}`;
  const runtime = new (pkg['RuntimeService'] as grpc.ServiceClientConstructor)(addr, grpc.credentials.createInsecure());
  const images = new (pkg['ImageService'] as grpc.ServiceClientConstructor)(addr, grpc.credentials.createInsecure());
  return {
    call: (method, request, timeoutMs = 120_000) => new Promise((resolve, reject) => {
      const client = method === 'PullImage' ? images : runtime;
      const fn = (client as unknown as Record<string, (r: Json, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Json) => void) => void>)[method];
      if (!fn) { reject(new Error(`No CRI method ${method}`)); return; }
      fn.call(client, request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res)));
    }),
    close: () => { runtime.close(); images.close(); },
  };
}

/** A busybox-static image (`/bin/busybox` + applet links + /hello.txt) for guest and CRI tests. */
export async function busyboxImage(cmd: string[] = ['cat', '/hello.txt']): Promise<import('./registry.js').TestImage> {
  const { buildTar } = await import('./registry.js');
  const busybox = await readFile(requireTool('busybox'));
  const applets = ['sh', 'cat', 'echo', 'sleep', 'ls', 'true', 'false', 'id', 'env', 'wc', 'head', 'sha256sum', 'uname'];
  const tar = buildTar([
    { path: 'bin/', type: 'dir' },
    { path: 'bin/busybox', data: busybox, mode: 0o755 },
    ...applets.map((a) => ({ path: `bin/${a}`, type: 'symlink' as const, linkpath: 'busybox' })),
    { path: 'tmp/', type: 'dir', mode: 0o1777 },
    { path: 'hello.txt', data: 'hello from kata-cc test image\n' },
  ]);
  return { layers: [{ tar, compression: 'gzip' }], config: { Cmd: cmd, Env: ['PATH=/bin'], WorkingDir: '/' } };
}

/** A directory holding `containerd-shim-kata-cc-v2` (a link to the repository's launcher) for containerd's PATH. */
export async function shimDirFor(repo: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const { symlink } = await import('node:fs/promises');
  const dir = await mkdtemp(path.join(tmpdir(), 'kcc-shimdir-'));
  await symlink(path.join(repo, 'runtime/shim/bin/containerd-shim-kata-cc-v2.js'), path.join(dir, 'containerd-shim-kata-cc-v2'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
