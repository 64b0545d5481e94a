import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { isKccError } from '@kata-cc/errors';
import { createLogger } from '@kata-cc/log';
import { GrpcKeyProvider } from '../decrypt/grpc-keyprovider.js';
import { loadPrivateKey } from '../decrypt/keys.js';
import { pullImage, type ProgressEvent, type PullOptions } from '../pull.js';
import { parseAuthFile } from '../registry/credentials.js';
import { loadRegistriesD, type LookasideConfig } from '../signature/lookaside.js';
import { parsePolicy } from '../signature/policy.js';
import { LayerStore } from '../store/layer-store.js';
import { progressRenderer } from './progress.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

const program = new Command('image-rs')
  .description('Pull, verify, decrypt and unpack OCI images into runtime bundles (kata-cc guest image service)')
  .showHelpAfterError();

program
  .command('pull')
  .description('Pull REF into an OCI bundle (DIR/rootfs + DIR/config.json)')
  .argument('<ref>', 'image reference, e.g. registry.example.com/app:1.0 or ...@sha256:...')
  .requiredOption('--dest <dir>', 'bundle directory to create')
  .option('--decryption-key <file>', 'private key for encrypted layers (PEM/DER PKCS#8, PKCS#1, SEC1, JWK); repeatable', collect, [])
  .option('--keyprovider <addr>', 'ocicrypt keyprovider gRPC address (host:port or unix:///path), e.g. the CDH')
  .option('--policy <file>', 'containers policy.json to enforce (signatures are checked before any layer is fetched)')
  .option('--registries-d <dir>', 'registries.d directory with lookaside signature store locations')
  .option('--lookaside <url>', 'default lookaside signature store (file:///... or https://...)')
  .option('--auth <file>', 'containers/docker auth.json with registry credentials')
  .option('--insecure-registry <host:port>', 'registry reached over plain HTTP; repeatable', collect, [])
  .option('--ca <file>', 'extra CA certificate (PEM) for registry TLS; repeatable', collect, [])
  .option('--platform <os/arch>', 'platform to select from an index (default: this machine)')
  .option('--store <dir>', 'shared layer store (a second pull of the same layers transfers nothing)')
  .option('--concurrency <n>', 'parallel layer downloads', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 32) throw new InvalidArgumentError('must be an integer 1..32');
    return n;
  }, 3)
  .addOption(new Option('--devices <policy>', 'device nodes in layers').choices(['reject', 'skip', 'create']).default('reject'))
  .option('--overwrite', 'replace an existing bundle rootfs')
  .option('--json', 'print a JSON summary on stdout')
  .action(async (ref: string, o: Record<string, unknown>) => {
    const log = createLogger('image-rs');
    const keys = await Promise.all((o['decryptionKey'] as string[]).map(async (f) => loadPrivateKey(await readFile(f), f)));
    const lookaside: LookasideConfig | undefined = o['registriesD'] !== undefined || o['lookaside'] !== undefined
      ? { ...(o['registriesD'] ? await loadRegistriesD(o['registriesD'] as string) : { scopes: {} }), ...(o['lookaside'] ? { default: o['lookaside'] as string } : {}) }
      : undefined;
    const keyProvider = o['keyprovider'] === undefined ? undefined : new GrpcKeyProvider(o['keyprovider'] as string);
    const render = process.stderr.isTTY && o['json'] !== true ? progressRenderer(process.stderr) : undefined;
    const options: PullOptions = {
      dest: o['dest'] as string,
      logger: log,
      concurrency: o['concurrency'] as number,
      devices: o['devices'] as 'reject' | 'skip' | 'create',
      overwrite: o['overwrite'] === true,
      insecureRegistries: o['insecureRegistry'] as string[],
      ca: await Promise.all((o['ca'] as string[]).map((f) => readFile(f, 'utf8'))),
      decryptionKeys: keys,
      ...(keyProvider ? { keyProvider } : {}),
      ...(o['policy'] ? { policy: parsePolicy(await readFile(o['policy'] as string)) } : {}),
      ...(lookaside ? { lookaside } : {}),
      ...(o['auth'] ? { auth: parseAuthFile(await readFile(o['auth'] as string)) } : {}),
      ...(o['platform'] ? { platform: o['platform'] as string } : {}),
      ...(o['store'] ? { store: o['store'] as string } : {}),
      ...(render ? { onProgress: (e: ProgressEvent) => render(e) } : {}),
    };
    try {
      const result = await pullImage(ref, options);
      if (o['json'] === true) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else process.stdout.write(`${result.manifestDigest} -> ${result.bundle}\n`);
      log.info({ ref: result.reference, manifestDigest: result.manifestDigest, ms: result.timings.totalMs }, 'image pulled');
    } finally {
      keyProvider?.close();
    }
  });

program
  .command('gc')
  .description('Delete blobs of a layer store that no recorded image uses')
  .requiredOption('--store <dir>', 'layer store directory')
  .option('--remove <ref>', 'forget this image first; repeatable', collect, [])
  .option('--json', 'print a JSON summary')
  .action(async (o: { store: string; remove: string[]; json?: boolean }) => {
    const store = new LayerStore(o.store);
    for (const r of o.remove) await store.removeImage(r);
    const res = await store.gc();
    process.stdout.write(o.json ? `${JSON.stringify(res)}\n` : `removed ${res.removed.length} blob(s), freed ${res.freedBytes} bytes\n`);
  });

program
  .command('images')
  .description('List the images recorded in a layer store')
  .requiredOption('--store <dir>', 'layer store directory')
  .action(async (o: { store: string }) => {
    for (const i of await new LayerStore(o.store).images()) process.stdout.write(`${i.reference}\t${i.manifestDigest}\t${i.blobs.length} layer(s)\n`);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (isKccError(err)) {
    process.stderr.write(`image-rs: ${err.message} [${err.code}]\n`);
    process.exitCode = err.kind === 'INVALID_ARGUMENT' ? 2 : 1;
  } else {
    process.stderr.write(`image-rs: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
