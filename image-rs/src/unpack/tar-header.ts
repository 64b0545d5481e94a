import { imgError } from '../errors.js';

/** One tar entry after pax / GNU long-name records have been folded in. */
export interface TarEntry {
  path: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkpath: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
}

export type EntryType = 'file' | 'hardlink' | 'symlink' | 'chardev' | 'blockdev' | 'directory' | 'fifo';

/** Raw typeflags: the entry kinds plus the metadata records that modify the next entry. */
export const TYPEFLAGS: Record<string, EntryType | 'pax' | 'paxGlobal' | 'gnuLongName' | 'gnuLongLink'> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'chardev', '4': 'blockdev',
  '5': 'directory', '6': 'fifo', x: 'pax', g: 'paxGlobal', L: 'gnuLongName', K: 'gnuLongLink',
};

export interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  devmajor: number;
  devminor: number;
}

function cstr(b: Buffer, start: number, len: number): string {
  const end = b.indexOf(0, start);
  return b.toString('utf8', start, end < 0 || end > start + len ? start + len : end);
}

/** Octal or base-256 (GNU, high bit set) numeric field. */
function num(b: Buffer, start: number, len: number, field: string): number {
  const first = b[start] ?? 0;
  if (first & 0x80) {
    // base-256: big-endian two's complement; negative values are never valid here
    if (first & 0x40) throw imgError('IMG_TAR_INVALID', `Tar header field ${field} is negative`);
    let v = first & 0x3f;
    for (let i = 1; i < len; i++) v = v * 256 + (b[start + i] ?? 0);
    if (!Number.isSafeInteger(v)) throw imgError('IMG_TAR_INVALID', `Tar header field ${field} is too large`);
    return v;
  }
  const s = cstr(b, start, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw imgError('IMG_TAR_INVALID', `Tar header field ${field} is not octal`);
  return parseInt(s, 8);
}

/** True for the all-zero end-of-archive block. */
export function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < 512; i++) if (b[i] !== 0) return false;
  return true;
}

/** Parses and checksum-verifies one 512-byte header block. */
export function parseHeader(b: Buffer): RawHeader {
  let unsigned = 0;
  for (let i = 0; i < 512; i++) unsigned += i >= 148 && i < 156 ? 32 : (b[i] ?? 0);
  const stored = num(b, 148, 8, 'chksum');
  if (stored !== unsigned) {
    let signed = 0;
    for (let i = 0; i < 512; i++) signed += i >= 148 && i < 156 ? 32 : ((b[i] ?? 0) << 24) >> 24;
    if (stored !== signed) throw imgError('IMG_TAR_INVALID', 'Tar header checksum mismatch (corrupt or not a tar stream)');
  }
  const magic = b.toString('latin1', 257, 263);
  let name = cstr(b, 0, 100);
  // POSIX ustar keeps a path prefix; old GNU uses those bytes for atime/ctime.
  if (magic === 'ustar\0') {
    const prefix = cstr(b, 345, 155);
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  return {
    name,
    mode: num(b, 100, 8, 'mode'),
    uid: num(b, 108, 8, 'uid'),
    gid: num(b, 116, 8, 'gid'),
    size: num(b, 124, 12, 'size'),
    mtime: num(b, 136, 12, 'mtime'),
    typeflag: String.fromCharCode(b[156] ?? 0),
    linkname: cstr(b, 157, 100),
    devmajor: num(b, 329, 8, 'devmajor'),
    devminor: num(b, 337, 8, 'devminor'),
  };
}

/** Parses pax extended-header records (`<len> <key>=<value>\n`). */
export function parsePax(body: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < body.length) {
    const sp = body.indexOf(0x20, pos);
    if (sp < 0) break;
    const len = Number(body.toString('latin1', pos, sp));
    if (!Number.isSafeInteger(len) || len <= 0 || pos + len > body.length) throw imgError('IMG_TAR_INVALID', 'Malformed pax extended header record');
    const rec = body.subarray(sp + 1, pos + len - 1); // drop trailing \n
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw imgError('IMG_TAR_INVALID', 'Malformed pax record: no "="');
    out.set(rec.toString('utf8', 0, eq), Buffer.from(rec.subarray(eq + 1)));
    pos += len;
  }
  return out;
}
