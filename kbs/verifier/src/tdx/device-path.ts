/**
 * UEFI device paths (UEFI spec §10) of an UEFI_IMAGE_LOAD_EVENT, printed the way trustee's
 * eventlog crate prints them (`ACPI(PNP0A03,0)`, `Pci(0,1)`, `HD(1,GPT,<GUID>,0x800,0x100000)`,
 * `File(\EFI\BOOT\BOOTX64.EFI)`, `VenMedia(<GUID>,)`, otherwise `Path(type,subtype,hex)`).
 */

function stdGuid(b: Buffer): string {
  const le = (x: Buffer): string => Buffer.from(x).reverse().toString('hex');
  return `${le(b.subarray(0, 4))}-${le(b.subarray(4, 6))}-${le(b.subarray(6, 8))}-${b.subarray(8, 10).toString('hex')}-${b.subarray(10, 16).toString('hex')}`.toUpperCase();
}

/** EISA PNP ID: compressed 3-letter vendor in the low 16 bits, product in the high 16. */
function eisaId(id: number): string {
  const v = id & 0xffff;
  const c = (n: number): string => String.fromCharCode(((v >> n) & 0x1f) + 0x40);
  return `${c(10)}${c(5)}${c(0)}${((id >>> 16) & 0xffff).toString(16).toUpperCase().padStart(4, '0')}`;
}

function node(type: number, sub: number, d: Buffer): string {
  if (type === 2 && sub === 1 && d.length >= 8) return `ACPI(${eisaId(d.readUInt32LE(0))},${d.readUInt32LE(4)})`;
  if (type === 1 && sub === 1 && d.length >= 2) return `Pci(${d[0]},${d[1]})`;
  if (type === 4 && sub === 1 && d.length >= 38) {
    const fmt = d[36] === 2 ? 'GPT' : d[36] === 1 ? 'MBR' : String(d[36]);
    const sig = d[37] === 2 ? stdGuid(d.subarray(20, 36)) : d.subarray(20, 24).toString('hex');
    return `HD(${d.readUInt32LE(0)},${fmt},${sig},0x${d.readBigUInt64LE(4).toString(16)},0x${d.readBigUInt64LE(12).toString(16)})`;
  }
  if (type === 4 && sub === 4) {
    const s = d.toString('utf16le');
    return `File(${s.slice(0, s.indexOf('\0') < 0 ? s.length : s.indexOf('\0'))})`;
  }
  if (type === 4 && sub === 3 && d.length >= 16) return `VenMedia(${stdGuid(d.subarray(0, 16))},${d.subarray(16).toString('hex')})`;
  return `Path(${type},${sub},${d.toString('hex')})`;
}

/** Device-path texts of an UEFI_IMAGE_LOAD_EVENT (4 × u64 header, then the path); [] if none. */
export function imageLoadDevicePaths(event: Uint8Array): string[] {
  const b = Buffer.from(event.buffer, event.byteOffset, event.byteLength);
  if (b.length < 32) return [];
  const len = Number(b.readBigUInt64LE(24));
  const path = b.subarray(32, 32 + len);
  const out: string[] = [];
  for (let p = 0; p + 4 <= path.length; ) {
    const type = path[p]!;
    const sub = path[p + 1]!;
    const n = path.readUInt16LE(p + 2);
    if (type === 0x7f || n < 4 || p + n > path.length) break;
    out.push(node(type, sub, path.subarray(p + 4, p + n)));
    p += n;
  }
  return out;
}
