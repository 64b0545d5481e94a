/**
 * A minimal TPM 2.0 client speaking raw command buffers (TCG TPM 2.0 Part 3), so no native
 * addon or tpm2-tss is needed: a TPM character device (/dev/tpmrm0) takes one command per
 * write() and returns the response on read(), and swtpm's TCP data channel takes the same bytes.
 * Only what the attesters need: PCR_Read, PCR_Extend, ReadPublic, Quote, NV_ReadPublic/NV_Read.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import net from 'node:net';
import { attesterError } from '../errors.js';

const ST_NO_SESSIONS = 0x8001;
const ST_SESSIONS = 0x8002;
const RS_PW = 0x40000009;
export const ALG_SHA256 = 0x000b;
const ALG_NULL = 0x0010;

export interface TpmTransport {
  send(command: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** A TPM character device: one write per command, one read per response. */
export async function deviceTransport(path: string): Promise<TpmTransport> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r+');
  } catch (cause) {
    throw attesterError('ATTESTER_EVIDENCE_FAILED', `Cannot open TPM device "${path}"`, { cause });
  }
  return {
    async send(cmd) {
      await fh.write(cmd, 0, cmd.length, null);
      const buf = Buffer.alloc(8192);
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      return new Uint8Array(buf.subarray(0, bytesRead));
    },
    close: () => fh.close(),
  };
}

/** swtpm's data channel (`swtpm socket --server type=tcp`): raw commands over TCP. */
export function tcpTransport(host: string, port: number): Promise<TpmTransport> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let pending: Buffer = Buffer.alloc(0);
    let waiter: ((b: Buffer) => void) | undefined;
    sock.on('data', (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      if (pending.length >= 10 && pending.length >= pending.readUInt32BE(2) && waiter) {
        const n = pending.readUInt32BE(2);
        const out = pending.subarray(0, n);
        pending = pending.subarray(n);
        const w = waiter;
        waiter = undefined;
        w(out);
      }
    });
    sock.once('error', (cause) => reject(attesterError('ATTESTER_EVIDENCE_FAILED', `Cannot connect to the TPM at ${host}:${port}`, { cause })));
    sock.once('connect', () => {
      resolve({
        send: (cmd) => new Promise((res, rej) => {
          const onError = (e: Error): void => {
            waiter = undefined;
            rej(attesterError('ATTESTER_EVIDENCE_FAILED', `TPM connection to ${host}:${port} failed`, { cause: e }));
          };
          sock.once('error', onError);
          waiter = (b) => {
            sock.off('error', onError);
            res(new Uint8Array(b));
          };
          sock.write(cmd);
        }),
        close: () => new Promise((res) => { sock.end(() => res()); }),
      });
    });
  });
}

/** `/dev/tpmrm0`-style path, or `tcp://host:port` for swtpm. */
export function openTransport(spec: string): Promise<TpmTransport> {
  const m = /^tcp:\/\/([^:]+):(\d+)$/.exec(spec);
  return m ? tcpTransport(m[1]!, Number(m[2])) : deviceTransport(spec);
}

class Out {
  private parts: Buffer[] = [];
  u8(v: number): this { this.parts.push(Buffer.from([v])); return this; }
  u16(v: number): this { const b = Buffer.alloc(2); b.writeUInt16BE(v); this.parts.push(b); return this; }
  u32(v: number): this { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); this.parts.push(b); return this; }
  bytes(b: Uint8Array): this { this.parts.push(Buffer.from(b)); return this; }
  tpm2b(b: Uint8Array): this { return this.u16(b.length).bytes(b); }
  build(): Buffer { return Buffer.concat(this.parts); }
}

export class In {
  pos = 0;
  readonly b: Buffer;
  constructor(b: Uint8Array) { this.b = Buffer.from(b); }
  u8(): number { return this.b.readUInt8(this.pos++); }
  u16(): number { const v = this.b.readUInt16BE(this.pos); this.pos += 2; return v; }
  u32(): number { const v = this.b.readUInt32BE(this.pos); this.pos += 4; return v; }
  bytes(n: number): Buffer { if (this.pos + n > this.b.length) throw new RangeError('TPM response truncated'); const v = this.b.subarray(this.pos, this.pos + n); this.pos += n; return v; }
  tpm2b(): Buffer { return this.bytes(this.u16()); }
}

function pwSession(): Buffer {
  return new Out().u32(9).u32(RS_PW).u16(0).u8(0).u16(0).build();
}

function pcrSelection(pcrs: readonly number[]): Buffer {
  const map = [0, 0, 0];
  for (const p of pcrs) map[p >> 3]! |= 1 << (p & 7);
  return new Out().u32(1).u16(ALG_SHA256).u8(3).bytes(Uint8Array.from(map)).build();
}

