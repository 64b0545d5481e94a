import { createHash } from 'node:crypto';
import path from 'node:path';
import { KccError } from '@kata-cc/errors';

/** The flags containerd passes (`pkg/shim/util.go` Command), Go `flag` syntax. */
export interface ShimFlags {
  namespace: string;
  address: string;
  publishBinary: string;
  id: string;
  bundle: string;
  debug: boolean;
  info: boolean;
  version: boolean;
  action: 'start' | 'delete' | 'serve';
}

const VALUE_FLAGS = new Set(['namespace', 'address', 'publish-binary', 'id', 'bundle', 'socket']);
const BOOL_FLAGS = new Set(['debug', 'info', 'v', 'version', 'help', 'h']);

export function parseFlags(argv: string[]): ShimFlags {
  const f: ShimFlags = { namespace: '', address: '', publishBinary: '', id: '', bundle: '', debug: false, info: false, version: false, action: 'serve' };
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('-')) {
      positional.push(a);
      continue;
    }
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (BOOL_FLAGS.has(name)) {
      const on = eq < 0 || body.slice(eq + 1) !== 'false';
      if (name === 'debug') f.debug = on;
      else if (name === 'info') f.info = on;
      else f.version = on;
      continue;
    }
    if (!VALUE_FLAGS.has(name)) throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'SHIM_USAGE', message: `Unknown flag "-${name}"` });
    const value = eq >= 0 ? body.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'SHIM_USAGE', message: `Flag "-${name}" needs a value` });
    if (name === 'namespace') f.namespace = value;
    else if (name === 'address') f.address = value;
    else if (name === 'publish-binary') f.publishBinary = value;
    else if (name === 'id') f.id = value;
    else if (name === 'bundle') f.bundle = value;
  }
  const action = positional[0];
  if (action === 'start' || action === 'delete') f.action = action;
  else if (action !== undefined) throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'SHIM_USAGE', message: `Unknown action "${action}" (expected start or delete)` });
  return f;
}

/**
 * containerd's shim socket convention (`pkg/shim/util_unix.go` SocketAddress):
 * unix:///run/containerd/s/<hex sha256("<grpc address>/<namespace>/<id>")>.
 */
export function socketAddress(grpcAddress: string, namespace: string, id: string, dir = process.env['KATA_CC_SHIM_SOCKET_DIR'] ?? '/run/containerd/s'): string {
  const hash = createHash('sha256').update(`${grpcAddress}/${namespace}/${id}`).digest('hex');
  return `unix://${path.join(dir, hash)}`;
}

export function socketPath(address: string): string {
  return address.replace(/^unix:\/\//, '');
}
