import type { Command } from 'commander';
import { parseResourceUri, resourceApiPath } from '@kata-cc/kbs-client';
import { withAdmin } from '../context.js';
import { readInput } from '../files.js';

/** `kbs-cli set-resource --path repo/type/tag --file F`: stores a secret in the KBS. */
export function registerSetResource(program: Command): void {
  program
    .command('set-resource')
    .description('Store a resource (secret) in the KBS at repo/type/tag (admin)')
    .requiredOption('--path <repo/type/tag>', 'resource path, e.g. default/key/1 (or kbs:///default/key/1)')
    .requiredOption('--file <file>', 'file whose bytes become the resource (- for stdin)')
    .action(async (opts: { path: string; file: string }, cmd: Command) => {
      const uri = parseResourceUri(opts.path);
      const bytes = await readInput(opts.file, '--file');
      await withAdmin(cmd, (admin) => admin.call(`set resource "${uri.segments.join('/')}"`, 'POST', resourceApiPath(uri), { bytes }));
      process.stderr.write(`Resource ${uri.segments.join('/')} set (${bytes.length} bytes)\n`);
    });
}
