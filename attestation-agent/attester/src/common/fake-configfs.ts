/**
 * Test support: a FAKE configfs-tsm kernel over a real temporary directory. mkdir creates the
 * attribute files the kernel creates; writing `inblob`/`privlevel` bumps `generation` and
 * regenerates `outblob` through `produce` (standing in for the TDX module / AMD-SP); rmdir
 * removes the entry. No TEE hardware is involved.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TsmFs } from './tsm.js';

export interface FakeTsmOptions {
  provider: string;
  /** Builds the outblob (and auxblob) from the inblob and privlevel. */
  produce(inblob: Uint8Array, privlevel: number): { outblob: Uint8Array; auxblob?: Uint8Array };
  /** Simulate a concurrent writer: bump generation once more after our inblob write. */
  raceAfterInblob?: boolean;
}

export function fakeConfigfs(opts: FakeTsmOptions): TsmFs & { entriesCreated: number } {
  const state = new Map<string, { generation: number; privlevel: number; inblob: Uint8Array }>();
  const fs = {
    entriesCreated: 0,
    async mkdir(dir: string): Promise<void> {
      await mkdir(dir);
      state.set(dir, { generation: 0, privlevel: 0, inblob: new Uint8Array() });
      fs.entriesCreated++;
      await writeFile(path.join(dir, 'provider'), `${opts.provider}\n`);
      await writeFile(path.join(dir, 'generation'), '0\n');
      await writeFile(path.join(dir, 'privlevel_floor'), '0\n');
    },
    async read(file: string): Promise<Uint8Array> {
      return new Uint8Array(await readFile(file));
    },
    async write(file: string, data: Uint8Array): Promise<void> {
      const dir = path.dirname(file);
      const s = state.get(dir);
      if (!s) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
      const attr = path.basename(file);
      if (attr === 'privlevel') s.privlevel = Number(Buffer.from(data).toString().trim());
      else if (attr === 'inblob') {
        if (data.length > 64) throw Object.assign(new Error('EINVAL'), { code: 'EINVAL' });
        s.inblob = Uint8Array.from(data);
      } else throw Object.assign(new Error(`EACCES: ${attr} is read-only`), { code: 'EACCES' });
      s.generation += opts.raceAfterInblob && attr === 'inblob' ? 2 : 1;
      const out = opts.produce(s.inblob, s.privlevel);
      await writeFile(path.join(dir, 'generation'), `${s.generation}\n`);
      await writeFile(path.join(dir, 'outblob'), out.outblob);
      if (out.auxblob) await writeFile(path.join(dir, 'auxblob'), out.auxblob);
    },
    async rmdir(dir: string): Promise<void> {
      state.delete(dir);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return fs;
}
