import { b64Strict, decryptWith, parseWrapType } from './crypto.js';
import { cdhError } from './errors.js';
import type { ResourceGetter } from './kbc/resource-getter.js';

/** The ocicrypt key provider name image layers are encrypted for (`...keys.provider.attestation-agent`). */
export const KEY_PROVIDER_NAME = 'attestation-agent';

/**
 * The annotation packet (guest-components `hub/src/image/annotation_packet`): v1 has `kid`,
 * `wrapped_data`, `iv`, `wrap_type`; v2 adds `version`, `provider`, `provider_settings`,
 * `annotations`. The KEK is the KBS resource `kid`; the LEK is `wrapped_data` decrypted with it.
 */
export interface AnnotationPacket {
  kid: string;
  wrapped_data: string;
  iv: string;
  wrap_type: string;
  version?: string;
  provider?: string;
}

const input = (why: string): Error => cdhError('CDH_KEYPROVIDER_INPUT', `Invalid keyprovider request: ${why}`);

/** Bytes as Go (base64 string) or Rust (number array) marshal `[]byte` / `Vec<u8>`. */
function bytesField(v: unknown, what: string): Buffer {
  if (typeof v === 'string') return b64Strict(v, what);
  if (Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0 && x < 256)) return Buffer.from(v as number[]);
  throw input(`${what} must be base64 or a byte array`);
}

export function parseAnnotationPacket(bytes: Uint8Array): AnnotationPacket {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw input('the annotation packet is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw input('the annotation packet is not a JSON object');
  const o = v as Record<string, unknown>;
  for (const k of ['kid', 'wrapped_data', 'iv', 'wrap_type'] as const) {
    if (typeof o[k] !== 'string') throw input(`annotation packet field "${k}" must be a string`);
  }
  return o as unknown as AnnotationPacket;
}

/**
 * Unwraps a layer key (ocicrypt keyprovider `UnWrapKey`, as the CDH does for image-rs): parses
 * the annotation packet, fetches the KEK from the KBS, returns the LEK (`optsdata`).
 */
export async function unwrapLayerKey(annotation: Uint8Array, resources: ResourceGetter): Promise<Uint8Array> {
  const packet = parseAnnotationPacket(annotation);
  const provider: unknown = packet.provider ?? 'kbs';
  // A non-string provider is named by its type: interpolating hostile nesting overflows the stack.
  if (provider !== 'kbs') throw cdhError('CDH_UNSUPPORTED', `Annotation packet provider ${typeof provider === 'string' ? `"${provider.slice(0, 64)}"` : `of type ${typeof provider}`} is not built into this CDH; use "kbs"`);
  const wrapType = parseWrapType(packet.wrap_type, 'annotation packet');
  const kek = await resources.getResource(packet.kid);
  return decryptWith(kek, b64Strict(packet.wrapped_data, 'annotation packet wrapped_data'), b64Strict(packet.iv, 'annotation packet iv'), wrapType);
}

/**
 * Handles the JSON of `KeyProviderKeyWrapProtocolInput` for `op: "keyunwrap"` and returns the
 * JSON of the output, with `optsdata` as a number array (what ocicrypt-rs requires; Go accepts
 * it too).
 */
export async function handleKeyProviderInput(inputJson: Uint8Array, resources: ResourceGetter): Promise<Uint8Array> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(inputJson).toString('utf8'));
  } catch {
    throw input('not JSON');
  }
  const req = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  if (req['op'] === 'keywrap') throw cdhError('CDH_UNSUPPORTED', 'WrapKey is not supported by the CDH: encrypt images on the tenant side');
  if (req['op'] !== 'keyunwrap') throw input(`unknown op ${typeof req['op'] === 'string' ? JSON.stringify(req['op'].slice(0, 64)) : `of type ${typeof req['op']}`}`);
  const params = req['keyunwrapparams'];
  if (typeof params !== 'object' || params === null) throw input('keyunwrapparams is missing');
  const annotation = bytesField((params as Record<string, unknown>)['annotation'], 'keyunwrapparams.annotation');
  const optsdata = await unwrapLayerKey(annotation, resources);
  return Buffer.from(JSON.stringify({ keyunwrapresults: { optsdata: [...optsdata] } }));
}
