import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createWriteStream, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import { imgError } from '../errors.js';

export interface StoredImage {
  reference: string;
  manifestDigest: string;
  configDigest: string;
  blobs: string[];
  pulledAt: string;
}

interface Meta {
  version: 1;
  images: Record<string, StoredImage>;
}

export interface EnsureResult {
  path: string;
  /** Bytes fetched from the network for this call (0 when already stored or shared). */
  transferred: number;
}

/**
 * Content-addressed blob store shared by every pull (layers as the registry serves them,
 * encrypted ones still encrypted), with a JSON metadata file naming which image uses which
 * blobs, for GC. One download per digest at a time: concurrent callers await the same promise.
 */
export class LayerStore {
  readonly dir: string;
  readonly #inflight = new Map<string, Promise<EnsureResult>>();
  /** Blobs a running pull needs but has not recorded yet (gc must keep them). */
  readonly #pins = new Map<string, number>();
  #metaLock: Promise<unknown> = Promise.resolve();

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  blobPath(digest: string): string {
    const [alg, hex] = digest.split(':');
    // SECURITY: digests become file names; only well-formed ones are accepted.
    if (!/^(sha256|sha512)$/.test(alg ?? '') || !/^[a-f0-9]{64,128}$/.test(hex ?? '')) {
      throw imgError('IMG_MANIFEST_INVALID', `Invalid digest "${digest.slice(0, 80)}"`);
    }
    return path.join(this.dir, 'blobs', alg as string, hex as string);
  }

  async has(digest: string, size?: number): Promise<boolean> {
    try {
      const st = await stat(this.blobPath(digest));
      return size === undefined || st.size === size;
    } catch {
      return false;
    }
  }

  /** The blob's path, downloading it through `fetch` (digest-verified while streaming) if absent. */
  ensure(digest: string, size: number, fetch: () => AsyncIterable<Buffer>, onBytes?: (n: number) => void): Promise<EnsureResult> {
    const running = this.#inflight.get(digest);
    // Someone else is fetching it: wait; if they fail (e.g. their pull aborted), fetch it ourselves.
    if (running !== undefined) return running.then((r) => ({ path: r.path, transferred: 0 }), () => this.ensure(digest, size, fetch, onBytes));
    const p = this.#download(digest, size, fetch, onBytes).finally(() => this.#inflight.delete(digest));
    this.#inflight.set(digest, p);
    return p;
  }

