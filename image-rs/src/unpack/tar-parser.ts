import { imgError } from '../errors.js';
import { isZeroBlock, parseHeader, parsePax, TYPEFLAGS, type RawHeader, type TarEntry } from './tar-header.js';

/** Where parsed entries go; each call is awaited, so the sink applies backpressure. */
export interface TarSink {
  entry(e: TarEntry): Promise<void>;
  data(chunk: Buffer): Promise<void>;
  entryEnd(): Promise<void>;
  end(): Promise<void>;
}

export interface TarLimits {
  /** Largest pax / GNU long-name record (SECURITY: they are buffered in memory). */
  maxHeaderBytes: number;
  /** Most entries in one layer (tar bomb of empty files). */
  maxEntries: number;
  /** Most bytes of file content in one layer (tar bomb). */
  maxContentBytes: number;
  /** Longest path or link target. */
  maxPathBytes: number;
}

export const DEFAULT_TAR_LIMITS: TarLimits = {
  maxHeaderBytes: 1024 * 1024,
  maxEntries: 2_000_000,
  maxContentBytes: 64 * 1024 ** 3,
  maxPathBytes: 4096,
};

type State = 'header' | 'data' | 'meta' | 'padding' | 'eof';

/**
 * Streaming tar reader (ustar, pax, GNU long names). Feeds chunks in, calls the sink;
 * never buffers file content, only one header or one bounded metadata record.
 */
export class TarParser {
  readonly #sink: TarSink;
  readonly #limits: TarLimits;
  #state: State = 'header';
  #buf: Buffer = Buffer.alloc(0);
  #remaining = 0;
  #padding = 0;
  #meta: { kind: string; parts: Buffer[] } | undefined;
  #pax = new Map<string, Buffer>();
  #globalPax = new Map<string, Buffer>();
  #longName: string | undefined;
  #longLink: string | undefined;
  #entries = 0;
  #content = 0;
  #inEntry = false;

  constructor(sink: TarSink, limits: Partial<TarLimits> = {}) {
    this.#sink = sink;
    this.#limits = { ...DEFAULT_TAR_LIMITS, ...limits };
  }

