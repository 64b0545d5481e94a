import { readFile } from 'node:fs/promises';
import { cliError } from './errors.js';

/** Reads a file named on the command line (`-` is stdin); a failure names the option and the path. */
export async function readInput(path: string, option: string): Promise<Buffer> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }
  try {
    return await readFile(path);
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code ?? 'read error';
    throw cliError('KBSCLI_FILE_READ', `Cannot read ${option} "${path}" (${reason})`, { cause });
  }
}

/** base64url without padding: how trustee's kbs-client encodes policies. */
export function b64urlNoPad(data: Uint8Array | string): string {
  return Buffer.from(data).toString('base64url');
}
