import { stat } from 'node:fs/promises';
import { KccError } from '@kata-cc/errors';
import { run } from './exec.js';

/**
 * Appends the dm-verity hash tree to the image file (`--hash-offset` = data size, 4 KiB
 * aligned) with a fixed salt and UUID, and returns the root hash veritysetup prints.
 */
export async function formatVerity(image: string, salt: string, uuid: string): Promise<{ rootHash: string; hashOffset: number }> {
  const size = (await stat(image)).size;
  const hashOffset = Math.ceil(size / 4096) * 4096;
  if (hashOffset !== size) await run('truncate', ['-s', String(hashOffset), image]);
  const out = (await run('veritysetup', ['format', image, image, `--hash-offset=${hashOffset}`, `--salt=${salt}`, `--uuid=${uuid}`])).toString();
  const m = /Root hash:\s+([0-9a-f]{64})/.exec(out);
  if (!m?.[1]) throw new KccError({ kind: 'INTERNAL', code: 'IMGB_VERITY_FORMAT', message: 'veritysetup printed no root hash' });
  return { rootHash: m[1], hashOffset };
}

/** Checks an image against a root hash on the host (no device-mapper needed). */
export async function verifyVerity(image: string, rootHash: string, hashOffset: number): Promise<void> {
  await run('veritysetup', ['verify', image, image, rootHash, `--hash-offset=${hashOffset}`]);
}
