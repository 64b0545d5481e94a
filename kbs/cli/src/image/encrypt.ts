/**
 * Encrypts the chosen layers of an image manifest (ocicrypt's EncryptLayer applied per layer):
 * the layer descriptor gets the ciphertext's digest and size, media type `<type>+encrypted`,
 * the pubopts annotation and one annotation per recipient. Docker schema 2 manifests become OCI
 * manifests (as containers/image does when it encrypts). The config is unchanged: its diff_ids
 * still name the plaintext tars.
 */
import type { KeyObject } from 'node:crypto';
import { encImgError } from './errors.js';
import { ANN_KEYS_COCO, ANN_KEYS_JWE, ANN_PUBOPTS, encryptBlob, wrapForKbs, wrapJwe } from './ocicrypt.js';
import { sha256, type Descriptor, type Manifest } from './layout.js';

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
  /** New (encrypted) blobs plus the unchanged ones the manifest still references. */
  blobs: Map<string, Buffer>;
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

export async function encryptManifest(src: Manifest, readBlob: (d: Descriptor) => Promise<Buffer>, opts: EncryptOptions): Promise<EncryptResult> {
  const mt = src.mediaType ?? OCI_MANIFEST;
  if (src.schemaVersion !== 2 || (mt !== OCI_MANIFEST && mt !== DOCKER_MANIFEST) || !Array.isArray(src.layers) || typeof src.config?.digest !== 'string') {
    throw encImgError('ENCIMG_MANIFEST_UNSUPPORTED', `The source is a ${mt} (schemaVersion ${String(src.schemaVersion)}); only single-platform OCI or Docker schema 2 image manifests can be encrypted (pick one platform of an index)`);
  }
  const which = chosenLayers(src.layers.length, opts.layers);
  const blobs = new Map<string, Buffer>();
  const config = { ...src.config, mediaType: TO_OCI[src.config.mediaType] ?? src.config.mediaType };
  blobs.set(config.digest, await readBlob(src.config));
  const encrypted: EncryptResult['encrypted'] = [];
  const layers: Descriptor[] = [];
  for (const [i, l] of src.layers.entries()) {
    const mediaType = TO_OCI[l.mediaType] ?? l.mediaType;
    const plain = await readBlob(l);
    if (!which.has(i) || mediaType.endsWith('+encrypted')) {
      if (mediaType.endsWith('+encrypted') && opts.layers?.length) throw encImgError('ENCIMG_LAYER_INDEX', `Layer ${i} is already encrypted`);
      blobs.set(l.digest, plain);
      layers.push({ ...l, mediaType });
      continue;
    }
    if (!ENCRYPTABLE.test(mediaType)) throw encImgError('ENCIMG_MANIFEST_UNSUPPORTED', `Layer ${i} has media type ${mediaType.slice(0, 100)}, which ocicrypt does not encrypt`);
    const enc = encryptBlob(plain);
    const annotations: Record<string, string> = { ...(l.annotations ?? {}), [ANN_PUBOPTS]: enc.pubopts };
    if (opts.kek && opts.kid) annotations[ANN_KEYS_COCO] = wrapForKbs(enc.privateOpts, opts.kek, opts.kid);
    if (opts.recipients?.length) annotations[ANN_KEYS_JWE] = (await Promise.all(opts.recipients.map((r) => wrapJwe(enc.privateOpts, r)))).join(',');
    enc.privateOpts.fill(0);
    const digest = sha256(enc.ciphertext);
    blobs.set(digest, enc.ciphertext);
    layers.push({ ...l, mediaType: `${mediaType}+encrypted`, digest, size: enc.ciphertext.length, annotations });
    encrypted.push({ index: i, digest, size: enc.ciphertext.length });
  }
  const manifest = Buffer.from(JSON.stringify({ ...src, schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers }));
  return { manifest, blobs, encrypted };
}
