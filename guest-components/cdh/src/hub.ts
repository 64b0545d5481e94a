import path from 'node:path';
import { isKccError } from '@kata-cc/errors';
import type { KeyUnwrapper, PullOptions, UnwrapRequest } from '@kata-cc/image-rs';
import { silentLogger, type Logger } from '@kata-cc/log';
import type { CdhConfig } from './config.js';
import { cdhError } from './errors.js';
import type { ResourceGetter } from './kbc/resource-getter.js';
import { KEY_PROVIDER_NAME, handleKeyProviderInput, unwrapLayerKey } from './keyprovider.js';
import { unsealSecret } from './secret/sealed-secret.js';

export interface ConfidentialDataHubDeps {
  resources: ResourceGetter;
  logger?: Logger;
  /** Local sealed-secret verification keys (default /run/confidential-containers/cdh/sealed-secret). */
  sealedSecretKeysDir?: string;
}

/**
 * The Confidential Data Hub (guest-components `trait DataHub`), transport-neutral: resources,
 * sealed secrets, image layer keys and image pulls. ttRPC and gRPC adapters call it.
 */
export class ConfidentialDataHub implements KeyUnwrapper {
  readonly #config: CdhConfig;
  readonly #deps: ConfidentialDataHubDeps;
  readonly #log: Logger;

  constructor(config: CdhConfig, deps: ConfidentialDataHubDeps) {
    this.#config = config;
    this.#deps = deps;
    this.#log = (deps.logger ?? silentLogger).child({ component: 'cdh' });
  }

  /** GetResource: `kbs:///repo/type/tag` through the configured KBC. */
  async getResource(uri: string): Promise<Uint8Array> {
    const data = await this.#deps.resources.getResource(uri);
    this.#log.info({ uri }, 'resource fetched');
    return data;
  }

  /** UnsealSecret: verifies and opens a `sealed.` secret. */
  async unsealSecret(secret: Uint8Array): Promise<Uint8Array> {
    const skip = this.#config.skipSealedSecretVerification || process.env['SKIP_SEALED_SECRET_VERIFICATION'] === 'true';
    if (skip) this.#log.warn({}, 'sealed secret signature verification is disabled');
    return unsealSecret(secret, {
      resources: this.#deps.resources,
      skipVerification: skip,
      ...(this.#deps.sealedSecretKeysDir === undefined ? {} : { keysDir: this.#deps.sealedSecretKeysDir }),
    });
  }

  /** keyprovider UnWrapKey: the ocicrypt JSON in, the JSON out. */
  async unwrapKeyJson(input: Uint8Array): Promise<Uint8Array> {
    return handleKeyProviderInput(input, this.#deps.resources);
  }

  /** image-rs `KeyUnwrapper`, in-process (PullImage): the LEK for an annotation packet. */
  async unwrapKey(request: UnwrapRequest): Promise<Uint8Array> {
    if (request.provider !== KEY_PROVIDER_NAME) throw cdhError('CDH_UNSUPPORTED', `Key provider "${request.provider}" is not served by the CDH (it serves "${KEY_PROVIDER_NAME}")`);
    return unwrapLayerKey(request.annotation, this.#deps.resources);
  }

  /** SecureMount: not built into this CDH (LUKS2 block devices, cloud storage). */
  async secureMount(volumeType: string): Promise<never> {
    throw cdhError('CDH_UNSUPPORTED', `SecureMount of "${volumeType}" volumes is not supported by this CDH`);
  }

  /**
   * PullImage: pulls, verifies (image security policy from cdh.toml), decrypts (layer keys
   * through this CDH) and unpacks `imageUrl` into the bundle; returns the manifest digest.
   */
  async pullImage(imageUrl: string, bundlePath: string): Promise<string> {
    // image-rs (tar, decompressors, OpenPGP) loads on the first pull, not at CDH start: guest
    // boot time and memory matter, and many pods never pull through the CDH.
    const { mergeRegistriesD, parseAuthFile, parsePolicy, pullImage, readUri } = await import('@kata-cc/image-rs');
    const img = this.#config.image;
    const resources = { getResource: (uri: string) => this.#deps.resources.getResource(uri) };
    const options: PullOptions = {
      dest: bundlePath,
      store: path.join(img.workDir, 'layers'),
      keyProvider: this,
      resources,
      concurrency: img.maxConcurrentLayerDownloadsPerImage,
      logger: this.#log,
      ...(img.extraRootCertificates.length > 0 ? { ca: img.extraRootCertificates } : {}),
      ...(img.insecureRegistries.length > 0 ? { insecureRegistries: img.insecureRegistries } : {}),
    };
    try {
      if (img.imageSecurityPolicy !== undefined) options.policy = parsePolicy(img.imageSecurityPolicy);
      else if (img.imageSecurityPolicyUri !== undefined) options.policy = parsePolicy(await readUri(img.imageSecurityPolicyUri, resources, 'image security policy'));
      if (img.sigstoreConfigUri !== undefined) {
        // registries.d YAML: where simple-signing signatures of each scope are looked up.
        const yaml = (await readUri(img.sigstoreConfigUri, resources, 'sigstore config')).toString('utf8');
        options.lookaside = await mergeRegistriesD({ scopes: {} }, yaml);
      }
      const authUri = process.env['CDH_DEFAULT_IMAGE_AUTHENTICATED_REGISTRY_CREDENTIALS'] ?? img.authenticatedRegistryCredentialsUri;
      if (authUri !== undefined) options.auth = parseAuthFile(await readUri(authUri, resources, 'registry credentials'));
      const result = await pullImage(imageUrl, options);
      this.#log.info({ image: imageUrl, digest: result.manifestDigest, ms: Math.round(result.timings.totalMs) }, 'image pulled');
      return result.manifestDigest;
    } catch (err) {
      if (isKccError(err)) throw err;
      throw cdhError('CDH_IMAGE_PULL_FAILED', `Cannot pull image ${imageUrl}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    await this.#deps.resources.close();
  }
}
