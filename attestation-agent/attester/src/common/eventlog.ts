/**
 * Trims a TCG crypto-agile event log (the ACPI CCEL table data) at its end: the table is a
 * fixed-size region padded with 0xFF or zero bytes after the last event. The verifier replays
 * what is sent, so only real events may be sent.
 */
export function trimEventLog(data: Uint8Array): Uint8Array {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length < 32) return new Uint8Array();
  // First record: TCG_PCR_EVENT with the Spec ID event (SHA-1 digest layout).
  let p = 8 + 20;
  const specSize = b.readUInt32LE(p);
  p += 4;
  const spec = p;
  p += specSize;
  const sizes = new Map<number, number>();
  const n = b.readUInt32LE(spec + 24);
  for (let i = 0; i < n; i++) sizes.set(b.readUInt16LE(spec + 28 + 4 * i), b.readUInt16LE(spec + 30 + 4 * i));
  while (p + 12 <= b.length) {
    const index = b.readUInt32LE(p);
    const type = b.readUInt32LE(p + 4);
    if (index === 0xffffffff || type === 0xffffffff || (index === 0 && type === 0)) break;
    let q = p + 8;
    const count = b.readUInt32LE(q);
    q += 4;
    for (let i = 0; i < count; i++) {
      const size = sizes.get(b.readUInt16LE(q));
      if (size === undefined) return new Uint8Array(b.subarray(0, p));
      q += 2 + size;
    }
    if (q + 4 > b.length) break;
    const eventSize = b.readUInt32LE(q);
    if (q + 4 + eventSize > b.length) break;
    p = q + 4 + eventSize;
  }
  return new Uint8Array(b.subarray(0, p));
}