export class Tpm2 {
  readonly #t: TpmTransport;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(t: TpmTransport) {
    this.#t = t;
  }

  close(): Promise<void> {
    return this.#t.close();
  }

  /** Runs one command; TPM responses are strictly sequential on one connection. */
  private run(tag: number, cc: number, handles: readonly number[], params: Buffer): Promise<In> {
    const next = this.#queue.then(async () => {
      const head = new Out().u16(tag).u32(0).u32(cc);
      for (const h of handles) head.u32(h);
      const body = Buffer.concat([head.build(), tag === ST_SESSIONS ? pwSession() : Buffer.alloc(0), params]);
      body.writeUInt32BE(body.length, 2);
      let resp = new In(await this.#t.send(body));
      let rc = resp.b.readUInt32BE(6);
      // TPM_RC_RETRY / YIELDED / TESTING: the TPM asks to resend the same command.
      for (let i = 0; i < 50 && (rc === 0x922 || rc === 0x908 || rc === 0x90a); i++) {
        await new Promise((r) => setTimeout(r, 20));
        resp = new In(await this.#t.send(body));
        rc = resp.b.readUInt32BE(6);
      }
      resp.pos = 10;
      if (rc !== 0) throw attesterError('ATTESTER_EVIDENCE_FAILED', `TPM command 0x${cc.toString(16)} failed with response code 0x${rc.toString(16)}`, { details: { rc } });
      if (tag === ST_SESSIONS) resp.u32(); // parameterSize
      return resp;
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** SHA-256 bank values of `pcrs` (PCR_Read returns at most 8 per call). */
  async pcrRead(pcrs: readonly number[]): Promise<Map<number, Buffer>> {
    const out = new Map<number, Buffer>();
    let left = [...pcrs];
    while (left.length > 0) {
      const r = await this.run(ST_NO_SESSIONS, 0x17e, [], pcrSelection(left));
      r.u32(); // update counter
      const got: number[] = [];
      for (let n = r.u32(), i = 0; i < n; i++) {
        r.u16();
        const bitmap = r.bytes(r.u8());
        bitmap.forEach((byte, j) => { for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) got.push(j * 8 + bit); });
      }
      const count = r.u32();
      if (count === 0) throw attesterError('ATTESTER_EVIDENCE_FAILED', 'TPM returned no PCR values');
      for (let i = 0; i < count; i++) out.set(got[i]!, Buffer.from(r.tpm2b()));
      left = left.filter((p) => !out.has(p));
    }
    return out;
  }

  async pcrExtend(pcr: number, sha256: Uint8Array): Promise<void> {
    await this.run(ST_SESSIONS, 0x182, [pcr], new Out().u32(1).u16(ALG_SHA256).bytes(sha256).build());
  }

  /** TPM2_Quote with the key's own scheme over the SHA-256 bank of `pcrs`. */
  async quote(handle: number, qualifyingData: Uint8Array, pcrs: readonly number[]): Promise<{ attest: Buffer; signature: Buffer }> {
    const r = await this.run(ST_SESSIONS, 0x158, [handle], Buffer.concat([new Out().tpm2b(qualifyingData).u16(ALG_NULL).build(), pcrSelection(pcrs)]));
    const attest = Buffer.from(r.tpm2b());
    const start = r.pos;
    const alg = r.u16();
    r.u16();
    if (alg === 0x0018) { r.tpm2b(); r.tpm2b(); } else r.tpm2b();
    return { attest, signature: Buffer.from(r.b.subarray(start, r.pos)) };
  }

  /** The public key of a loaded/persistent object as a KeyObject (RSA or ECC P-256/P-384). */
  async readPublic(handle: number): Promise<KeyObject> {
    const r = await this.run(ST_NO_SESSIONS, 0x173, [handle], Buffer.alloc(0));
    const pub = new In(r.tpm2b());
    const type = pub.u16();
    pub.u16();
    pub.u32();
    pub.tpm2b();
    const sym = pub.u16();
    if (sym !== ALG_NULL) { pub.u16(); pub.u16(); }
    const scheme = pub.u16();
    if (scheme !== ALG_NULL) pub.u16();
    const b64u = (b: Buffer): string => b.toString('base64url');
    if (type === 0x0001) {
      pub.u16();
      const exp = pub.u32() || 65537;
      const e = Buffer.alloc(4);
      e.writeUInt32BE(exp);
      const n = pub.tpm2b();
      return createPublicKey({ key: { kty: 'RSA', n: b64u(n), e: b64u(e.subarray(e.findIndex((x) => x !== 0))) }, format: 'jwk' });
    }
    if (type === 0x0023) {
      const curve = pub.u16();
      const kdf = pub.u16();
      if (kdf !== ALG_NULL) pub.u16();
      const x = pub.tpm2b();
      const y = pub.tpm2b();
      const crv = curve === 0x0003 ? 'P-256' : curve === 0x0004 ? 'P-384' : undefined;
      if (!crv) throw attesterError('ATTESTER_EVIDENCE_FAILED', `Unsupported AK curve 0x${curve.toString(16)}`);
      return createPublicKey({ key: { kty: 'EC', crv, x: b64u(x), y: b64u(y) }, format: 'jwk' });
    }
    throw attesterError('ATTESTER_EVIDENCE_FAILED', `Unsupported AK type 0x${type.toString(16)}`);
  }

  /** Reads a whole NV index (the Azure HCL report lives in NV index 0x01400001). */
  async nvRead(index: number): Promise<Buffer> {
    const p = await this.run(ST_NO_SESSIONS, 0x169, [index], Buffer.alloc(0));
    const pub = new In(p.tpm2b());
    pub.u32(); pub.u16(); pub.u32(); pub.tpm2b();
    const size = pub.u16();
    const chunks: Buffer[] = [];
    // Azure's HCL index is read with owner authorization (az-cvm-vtpm); other indices with their own.
    let auth = 0x40000001;
    for (let off = 0; off < size; ) {
      const n = Math.min(1024, size - off);
      let r: In;
      try {
        r = await this.run(ST_SESSIONS, 0x14e, [auth, index], new Out().u16(n).u16(off).build());
      } catch (err) {
        if (auth === index) throw err;
        auth = index;
        continue;
      }
      const part = Buffer.from(r.tpm2b());
      chunks.push(part);
      off += part.length;
      if (part.length === 0) break;
    }
    return Buffer.concat(chunks);
  }
}
