import type { Command } from 'commander';
import { detectTee, type Tee } from '@kata-cc/attester';
import { isTee } from '@kata-cc/kbs-types';
import { AdminClient, signAdminToken, type GlobalOptions } from './admin.js';
import { cliError } from './errors.js';
import { readInput } from './files.js';

/** The root options, as seen from any subcommand. */
export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

/** The PEM of `--cacert`, if given. */
export async function cacert(g: GlobalOptions): Promise<string | undefined> {
  return g.cacert === undefined ? undefined : (await readInput(g.cacert, '--cacert')).toString('utf8');
}

/**
 * Runs `fn` with an admin client authenticated by `--admin-key` (a JWT signed per request) or
 * `--admin-token-file` (a pre-made JWT, as trustee ≥ v0.21's kbs-client uses), then closes it.
 */
export async function withAdmin<T>(cmd: Command, fn: (admin: AdminClient) => Promise<T>): Promise<T> {
  const g = globals(cmd);
  let credential: () => Promise<string>;
  if (g.adminKey !== undefined) {
    const pem = await readInput(g.adminKey, '--admin-key');
    await signAdminToken(pem); // fail early on a bad key, before any request
    credential = () => signAdminToken(pem);
  } else if (g.adminTokenFile !== undefined) {
    const token = (await readInput(g.adminTokenFile, '--admin-token-file')).toString('utf8').trim();
    credential = async () => token;
  } else {
    throw cliError('KBSCLI_NO_ADMIN_CREDENTIAL', 'Cannot call the KBS admin API without a credential');
  }
  const admin = new AdminClient(g, credential, await cacert(g));
  try {
    return await fn(admin);
  } finally {
    await admin.close();
  }
}

/** Writes command output to stdout and waits until it is flushed (large secrets, pipes). */
export function writeOut(data: string | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(data, (err) => (err ? reject(err) : resolve())));
}

/**
 * The TEE `get-resource`/`attest` play: `sample` by default (the smoke test, like trustee's
 * kbs-client on a machine without a TEE), a named one, or `detect` (this machine's TEE, else
 * sample). A note on stderr says when the sample TEE is used.
 */
export async function chooseTee(option: string): Promise<Tee> {
  let tee: Tee;
  if (option === 'detect') tee = await detectTee({ allowSample: true });
  else if (isTee(option)) tee = option;
  else throw cliError('KBSCLI_USAGE', `Unknown TEE "${option}": expected a KBS TEE name (sample, tdx, snp, tpm, ...) or "detect"`);
  if (tee === 'sample') process.stderr.write('Note: attesting with the SAMPLE TEE (no hardware); the KBS accepts it only in dev mode (--allow-sample)\n');
  return tee;
}
