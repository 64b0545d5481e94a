/**
 * The TDX CC event log (ACPI CCEL table data, TCG PC Client crypto-agile format): parsing and
 * replay into RTMRs. CC measurement register index 1..4 maps to RTMR0..3 (index 0 = MRTD).
 */
import { createHash } from 'node:crypto';
import { KccError } from '@kata-cc/errors';
import { Reader, toHex } from '../common/bytes.js';
import { imageLoadDevicePaths } from './device-path.js';

const CODE = 'VERIFIER_TDX_CCEL_MALFORMED';
const ALG: Record<number, { name: string; size: number }> = {
  0x0004: { name: 'SHA-1', size: 20 },
  0x000b: { name: 'SHA-256', size: 32 },
  0x000c: { name: 'SHA-384', size: 48 },
  0x000d: { name: 'SHA-512', size: 64 },
  0x0012: { name: 'SM3', size: 32 },
};

const EVENT_TYPES: Record<number, string> = {
  0x0: 'EV_PREBOOT_CERT', 0x1: 'EV_POST_CODE', 0x2: 'EV_UNUSED', 0x3: 'EV_NO_ACTION', 0x4: 'EV_SEPARATOR',
  0x5: 'EV_ACTION', 0x6: 'EV_EVENT_TAG', 0x7: 'EV_S_CRTM_CONTENTS', 0x8: 'EV_S_CRTM_VERSION', 0x9: 'EV_CPU_MICROCODE',
  0xa: 'EV_PLATFORM_CONFIG_FLAGS', 0xb: 'EV_TABLE_OF_DEVICES', 0xc: 'EV_COMPACT_HASH', 0xd: 'EV_IPL',
  0xe: 'EV_IPL_PARTITION_DATA', 0xf: 'EV_NONHOST_CODE', 0x10: 'EV_NONHOST_CONFIG', 0x11: 'EV_NONHOST_INFO',
  0x12: 'EV_OMIT_BOOT_DEVICE_EVENTS', 0x80000001: 'EV_EFI_VARIABLE_DRIVER_CONFIG', 0x80000002: 'EV_EFI_VARIABLE_BOOT',
  0x80000003: 'EV_EFI_BOOT_SERVICES_APPLICATION', 0x80000004: 'EV_EFI_BOOT_SERVICES_DRIVER',
  0x80000005: 'EV_EFI_RUNTIME_SERVICES_DRIVER', 0x80000006: 'EV_EFI_GPT_EVENT', 0x80000007: 'EV_EFI_ACTION',
  0x80000008: 'EV_EFI_PLATFORM_FIRMWARE_BLOB', 0x80000009: 'EV_EFI_HANDOFF_TABLES', 0x8000000a: 'EV_EFI_PLATFORM_FIRMWARE_BLOB2',
  0x8000000b: 'EV_EFI_HANDOFF_TABLES2', 0x8000000c: 'EV_EFI_VARIABLE_BOOT2', 0x80000010: 'EV_EFI_HCRTM_EVENT',
  0x800000e0: 'EV_EFI_VARIABLE_AUTHORITY', 0x800000e1: 'EV_EFI_SPDM_FIRMWARE_BLOB', 0x800000e2: 'EV_EFI_SPDM_FIRMWARE_CONFIG',
};

export interface CcEvent {
  readonly index: number;
  readonly eventType: number;
  readonly typeName: string;
  readonly digests: readonly { alg: string; digest: string }[];
  readonly event: Uint8Array;
}

