import type { Command } from 'commander';
import { withAdmin, writeOut } from '../context.js';

/** The one resource policy id (trustee's `KBS_POLICY_ID`). */
const POLICY_ID = 'resource-policy';

/**
 * `kbs-cli get-resource-policy`: prints the Rego text. trustee's `GET /kbs/v0/resource-policy`
 * answers only the list of policy ids (`["resource-policy"]`), so we ask
 * `GET /kbs/v0/resource-policy/resource-policy`, which our KBS answers with `{"id","policy"}`.
 * trustee ignores the suffix and answers the list again: then the list is printed and a note
 * on stderr says that this KBS does not hand out policy text.
 */
export function registerGetResourcePolicy(program: Command): void {
  program
    .command('get-resource-policy')
    .description('Print the KBS resource policy as Rego text (admin); a trustee KBS only lists policy ids')
    .action(async (_opts: unknown, cmd: Command) => {
      const reply = await withAdmin(cmd, (admin) => admin.call('get the resource policy', 'GET', `/kbs/v0/resource-policy/${POLICY_ID}`));
      const out = decodePolicyReply(reply.body);
      if (out.listOnly) process.stderr.write('Note: this KBS (trustee) lists resource policy ids only; it does not return the policy text\n');
      await writeOut(out.text);
    });
}

/**
 * Decodes a resource-policy reply: an object whose values carry base64url Rego (ours
 * `{"id","policy"}`; older `{"resource-policy": "..."}`/`{"policy": "..."}`) prints as Rego text;
 * a JSON array is trustee's id list (`listOnly`); anything else is printed as received.
 */
export function decodePolicyReply(body: Buffer): { text: string; listOnly: boolean } {
  const asIs = body.toString('utf8');
  const lineEnded = (t: string): string => (t.endsWith('\n') ? t : `${t}\n`);
  try {
    const v = JSON.parse(asIs) as unknown;
    if (Array.isArray(v)) return { text: lineEnded(asIs), listOnly: true };
    if (typeof v === 'object' && v !== null) {
      const texts = Object.entries(v as Record<string, unknown>)
        .filter(([k]) => k !== 'id')
        .map(([, x]) => (typeof x === 'string' && /^[A-Za-z0-9_-]+$/.test(x) ? Buffer.from(x, 'base64url').toString('utf8') : undefined));
      if (texts.length > 0 && texts.every((t) => t !== undefined && /(^|\n)\s*package\s/.test(t))) {
        return { text: texts.map((t) => lineEnded(t ?? '')).join('\n'), listOnly: false };
      }
    }
  } catch {
    // not JSON: print as is
  }
  return { text: lineEnded(asIs), listOnly: false };
}
