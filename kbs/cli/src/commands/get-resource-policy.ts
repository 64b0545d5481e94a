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
 * The KBS answers with JSON whose values carry the Rego base64url-encoded, as it was uploaded
 * (ours: `{"resource-policy": "..."}`; `{"policy": "..."}` also occurs). When every value decodes
 * to Rego the Rego text is printed; otherwise the JSON as received.
 */
export function decodePolicyReply(body: Buffer): string {
  const asIs = body.toString('utf8');
  try {
    const v = JSON.parse(asIs) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const texts = Object.values(v as Record<string, unknown>).map((x) => (typeof x === 'string' && /^[A-Za-z0-9_-]+$/.test(x) ? Buffer.from(x, 'base64url').toString('utf8') : undefined));
      if (texts.length > 0 && texts.every((t) => t !== undefined && /(^|\n)\s*package\s/.test(t))) {
        return texts.map((t) => (t?.endsWith('\n') ? t : `${t}\n`)).join('\n');
      }
    }
  } catch {
    // not JSON: print as is
  }
  return asIs.endsWith('\n') ? asIs : `${asIs}\n`;
}
