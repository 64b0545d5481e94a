/**
 * configfs-tsm (Linux `Documentation/ABI/testing/configfs-tsm`), the kernel's one interface for
 * TDX, SEV-SNP and CCA attestation reports: mkdir an entry under
 * /sys/kernel/config/tsm/report, check `provider`, (SEV) write `privlevel`, write `inblob`,
 * read `outblob` (and `auxblob`), then check `generation` so that a concurrent writer to the
 * same entry cannot hand us someone else's report, and rmdir the entry.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { attesterError } from '../errors.js';

export const TSM_REPORT_DIR = '/sys/kernel/config/tsm/report';

/** The file operations configfs-tsm needs; tests substitute a fake kernel ("fake configfs"). */
export interface TsmFs {
  mkdir(dir: string): Promise<void>;
  read(file: string): Promise<Uint8Array>;
  write(file: string, data: Uint8Array): Promise<void>;
  rmdir(dir: string): Promise<void>;
}

export const nodeTsmFs: TsmFs = {
  mkdir: (d) => mkdir(d).then(() => undefined),
  read: async (f) => new Uint8Array(await readFile(f)),
  write: (f, d) => writeFile(f, d),
  rmdir: (d) => rmdir(d),
};

export interface TsmRequest {
  /** Expected provider, e.g. `tdx_guest` or `sev_guest`. */
  provider: string;
  inblob: Uint8Array;
  /** SEV only: the VMPL to request the report at. */
  privlevel?: number;
  /** Also read `auxblob` (the SEV certificate table). */
  aux?: boolean;
}

export interface TsmReport {
  outblob: Uint8Array;
  auxblob?: Uint8Array;
}

function fail(message: string, cause?: unknown): never {
  throw attesterError('ATTESTER_EVIDENCE_FAILED', message, cause === undefined ? {} : { cause });
}

/** Gets one report through configfs-tsm under `root` (a path prefix, '' on a real guest). */
export async function tsmReport(req: TsmRequest, root = '', fs: TsmFs = nodeTsmFs): Promise<TsmReport> {
  const dir = path.join(root + TSM_REPORT_DIR, `kcc-${randomBytes(8).toString('hex')}`);
  try {
    await fs.mkdir(dir);
  } catch (cause) {
    fail(`Cannot create a configfs-tsm report entry under ${root + TSM_REPORT_DIR}`, cause);
  }
  try {
    const provider = Buffer.from(await fs.read(path.join(dir, 'provider'))).toString('utf8').trim();
    if (provider !== req.provider) fail(`configfs-tsm provider is "${provider}", expected "${req.provider}"`);
    if (req.inblob.length === 0) fail('configfs-tsm inblob must not be empty');
    let writes = 0;
    if (req.privlevel !== undefined) {
      await fs.write(path.join(dir, 'privlevel'), Buffer.from(`${req.privlevel}\n`));
      writes++;
    }
    await fs.write(path.join(dir, 'inblob'), req.inblob);
    writes++;
    const outblob = await fs.read(path.join(dir, 'outblob'));
    const auxblob = req.aux ? await fs.read(path.join(dir, 'auxblob')).catch(() => undefined) : undefined;
    const generation = Number(Buffer.from(await fs.read(path.join(dir, 'generation'))).toString('utf8').trim());
    // SECURITY: each write bumps `generation`; any other value means another writer changed the
    // request between our write and our read, so the outblob may not carry our inblob.
    if (generation !== writes) {
      throw attesterError('ATTESTER_EVIDENCE_FAILED', `configfs-tsm generation is ${generation}, expected ${writes}: the report entry was written concurrently`, {
        details: { generation, expected: writes },
      });
    }
    if (outblob.length === 0) fail('configfs-tsm returned an empty outblob');
    return auxblob && auxblob.length > 0 ? { outblob, auxblob } : { outblob };
  } finally {
    await fs.rmdir(dir).catch(() => undefined);
  }
}
