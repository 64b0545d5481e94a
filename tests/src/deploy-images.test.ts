import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { repoRoot, requireTool, tempDir } from '@kata-cc/testing';
import { privateContainerd, waitReady, type PrivateContainerd } from './deploy-containerd.js';
import { kustomizeBuild } from './deploy-kustomize.js';

// The container images as deploy/ uses them, built without Docker (deploy/images/build-image.mjs,
// umoci) and run by a real containerd with runc: the KBS image serves /healthz and /metrics as
// uid 65532 with SQLite; the installer image installs into a bind-mounted host root and
// uninstalls back to the original bytes, as the DaemonSet does on a node.
const run = promisify(execFile);
let work: { dir: string; cleanup: () => Promise<void> };
let ctd: PrivateContainerd;

async function buildAndImport(image: 'kbs' | 'installer'): Promise<string> {
  const layout = path.join(work.dir, `oci-${image}`);
  await run(process.execPath, [path.join(repoRoot(), 'deploy/images/build-image.mjs'), '--image', image, '--out', layout, '--tag', 'test'], { maxBuffer: 1 << 24 });
  await run('tar', ['-C', layout, '-cf', `${layout}.tar`, '.']);
  ctd.ctr('images', 'import', '--base-name', `kata-cc/${image}`, `${layout}.tar`);
  return `kata-cc/${image}:test`;
}
const ctrRun = (...args: string[]): Promise<{ stdout: string }> =>
  run(requireTool('ctr'), ['--address', ctd.socket, '--namespace', 'k8s.io', 'run', '--runc-root', path.join(work.dir, 'run/runc'), ...args], { maxBuffer: 1 << 24 });

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

before(async () => {
  requireTool('umoci');
  work = await tempDir('kcc-deploy-images-');
  ctd = await privateContainerd(work.dir, 'registry.local/kata-cc/pause:latest');
  ctd.start();
  await waitReady(ctd);
});
after(async () => {
  for (const id of ['kbs-image-test', 'installer-daemonset']) {
    try {
      ctd.ctr('task', 'kill', '-s', 'KILL', id);
      await sleep(300);
      ctd.ctr('task', 'rm', '-f', id);
    } catch {
      // not running
    }
    try {
      ctd.ctr('containers', 'rm', id);
    } catch {
      // not created
    }
  }
  ctd?.stop();
  await work?.cleanup();
});

test('the KBS image runs as uid 65532 and serves /healthz and /metrics with SQLite storage', { timeout: 240_000 }, async () => {
  const image = await buildAndImport('kbs');
  const port = await freePort();
  await ctrRun('-d', '--net-host', image, 'kbs-image-test', '/usr/local/bin/node', '/app/kbs/server/bin/kbs.js', '--listen', `127.0.0.1:${port}`, '--insecure-http', '--storage', 'sqlite:/var/lib/kbs/kbs.db');
  let health = '';
  for (let i = 0; i < 100 && health !== 'ok'; i++) {
    health = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.text(), () => '');
    if (health !== 'ok') await sleep(200);
  }
  assert.equal(health, 'ok');
  assert.match(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), /kbs_http_requests_total/);
  const uid = ctd.ctr('task', 'exec', '--exec-id', 'uid', 'kbs-image-test', '/usr/local/bin/node', '-e', 'process.stdout.write(String(process.getuid()))');
  assert.equal(uid, '65532');
  // kbs-cli is on PATH in the image (admins may exec into the pod).
  assert.match(ctd.ctr('task', 'exec', '--exec-id', 'cli', 'kbs-image-test', 'kbs-cli', '--help'), /set-resource-policy/);
});