  async #download(digest: string, size: number, fetch: () => AsyncIterable<Buffer>, onBytes?: (n: number) => void): Promise<EnsureResult> {
    const final = this.blobPath(digest);
    if (await this.has(digest, size)) return { path: final, transferred: 0 };
    const tmpDir = path.join(this.dir, 'tmp');
    await mkdir(tmpDir, { recursive: true });
    await mkdir(path.dirname(final), { recursive: true });
    const tmp = path.join(tmpDir, `${randomBytes(8).toString('hex')}.partial`);
    const hash = createHash(digest.startsWith('sha512:') ? 'sha512' : 'sha256');
    let n = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _e, cb) {
        hash.update(chunk);
        n += chunk.length;
        onBytes?.(n);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(Readable.from(fetch()), tap, createWriteStream(tmp, { mode: 0o600 }));
      const got = `${digest.split(':')[0]}:${hash.digest('hex')}`;
      // SECURITY: only verified content enters the store under its digest.
      if (got !== digest) throw imgError('IMG_DIGEST_MISMATCH', `Blob ${digest} does not match its digest`, { expected: digest, actual: got });
      if (n !== size) throw imgError('IMG_SIZE_MISMATCH', `Blob ${digest} has ${n} bytes, descriptor says ${size}`);
      await rename(tmp, final);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return { path: final, transferred: n };
  }

  /**
   * A pass-through stream stage that stores the bytes flowing through it as blob `digest`, so
   * a layer can be unpacked straight from the socket and cached at once. The digest and size
   * are verified at the end (an error there fails the pipeline) before the blob is published.
   * Undefined when the blob is already stored or being fetched (then use `ensure`).
   */
  async teeStage(digest: string, size: number, onBytes?: (n: number) => void): Promise<Transform | undefined> {
    const final = this.blobPath(digest);
    if (this.#inflight.has(digest) || (await this.has(digest, size)) || this.#inflight.has(digest)) return undefined;
    const tmpDir = path.join(this.dir, 'tmp');
    mkdirSync(tmpDir, { recursive: true });
    mkdirSync(path.dirname(final), { recursive: true });
    const tmp = path.join(tmpDir, `${randomBytes(8).toString('hex')}.partial`);
    const fd = openSync(tmp, 'wx', 0o600);
    const hash = createHash(digest.startsWith('sha512:') ? 'sha512' : 'sha256');
    let n = 0;
    let settle: { ok: (r: EnsureResult) => void; fail: (e: unknown) => void } | undefined;
    const done = new Promise<EnsureResult>((ok, fail) => (settle = { ok, fail }));
    done.catch(() => undefined);
    this.#inflight.set(digest, done);
    let finished = false;
    const finish = (err: unknown): void => {
      if (finished) return;
      finished = true;
      this.#inflight.delete(digest);
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
      if (err === undefined) {
        renameSync(tmp, final);
        settle?.ok({ path: final, transferred: n });
      } else {
        rmSync(tmp, { force: true });
        settle?.fail(err);
      }
    };
    return new Transform({
      transform(chunk: Buffer, _e, cb) {
        hash.update(chunk);
        n += chunk.length;
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off);
        onBytes?.(n);
        cb(null, chunk);
      },
      flush(cb) {
        const got = `${digest.split(':')[0]}:${hash.digest('hex')}`;
        // SECURITY: only verified content enters the store under its digest.
        const err = got !== digest
          ? imgError('IMG_DIGEST_MISMATCH', `Layer ${digest} does not match its digest`, { expected: digest, actual: got })
          : n !== size ? imgError('IMG_SIZE_MISMATCH', `Blob ${digest} has ${n} bytes, descriptor says ${size}`) : undefined;
        finish(err);
        cb(err ?? null);
      },
      destroy(err, cb) {
        finish(err ?? new Error('stream aborted'));
        cb(err);
      },
    });
  }

  async #readMeta(): Promise<Meta> {
    try {
      const m = JSON.parse(await readFile(path.join(this.dir, 'meta.json'), 'utf8')) as Meta;
      if (m.version !== 1 || typeof m.images !== 'object') throw new Error('bad version');
      return m;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, images: {} };
      throw imgError('IMG_STORE_CORRUPT', `Layer store metadata ${path.join(this.dir, 'meta.json')} is unreadable`, undefined, err);
    }
  }

  async #updateMeta(fn: (m: Meta) => void): Promise<void> {
    const run = this.#metaLock.then(() => withDirLock(path.join(this.dir, 'meta.lock'), async () => {
      const m = await this.#readMeta();
      fn(m);
      const tmp = path.join(this.dir, `meta.json.${randomBytes(4).toString('hex')}`);
      await writeFile(tmp, JSON.stringify(m, null, 1));
      await rename(tmp, path.join(this.dir, 'meta.json'));
    }));
    this.#metaLock = run.catch(() => undefined);
    await run;
  }

  /**
   * Protects `digests` from gc until the returned function is called (a pull in progress).
   * Pins are also written to `pins/<pid>-<id>` so a gc in another process keeps them too.
   */
  pin(digests: string[]): () => void {
    for (const d of digests) this.#pins.set(d, (this.#pins.get(d) ?? 0) + 1);
    const pinFile = path.join(this.dir, 'pins', `${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      mkdirSync(path.dirname(pinFile), { recursive: true });
      writeFileSync(pinFile, JSON.stringify(digests));
    } catch {
      // best effort: the in-process pin still holds
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      rmSync(pinFile, { force: true });
      for (const d of digests) {
        const c = (this.#pins.get(d) ?? 1) - 1;
        if (c <= 0) this.#pins.delete(d);
        else this.#pins.set(d, c);
      }
    };
  }

  async recordImage(img: StoredImage): Promise<void> {
    await this.#updateMeta((m) => {
      m.images[img.reference] = img;
    });
  }

  async removeImage(reference: string): Promise<boolean> {
    let found = false;
    await this.#updateMeta((m) => {
      found = reference in m.images;
      delete m.images[reference];
    });
    return found;
  }

  /** Digests pinned by running pulls of live processes; pin files of dead ones are removed. */
  async #foreignPins(): Promise<string[]> {
    const dir = path.join(this.dir, 'pins');
    const out: string[] = [];
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const pid = Number(name.split('-')[0]);
      let alive = false;
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (err) {
        alive = (err as NodeJS.ErrnoException).code === 'EPERM';
      }
      if (!alive) {
        await rm(path.join(dir, name), { force: true });
        continue;
      }
      try {
        out.push(...(JSON.parse(await readFile(path.join(dir, name), 'utf8')) as string[]));
      } catch {
        // being written or removed right now
      }
    }
    return out;
  }

  async images(): Promise<StoredImage[]> {
    return Object.values((await this.#readMeta()).images);
  }

  /** Deletes blobs no recorded image references (and stale partial downloads). */
  async gc(): Promise<{ removed: string[]; freedBytes: number }> {
    const meta = await this.#readMeta();
    const live = new Set(Object.values(meta.images).flatMap((i) => i.blobs));
    for (const d of await this.#foreignPins()) live.add(d);
    const removed: string[] = [];
    let freed = 0;
    for (const alg of ['sha256', 'sha512']) {
      const dir = path.join(this.dir, 'blobs', alg);
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const hex of names) {
        const d = `${alg}:${hex}`;
        if (live.has(d) || this.#inflight.has(d) || this.#pins.has(d)) continue;
        const p = path.join(dir, hex);
        freed += (await stat(p)).size;
        await rm(p, { force: true });
        removed.push(d);
      }
    }
    if (this.#inflight.size === 0) await rm(path.join(this.dir, 'tmp'), { recursive: true, force: true });
    return { removed, freedBytes: freed };
  }
}

/**
 * Cross-process mutual exclusion with an atomic mkdir (several CLI invocations may share one
 * store); a lock older than 30 s is taken as abandoned by a crashed process.
 */
async function withDirLock<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(path.dirname(lockDir), { recursive: true });
  for (let i = 0; ; i++) {
    try {
      await mkdir(lockDir);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const st = await stat(lockDir).catch(() => undefined);
      if (st !== undefined && Date.now() - st.mtimeMs > 30_000) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (i > 1000) throw imgError('IMG_STORE_CORRUPT', `Layer store lock ${lockDir} is held too long`);
      await sleep(5 + Math.floor(Math.random() * 20));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
