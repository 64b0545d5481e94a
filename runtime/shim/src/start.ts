import { spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { chmod, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { KccError } from '@kata-cc/errors';
import { CRI_CONTAINER_TYPE, CRI_SANDBOX_ID } from '@kata-cc/sandbox';
import type { ShimFlags } from './flags.js';
import { socketAddress, socketPath } from './flags.js';
import { codec } from './protos.js';

/**
 * The configuration path from what containerd writes to `start`'s stdin: containerd 2.3+ a
 * `BootstrapParams` (recognised by its instance id and namespace matching our flags; the runtime
 * options travel as one of its extensions), older ones an `Any{runtimeoptions.v1.Options}`.
 */
export function configPathFromStdin(stdin: Buffer, ids: { id: string; namespace: string } = { id: '', namespace: '' }): string | undefined {
  if (stdin.length === 0) return undefined;
  const fromAny = (any: Record<string, unknown> | undefined): string | undefined => {
    if (!any || !String(any['type_url']).endsWith('runtimeoptions.v1.Options')) return undefined;
    return String(codec('runtimeoptions.v1.Options').decode(any['value'] as Buffer)['config_path'] ?? '') || undefined;
  };
  try {
    const p = codec('containerd.runtime.bootstrap.v1.BootstrapParams').decode(stdin);
    if (ids.id !== '' && p['instance_id'] === ids.id && p['namespace'] === ids.namespace) {
      for (const ext of (p['extensions'] ?? []) as Array<Record<string, unknown>>) {
        const found = fromAny(ext['value'] as Record<string, unknown> | undefined);
        if (found) return found;
      }
      return undefined;
    }
  } catch {
    // not BootstrapParams: the legacy Any below
  }
  try {
    return fromAny(codec('google.protobuf.Any').decode(stdin));
  } catch {
    return undefined; // another shim's options: not ours
  }
}

async function connectable(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection(p);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * `shim start` (kata `StartShim`): a pod container reuses its sandbox's shim (one shim per
 * pod); otherwise create the socket, re-exec ourselves as the server with the listening
 * socket as fd 3, record `shim.pid` and `address` in the bundle. Returns the address, which
 * the caller prints as the only stdout output (containerd reads stdout+stderr combined).
 */
export async function startShim(f: ShimFlags, bundle: string, stdin: Buffer, entry: string): Promise<string> {
  if (!f.id || !f.namespace || !f.address) throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'SHIM_USAGE', message: 'start needs -id, -namespace and -address' });
  const spec = JSON.parse(await readFile(path.join(bundle, 'config.json'), 'utf8')) as { annotations?: Record<string, string> };
  const ann = spec.annotations ?? {};
  if (ann[CRI_CONTAINER_TYPE] === 'container' && ann[CRI_SANDBOX_ID]) {
    const address = socketAddress(f.address, f.namespace, ann[CRI_SANDBOX_ID]);
    await writeFile(path.join(bundle, 'address'), address);
    return address;
  }
  const address = socketAddress(f.address, f.namespace, f.id);
  const sock = socketPath(address);
  await mkdir(path.dirname(sock), { recursive: true, mode: 0o711 });
  if (existsSync(sock)) {
    if (await connectable(sock)) throw new KccError({ kind: 'ALREADY_EXISTS', code: 'SHIM_ALREADY_RUNNING', message: `A shim already serves "${f.id}" at ${address}` });
    await unlink(sock);
  }
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(sock, resolve); });
  // SECURITY: the Task API controls the VM: only root (containerd) may connect.
  await chmod(sock, 0o600);
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  const configPath = configPathFromStdin(stdin, { id: f.id, namespace: f.namespace });
  const args = [entry, '-namespace', f.namespace, '-address', f.address, '-publish-binary', f.publishBinary, '-id', f.id, ...(f.debug ? ['-debug'] : [])];
  // KATA_CC_SHIM_STDERR=<file>: keep the server's own stderr (Node crashes before logging).
  const errFile = process.env['KATA_CC_SHIM_STDERR'];
  const errFd = errFile ? openSync(errFile, 'a', 0o600) : 'ignore';
  const child = spawn(process.execPath, args, {
    cwd: bundle,
    detached: true,
    stdio: ['ignore', 'ignore', errFd, fd],
    env: { ...process.env, ...(configPath ? { KATA_CONF_FILE: configPath } : {}) },
  });
  await new Promise<void>((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject); });
  child.unref();
  // Not server.close(): Node unlinks a Unix socket path on close, and the child serves on it.
  server.unref();
  await writeFile(path.join(bundle, 'shim.pid'), String(child.pid));
  await writeFile(path.join(bundle, 'address'), address);
  return address;
}
