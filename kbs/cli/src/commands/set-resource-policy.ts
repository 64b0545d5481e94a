import type { Command } from 'commander';
import { withAdmin } from '../context.js';
import { cliError } from '../errors.js';
import { b64urlNoPad, readInput } from '../files.js';
import { BUILTIN_RESOURCE_POLICIES, type BuiltinResourcePolicy } from '../policies.js';

interface Opts {
  file?: string;
  allowAll?: boolean;
  denyAll?: boolean;
  affirming?: boolean;
  default?: boolean;
}

/** `kbs-cli set-resource-policy (--file F | --allow-all | --deny-all | --affirming | --default)`. */
export function registerSetResourcePolicy(program: Command): void {
  program
    .command('set-resource-policy')
    .description('Set the KBS resource policy (Rego, rule data.policy.allow) (admin)')
    .option('--file <file>', 'Rego policy file')
    .option('--allow-all', 'release every resource to every attested TEE (testing only)')
    .option('--deny-all', 'release nothing')
    .option('--affirming', 'release only when every EAR submod is "affirming"')
    .option('--default', 'the default: any attested TEE except sample')
    .action(async (opts: Opts, cmd: Command) => {
      const chosen: Array<[string, BuiltinResourcePolicy | 'file']> = [];
      if (opts.file !== undefined) chosen.push(['--file', 'file']);
      if (opts.allowAll === true) chosen.push(['--allow-all', 'allow-all']);
      if (opts.denyAll === true) chosen.push(['--deny-all', 'deny-all']);
      if (opts.affirming === true) chosen.push(['--affirming', 'affirming']);
      if (opts.default === true) chosen.push(['--default', 'default']);
      const [only, ...more] = chosen;
      if (only === undefined || more.length > 0) {
        throw cliError('KBSCLI_USAGE', 'Cannot choose the resource policy: give exactly one of --file, --allow-all, --deny-all, --affirming, --default');
      }
      const rego = only[1] === 'file' ? await readInput(opts.file ?? '', '--file') : Buffer.from(BUILTIN_RESOURCE_POLICIES[only[1]]);
      await withAdmin(cmd, (admin) => admin.call('set the resource policy', 'POST', '/kbs/v0/resource-policy', { json: { policy: b64urlNoPad(rego) } }));
      process.stderr.write(`Resource policy set (${only[0]})\n`);
    });
}
