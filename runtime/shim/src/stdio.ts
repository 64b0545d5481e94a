import { constants, openSync, closeSync } from 'node:fs';
import net from 'node:net';
import { KccError } from '@kata-cc/errors';

/**
 * containerd passes stdio as FIFO paths it created (`/run/containerd/fifo/…/<id>-stdout`),
 * `file://` (a log file) or "" (not connected). FIFOs are opened O_RDWR|O_NONBLOCK so the
 * open never blocks on a missing peer and wrapped in a libuv pipe (non-blocking I/O, no
 * thread-pool thread parked on a full pipe); stdin ends when containerd calls CloseIO.
 */
export interface StdioPaths {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

export interface OpenedStdio {
  stdin?: net.Socket;
  stdout?: NodeJS.WritableStream & { destroy(): void };
  stderr?: NodeJS.WritableStream & { destroy(): void };
}

function openFifo(path: string, readable: boolean): net.Socket {
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  try {
    return new net.Socket({ fd, readable, writable: !readable });
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

function openTarget(uri: string, stream: string): (NodeJS.WritableStream & { destroy(): void }) | undefined {
  if (uri === '') return undefined;
  const u = uri.startsWith('fifo://') ? uri.slice('fifo://'.length) : uri;
  if (u.startsWith('file://')) {
    const fd = openSync(u.slice('file://'.length), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o640);
    return new net.Socket({ fd, readable: false, writable: true });
  }
  if (u.startsWith('binary://') || u.startsWith('binary-v2://')) {
    throw new KccError({ kind: 'NOT_IMPLEMENTED', code: 'SHIM_STDIO_BINARY_UNSUPPORTED', message: `Logging binaries (${stream} "${u.split('?')[0]}") are not supported; use FIFOs or file://` });
  }
  if (!u.startsWith('/')) throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'SHIM_STDIO_INVALID', message: `Unsupported ${stream} target "${u}"` });
  return openFifo(u, false);
}

export function openStdio(p: StdioPaths): OpenedStdio {
  const out: OpenedStdio = {};
  try {
    if (p.stdin) out.stdin = openFifo(p.stdin.replace(/^fifo:\/\//, ''), true);
    const so = openTarget(p.stdout, 'stdout');
    if (so) out.stdout = so;
    // A terminal has only stdout; with file:// both streams share the one file.
    const se = p.terminal ? undefined : openTarget(p.stderr, 'stderr');
    if (se) out.stderr = se;
    return out;
  } catch (err) {
    closeStdio(out);
    if (err instanceof KccError) throw err;
    throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'SHIM_STDIO_OPEN_FAILED', message: 'Cannot open the stdio FIFOs containerd passed', cause: err });
  }
}

export function closeStdio(s: OpenedStdio): void {
  s.stdin?.destroy();
  s.stdout?.destroy();
  s.stderr?.destroy();
}

/** Writes and waits for the kernel to take the bytes (back-pressure on a slow reader). */
export function writeAll(w: NodeJS.WritableStream, data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    w.write(data, (err) => (err ? reject(err) : resolve()));
  });
}
