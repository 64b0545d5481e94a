import { randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { silentLogger, type Logger } from '@kata-cc/log';
import { runtimeSpec } from './bundle/spec.js';
import { resolveUser } from './bundle/user.js';
import { isEncrypted, unwrapLayerKey, type LayerKey } from './decrypt/ocicrypt.js';
import type { KeyUnwrapper } from './decrypt/key-unwrapper.js';
import { imgError } from './errors.js';
import { hostPlatform, parsePlatform, resolveManifest } from './manifest.js';
import { formatReference, parseReference } from './reference.js';
import { RegistryClient } from './registry/client.js';
import { parseAuthFile, type AuthFile } from './registry/credentials.js';
import { readUri, type ResourceProvider } from './resource.js';
import { mergeRegistriesD, type LookasideConfig } from './signature/lookaside.js';
import { parsePolicy, type Policy } from './signature/policy.js';
import { verifyImagePolicy } from './signature/verify.js';
import { LayerStore } from './store/layer-store.js';
import type { ImageConfig, Platform } from './types.js';
import type { DevicePolicy } from './unpack/extract.js';
import type { LayerLimits } from './unpack/layer.js';
import { applyLayers } from './apply-layers.js';

export interface PullOptions {
  /** Bundle directory: receives `rootfs/` and `config.json`. */
  dest: string;
  /** Layer store (dir or instance): cached blobs, shared between pulls. Without one, layers stream straight from the registry. */
  store?: string | LayerStore;
  platform?: string | Platform;
  /** Registry credentials, or the URI of an auth.json (`kbs:///default/credential/test`, file path). */
  auth?: AuthFile | string;
  insecureRegistries?: string[];
  /** Extra CA certificates (PEM) for registry TLS. */
  ca?: string[];
  decryptionKeys?: KeyObject[];
  keyProvider?: KeyUnwrapper;
  providerParameters?: Uint8Array[];
  /** containers policy.json (parsed, or a `kbs:///`/file URI); without one nothing is verified. */
  policy?: Policy | string;
  /** Lookaside signature stores (parsed, or the URI of a registries.d-style YAML). */
  lookaside?: LookasideConfig | string;
  resources?: ResourceProvider;
  /** Parallel layer downloads (guest-components default: 3). */
  concurrency?: number;
  devices?: DevicePolicy;
  limits?: Partial<LayerLimits>;
  /** Replace an existing bundle rootfs. */
  overwrite?: boolean;
  logger?: Logger;
  onProgress?: (event: ProgressEvent) => void;
  /** Use this client (tests, connection reuse); otherwise one is created and closed. */
  client?: RegistryClient;
  /** Cancels the pull (e.g. the agent's request deadline); nothing is left behind. */
  signal?: AbortSignal;
}

export type ProgressEvent =
  | { type: 'resolved'; manifestDigest: string; layers: { digest: string; size: number }[] }
  | { type: 'layer-bytes'; index: number; digest: string; bytes: number; size: number }
  | { type: 'layer-done'; index: number; digest: string; transferred: number; ms: number };

export interface LayerReport {
  digest: string;
  mediaType: string;
  size: number;
  /** Bytes fetched from the network (0: from the store). */
  transferred: number;
  encrypted: boolean;
  ms: number;
}

export interface PullResult {
  reference: string;
  bundle: string;
  rootfs: string;
  manifestDigest: string;
  indexDigest?: string;
  configDigest: string;
  layers: LayerReport[];
  policy?: { scope: string; requirements: string[] };
  warnings: string[];
  timings: { resolveMs: number; verifyMs: number; layersMs: number; totalMs: number };
}

async function prepareDest(dest: string, overwrite: boolean): Promise<string> {
  await mkdir(dest, { recursive: true });
  const rootfs = path.join(dest, 'rootfs');
  const existing = await readdir(rootfs).catch(() => undefined);
  if (existing !== undefined && existing.length > 0 && !overwrite) {
    throw imgError('IMG_BUNDLE_EXISTS', `Bundle ${dest} already has a non-empty rootfs`);
  }
  return rootfs;
}

/**
 * Pulls `reference` into an OCI bundle at `options.dest`: resolve, verify the policy, fetch
 * and check the config, then per layer download -> decrypt -> decompress -> untar into a
 * temporary root that is renamed to `rootfs/` only when every layer succeeded.
 */
export async function pullImage(reference: string, options: PullOptions): Promise<PullResult> {
  const t0 = performance.now();
  const log = options.logger ?? silentLogger;
  const ref = parseReference(reference);
  const { auth, policy, lookaside } = await loadUris(options);
  const platform = typeof options.platform === 'string' ? parsePlatform(options.platform) : (options.platform ?? hostPlatform());
  const client = options.client ?? new RegistryClient({
    ...(auth ? { auth } : {}),
    ...(options.insecureRegistries ? { insecureRegistries: options.insecureRegistries } : {}),
    ...(options.ca ? { ca: options.ca } : {}),
  });
  const store = typeof options.store === 'string' ? new LayerStore(options.store) : options.store;
  const dest = path.resolve(options.dest);
  let tmpRoot: string | undefined;
  let unpin: (() => void) | undefined;
  try {
    const rootfs = await prepareDest(dest, options.overwrite === true);
    const resolved = await resolveManifest(client, ref, platform);
    const t1 = performance.now();
    const { manifest } = resolved;
    let policyResult: PullResult['policy'];
    if (policy !== undefined) {
      // SECURITY: signatures are checked before any layer byte is fetched.
      policyResult = await verifyImagePolicy({
        policy, ref, client, topDigest: resolved.indexDigest ?? resolved.digest, manifestDigest: resolved.digest,
        ...(lookaside ? { lookaside } : {}),
        ...(options.resources ? { resources: options.resources } : {}),
      });
      log.info({ scope: policyResult.scope, requirements: policyResult.requirements }, 'image policy satisfied');
    }
    const t2 = performance.now();
    const configBytes = await client.getSmallBlob(ref, manifest.config);
    const config = parseConfig(configBytes, manifest.layers.length);
    // Only a string os is shown: interpolating a hostile (deeply nested) value overflows the stack.
    if (config.os !== undefined && config.os !== 'linux') throw imgError('IMG_CONFIG_INVALID', `Image os is ${typeof config.os === 'string' ? `"${config.os.slice(0, 64)}"` : 'not a string'}; only linux images run in the guest`);
    options.onProgress?.({ type: 'resolved', manifestDigest: resolved.digest, layers: manifest.layers.map((l) => ({ digest: l.digest, size: l.size })) });

    // Keys first: a missing key fails the pull before any download.
    const keys: (LayerKey | undefined)[] = [];
    for (const l of manifest.layers) {
      keys.push(isEncrypted(l.mediaType)
        ? await unwrapLayerKey(l, { privateKeys: options.decryptionKeys ?? [], ...(options.keyProvider ? { keyProvider: options.keyProvider } : {}), ...(options.providerParameters ? { providerParameters: options.providerParameters } : {}) })
        : undefined);
    }

    unpin = store?.pin(manifest.layers.map((l) => l.digest));
    tmpRoot = path.join(dest, `.rootfs-${randomBytes(6).toString('hex')}`);
    await mkdir(tmpRoot, { mode: 0o755 });
    const { reports, warnings } = await applyLayers({ client, ref, manifest, diffIds: config.rootfs.diff_ids, keys, store, root: tmpRoot, options });
    const t3 = performance.now();
    checkCancelled(options.signal);

    // Resolved before the rename: an unknown user fails the pull with nothing left behind.
    const user = await resolveUser(tmpRoot, config.config?.User);
    if (options.overwrite === true) await rm(rootfs, { recursive: true, force: true });
    else await rmdir(rootfs).catch(() => undefined);
    await rename(tmpRoot, rootfs);
    tmpRoot = undefined;
    const annotations: Record<string, string> = {
      'org.opencontainers.image.ref.name': formatReference(ref),
      'io.katacontainers.image.manifest-digest': resolved.digest,
    };
    await writeFile(path.join(dest, 'config.json'), JSON.stringify(runtimeSpec(config, user, annotations), null, 2));
    if (store !== undefined) {
      await store.recordImage({
        reference: formatReference(ref), manifestDigest: resolved.digest, configDigest: manifest.config.digest,
        blobs: manifest.layers.map((l) => l.digest), pulledAt: new Date().toISOString(),
      });
    }
    const t4 = performance.now();
    return {
      reference: formatReference(ref), bundle: dest, rootfs, manifestDigest: resolved.digest,
      ...(resolved.indexDigest ? { indexDigest: resolved.indexDigest } : {}),
      configDigest: manifest.config.digest, layers: reports, ...(policyResult ? { policy: policyResult } : {}), warnings,
      timings: { resolveMs: Math.round(t1 - t0), verifyMs: Math.round(t2 - t1), layersMs: Math.round(t3 - t2), totalMs: Math.round(t4 - t0) },
    };
  } catch (err) {
    if (options.signal?.aborted === true) throw imgError('IMG_PULL_CANCELLED', `Pull of ${reference.slice(0, 300)} was cancelled`, undefined, err);
    throw err;
  } finally {
    unpin?.();
    // SECURITY (no half-written state): a failed pull leaves no partial rootfs behind.
    if (tmpRoot !== undefined) await rm(tmpRoot, { recursive: true, force: true });
    if (options.client === undefined) await client.close();
  }
}

function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw imgError('IMG_PULL_CANCELLED', 'Pull was cancelled');
}