  async write(chunk: Buffer): Promise<void> {
    let c = chunk;
    while (c.length > 0) {
      if (this.#state === 'eof') return; // trailing zero blocks / padding after the end marker
      if (this.#state === 'data') {
        const n = Math.min(this.#remaining, c.length);
        if (n > 0) await this.#sink.data(c.subarray(0, n));
        this.#remaining -= n;
        c = c.subarray(n);
        if (this.#remaining === 0) await this.#finishBody();
        continue;
      }
      if (this.#state === 'meta') {
        const n = Math.min(this.#remaining, c.length);
        this.#meta?.parts.push(Buffer.from(c.subarray(0, n)));
        this.#remaining -= n;
        c = c.subarray(n);
        if (this.#remaining === 0) this.#finishMeta();
        continue;
      }
      if (this.#state === 'padding') {
        const n = Math.min(this.#padding, c.length);
        this.#padding -= n;
        c = c.subarray(n);
        if (this.#padding === 0) this.#state = 'header';
        continue;
      }
      // header: collect exactly 512 bytes
      const need = 512 - this.#buf.length;
      if (this.#buf.length === 0 && c.length >= 512) {
        await this.#header(c.subarray(0, 512));
        c = c.subarray(512);
      } else {
        this.#buf = Buffer.concat([this.#buf, c.subarray(0, need)]);
        c = c.subarray(Math.min(need, c.length));
        if (this.#buf.length === 512) {
          const h = this.#buf;
          this.#buf = Buffer.alloc(0);
          await this.#header(h);
        }
      }
    }
  }

  /** Call at end of stream: a truncated archive is an error, a missing end marker is tolerated. */
  async end(): Promise<void> {
    if (this.#state === 'data' || this.#state === 'meta' || this.#buf.length > 0) {
      throw imgError('IMG_TAR_INVALID', 'Tar stream is truncated');
    }
    await this.#sink.end();
  }

  async #header(block: Buffer): Promise<void> {
    if (isZeroBlock(block)) {
      this.#state = 'eof';
      return;
    }
    const h = parseHeader(block);
    const kind = TYPEFLAGS[h.typeflag];
    if (kind === undefined) throw imgError('IMG_TAR_INVALID', `Unsupported tar entry type "${h.typeflag.replace(/[^\x20-\x7e]/g, '?')}" for ${h.name.slice(0, 200)}`);
    this.#padding = (512 - (h.size % 512)) % 512;
    if (kind === 'pax' || kind === 'paxGlobal' || kind === 'gnuLongName' || kind === 'gnuLongLink') {
      // SECURITY: metadata records are buffered, so they are size-limited.
      if (h.size > this.#limits.maxHeaderBytes) {
        throw imgError('IMG_TAR_HEADER_TOO_LARGE', `Tar ${kind} record of ${h.size} bytes exceeds the ${this.#limits.maxHeaderBytes}-byte limit`);
      }
      this.#meta = { kind, parts: [] };
      this.#remaining = h.size;
      if (h.size === 0) this.#finishMeta();
      else this.#state = 'meta';
      return;
    }
    const entry = this.#fold(h, kind);
    if (++this.#entries > this.#limits.maxEntries) throw imgError('IMG_TAR_BOMB', `Layer has more than ${this.#limits.maxEntries} entries`);
    this.#content += entry.size;
    if (this.#content > this.#limits.maxContentBytes) throw imgError('IMG_TAR_BOMB', `Layer content exceeds ${this.#limits.maxContentBytes} bytes`);
    this.#inEntry = true;
    await this.#sink.entry(entry);
    // Only regular files carry data for the sink; other types' bodies (should be empty) are skipped.
    this.#remaining = h.size;
    if (entry.type !== 'file') {
      this.#padding += h.size;
      await this.#endEntry();
      this.#state = this.#padding > 0 ? 'padding' : 'header';
      return;
    }
    if (h.size === 0) await this.#finishBody();
    else this.#state = 'data';
  }

  async #endEntry(): Promise<void> {
    if (this.#inEntry) {
      this.#inEntry = false;
      await this.#sink.entryEnd();
    }
  }

  async #finishBody(): Promise<void> {
    await this.#endEntry();
    this.#state = this.#padding > 0 ? 'padding' : 'header';
  }

  #finishMeta(): void {
    const m = this.#meta;
    this.#meta = undefined;
    this.#state = this.#padding > 0 ? 'padding' : 'header';
    if (m === undefined) return;
    const body = Buffer.concat(m.parts);
    if (m.kind === 'pax') for (const [k, v] of parsePax(body)) this.#pax.set(k, v);
    else if (m.kind === 'paxGlobal') for (const [k, v] of parsePax(body)) this.#globalPax.set(k, v);
    else if (m.kind === 'gnuLongName') this.#longName = cstring(body);
    else this.#longLink = cstring(body);
  }

  #fold(h: RawHeader, type: TarEntry['type']): TarEntry {
    const pax = new Map([...this.#globalPax, ...this.#pax]);
    this.#pax = new Map();
    const str = (k: string): string | undefined => pax.get(k)?.toString('utf8');
    const numOf = (k: string, dflt: number): number => {
      const v = str(k);
      if (v === undefined) return dflt;
      const n = Number(v);
      // Times before 1970 exist in real archives; they are clamped, ids and sizes may not be negative.
      if (k === 'mtime' && Number.isFinite(n)) return Math.max(n, 0);
      if (!Number.isFinite(n) || n < 0) throw imgError('IMG_TAR_INVALID', `Invalid pax ${k} value`);
      return Math.floor(n);
    };
    const path = str('path') ?? this.#longName ?? h.name;
    const linkpath = str('linkpath') ?? this.#longLink ?? h.linkname;
    this.#longName = undefined;
    this.#longLink = undefined;
    if (Buffer.byteLength(path) > this.#limits.maxPathBytes || Buffer.byteLength(linkpath) > this.#limits.maxPathBytes) {
      throw imgError('IMG_TAR_HEADER_TOO_LARGE', `Tar entry path or link target longer than ${this.#limits.maxPathBytes} bytes`);
    }
    if (str('GNU.sparse.major') !== undefined || str('GNU.sparse.map') !== undefined) {
      throw imgError('IMG_TAR_INVALID', `Sparse tar entries are not supported (${path.slice(0, 200)})`);
    }
    const xattrs = new Map<string, Buffer>();
    for (const [k, v] of pax) {
      if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice(13), v);
    }
    const size = numOf('size', h.size);
    if (!Number.isSafeInteger(size)) throw imgError('IMG_TAR_INVALID', 'Invalid entry size');
    h.size = size;
    return {
      path, type, linkpath, xattrs, size,
      mode: h.mode & 0o7777,
      uid: numOf('uid', h.uid),
      gid: numOf('gid', h.gid),
      mtime: numOf('mtime', h.mtime),
      devmajor: h.devmajor,
      devminor: h.devminor,
    };
  }
}

function cstring(b: Buffer): string {
  const z = b.indexOf(0);
  return b.toString('utf8', 0, z < 0 ? b.length : z);
}