export function parseCcel(data: Uint8Array): CcEvent[] {
  const r = new Reader(data, CODE);
  // First record: TCG_PCR_EVENT (SHA-1 format) carrying the TCG_EfiSpecIDEvent.
  r.u32('index');
  const firstType = r.u32('event type');
  r.bytes(20, 'digest');
  const spec = new Reader(r.bytes(r.u32('event size'), 'spec id event'), CODE);
  if (firstType !== 0x3 || Buffer.from(spec.bytes(16, 'signature')).toString('latin1') !== 'Spec ID Event03\0') {
    throw new KccError({ kind: 'INVALID_ARGUMENT', code: CODE, message: 'CCEL does not start with a TCG Spec ID Event03' });
  }
  spec.bytes(8, 'platform class and versions');
  const sizes = new Map<number, number>();
  const n = spec.u32('algorithm count');
  for (let i = 0; i < n; i++) sizes.set(spec.u16('alg id'), spec.u16('digest size'));
  const events: CcEvent[] = [];
  while (r.pos + 8 <= data.length) {
    const index = r.view.getUint32(r.pos, true);
    const eventType = r.view.getUint32(r.pos + 4, true);
    // The table is padded to its reserved length with 0xFF or zero bytes.
    if (index === 0xffffffff || (index === 0 && eventType === 0) || eventType === 0xffffffff) break;
    r.pos += 8;
    const count = r.u32('digest count');
    const digests: { alg: string; digest: string }[] = [];
    for (let i = 0; i < count; i++) {
      const alg = r.u16('alg id');
      const size = sizes.get(alg) ?? ALG[alg]?.size;
      if (size === undefined) throw new KccError({ kind: 'INVALID_ARGUMENT', code: CODE, message: `CCEL event uses unknown digest algorithm 0x${alg.toString(16)}` });
      digests.push({ alg: ALG[alg]?.name ?? `0x${alg.toString(16)}`, digest: toHex(r.bytes(size, 'digest')) });
    }
    const event = r.bytes(r.u32('event size'), 'event data');
    events.push({ index, eventType, typeName: EVENT_TYPES[eventType] ?? `0x${eventType.toString(16)}`, digests, event });
  }
  return events;
}

/** RTMR0..3 replayed from the SHA-384 digests of the log (EV_NO_ACTION is not extended). */
export function replayRtmrs(events: readonly CcEvent[]): Uint8Array[] {
  const rtmr = [0, 1, 2, 3].map(() => new Uint8Array(48));
  for (const e of events) {
    if (e.eventType === 0x3 || e.index < 1 || e.index > 4) continue;
    const d = e.digests.find((x) => x.alg === 'SHA-384');
    if (!d) continue;
    rtmr[e.index - 1] = new Uint8Array(createHash('sha384').update(rtmr[e.index - 1]!).update(Buffer.from(d.digest, 'hex')).digest());
  }
  return rtmr;
}

const HASH_NODE: Record<string, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

/** trustee-shaped `uefi_event_logs` entries (deps/eventlog): digests, base64 event, details. */
export function eventClaims(events: readonly CcEvent[]): Record<string, unknown>[] {
  return events.map((e) => {
    const d = e.digests[0];
    const alg = d ? HASH_NODE[d.alg] : undefined;
    const matches = d !== undefined && alg !== undefined && createHash(alg).update(e.event).digest('hex') === d.digest;
    return {
      index: e.index,
      type_name: e.typeName,
      digests: e.digests,
      event: Buffer.from(e.event).toString('base64'),
      digest_matches_event: matches,
      details: details(e),
    };
  });
}

/** Event text as trustee prints it: UTF-8 (or UTF-16LE) up to the first NUL; '' if not text. */
function text(b: Uint8Array): string {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length >= 4 && buf.length % 2 === 0 && buf[1] === 0 && buf[3] === 0 && buf[0] !== 0) {
    const s = buf.toString('utf16le');
    return s.slice(0, s.indexOf('\0') < 0 ? s.length : s.indexOf('\0')).replace(/^\./, '');
  }
  const end = buf.indexOf(0);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(end < 0 ? buf : buf.subarray(0, end)).replace(/[\x00-\x1f\x7f]/g, '');
  } catch {
    return '';
  }
}

/** td-shim's TdShimPlatformConfigInfo: 16-byte descriptor, u32 length, data. */
function tdShimConfig(b: Buffer): string | undefined {
  if (b.length < 20) return undefined;
  const len = b.readUInt32LE(16);
  if (len === 0 || 20 + len > b.length) return undefined;
  const desc = text(b.subarray(0, 16));
  let data: string;
  try {
    data = new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(20, 20 + len));
  } catch {
    return '';
  }
  return desc === '' ? undefined : `${desc} ${data.replace(/\0+$/, '')}`;
}

