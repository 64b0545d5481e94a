import type { Command } from 'commander';
import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseResourceUri } from '@kata-cc/kbs-client';
import { encImgError } from '../image/errors.js';
import { encryptManifest, OCI_MANIFEST } from '../image/encrypt.js';
import { parseOciRef, readLayoutManifest, sha256, verifyLayoutBlob, writeLayout } from '../image/layout.js';
import { parseDockerRef, RegistryPusher } from '../image/registry.js';

interface Opts {
  src: string;
  dest: string;
  kid?: string;
  keyFile?: string;
  generateKey?: boolean;
  recipient?: string[];
  destTlsVerify: string;
  insecure?: boolean;
  destCreds?: string;
  destCertDir?: string;
  encryptLayer?: string[];
}

/** The KEK: read (exactly 32 bytes), or generated and written 0600 when absent and allowed. */
async function loadKek(file: string, generate: boolean): Promise<Buffer> {
  try {
    const kek = await readFile(file);
    if (kek.length !== 32) throw encImgError('ENCIMG_KEY_INVALID', `--key-file ${file} holds ${kek.length} bytes; an A256GCM key-encryption key is exactly 32 bytes`);
    return kek;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      if ((e as { code?: string }).code === 'ENCIMG_KEY_INVALID') throw e;
      throw encImgError('ENCIMG_KEY_INVALID', `Cannot read --key-file ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { cause: e });
    }
  }
  if (!generate) throw encImgError('ENCIMG_KEY_INVALID', `--key-file ${file} does not exist; pass --generate-key to create a random 32-byte key there`);
  const kek = randomBytes(32);
  // 'wx': never overwrite a key that appeared meanwhile; 0600: the KEK opens every layer.
  await writeFile(file, kek, { mode: 0o600, flag: 'wx' }).catch((cause: unknown) => {
    throw encImgError('ENCIMG_KEY_INVALID', `Cannot create --key-file ${file} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause });
  });
  process.stderr.write(`Generated a 32-byte key-encryption key in ${file} (mode 0600)\n`);
  return kek;
}

async function loadRecipient(spec: string): Promise<KeyObject> {
  if (!spec.startsWith('jwe:')) throw encImgError('ENCIMG_RECIPIENT_INVALID', `--recipient "${spec}" is not jwe:PUBLIC-KEY.pem (other ocicrypt protocols are not supported)`);
  const file = spec.slice(4);
  try {
    const key = createPublicKey(await readFile(file));
    if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'ec') throw new Error(`a ${String(key.asymmetricKeyType)} key`);
    return key;
  } catch (cause) {
    throw encImgError('ENCIMG_RECIPIENT_INVALID', `--recipient ${file} is not an RSA or EC public key PEM (${(cause as Error).message})`, { cause });
  }
}

function parseLayers(list: string[] | undefined): number[] | undefined {
  return list?.map((s) => {
    if (!/^-?\d+$/.test(s)) throw encImgError('ENCIMG_LAYER_INDEX', `--encrypt-layer "${s}" is not an integer`);
    return Number(s);
  });
}

/**
 * `kbs-cli encrypt-image`: encrypts an image for the CoCo key provider (what guest-components'
 * coco_keyprovider + skopeo produce), so that only a guest the KBS releases `--kid` to can
 * decrypt it. No KBS call: the tenant stores the KEK with `set-resource` afterwards.
 */
