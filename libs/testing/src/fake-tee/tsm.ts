/**
 * A FAKE configfs-tsm kernel interface in memory, answering each `inblob` write with a report
 * that a fake TEE platform signs on demand. It has the shape of the attester's `TsmFs` seam
 * (mkdir/read/write/rmdir; declared here structurally, as libs may not import the guest column),
 * so the real TDX and SNP attesters run their configfs-tsm code path against fake hardware.
 */
import path from 'node:path';

export interface FakeTsmFs {
  mkdir(dir: string): Promise<void>;
  read(file: string): Promise<Uint8Array>;
  write(file: string, data: Uint8Array): Promise<void>;
  rmdir(dir: string): Promise<void>;
  /** inblobs received, in order (what the guest asked the "hardware" to sign). */
  readonly inblobs: Uint8Array[];
}

export interface FakeTsmOptions {
  /** `tdx_guest` or `sev_guest`. */
  provider: string;
  /** The fake hardware: outblob (and auxblob) for an inblob at a privilege level. */
  produce(inblob: Uint8Array, privlevel: number): { outblob: Uint8Array; auxblob?: Uint8Array };
}

export function fakeTsm(o: FakeTsmOptions): FakeTsmFs {
  const entries = new Map<string, { generation: number; privlevel: number; files: Map<string, Uint8Array> }>();
  const inblobs: Uint8Array[] = [];
  const enoent = (p: string): Error => Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
  return {
    inblobs,
    async mkdir(dir) {
      if (entries.has(dir)) throw Object.assign(new Error(`EEXIST: ${dir}`), { code: 'EEXIST' });
      const files = new Map<string, Uint8Array>([['provider', Buffer.from(`${o.provider}\n`)], ['generation', Buffer.from('0\n')]]);
      entries.set(dir, { generation: 0, privlevel: 0, files });
    },
    async read(file) {
      const e = entries.get(path.dirname(file));
      const v = e?.files.get(path.basename(file));
      if (!v) throw enoent(file);
      return v;
    },
    async write(file, data) {
      const e = entries.get(path.dirname(file));
      if (!e) throw enoent(file);
      const attr = path.basename(file);
      if (attr === 'privlevel') e.privlevel = Number(Buffer.from(data).toString().trim());
      else if (attr === 'inblob') {
        if (data.length > 64) throw Object.assign(new Error('EINVAL'), { code: 'EINVAL' });
        inblobs.push(Uint8Array.from(data));
        const out = o.produce(data, e.privlevel);
        e.files.set('outblob', out.outblob);
        if (out.auxblob) e.files.set('auxblob', out.auxblob);
      } else throw Object.assign(new Error(`EACCES: ${attr} is read-only`), { code: 'EACCES' });
      e.generation += 1;
      e.files.set('generation', Buffer.from(`${e.generation}\n`));
    },
    async rmdir(dir) {
      entries.delete(dir);
    },
  };
}
