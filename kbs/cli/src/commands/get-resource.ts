import type { Command } from 'commander';
import { createAttester, detectAdditionalTees } from '@kata-cc/attester';
import { KbsClient, TeeKeyPair, parseResourceUri, parseTeeKeyAlgorithm, type TokenAndKey } from '@kata-cc/kbs-client';
import { cacert, chooseTee, globals, writeOut } from '../context.js';
import { cliError } from '../errors.js';
import { readInput } from '../files.js';

interface Opts {
  path: string;
  tee: string;
  teeKeyFile?: string;
  teeKeyAlgorithm: string;
  attestationToken?: string;
  initData?: string;
  base64?: boolean;
}

/**
 * `kbs-cli get-resource --path P`: plays the guest (like trustee's kbs-client): attests with
 * the sample TEE (or `--tee`), and writes the secret to stdout.
 */
export function registerGetResource(program: Command): void {
  program
    .command('get-resource')
    .description('Attest to the KBS and print a resource (the smoke test; uses the sample TEE without hardware)')
    .requiredOption('--path <repo/type/tag>', 'resource path, e.g. default/key/1 (or kbs:///default/key/1)')
    .option('--tee <tee>', 'TEE to attest as, or "detect" for this machine\'s TEE', 'sample')
    .option('--tee-key-file <file>', 'TEE private key PEM (EC P-256/P-521 or RSA); default: a fresh key')
    .option('--tee-key-algorithm <alg>', 'algorithm of a fresh TEE key: ECDH-ES+A256KW-P256, ECDH-ES+A256KW-P521, RSA-OAEP-256', 'ECDH-ES+A256KW-P256')
    .option('--attestation-token <file>', 'use this token (Bearer) instead of attesting; needs --tee-key-file')
    .option('--init-data <file>', 'initdata TOML sent as init-data')
    .option('--base64', 'print the resource base64-encoded (trustee kbs-client output)')
    .action(async (opts: Opts, cmd: Command) => {
      const g = globals(cmd);
      const uri = parseResourceUri(opts.path);
      const teeKey = opts.teeKeyFile === undefined ? undefined : TeeKeyPair.fromPem((await readInput(opts.teeKeyFile, '--tee-key-file')).toString('utf8'));
      const cert = await cacert(g);
      const config = {
        url: g.url,
        teeKeyAlgorithm: parseTeeKeyAlgorithm(opts.teeKeyAlgorithm),
        ...(cert === undefined ? {} : { cert }),
        ...(teeKey === undefined ? {} : { teeKey }),
        ...(opts.initData === undefined ? {} : { initData: (await readInput(opts.initData, '--init-data')).toString('utf8') }),
      };
      let client: KbsClient;
      if (opts.attestationToken !== undefined) {
        if (teeKey === undefined) throw cliError('KBSCLI_USAGE', 'Cannot use --attestation-token without --tee-key-file: the resource is encrypted to that key');
        const token = (await readInput(opts.attestationToken, '--attestation-token')).toString('utf8').trim();
        client = new KbsClient(config, { tokenSource: async (): Promise<TokenAndKey> => ({ token, teeKey }) });
      } else {
        const tee = await chooseTee(opts.tee);
        client = new KbsClient(config, { attester: createAttester(tee), additionalAttesters: (await detectAdditionalTees()).map((d) => createAttester(d)) });
      }
      try {
        const secret = await client.getResource(`kbs:///${uri.segments.join('/')}`);
        await writeOut(opts.base64 === true ? `${Buffer.from(secret).toString('base64')}\n` : secret);
      } finally {
        await client.close();
      }
    });
}
