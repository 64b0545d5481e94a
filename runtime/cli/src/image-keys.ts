import { KccError } from '@kata-cc/errors';

/** Layer annotation of images encrypted for the CoCo key provider (guest-components `attestation-agent`). */
export const KEYPROVIDER_ANNOTATION = 'org.opencontainers.image.enc.keys.provider.attestation-agent';

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** `host[:port]/repo[:tag|@digest]` -> parts (docker.io shorthand is not needed for kata-cc run). */
export function splitReference(ref: string): { host: string; repo: string; reference: string } {
  const slash = ref.indexOf('/');
  if (slash < 0) throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'KCC_IMAGE_REFERENCE', message: `Image reference "${ref}" has no registry host` });
  const host = ref.slice(0, slash);
  let rest = ref.slice(slash + 1);
  let reference = 'latest';
  const at = rest.indexOf('@');
  if (at >= 0) { reference = rest.slice(at + 1); rest = rest.slice(0, at); }
  else {
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) { reference = rest.slice(colon + 1); rest = rest.slice(0, colon); }
  }
  return { host, repo: rest, reference };
}

/**
 * The KBS resource paths (`kid` = `kbs:///repo/type/tag`) the image's encrypted layers name:
 * `kata-cc run --decryption-key` stores the key there, so the CDH in the guest finds it after
 * attestation. Reads only public metadata (the manifest), anonymously.
 */
export async function encryptionKeyIds(ref: string, insecure: string[]): Promise<string[]> {
  const { host, repo, reference } = splitReference(ref);
  const base = `${insecure.includes(host) ? 'http' : 'https'}://${host}/v2/${repo}/manifests/`;
  const get = async (r: string): Promise<{ mediaType?: string; manifests?: Array<{ digest: string; platform?: { os?: string; architecture?: string } }>; layers?: Array<{ annotations?: Record<string, string> }> }> => {
    let res: Response;
    try {
      res = await fetch(base + r, { headers: { accept: MANIFEST_TYPES } });
    } catch (cause) {
      throw new KccError({ kind: 'UNAVAILABLE', code: 'KCC_REGISTRY_UNREACHABLE', message: `Cannot reach registry ${host} to read the manifest of ${ref}`, cause });
    }
    if (!res.ok) throw new KccError({ kind: 'NOT_FOUND', code: 'KCC_REGISTRY_UNREACHABLE', message: `Registry ${host} answered ${res.status} for the manifest of ${ref}` });
    return (await res.json()) as never;
  };
  let m = await get(reference);
  if (m.manifests) {
    const amd64 = m.manifests.find((d) => d.platform?.os === 'linux' && d.platform.architecture === 'amd64') ?? m.manifests[0];
    if (!amd64) return [];
    m = await get(amd64.digest);
  }
  const kids = new Set<string>();
  for (const l of m.layers ?? []) {
    const a = l.annotations?.[KEYPROVIDER_ANNOTATION];
    if (!a) continue;
    try {
      const kid = (JSON.parse(Buffer.from(a, 'base64').toString('utf8')) as { kid?: string }).kid;
      if (kid?.startsWith('kbs:///')) kids.add(kid.slice('kbs:///'.length));
    } catch {
      // not a keyprovider packet: the guest will report it
    }
  }
  return [...kids];
}
