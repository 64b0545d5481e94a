/**
 * OCI image layout (image-spec image-layout.md) read and write: `oci-layout`, `index.json`
 * (tag in `org.opencontainers.image.ref.name`), `blobs/sha256/<hex>`. Blobs read from the
 * layout are checked against their digest before use.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encImgError } from './errors.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  [extra: string]: unknown;
}

export interface Manifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
  [extra: string]: unknown;
}

const REF_NAME = 'org.opencontainers.image.ref.name';
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** `oci:DIR[:TAG]` -> dir and tag (a tag never contains `/`, so the last `:` splits). */
export function parseOciRef(ref: string): { dir: string; tag: string | undefined } {
  const rest = ref.slice('oci:'.length);
  const i = rest.lastIndexOf(':');
  if (i > 0 && !rest.slice(i + 1).includes('/')) return { dir: rest.slice(0, i), tag: rest.slice(i + 1) || undefined };
  return { dir: rest, tag: undefined };
}

export async function readLayoutBlob(dir: string, digest: string): Promise<Buffer> {
  // SECURITY: the digest names a file under blobs/: only sha256:<64 hex> is accepted (no path tricks).
  if (!DIGEST_RE.test(digest)) throw encImgError('ENCIMG_SOURCE_INVALID', `Blob digest "${digest.slice(0, 80)}" is not sha256:<64 hex>`);
  let b: Buffer;
  try {
    b = await readFile(path.join(dir, 'blobs', 'sha256', digest.slice(7)));
  } catch (cause) {
    throw encImgError('ENCIMG_SOURCE_INVALID', `Blob ${digest} is missing from the layout ${dir}`, { cause });
  }
  if (sha256(b) !== digest) throw encImgError('ENCIMG_SOURCE_INVALID', `Blob ${digest} in ${dir} does not match its digest`);
  return b;
}

/** A blob on disk: where it is and how big. */
export interface BlobFile { path: string; size: number }

/** Checks a (possibly large) layout blob against its digest by streaming it; returns its file. */
export async function verifyLayoutBlob(dir: string, digest: string): Promise<BlobFile> {
  // SECURITY: the digest names a file under blobs/: only sha256:<64 hex> is accepted (no path tricks).
  if (!DIGEST_RE.test(digest)) throw encImgError('ENCIMG_SOURCE_INVALID', `Blob digest "${digest.slice(0, 80)}" is not sha256:<64 hex>`);
  const file = path.join(dir, 'blobs', 'sha256', digest.slice(7));
  const h = createHash('sha256');
  let size = 0;
  try {
    for await (const c of createReadStream(file)) { h.update(c as Buffer); size += (c as Buffer).length; }
  } catch (cause) {
    throw encImgError('ENCIMG_SOURCE_INVALID', `Blob ${digest} is missing from the layout ${dir}`, { cause });
  }
  if (`sha256:${h.digest('hex')}` !== digest) throw encImgError('ENCIMG_SOURCE_INVALID', `Blob ${digest} in ${dir} does not match its digest`);
  return { path: file, size };
}

/** Finds the manifest tagged `tag` (or the only one) in the layout's index.json. */
export async function readLayoutManifest(dir: string, tag: string | undefined): Promise<{ manifest: Manifest; raw: Buffer }> {
  let index: { manifests?: Descriptor[] };
  try {
    index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as typeof index;
  } catch (cause) {
    throw encImgError('ENCIMG_SOURCE_INVALID', `${dir} is not an OCI image layout (no readable index.json)`, { cause });
  }
  const all = Array.isArray(index.manifests) ? index.manifests : [];
  const hits = tag === undefined ? all : all.filter((m) => m.annotations?.[REF_NAME] === tag);
  if (hits.length !== 1 || hits[0] === undefined) {
    const tags = all.map((m) => m.annotations?.[REF_NAME] ?? m.digest).join(', ');
    throw encImgError('ENCIMG_SOURCE_INVALID', tag === undefined
      ? `${dir} holds ${all.length} images (${tags}); name one with oci:${dir}:TAG`
      : `${dir} has ${hits.length === 0 ? 'no' : 'several'} images tagged "${tag}" (present: ${tags || 'none'})`);
  }
  const raw = await readLayoutBlob(dir, hits[0].digest);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(raw.toString('utf8')) as Manifest;
  } catch (cause) {
    throw encImgError('ENCIMG_SOURCE_INVALID', `Manifest ${hits[0].digest} is not JSON`, { cause });
  }
  return { manifest, raw };
}

/**
 * Writes blobs and the manifest into a layout (created if absent), then points `tag` at the
 * manifest: index.json is replaced atomically last, so a failure never leaves a tag naming
 * missing blobs.
 */
export async function writeLayout(dir: string, tag: string, manifest: Buffer, mediaType: string, blobs: Map<string, BlobFile>): Promise<string> {
  const digest = sha256(manifest);
  try {
    await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    for (const [d, b] of blobs) {
      const to = path.join(dir, 'blobs', 'sha256', d.slice(7));
      if (path.resolve(b.path) !== path.resolve(to)) await copyFile(b.path, to);
    }
    await writeFile(path.join(dir, 'blobs', 'sha256', digest.slice(7)), manifest);
    await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    let index: { schemaVersion: number; manifests: Descriptor[] } = { schemaVersion: 2, manifests: [] };
    try {
      index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as typeof index;
    } catch { /* a new layout */ }
    const manifests = (index.manifests ?? []).filter((m) => m.annotations?.[REF_NAME] !== tag);
    manifests.push({ mediaType, digest, size: manifest.length, annotations: { [REF_NAME]: tag } });
    const tmp = path.join(dir, `.index.json.${process.pid}`);
    await writeFile(tmp, JSON.stringify({ ...index, schemaVersion: 2, manifests }));
    await rename(tmp, path.join(dir, 'index.json'));
  } catch (cause) {
    throw encImgError('ENCIMG_WRITE_FAILED', `Cannot write the OCI layout ${dir} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause });
  }
  return digest;
}
