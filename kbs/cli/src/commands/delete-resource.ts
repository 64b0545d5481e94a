import type { Command } from 'commander';
import { parseResourceUri, resourceApiPath } from '@kata-cc/kbs-client';
import { withAdmin } from '../context.js';

/** `kbs-cli delete-resource --path repo/type/tag`. */
export function registerDeleteResource(program: Command): void {
  program
    .command('delete-resource')
    .description('Delete a resource from the KBS (admin)')
    .requiredOption('--path <repo/type/tag>', 'resource path, e.g. default/key/1')
    .action(async (opts: { path: string }, cmd: Command) => {
      const uri = parseResourceUri(opts.path);
      await withAdmin(cmd, (admin) => admin.call(`delete resource "${uri.segments.join('/')}"`, 'DELETE', resourceApiPath(uri)));
      process.stderr.write(`Resource ${uri.segments.join('/')} deleted\n`);
    });
}