test('the installer image installs into a bind-mounted host root and uninstalls to the original bytes', { timeout: 240_000 }, async () => {
  const image = await buildAndImport('installer');
  const host = path.join(work.dir, 'host');
  await mkdir(path.join(host, 'etc/containerd'), { recursive: true });
  const original = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  default_runtime_name = "runc"\n';
  await writeFile(path.join(host, 'etc/containerd/config.toml'), original);
  const mount = ['--mount', `type=bind,src=${host},dst=/host,options=rbind:rw`];
  const installer = ['/usr/local/bin/node', '/app/runtime/installer/bin/kata-cc-installer.js'];
  const flags = ['--root=/host', '--no-restart', '--no-label'];
  // `kubectl exec ds/kata-cc-installer -- kata-cc-installer status` uses the command on PATH.
  assert.match((await ctrRun('--rm', image, 'installer-image-help', 'kata-cc-installer', 'status', '--root', '/')).stdout, /not installed/);
  const { stdout } = await ctrRun('--rm', ...mount, image, 'installer-image-install', ...installer, 'install', ...flags, '--tee=none');
  assert.equal(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}').mode, 'in-place');
  assert.ok(existsSync(path.join(host, 'opt/kata-cc/bin/containerd-shim-kata-cc-v2')));
  assert.ok(existsSync(path.join(host, 'opt/kata-cc/node/bin/node')));
  assert.ok(existsSync(path.join(host, 'opt/kata-cc/lib/kata-cc/runtime/shim/bin/containerd-shim-kata-cc-v2.js')));
  assert.equal(readlinkSync(path.join(host, 'usr/local/bin/containerd-shim-kata-cc-v2')), '/opt/kata-cc/bin/containerd-shim-kata-cc-v2');
  assert.match(await readFile(path.join(host, 'etc/containerd/config.toml'), 'utf8'), /runtimes\.kata-cc-dev\.options\]\n {4}ConfigPath = "\/opt\/kata-cc\/share\/defaults\/kata-cc\/configuration-dev\.toml"/);
  // The shim shipped in the payload runs on the payload's own Node.
  const version = await run(path.join(host, 'opt/kata-cc/bin/containerd-shim-kata-cc-v2'), ['-v']).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: `${e.stdout ?? ''}${e.stderr ?? ''}` }));
  assert.match(version.stdout, /containerd-shim-kata-cc-v2/);
  // Guest pull: the snapshotter's launcher and its closure are in the payload, its unit on the host.
  assert.ok(existsSync(path.join(host, 'opt/kata-cc/lib/kata-cc/runtime/snapshotter/bin/kata-cc-snapshotter.js')));
  assert.match(await readFile(path.join(host, 'etc/systemd/system/kata-cc-snapshotter.service'), 'utf8'), /^ExecStart=\/opt\/kata-cc\/bin\/kata-cc-snapshotter /m);
  const snapHelp = await run(path.join(host, 'opt/kata-cc/bin/kata-cc-snapshotter'), ['--help']);
  assert.match(snapHelp.stdout, /--address/);
  await ctrRun('--rm', ...mount, image, 'installer-image-uninstall', ...installer, 'uninstall', ...flags);
  assert.equal(await readFile(path.join(host, 'etc/containerd/config.toml'), 'utf8'), original);
  assert.equal(existsSync(path.join(host, 'etc/systemd/system/kata-cc-snapshotter.service')), false);
  assert.equal(existsSync(path.join(host, 'opt/kata-cc')), false);

  // The DaemonSet's own arguments (rendered from deploy/runtime/base) in the image: it
  // installs, turns Ready (the readiness probe's command), stays up, and exits 0 on SIGTERM.
  // Only --restart-cmd and --snapshotter-start-cmd are replaced: nsenter into PID 1 would restart
  // this machine's containerd; the snapshotter is started from the installed payload in the
  // container instead of by the host's systemd (same ExecStart, paths under /host).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const ds = kustomizeBuild(path.join(repoRoot(), 'deploy/runtime/base')).find((o) => o.kind === 'DaemonSet') as any;
  const container = ds.spec.template.spec.containers[0];
  const snapStart = '--snapshotter-start-cmd=/host/opt/kata-cc/bin/kata-cc-snapshotter --root /host/var/lib/kata-cc-snapshotter --address /host/run/kata-cc-snapshotter/snapshotter.sock >/tmp/snapshotter.log 2>&1 </dev/null &';
  const args = (container.args as string[])
    .filter((a) => !a.startsWith('--containerd-socket='))
    .map((a) => (a.startsWith('--restart-cmd=') ? '--restart-cmd=true' : a.startsWith('--snapshotter-start-cmd=') ? snapStart : a));
  assert.ok(args.includes(snapStart), 'the DaemonSet starts the snapshotter');
  await ctrRun('-d', ...mount, '--env', 'NODE_NAME=node-1', image, 'installer-daemonset', ...installer, ...args, '--tee=none');
  let ready = '';
  for (let i = 0; i < 150 && ready !== 'ok'; i++) {
    try {
      ready = ctd.ctr('task', 'exec', '--exec-id', `ready-${i}`, 'installer-daemonset', ...(container.readinessProbe.exec.command as string[])).trim();
    } catch {
      await sleep(200);
    }
  }
  assert.equal(ready, 'ok', 'the readiness probe passes once installed');
  assert.match(await readFile(path.join(host, 'etc/containerd/config.toml'), 'utf8'), /runtimes\.kata-cc\]/);
  assert.match(await readFile(path.join(host, 'etc/containerd/config.toml'), 'utf8'), /\[proxy_plugins\."kata-cc"\]/);
  ctd.ctr('task', 'kill', '-s', 'SIGTERM', 'installer-daemonset');
  let listing = '';
  for (let i = 0; i < 100 && !/installer-daemonset\s+\d+\s+STOPPED/.test(listing); i++) {
    listing = ctd.ctr('task', 'ls');
    await sleep(100);
  }
  assert.match(listing, /installer-daemonset\s+\d+\s+STOPPED/);
  const rm = await run(requireTool('ctr'), ['--address', ctd.socket, '--namespace', 'k8s.io', 'task', 'rm', 'installer-daemonset']);
  assert.doesNotMatch(rm.stderr, /non-zero exit code/, 'SIGTERM ends the installer cleanly (the runtime stays installed)');
  ctd.ctr('containers', 'rm', 'installer-daemonset');
  assert.ok(existsSync(path.join(host, 'opt/kata-cc/bin/containerd-shim-kata-cc-v2')));
});