/** A GUID as trustee prints UEFI variable GUIDs: the raw bytes in 4-2-2-2-6 hex groups. */
function rawGuid(b: Uint8Array): string {
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function details(e: CcEvent): Record<string, unknown> {
  const b = Buffer.from(e.event.buffer, e.event.byteOffset, e.event.byteLength);
  switch (e.typeName) {
    case 'EV_EFI_PLATFORM_FIRMWARE_BLOB2':
    case 'EV_EFI_HANDOFF_TABLES2':
      return b.length > 0 ? { string: text(b.subarray(1, 1 + b[0]!)) } : {};
    case 'EV_EFI_VARIABLE_DRIVER_CONFIG':
    case 'EV_EFI_VARIABLE_BOOT':
    case 'EV_EFI_VARIABLE_BOOT2':
    case 'EV_EFI_VARIABLE_AUTHORITY': {
      if (b.length < 32) return {};
      const nameLen = Number(b.readBigUInt64LE(16));
      const dataLen = Number(b.readBigUInt64LE(24));
      if (32 + nameLen * 2 + dataLen > b.length) return {};
      return {
        unicode_name: b.subarray(32, 32 + nameLen * 2).toString('utf16le'),
        unicode_name_length: nameLen,
        variable_data: b.subarray(32 + nameLen * 2, 32 + nameLen * 2 + dataLen).toString('base64'),
        variable_data_length: dataLen,
        variable_name: rawGuid(b.subarray(0, 16)),
      };
    }
    case 'EV_EVENT_TAG': {
      if (b.length < 8) return {};
      const size = b.readUInt32LE(4);
      const str = text(b.subarray(8, 8 + size));
      // The AA event log (AAEL) tags its entries "AAEL": "<domain> <operation> <content>".
      if (b.readUInt32LE(0) === 0x4141454c) {
        const [domain = '', operation = '', ...rest] = str.split(' ');
        const raw = rest.join(' ');
        let content: unknown = raw;
        try {
          content = JSON.parse(raw);
        } catch {
          // plain-text content
        }
        return { data: { content, domain, operation }, string: str, unicode_name: 'AAEL' };
      }
      return { string: str };
    }
    case 'EV_PLATFORM_CONFIG_FLAGS':
      return { string: tdShimConfig(b) ?? text(b) };
    case 'EV_EFI_BOOT_SERVICES_APPLICATION':
    case 'EV_EFI_BOOT_SERVICES_DRIVER':
    case 'EV_EFI_RUNTIME_SERVICES_DRIVER': {
      const paths = imageLoadDevicePaths(b);
      return paths.length > 0 ? { device_paths: paths } : {};
    }
    case 'EV_NO_ACTION':
    case 'EV_SEPARATOR':
    case 'EV_EFI_GPT_EVENT':
      return {};
    default:
      return { string: text(b) };
  }
}

/** Kernel command line `a=b c` as trustee's `kernel_parameters` map (flags map to null). */
function kernelParameters(cmdline: string): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const item of cmdline.split(/[ \n\r\0]/)) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq < 0) out[item] = null;
    else out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/**
 * trustee's `ccel` claims: the kernel, command line and initrd digests measured by TDVF
 * (OVMF) or td-shim, and td-shim's kernel parameters, taken from the replayed event log.
 */
export function ccelClaims(events: readonly CcEvent[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const digest = (e: CcEvent): string | undefined => e.digests.find((d) => d.alg === 'SHA-384')?.digest ?? e.digests[0]?.digest;
  for (const e of events) {
    const b = Buffer.from(e.event.buffer, e.event.byteOffset, e.event.byteLength);
    const d = digest(e);
    if (e.typeName === 'EV_EFI_PLATFORM_FIRMWARE_BLOB2' && b.length > 0 && b.subarray(1, 1 + b[0]!).toString('latin1').replace(/\0+$/, '') === 'td_payload') {
      if (d) out['kernel'] = d; // td-shim kernel
    } else if (e.typeName === 'EV_EFI_BOOT_SERVICES_APPLICATION' && imageLoadDevicePaths(b).includes('File(kernel)')) {
      if (d) out['kernel'] = d; // TDVF: the File(kernel) device path of the direct-boot kernel
    } else if (e.typeName === 'EV_EVENT_TAG' && b.length >= 8) {
      const tag = text(b.subarray(8, 8 + b.readUInt32LE(4)));
      if (tag === 'LOADED_IMAGE::LoadOptions' && d) out['cmdline'] = d;
      if (tag === 'Linux initrd' && d) out['initrd'] = d;
    } else if (e.typeName === 'EV_PLATFORM_CONFIG_FLAGS' && b.length >= 20 && text(b.subarray(0, 16)) === 'td_payload_info') {
      const len = b.readUInt32LE(16);
      out['kernel_parameters'] = kernelParameters(b.subarray(20, 20 + len).toString('utf8'));
    }
  }
  return out;
}
