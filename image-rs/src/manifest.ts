import { arch } from 'node:os';
import { imgError } from './errors.js';
import type { ImageReference } from './reference.js';
import type { FetchedManifest, RegistryClient } from './registry/client.js';
import { MEDIA, type Descriptor, type ImageIndex, type ImageManifest, type Platform } from './types.js';

const MAX_LAYERS = 1000;

export interface ResolvedManifest {
  /** Digest of the image manifest (what runtimes and signatures name). */
  digest: string;
  /** Digest of the index/list the tag pointed at, when it was one. */
  indexDigest?: string;
  manifest: ImageManifest;
  bytes: Buffer;
}

/** The platform of this process in OCI spelling (x64 -> amd64). */
export function hostPlatform(): Platform {
  const a = arch();
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', s390x: 's390x', ppc64: 'ppc64le', ia32: '386', arm: 'arm' };
  return { os: 'linux', architecture: map[a] ?? a };
}

/** Parses `os/arch[/variant]`. */
export function parsePlatform(s: string): Platform {
  const [os, architecture, variant] = s.split('/');
  if (!os || !architecture) throw imgError('IMG_OPTION_INVALID', `Invalid platform "${s}": expected os/arch[/variant]`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

function isIndex(mt: string): boolean {
  return mt === MEDIA.ociIndex || mt === MEDIA.dockerList;
}

function parseJson(f: FetchedManifest, what: string): Record<string, unknown> {
  try {
    const v = JSON.parse(f.bytes.toString('utf8')) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw imgError('IMG_MANIFEST_INVALID', `${what} is not a JSON object`);
}

function checkDescriptor(d: unknown, what: string): Descriptor {
  const x = d as Partial<Descriptor> | null;
  if (
    typeof x !== 'object' || x === null || typeof x.mediaType !== 'string' || typeof x.digest !== 'string' ||
    !/^sha(256:[a-f0-9]{64}|512:[a-f0-9]{128})$/.test(x.digest) || typeof x.size !== 'number' || !Number.isSafeInteger(x.size) || x.size < 0
  ) {
    throw imgError('IMG_MANIFEST_INVALID', `${what} has an invalid descriptor (mediaType, sha256/sha512 digest and size are required)`);
  }
  return x as Descriptor;
}

/** Validates an image manifest's shape. */
export function checkManifest(obj: Record<string, unknown>, what: string): ImageManifest {
  if (obj['schemaVersion'] !== 2) throw imgError('IMG_MANIFEST_INVALID', `${what}: schemaVersion must be 2 (schema 1 is not supported)`);
  const layers = obj['layers'];
  if (!Array.isArray(layers)) throw imgError('IMG_MANIFEST_INVALID', `${what}: "layers" is missing`);
  // SECURITY: bounds the work a hostile manifest can ask for (Docker caps images at 127 layers).
  if (layers.length > MAX_LAYERS) throw imgError('IMG_MANIFEST_INVALID', `${what} has ${layers.length} layers; at most ${MAX_LAYERS} are accepted`);
  const cfg = checkDescriptor(obj['config'], `${what} config`);
  // Artifacts (helm charts, signatures, SBOMs) share the manifest format but are not images.
  if (cfg.mediaType !== MEDIA.ociConfig && cfg.mediaType !== MEDIA.dockerConfig) {
    throw imgError('IMG_MEDIA_TYPE_UNSUPPORTED', `${what} is not a container image (config media type "${cfg.mediaType.slice(0, 100)}")`);
  }
  layers.forEach((l, i) => checkDescriptor(l, `${what} layer ${i}`));
  return obj as unknown as ImageManifest;
}

/** Picks the manifest for `want` from an index: exact os/arch, then variant, then os.version-less. */
export function selectPlatform(index: ImageIndex, want: Platform): Descriptor | undefined {
  const candidates = index.manifests.filter(
    (m) => m.platform !== undefined && m.platform.os === want.os && m.platform.architecture === want.architecture,
  );
  if (want.variant !== undefined) {
    const exact = candidates.find((m) => m.platform?.variant === want.variant);
    if (exact !== undefined) return exact;
  }
  // arm64 defaults to v8 (containerd's platforms.Normalize).
  return candidates.find((m) => m.platform?.variant === undefined || (want.architecture === 'arm64' && m.platform.variant === 'v8')) ?? candidates[0];
}

/** Resolves a reference to one image manifest (through an index if needed). */
export async function resolveManifest(client: RegistryClient, ref: ImageReference, platform: Platform): Promise<ResolvedManifest> {
  const top = await client.getManifest(ref, ref.digest ?? ref.tag ?? 'latest');
  const topObj = parseJson(top, `Manifest of ${ref.repository}`);
  const mt = typeof topObj['mediaType'] === 'string' ? topObj['mediaType'] : top.mediaType;
  if (isIndex(mt) || (Array.isArray(topObj['manifests']) && !('layers' in topObj))) {
    const manifests = topObj['manifests'];
    if (!Array.isArray(manifests)) throw imgError('IMG_MANIFEST_INVALID', `Index of ${ref.repository} has no "manifests"`);
    const index: ImageIndex = { schemaVersion: 2, manifests: manifests.map((m, i) => checkDescriptor(m, `index entry ${i}`)) };
    const chosen = selectPlatform(index, platform);
    if (chosen === undefined) {
      // Only string fields are shown: interpolating a hostile (deeply nested) value overflows the stack.
      const str = (v: unknown): string => (typeof v === 'string' ? v.slice(0, 64) : '?');
      const have = index.manifests.map((m) => (m.platform ? `${str(m.platform.os)}/${str(m.platform.architecture)}${m.platform.variant ? `/${str(m.platform.variant)}` : ''}` : '?'));
      throw imgError('IMG_PLATFORM_NOT_FOUND', `Image ${ref.repository} has no ${platform.os}/${platform.architecture} manifest (has ${have.join(', ')})`, { available: have });
    }
    const inner = await client.getManifest(ref, chosen.digest, chosen);
    const obj = parseJson(inner, `Manifest ${chosen.digest}`);
    return { digest: chosen.digest, indexDigest: top.digest, manifest: checkManifest(obj, `Manifest ${chosen.digest}`), bytes: inner.bytes };
  }
  if (mt !== '' && mt !== MEDIA.ociManifest && mt !== MEDIA.dockerManifest) {
    throw imgError('IMG_MEDIA_TYPE_UNSUPPORTED', `Manifest media type "${mt}" of ${ref.repository} is not supported`);
  }
  return { digest: top.digest, manifest: checkManifest(topObj, `Manifest of ${ref.repository}`), bytes: top.bytes };
}
