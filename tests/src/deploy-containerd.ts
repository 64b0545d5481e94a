import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import grpc from '@grpc/grpc-js';
import loader from '@grpc/proto-loader';
import { fixturePath, requireTool } from '@kata-cc/testing';

/**
 * A private containerd 1.6 for deploy tests (the logic of ../shared/peers/containerd.sh):
 * own root, state, sockets and runc root under `dir`; a control script `ctd.sh
 * start|stop|restart` that the installer's --restart-cmd can call, exactly as systemctl would.
 * `<dir>/usr/local/bin` is first on containerd's PATH, as /usr/local/bin is on a node.
 */
export interface PrivateContainerd {
  readonly dir: string;
  readonly config: string;
  readonly socket: string;
  readonly control: string;
  start(): void;
  stop(): void;
  ctr(...args: string[]): string;
}

export async function privateContainerd(dir: string, sandboxImage: string, registryHost?: string): Promise<PrivateContainerd> {
  const containerd = requireTool('containerd');
  const ctrBin = requireTool('ctr');
  const config = path.join(dir, 'etc/containerd/config.toml');
  const socket = path.join(dir, 'run/containerd.sock');
  await mkdir(path.dirname(config), { recursive: true });
  await mkdir(path.join(dir, 'run'), { recursive: true });
  await mkdir(path.join(dir, 'cni-conf'), { recursive: true });
  // The node's configuration as an operator would have it; the installer must give these bytes back.
  await writeFile(
    config,
    `# containerd configuration of a test node (schema 2, containerd 1.6)
version = 2
root = "${dir}/var/lib/containerd"
state = "${dir}/run/containerd"
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt/containerd"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${sandboxImage}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  restrict_oom_score_adj = true # runc may not lower oom_score_adj in this sandbox
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${dir}/cni-conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "${dir}/run/runc"
${registryHost === undefined ? '' : `  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."${registryHost}"]\n    endpoint = ["http://${registryHost}"]\n`}`,
  );
  const control = path.join(dir, 'ctd.sh');
  await writeFile(
    control,
    `#!/bin/sh
# start|stop|restart the test's containerd (what systemctl does on a node)
set -e
case "$1" in
start) PATH=${dir}/usr/local/bin:$PATH setsid ${containerd} --config ${config} >>${dir}/containerd.log 2>&1 </dev/null & echo $! > ${dir}/containerd.pid ;;
stop) if [ -f ${dir}/containerd.pid ]; then pid=$(cat ${dir}/containerd.pid); kill "$pid" 2>/dev/null || true
        i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; rm -f ${dir}/containerd.pid; fi ;;
restart) "$0" stop; "$0" start ;;
*) echo "usage: $0 start|stop|restart" >&2; exit 2 ;;
esac
`,
  );
  await chmod(control, 0o755);
  return {
    dir,
    config,
    socket,
    control,
    start: () => void execFileSync(control, ['start']),
    stop: () => void execFileSync(control, ['stop']),
    ctr: (...args: string[]) => execFileSync(ctrBin, ['--address', socket, '--namespace', 'k8s.io', ...args], { encoding: 'utf8' }),
  };
}

/** Waits until containerd answers on its socket. */
export async function waitReady(ctd: PrivateContainerd, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      ctd.ctr('version');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`containerd did not start: ${readFileSync(path.join(ctd.dir, 'containerd.log'), 'utf8').slice(-2000)}`, { cause: err });
      await sleep(100);
    }
  }
}

/**
 * A sandbox (pause) image built without Docker or a registry: busybox in an OCI layout made
 * with umoci, imported into containerd's k8s.io namespace where CRI finds it.
 */
export function importPauseImage(ctd: PrivateContainerd, name: string): void {
  const umoci = requireTool('umoci');
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (busybox === undefined) requireTool('busybox');
  const work = path.join(ctd.dir, 'pause-image');
  const run = (...args: string[]): void => void execFileSync(umoci, args, { cwd: work, stdio: 'pipe' });
  execFileSync('mkdir', ['-p', work]);
  run('init', '--layout', 'oci');
  run('new', '--image', 'oci:latest');
  run('unpack', '--rootless', '--image', 'oci:latest', 'bundle');
  execFileSync('mkdir', ['-p', path.join(work, 'bundle/rootfs/bin')]);
  execFileSync('cp', [busybox ?? 'busybox', path.join(work, 'bundle/rootfs/bin/busybox')]);
  run('repack', '--image', 'oci:latest', 'bundle');
  run('config', '--image', 'oci:latest', '--config.entrypoint', '/bin/busybox', '--config.cmd', 'sleep', '--config.cmd', 'infinity');
  execFileSync('tar', ['-C', path.join(work, 'oci'), '-cf', path.join(work, 'pause.tar'), '.']);
  ctd.ctr('images', 'import', '--base-name', name.replace(/:latest$/, ''), path.join(work, 'pause.tar'));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Client = any;
export interface CriClient {
  call<T = Record<string, unknown>>(method: string, req: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  close(): void;
}

/** CRI RuntimeService and ImageService over containerd's socket (the subset in testdata/cri-runtime-min.proto). */
export function criClient(socket: string): CriClient {
  const def = loader.loadSync(fixturePath(import.meta.url, 'testdata/cri-runtime-min.proto'), { keepCase: true, longs: String, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as Client;
  const runtime = new pkg.runtime.v1.RuntimeService(`unix://${socket}`, grpc.credentials.createInsecure());
  const images = new pkg.runtime.v1.ImageService(`unix://${socket}`, grpc.credentials.createInsecure());
  return {
    call: (method, req, timeoutMs = 30_000) => {
      const client = method === 'PullImage' ? images : runtime;
      return new Promise((resolve, reject) => client[method](req, { deadline: Date.now() + timeoutMs }, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res as never))));
    },
    close: () => {
      runtime.close();
      images.close();
    },
  };
}

/** The CRI runtime handlers containerd loaded (CRI Status, verbose: its effective config). */
export async function criRuntimes(cri: CriClient): Promise<Record<string, { runtimeType: string; runtimePath: string; PodAnnotations: string[] | null; options: Record<string, unknown> | null; privileged_without_host_devices: boolean }>> {
  const res = await cri.call<{ info: Record<string, string> }>('Status', { verbose: true });
  const config = JSON.parse(res.info['config'] ?? '{}') as { containerd?: { runtimes?: Record<string, never> } };
  return config.containerd?.runtimes ?? {};
}