/** Policy, credentials and signature-store config may be URIs (the CDH's `*_uri` settings). */
async function loadUris(o: PullOptions): Promise<{ auth?: AuthFile; policy?: Policy; lookaside?: LookasideConfig }> {
  const auth = typeof o.auth === 'string' ? parseAuthFile(await readUri(o.auth, o.resources, 'registry credentials')) : o.auth;
  const policy = typeof o.policy === 'string' ? parsePolicy(await readUri(o.policy, o.resources, 'image security policy')) : o.policy;
  const lookaside = typeof o.lookaside === 'string'
    ? await mergeRegistriesD({ scopes: {} }, (await readUri(o.lookaside, o.resources, 'signature store config')).toString('utf8'))
    : o.lookaside;
  return { ...(auth ? { auth } : {}), ...(policy ? { policy } : {}), ...(lookaside ? { lookaside } : {}) };
}

function parseConfig(bytes: Buffer, layerCount: number): ImageConfig {
  let c: ImageConfig;
  try {
    c = JSON.parse(bytes.toString('utf8')) as ImageConfig;
  } catch {
    throw imgError('IMG_CONFIG_INVALID', 'Image config is not JSON');
  }
  // `null`, arrays and scalars are valid JSON but not a config (c.rootfs would throw a TypeError on null).
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw imgError('IMG_CONFIG_INVALID', 'Image config is not a JSON object');
  const ids = c.rootfs?.diff_ids;
  if (!Array.isArray(ids) || ids.length !== layerCount || !ids.every((d) => typeof d === 'string' && /^sha(256:[a-f0-9]{64}|512:[a-f0-9]{128})$/.test(d))) {
    throw imgError('IMG_CONFIG_INVALID', `Image config rootfs.diff_ids must list one valid digest per layer (${layerCount})`);
  }
  return c;
}
