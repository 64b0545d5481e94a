import type { Command } from 'commander';
import { withAdmin } from '../context.js';
import { b64urlNoPad, readInput } from '../files.js';

/** `kbs-cli set-attestation-policy --file F [--id default_cpu] [--type rego]`. */
export function registerSetAttestationPolicy(program: Command): void {
  program
    .command('set-attestation-policy')
    .description('Set an attestation policy (Rego: claims to EAR appraisal) (admin)')
    .requiredOption('--file <file>', 'Rego policy file')
    .option('--id <id>', 'policy id; the KBS evaluates default_cpu for CPU TEEs', 'default_cpu')
    .option('--type <type>', 'policy type', 'rego')
    .action(async (opts: { file: string; id: string; type: string }, cmd: Command) => {
      const rego = await readInput(opts.file, '--file');
      const body = { type: opts.type, policy_id: opts.id, policy: b64urlNoPad(rego) };
      await withAdmin(cmd, (admin) => admin.call(`set attestation policy "${opts.id}"`, 'POST', '/kbs/v0/attestation-policy', { json: body }));
      if (opts.id === 'default') process.stderr.write('Warning: the KBS evaluates "default_cpu", not "default"; this policy has no effect on CPU attestation\n');
      process.stderr.write(`Attestation policy ${opts.id} set\n`);
    });
}
