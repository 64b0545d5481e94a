import { constants, open, openSync, closeSync } from 'node:fs';
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
  /** Resolves once a writer opened the stdin FIFO (or undefined when cancelled). */
  stdin?: Promise<net.Socket | undefined>;
  /** Unblocks a pending stdin open (nobody ever wrote). */
  cancelStdin?: () => void;
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
    if (p.stdin) Object.assign(out, openStdinFifo(p.stdin.replace(/^fifo:\/\//, '')));
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

/**
 * stdin is opened O_RDONLY *blocking* on the thread pool: it completes when containerd's side
 * opens the writer, and EOF then means the writer closed (an O_RDWR open would never see EOF, an
 * O_NONBLOCK one sees a false EOF before the writer arrives). Cancelling opens a writer ourselves
 * so the pending open returns.
 */
function openStdinFifo(path: string): Pick<OpenedStdio, 'stdin' | 'cancelStdin'> {
  let cancelled = false;
  const stdin = (async (): Promise<net.Socket | undefined> => {
    // fs.open (not fs/promises): a plain fd the socket owns; a FileHandle would be closed under it on GC.
    const fd = await new Promise<number>((resolve, reject) => open(path, constants.O_RDONLY, (err, n) => (err ? reject(err) : resolve(n))));
    if (cancelled) {
      closeSync(fd);
      return undefined;
    }
    return new net.Socket({ fd, readable: true, writable: false });
  })().catch(() => undefined);
  const cancelStdin = (): void => {
    if (cancelled) return;
    cancelled = true;
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // no pending reader (already opened or already gone)
    }
  };
  return { stdin, cancelStdin };
}

export function closeStdio(s: OpenedStdio): void {
  s.cancelStdin?.();
  void s.stdin?.then((sock) => sock?.destroy());
  s.stdout?.destroy();
  s.stderr?.destroy();
}

/** Writes and waits for the kernel to take the bytes (back-pressure on a slow reader). */
export function writeAll(w: NodeJS.WritableStream, data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    w.write(data, (err) => (err ? reject(err) : resolve()));
  });
}
