import type { Command } from 'commander';
import { withAdmin, writeOut } from '../context.js';
import { cliError } from '../errors.js';

const ID = /^[A-Za-z0-9_.-]+$/;

/** `kbs-cli get-reference-value <id>`: prints the stored reference value JSON. */
export function registerGetReferenceValue(program: Command): void {
  program
    .command('get-reference-value')
    .description('Print a reference value stored in the KBS RVPS (admin)')
    .argument('[id]', 'reference value name, e.g. mr_td')
    .option('--id <id>', 'same as the argument (trustee kbs-client spelling)')
    .action(async (arg: string | undefined, opts: { id?: string }, cmd: Command) => {
      const id = arg ?? opts.id;
      if (id === undefined || !ID.test(id)) throw cliError('KBSCLI_USAGE', `Cannot get a reference value: give an id made of letters, digits, "_", "." or "-"${id === undefined ? '' : ` (got "${id}")`}`);
      const reply = await withAdmin(cmd, (admin) => admin.call(`get reference value "${id}"`, 'GET', `/kbs/v0/reference-value/${id}`));
      const text = reply.body.toString('utf8');
      await writeOut(text.endsWith('\n') ? text : `${text}\n`);
    });
}
