import { Command } from 'commander';
import { registerAttest } from './commands/attest.js';
import { registerDeleteResource } from './commands/delete-resource.js';
import { registerGetReferenceValue } from './commands/get-reference-value.js';
import { registerGetResource } from './commands/get-resource.js';
import { registerGetResourcePolicy } from './commands/get-resource-policy.js';
import { registerPolicyEval } from './commands/policy-eval.js';
import { registerSetAttestationPolicy } from './commands/set-attestation-policy.js';
import { registerSetReferenceValue } from './commands/set-reference-value.js';
import { registerSetResource } from './commands/set-resource.js';
import { registerSealSecret } from './commands/seal-secret.js';
import { registerSetResourcePolicy } from './commands/set-resource-policy.js';
import { registerVerify } from './commands/verify.js';
import { registerEncryptImage } from './commands/encrypt-image.js';

/**
 * Builds the kbs-cli program: global options, then one `register<Name>(program)` per
 * subcommand (commands/<name>.ts). Usage errors throw a CommanderError (exitOverride) so the
 * binary maps them to exit code 2.
 */
export function buildProgram(): Command {
  const program = new Command('kbs-cli')
    .description('Administer a KBS (resources, policies, reference values) and fetch resources as a guest would')
    .version('0.1.0')
    .option('--url <url>', 'KBS base URL', process.env['KBS_URL'] ?? 'http://127.0.0.1:8080')
    .option('--admin-key <file>', 'admin private key PEM (Ed25519 or EC P-256); signs a short-lived admin JWT')
    .option('--admin-token-file <file>', 'use this pre-made admin JWT instead of --admin-key')
    .option('--cacert <file>', 'PEM root certificate of an HTTPS KBS')
    .showHelpAfterError()
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  kbs-cli --admin-key admin.key set-resource --path default/key/1 --file secret.bin
  kbs-cli get-resource --path default/key/1

Exit codes: 0 ok, 1 unexpected, 2 usage/bad input, 3 KBS unreachable,
            4 refused (admin auth, attestation, policy), 5 not found, 6 other KBS error`,
    );
  registerSetResource(program);
  registerDeleteResource(program);
  registerSetResourcePolicy(program);
  registerGetResourcePolicy(program);
  registerSetAttestationPolicy(program);
  registerSetReferenceValue(program);
  registerGetReferenceValue(program);
  registerGetResource(program);
  registerAttest(program);
  registerSealSecret(program);
  registerVerify(program);
  registerPolicyEval(program);
  registerEncryptImage(program);
  return program;
}
