import { createCipheriv, createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { Command } from 'commander';
import { writeOut } from '../context.js';
import { cliError } from '../errors.js';
import { readInput } from '../files.js';

interface Opts {
  signingKey: string;
  kid: string;
  vault?: string;
  envelope?: boolean;
  file?: string;
  keyId?: string;
  kekFile?: string;
}

/** `sealed.` + a compact JWS (ES256) of the secret payload (guest-components SEALED_SECRET.md). */
export function sealPayload(payload: Record<string, unknown>, key: KeyObject, kid: string): string {
  const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const h = enc({ alg: 'ES256', kid });
  const p = enc({ version: '0.1.0', ...payload });
  return `sealed.${h}.${p}.${sign('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

function gcm(key: Uint8Array, data: Uint8Array): { iv: Buffer; out: Buffer } {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  return { iv, out: Buffer.concat([c.update(data), c.final(), c.getAuthTag()]) };
}

/**
 * `kbs-cli seal-secret`: makes a sealed secret for the CDH's UnsealSecret (the tenant side of
 * guest-components' `secret seal`). `--vault <uri>`: the secret is that KBS resource.
 * `--envelope --file F --key-id <uri> --kek-file K`: F is encrypted (A256GCM) with a fresh DEK,
 * wrapped with the 32-byte KEK that the KBS holds at `<uri>` (CDH KMS provider `kbs`).
 */
export function registerSealSecret(program: Command): void {
  program
    .command('seal-secret')
    .description('Make a sealed secret (sealed.<JWS>) for the CDH: a vault reference or an envelope encrypted to a KBS-held key')
    .requiredOption('--signing-key <file>', 'EC P-256 private key PEM that signs the secret')
    .requiredOption('--kid <kid>', 'where the CDH finds the public JWK: kbs:///repo/type/tag or a key file name')
    .option('--vault <uri>', 'vault secret: the secret is this KBS resource, e.g. kbs:///default/key/1')
    .option('--envelope', 'envelope secret: encrypt --file with a DEK wrapped by the KEK at --key-id')
    .option('--file <file>', 'plaintext of an envelope secret (- for stdin)')
    .option('--key-id <uri>', 'KBS resource URI of the 32-byte KEK (envelope)')
    .option('--kek-file <file>', 'the same 32-byte KEK, to wrap the DEK here (envelope)')
    .action(async (opts: Opts) => {
      let key: KeyObject;
      try {
        key = createPrivateKey(await readInput(opts.signingKey, '--signing-key'));
      } catch (cause) {
        throw cliError('KBSCLI_USAGE', 'Cannot use --signing-key: expected an EC P-256 private key PEM', { cause });
      }
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw cliError('KBSCLI_USAGE', 'Cannot use --signing-key: sealed secrets are signed ES256, which needs an EC P-256 key');
      }
      if ((opts.vault === undefined) === (opts.envelope !== true)) throw cliError('KBSCLI_USAGE', 'Cannot seal: give exactly one of --vault <uri> and --envelope');
      let payload: Record<string, unknown>;
      if (opts.vault !== undefined) {
        payload = { type: 'vault', provider: 'kbs', name: opts.vault, provider_settings: {}, annotations: {} };
      } else {
        if (opts.file === undefined || opts.keyId === undefined || opts.kekFile === undefined) {
          throw cliError('KBSCLI_USAGE', 'Cannot seal an envelope without --file, --key-id and --kek-file');
        }
        const kek = await readInput(opts.kekFile, '--kek-file');
        if (kek.length !== 32) throw cliError('KBSCLI_USAGE', `Cannot use --kek-file: the KEK must be 32 bytes, got ${kek.length}`);
        const dek = randomBytes(32);
        const wrapped = gcm(kek, dek);
        const data = gcm(dek, await readInput(opts.file, '--file'));
        payload = {
          type: 'envelope', provider: 'kbs', key_id: opts.keyId,
          encrypted_key: wrapped.out.toString('base64'), encrypted_data: data.out.toString('base64'),
          wrap_type: 'A256GCM', iv: data.iv.toString('base64'),
          provider_settings: {}, annotations: { iv: wrapped.iv.toString('base64'), wrap_type: 'A256GCM' },
        };
      }
      await writeOut(`${sealPayload(payload, key, opts.kid)}\n`);
    });
}