export function registerEncryptImage(program: Command): void {
  program
    .command('encrypt-image')
    .description('Encrypt an image\'s layers (ocicrypt) for the KBS key provider: the layer keys are wrapped under a KEK the KBS releases at --kid')
    .requiredOption('--src <oci:DIR[:TAG]>', 'source image in an OCI layout')
    .requiredOption('--dest <ref>', 'docker://HOST[:PORT]/REPO[:TAG] (push) or oci:DIR[:TAG] (write a layout)')
    .option('--kid <kbs:///repo/type/tag>', 'KBS resource holding the KEK (the annotation\'s kid)')
    .option('--key-file <file>', 'the 32-byte key-encryption key (KEK)')
    .option('--generate-key', 'create --key-file (random, mode 0600) if it does not exist')
    .option('--recipient <jwe:PUB.pem...>', 'also wrap for these ocicrypt JWE recipients (RSA/EC public keys; skopeo --decryption-key can decrypt)')
    .option('--encrypt-layer <index...>', 'encrypt only these layers (0-based; -1 is the last); default all')
    .option('--dest-tls-verify <bool>', 'verify the registry\'s TLS certificate; false also allows plain HTTP', 'true')
    .option('--insecure', 'same as --dest-tls-verify=false')
    .option('--dest-creds <user:password>', 'registry credentials (Basic, or for a Bearer token)')
    .option('--dest-cert-dir <dir>', 'extra CA certificates (*.crt, *.pem) for the registry')
    .addHelpText('after', `
Examples:
  kbs-cli encrypt-image --src oci:./app:v1 --dest docker://registry.example:5000/app:enc \\
      --kid kbs:///default/image-kek/app --key-file kek.bin --generate-key
  kbs-cli --admin-key admin.key set-resource --path default/image-kek/app --file kek.bin

Writes the manifest digest to stdout. The annotation is what coco_keyprovider writes
(org.opencontainers.image.enc.keys.provider.attestation-agent), so guest-components and
kata-cc guests both decrypt it after attestation.`)
    .action(async (opts: Opts) => {
      if (!opts.src.startsWith('oci:')) throw encImgError('ENCIMG_USAGE', `--src "${opts.src}" must be oci:DIR[:TAG]`);
      if (!opts.dest.startsWith('oci:') && !opts.dest.startsWith('docker://')) throw encImgError('ENCIMG_USAGE', `--dest "${opts.dest}" must be docker://HOST/REPO[:TAG] or oci:DIR[:TAG]`);
      if ((opts.kid === undefined) !== (opts.keyFile === undefined)) throw encImgError('ENCIMG_USAGE', '--kid and --key-file go together');
      if (opts.kid === undefined && !opts.recipient?.length) throw encImgError('ENCIMG_USAGE', 'Nothing to wrap the layer keys for: pass --kid and --key-file (and/or --recipient jwe:PUB.pem)');
      if (opts.destTlsVerify !== 'true' && opts.destTlsVerify !== 'false') throw encImgError('ENCIMG_USAGE', `--dest-tls-verify must be true or false, not "${opts.destTlsVerify}"`);
      const kid = opts.kid === undefined ? undefined : `kbs:///${parseResourceUri(opts.kid).segments.join('/')}`;
      const layers = parseLayers(opts.encryptLayer);
      const recipients = await Promise.all((opts.recipient ?? []).map(loadRecipient));
      const dockerDest = opts.dest.startsWith('docker://') ? parseDockerRef(opts.dest) : undefined;
      const src = parseOciRef(opts.src);
      const { manifest } = await readLayoutManifest(src.dir, src.tag);
      const kek = opts.keyFile === undefined ? undefined : await loadKek(opts.keyFile, opts.generateKey === true);
      // Ciphertexts are staged in a private temp dir (mode 0700), removed on every exit path.
      const stage = await mkdtemp(path.join(tmpdir(), 'kbs-cli-encimg-'));
      let digest: string;
      try {
        const result = await encryptManifest(manifest, (d) => verifyLayoutBlob(src.dir, d.digest), stage, { ...(kek && kid ? { kek, kid } : {}), recipients, ...(layers ? { layers } : {}) });
        kek?.fill(0);
        for (const e of result.encrypted) process.stderr.write(`Encrypted layer ${e.index}: ${e.digest} (${e.size} bytes)\n`);
        if (dockerDest) {
          const pusher = await RegistryPusher.open(dockerDest, {
            tlsVerify: opts.destTlsVerify === 'true' && opts.insecure !== true,
            ...(opts.destCertDir ? { certDir: opts.destCertDir } : {}),
            ...(opts.destCreds ? { creds: opts.destCreds } : {}),
          });
          try {
            let n = 0;
            for (const [d, b] of result.blobs) {
              await pusher.pushBlob(d, b);
              process.stderr.write(`Pushed blob ${++n}/${result.blobs.size} ${d.slice(0, 19)} (${b.size} bytes)\n`);
            }
            await pusher.pushManifest(result.manifest, OCI_MANIFEST);
          } finally {
            await pusher.close();
          }
          digest = sha256(result.manifest);
          process.stderr.write(`Pushed ${dockerDest.host}/${dockerDest.repo}:${dockerDest.tag}@${digest}\n`);
        } else {
          const d = parseOciRef(opts.dest);
          digest = await writeLayout(d.dir, d.tag ?? 'latest', result.manifest, OCI_MANIFEST, result.blobs);
          process.stderr.write(`Wrote oci:${d.dir}:${d.tag ?? 'latest'}@${digest}\n`);
        }
      } finally {
        await rm(stage, { recursive: true, force: true });
      }
      if (kid) process.stderr.write(`Release the key to attested guests: kbs-cli set-resource --path ${kid.slice('kbs:///'.length)} --file ${opts.keyFile ?? 'KEK'}\n`);
      process.stdout.write(`${digest}\n`);
    });
}
