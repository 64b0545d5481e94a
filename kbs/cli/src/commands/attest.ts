import type { Command } from 'commander';
import { createAttester, detectAdditionalTees } from '@kata-cc/attester';
import { KbsClient, TeeKeyPair } from '@kata-cc/kbs-client';
import { cacert, chooseTee, globals, writeOut } from '../context.js';
import { readInput } from '../files.js';

/** `kbs-cli attest`: runs the RCAR handshake and prints the attestation token (trustee kbs-client `attest`). */
export function registerAttest(program: Command): void {
  program
    .command('attest')
    .description('Attest to the KBS and print the attestation token (EAR JWT)')
    .option('--tee <tee>', 'TEE to attest as, or "detect" for this machine\'s TEE', 'sample')
    .option('--tee-key-file <file>', 'TEE private key PEM whose public key the token will carry')
    .option('--init-data <file>', 'initdata TOML sent as init-data')
    .action(async (opts: { tee: string; teeKeyFile?: string; initData?: string }, cmd: Command) => {
      const g = globals(cmd);
      const tee = await chooseTee(opts.tee);
      const cert = await cacert(g);
      const client = new KbsClient(
        {
          url: g.url,
          ...(cert === undefined ? {} : { cert }),
          ...(opts.teeKeyFile === undefined ? {} : { teeKey: TeeKeyPair.fromPem((await readInput(opts.teeKeyFile, '--tee-key-file')).toString('utf8')) }),
          ...(opts.initData === undefined ? {} : { initData: (await readInput(opts.initData, '--init-data')).toString('utf8') }),
        },
        { attester: createAttester(tee), additionalAttesters: (await detectAdditionalTees()).map((d) => createAttester(d)) },
      );
      try {
        await writeOut(`${await client.attest()}\n`);
      } finally {
        await client.close();
      }
    });
}
