import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { messageOf } from '@kata-cc/errors';
import { createLogger } from '@kata-cc/log';
import { SnapshotStore } from '../store.js';
import { serveSnapshotter } from '../service.js';

const program = new Command()
  .name('kata-cc-snapshotter')
  .description(
    'Guest-pull remote snapshotter for containerd (proxy_plugins, type "snapshot"): image layers are never\n' +
      'fetched or unpacked on the host; containers get an empty rootfs; the guest pulls the image itself.',
  )
  .option('--root <dir>', 'state directory (snapshot metadata and empty rootfs directories)', '/var/lib/kata-cc-snapshotter')
  .option('--address <socket>', 'unix socket to serve containerd.services.snapshots.v1.Snapshots on', '/run/kata-cc-snapshotter/snapshotter.sock')
  .option('--log-level <level>', 'trace, debug, info, warn, error', process.env['KATA_CC_LOG_LEVEL'] ?? 'info')
  .addHelpText('after', `
containerd (config version 2):
  [proxy_plugins.kata-cc]
    type = "snapshot"
    address = "/run/kata-cc-snapshotter/snapshotter.sock"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "kata-cc"`);

program.action(async (o: { root: string; address: string; logLevel: string }) => {
  const log = createLogger('kata-cc-snapshotter', { level: o.logLevel });
  try {
    mkdirSync(path.dirname(path.resolve(o.address)), { recursive: true, mode: 0o700 });
    const store = new SnapshotStore(o.root);
    const removed = store.cleanup();
    const srv = await serveSnapshotter(store, path.resolve(o.address), log);
    log.info({ address: o.address, root: store.root, snapshots: store.list().length, orphansRemoved: removed }, 'kata-cc-snapshotter listening');
    process.stdout.write(`kata-cc-snapshotter listening on ${path.resolve(o.address)}\n`);
    const stop = (sig: string): void => {
      log.info({ signal: sig }, 'kata-cc-snapshotter stopping');
      void srv.close().then(() => process.exit(0));
      setTimeout(() => process.exit(0), 3000).unref();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  } catch (err) {
    log.error({ err: messageOf(err), code: (err as { code?: string }).code }, 'kata-cc-snapshotter failed to start');
    process.stderr.write(`kata-cc-snapshotter: ${messageOf(err)}\n`);
    process.exit(1);
  }
});

await program.parseAsync();
