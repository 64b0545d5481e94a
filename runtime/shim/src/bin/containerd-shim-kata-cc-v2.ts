import { constants, openSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isKccError, messageOf } from '@kata-cc/errors';
import { loadConfigFile } from '@kata-cc/hypervisor';
import { createLogger, silentLogger, type Logger } from '@kata-cc/log';
import { parseFlags, socketAddress, socketPath } from '../flags.js';
import { EventPublisher } from '../events.js';
import { deleteShim } from '../delete.js';
import { startShim } from '../start.js';
import { TaskService } from '../task-service.js';
import { taskServer } from '../task-ttrpc.js';
import { codec } from '../protos.js';
import { SHIM_VERSION, DEFAULT_CONFIG_PATH } from '../version.js';

const HELP = `containerd-shim-kata-cc-v2: containerd shim v2 for confidential pods (runtime type io.containerd.kata-cc.v2)

Run by containerd, not by hand:
  containerd-shim-kata-cc-v2 -namespace NS -address GRPC_SOCK -publish-binary CONTAINERD -id ID [-debug] start
  containerd-shim-kata-cc-v2 -namespace NS -address GRPC_SOCK -publish-binary CONTAINERD -id ID -bundle DIR delete
Other:
  -info        write containerd.types.RuntimeInfo (protobuf) to stdout
  -v, --version
Environment: TTRPC_ADDRESS (containerd's ttRPC socket for events), KATA_CONF_FILE
  (configuration, default ${DEFAULT_CONFIG_PATH}; CRI's options.ConfigPath wins).`;

const entry = fileURLToPath(import.meta.url);

async function readStdin(): Promise<Buffer> {
  if (process.stdin.isTTY) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Logs go to the `log` FIFO containerd created in the bundle (stdout is reserved). */
function bundleLogger(bundle: string, debug: boolean): Logger {
  try {
    const fd = openSync(path.join(bundle, 'log'), constants.O_RDWR | constants.O_NONBLOCK);
    return createLogger('containerd-shim-kata-cc-v2', { destination: fd, level: debug ? 'debug' : (process.env['KATA_CC_LOG_LEVEL'] ?? 'info') });
  } catch {
    return silentLogger;
  }
}

async function serve(f: ReturnType<typeof parseFlags>): Promise<void> {
  const bundle = process.cwd();
  const log = bundleLogger(bundle, f.debug).child({ id: f.id, namespace: f.namespace });
  // A crash must leave a trace: stdout/stderr of the server go nowhere.
  process.on('uncaughtException', (err) => { log.fatal({ err }, 'shim crashed'); process.exit(2); });
  process.on('unhandledRejection', (err) => { log.fatal({ err }, 'shim crashed (unhandled rejection)'); process.exit(2); });
  const events = new EventPublisher(process.env['TTRPC_ADDRESS'], f.namespace, log);
  const sock = socketPath(socketAddress(f.address, f.namespace, f.id));
  let server: ReturnType<typeof taskServer> | undefined;
  const shutdown = async (): Promise<void> => {
    await Promise.race([events.flush(), new Promise((r) => setTimeout(r, 5000))]);
    events.close();
    await server?.close();
    await unlink(sock).catch(() => undefined);
    log.info({}, 'shim exiting');
    process.exit(0);
  };
  const svc = new TaskService({
    namespace: f.namespace,
    events,
    logger: log,
    loadConfig: (configPath) => loadConfigFile(configPath ?? process.env['KATA_CONF_FILE'] ?? DEFAULT_CONFIG_PATH),
    onShutdown: () => void shutdown(),
  });
  server = taskServer(svc, log);
  await server.listen({ fd: 3 });
  log.info({ pid: process.pid }, 'shim serving containerd.task.v2.Task');
  process.on('SIGTERM', () => void shutdown());
}

async function main(): Promise<number> {
  const f = parseFlags(process.argv.slice(2));
  if (process.argv.includes('--help') || process.argv.includes('-h') || process.argv.includes('-help')) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (f.version) {
    process.stdout.write(`containerd-shim-kata-cc-v2 version ${SHIM_VERSION}\n`);
    return 0;
  }
  if (f.info) {
    // containerd.types.RuntimeInfo; the options Any read from stdin is echoed back, as the spec says.
    const stdin = await readStdin();
    const options = stdin.length ? codec('google.protobuf.Any').decode(stdin) : undefined;
    process.stdout.write(Buffer.from(codec('containerd.types.RuntimeInfo').encode({
      name: 'io.containerd.kata-cc.v2',
      version: { version: SHIM_VERSION, revision: '' },
      ...(options ? { options } : {}),
      annotations: { 'io.katacontainers.guest-pull': 'true' },
    })));
    return 0;
  }
  switch (f.action) {
    case 'start': {
      const address = await startShim(f, process.cwd(), await readStdin(), entry);
      process.stdout.write(address);
      // Exit now: the listening socket handle (inherited by the server) must not be closed here.
      process.exit(0);
    }
    case 'delete': {
      const res = await deleteShim(f.bundle || process.cwd(), silentLogger);
      process.stdout.write(res);
      return 0;
    }
    case 'serve':
      await serve(f);
      return -1;
  }
}

main().then(
  (code) => { if (code >= 0) process.exitCode = code; },
  (err: unknown) => {
    // containerd shows start's combined output in its error: keep it one readable line.
    process.stderr.write(`containerd-shim-kata-cc-v2: ${isKccError(err) ? `${err.code}: ${err.message}` : messageOf(err)}\n`);
    process.exitCode = 1;
  },
);
