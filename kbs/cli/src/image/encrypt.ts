/**
 * Encrypts the chosen layers of an image manifest (ocicrypt's EncryptLayer applied per layer):
 * the layer descriptor gets the ciphertext's digest and size, media type `<type>+encrypted`,
 * the pubopts annotation and one annotation per recipient. Docker schema 2 manifests become OCI
 * manifests (as containers/image does when it encrypts). The config is unchanged: its diff_ids
 * still name the plaintext tars.
 */
import type { KeyObject } from 'node:crypto';
import path from 'node:path';
import { encImgError } from './errors.js';
import { ANN_KEYS_COCO, ANN_KEYS_JWE, ANN_PUBOPTS, encryptFile, wrapForKbs, wrapJwe } from './ocicrypt.js';
import type { BlobFile, Descriptor, Manifest } from './layout.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

/** Docker -> OCI media types (image-spec media-types.md "Compatibility Matrix"). */
const TO_OCI: Record<string, string> = {
  'application/vnd.docker.container.image.v1+json': 'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar': 'application/vnd.oci.image.layer.v1.tar',
};
const ENCRYPTABLE = /^application\/vnd\.oci\.image\.layer\.v1\.tar(\+gzip|\+zstd)?$/;

export interface EncryptOptions {
  kek?: Buffer;
  kid?: string;
  recipients?: KeyObject[];
  /** Layer indexes to encrypt (negative counts from the end); all when absent. */
  layers?: number[];
}

export interface EncryptResult {
  manifest: Buffer;
  /** New (encrypted, in the staging dir) blobs plus the unchanged ones the manifest still references. */
  blobs: Map<string, BlobFile>;
  encrypted: { index: number; digest: string; size: number }[];
}

function chosenLayers(n: number, wanted: number[] | undefined): Set<number> {
  if (!wanted || wanted.length === 0) return new Set([...Array(n).keys()]);
  const out = new Set<number>();
  for (const w of wanted) {
    const i = w < 0 ? n + w : w;
    if (!Number.isInteger(w) || i < 0 || i >= n) throw encImgError('ENCIMG_LAYER_INDEX', `--encrypt-layer ${w} is out of range: the image has ${n} layers (0..${n - 1}, or -1..-${n})`);
    out.add(i);
  }
  return out;
}

/**
 * `blobFile` returns a source blob's file after checking its digest; ciphertexts are written
 * into `stage` (a private temp dir the caller removes).
 */
export async function encryptManifest(src: Manifest, blobFile: (d: Descriptor) => Promise<BlobFile>, stage: string, opts: EncryptOptions): Promise<EncryptResult> {
  const mt = src.mediaType ?? OCI_MANIFEST;
  if (src.schemaVersion !== 2 || (mt !== OCI_MANIFEST && mt !== DOCKER_MANIFEST) || !Array.isArray(src.layers) || typeof src.config?.digest !== 'string') {
    throw encImgError('ENCIMG_MANIFEST_UNSUPPORTED', `The source is a ${mt} (schemaVersion ${String(src.schemaVersion)}); only single-platform OCI or Docker schema 2 image manifests can be encrypted (pick one platform of an index)`);
  }
  const which = chosenLayers(src.layers.length, opts.layers);
  const blobs = new Map<string, BlobFile>();
  const config = { ...src.config, mediaType: TO_OCI[src.config.mediaType] ?? src.config.mediaType };
  blobs.set(config.digest, await blobFile(src.config));
  const encrypted: EncryptResult['encrypted'] = [];
  const layers: Descriptor[] = [];
  for (const [i, l] of src.layers.entries()) {
    const mediaType = TO_OCI[l.mediaType] ?? l.mediaType;
    const plain = await blobFile(l);
    if (!which.has(i) || mediaType.endsWith('+encrypted')) {
      if (mediaType.endsWith('+encrypted') && opts.layers?.length) throw encImgError('ENCIMG_LAYER_INDEX', `Layer ${i} is already encrypted`);
      blobs.set(l.digest, plain);
      layers.push({ ...l, mediaType });
      continue;
    }
    if (!ENCRYPTABLE.test(mediaType)) throw encImgError('ENCIMG_MANIFEST_UNSUPPORTED', `Layer ${i} has media type ${mediaType.slice(0, 100)}, which ocicrypt does not encrypt`);
    const out = path.join(stage, `layer-${i}`);
    const enc = await encryptFile(plain.path, out);
    const annotations: Record<string, string> = { ...(l.annotations ?? {}), [ANN_PUBOPTS]: enc.pubopts };
    if (opts.kek && opts.kid) annotations[ANN_KEYS_COCO] = wrapForKbs(enc.privateOpts, opts.kek, opts.kid);
    if (opts.recipients?.length) annotations[ANN_KEYS_JWE] = (await Promise.all(opts.recipients.map((r) => wrapJwe(enc.privateOpts, r)))).join(',');
    enc.privateOpts.fill(0);
    blobs.set(enc.digest, { path: out, size: enc.size });
    layers.push({ ...l, mediaType: `${mediaType}+encrypted`, digest: enc.digest, size: enc.size, annotations });
    encrypted.push({ index: i, digest: enc.digest, size: enc.size });
  }
  const manifest = Buffer.from(JSON.stringify({ ...src, schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers }));
  return { manifest, blobs, encrypted };
}
