import type { Command } from 'commander';
import { withAdmin, writeOut } from '../context.js';

/** `kbs-cli get-resource-policy`: prints what the KBS returns (its policy list / policy). */
export function registerGetResourcePolicy(program: Command): void {
  program
    .command('get-resource-policy')
    .description('Print the KBS resource policy (admin)')
    .action(async (_opts: unknown, cmd: Command) => {
      const reply = await withAdmin(cmd, (admin) => admin.call('get the resource policy', 'GET', '/kbs/v0/resource-policy'));
      await writeOut(decodePolicyReply(reply.body));
    });
}

/**
 * The KBS answers with JSON; when it carries the Rego base64url-encoded (`{"policy": "..."}`,
 * as it was uploaded) the Rego text is printed, otherwise the JSON as received.
 */
export function decodePolicyReply(body: Buffer): string {
  try {
    const v = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>)['policy'] === 'string') {
      const text = Buffer.from((v as Record<string, string>)['policy'] ?? '', 'base64url').toString('utf8');
      if (/\bpackage\s/.test(text)) return text.endsWith('\n') ? text : `${text}\n`;
    }
  } catch {
    // not JSON: print as is
  }
  const s = body.toString('utf8');
  return s.endsWith('\n') ? s : `${s}\n`;
}
